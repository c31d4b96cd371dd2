"""Label series for a text, one number per character, that an analysis correlates units with:
built-in ones for Python source (from Python's own tokenizer) and for prose, and the user's
regular expressions (1 at every character inside a match).

Python source: position in line, indentation (the line's leading spaces), bracket depth, inside a
string, inside a comment. Prose: position in word, position in line, inside quotes. The Python
labels apply only when the text tokenizes as Python; the prose labels always do.
"""

from __future__ import annotations

import io
import time
import token
import tokenize
from dataclasses import dataclass, field

import numpy as np
import regex

from app.refusal import Invalid

OPENING, CLOSING = "([{", ")]}"
QUOTES = {'"': '"', "“": "”", "«": "»"}  # opening → closing; a straight quote closes itself
STRING_PARTS = {token.STRING} | {
    getattr(token, name)
    for name in ("FSTRING_START", "FSTRING_MIDDLE", "FSTRING_END")
    if hasattr(token, name)
}


@dataclass
class Labels:
    """Named series (T,) each, and why any label that was considered is not among them."""

    names: list[str] = field(default_factory=list)
    series: list[np.ndarray] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    def add(self, name: str, values: np.ndarray) -> None:
        self.names.append(name)
        self.series.append(np.asarray(values, dtype=np.float64))

    def matrix(self, steps: int) -> np.ndarray:
        """(T, L), L ≥ 0."""
        if not self.series:
            return np.zeros((steps, 0))
        return np.stack(self.series, axis=1)


def line_starts(text: str) -> np.ndarray:
    """The offset at which the line of each character starts, (T,)."""
    codes = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    after_newline = np.zeros(len(text), dtype=np.int64)
    newlines = np.flatnonzero(codes == ord("\n"))
    after_newline[newlines[newlines + 1 < len(text)] + 1] = newlines[newlines + 1 < len(text)] + 1
    return np.maximum.accumulate(after_newline)


def position_in_line(text: str) -> np.ndarray:
    """0 for a line's first character (a newline ends its line and counts in it)."""
    return np.arange(len(text)) - line_starts(text)


def indentation(text: str) -> np.ndarray:
    """Each character's line's leading spaces (a tab counts as one)."""
    out = np.empty(len(text))
    start = 0
    for line in io.StringIO(text, newline="").readlines() if text else []:
        out[start : start + len(line)] = len(line) - len(line.lstrip(" \t"))
        start += len(line)
    return out


def position_in_word(text: str) -> np.ndarray:
    """1, 2, 3, … along a word's letters, digits and underscores; 0 elsewhere."""
    word = np.array([ch.isalnum() or ch == "_" for ch in text], dtype=bool)
    run = np.cumsum(word)
    reset = np.maximum.accumulate(np.where(word, 0, run))
    return (run - reset) * word


def inside_quotes(text: str) -> np.ndarray:
    """1 from an opening quote to its closing quote, both included; straight quotes pair up in order."""
    out = np.zeros(len(text))
    closing: str | None = None
    for t, ch in enumerate(text):
        if closing is not None:
            out[t] = 1.0
            if ch == closing:
                closing = None
        elif ch in QUOTES:
            out[t] = 1.0
            closing = QUOTES[ch]
    return out


def python_labels(text: str) -> dict[str, np.ndarray] | str:
    """Indentation, bracket depth, inside a string and inside a comment, read from Python's
    tokenize; or, when the text does not tokenize as Python, why not.

    Bracket depth at a character counts the brackets around it, a bracket pair included: in
    'f(a)', '(', 'a' and ')' are at depth 1.
    """
    lines = io.StringIO(text, newline="").readlines()
    starts = np.concatenate([[0], np.cumsum([len(line) for line in lines])]).astype(np.int64)
    T = len(text)
    depth_change = np.zeros(T + 1)
    string = np.zeros(T + 1)  # +1 at a token's start, -1 after its end: cumsum is "inside"
    comment = np.zeros(T + 1)
    try:  # generate_tokens reads a StopIteration from readline as the end of the text
        for tok in tokenize.generate_tokens(iter(lines).__next__):
            if tok.type == token.ENDMARKER:
                break
            begin = int(starts[tok.start[0] - 1]) + tok.start[1]
            end = int(starts[tok.end[0] - 1]) + tok.end[1]
            if tok.type == token.OP and tok.string in OPENING:
                depth_change[begin] += 1
            elif tok.type == token.OP and tok.string in CLOSING:
                depth_change[begin + 1] -= 1
            elif tok.type in STRING_PARTS:
                string[begin] += 1
                string[end] -= 1
            elif tok.type == token.COMMENT:
                comment[begin] += 1
                comment[end] -= 1
    except (tokenize.TokenError, SyntaxError) as e:
        where = f" (line {e.args[1][0]})" if isinstance(e, tokenize.TokenError) else f" (line {e.lineno})"
        return f"the Python labels: the text does not tokenize as Python{where}: {e.args[0]}"
    return {
        "indentation": indentation(text),
        "bracket depth": np.cumsum(depth_change)[:T],
        "inside a string": np.minimum(np.cumsum(string)[:T], 1.0),
        "inside a comment": np.minimum(np.cumsum(comment)[:T], 1.0),
    }


def built_in(text: str) -> Labels:
    """Position in line, then the Python labels when the text tokenizes as Python, then prose's."""
    labels = Labels()
    labels.add("position in line", position_in_line(text))
    python = python_labels(text)
    if isinstance(python, str):
        labels.skipped.append(python)
    else:
        for name, values in python.items():
            labels.add(name, values)
    labels.add("position in word", position_in_word(text))
    labels.add("inside quotes", inside_quotes(text))
    return labels


def compile_patterns(patterns: list[str], most: int) -> list[regex.Pattern[str]]:
    """The user's patterns compiled, or refused: too many, or one that is not a regular expression."""
    if len(patterns) > most:
        raise Invalid(
            f"{len(patterns)} patterns; the limit is {most} (GATESCOPE_MAX_PATTERNS)",
            ["patterns"],
            limit=most,
        )
    compiled = []
    for k, source in enumerate(patterns):
        try:
            compiled.append(regex.compile(source))
        except regex.error as e:
            raise Invalid(f"pattern {k} is not a regular expression: {e}", ["patterns", k]) from None
    return compiled


def matches(pattern: regex.Pattern[str], k: int, text: str, seconds: float) -> np.ndarray:
    """1 at every character inside a match of pattern k, 0 elsewhere; refused if finding every
    match takes longer than `seconds` (a pattern that backtracks catastrophically, say)."""
    inside = np.zeros(len(text) + 1)
    deadline = time.perf_counter() + seconds
    try:
        for m in pattern.finditer(text, timeout=seconds):
            inside[m.start()] += 1
            inside[m.end()] -= 1
            if time.perf_counter() > deadline:
                raise TimeoutError
    except TimeoutError:
        raise Invalid(
            f"pattern {k} took more than {seconds:g} s to match over the text "
            "(GATESCOPE_PATTERN_TIMEOUT_SECONDS): a pattern such as (a|aa)+$ can backtrack without end; "
            "simplify it",
            ["patterns", k],
            limit=seconds,
        ) from None
    return np.minimum(np.cumsum(inside)[: len(text)], 1.0)
