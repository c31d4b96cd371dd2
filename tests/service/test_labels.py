"""app.service.labels: the label series of a text, checked character by character on small snippets."""

from __future__ import annotations

import numpy as np
import pytest

from app.refusal import Invalid
from app.service import labels


def by_char(text: str, values: np.ndarray) -> str:
    """The characters where a 0/1 series is 1, '.' elsewhere: easy to read against the text."""
    return "".join(ch if v else "." for ch, v in zip(text, values, strict=True))


SNIPPET = 'def f(a, b="x("):  # c)\n    return [a,\n            b]\n'


def test_python_labels_of_a_hand_checked_snippet():
    got = labels.python_labels(SNIPPET)
    assert isinstance(got, dict)
    assert by_char(SNIPPET, got["inside a string"]) == "..........." + '"x("' + "." * (len(SNIPPET) - 15)
    assert by_char(SNIPPET, got["inside a comment"]).replace(".", "") == "# c)"
    # The bracket in the string and the one in the comment are not brackets.
    depth = "".join(str(int(d)) for d in got["bracket depth"])
    assert depth == "00000" + "1" * 11 + "0" * 8 + "0" * 11 + "1" * 4 + "1" * 14 + "0"
    lines = SNIPPET.split("\n")
    assert got["indentation"].tolist() == [0] * (len(lines[0]) + 1) + [4] * (len(lines[1]) + 1) + [12] * (
        len(lines[2]) + 1
    )


def test_triple_quoted_strings_span_lines_and_f_strings_count():
    text = 'x = """a\n(b"""\ny = f"{x}!"\n'
    got = labels.python_labels(text)
    assert isinstance(got, dict)
    assert by_char(text, got["inside a string"]) == "...." + '"""a\n(b"""' + "....." + 'f"{x}!"' + "."
    assert got["bracket depth"].max() == 0  # '(' inside the string


def test_text_that_is_not_python_is_said_so():
    said = labels.python_labels("x = (1,\n")
    assert (
        said
        == "the Python labels: the text does not tokenize as Python (line 2): EOF in multi-line statement"
    )
    built = labels.built_in("x = (1,\n")
    assert built.names == ["position in line", "position in word", "inside quotes"]
    assert built.skipped == [said]


def test_position_in_line_and_word():
    text = "ab cd\nefg_1 h"
    assert labels.position_in_line(text).tolist() == [0, 1, 2, 3, 4, 5, 0, 1, 2, 3, 4, 5, 6]
    assert labels.position_in_word(text).tolist() == [1, 2, 0, 1, 2, 0, 1, 2, 3, 4, 5, 0, 1]


def test_inside_quotes_pairs_straight_and_curly_quotes():
    text = 'He said "no" and “yes”. "'
    assert by_char(text, labels.inside_quotes(text)) == '........"no".....“yes”.."'


def test_patterns_mark_the_characters_inside_a_match():
    text = "self.x = self_y + self"
    (p,) = labels.compile_patterns([r"\bself\b"], 8)
    assert by_char(text, labels.matches(p, 0, text, 0.5)) == "self" + "." * 14 + "self"


def test_an_invalid_pattern_is_refused_with_the_regex_error():
    with pytest.raises(Invalid) as e:
        labels.compile_patterns(["ok", "a(b"], 8)
    assert e.value.message == "pattern 1 is not a regular expression: missing ) at position 3"
    assert e.value.loc == ["patterns", 1]


def test_too_many_patterns_are_refused():
    with pytest.raises(Invalid) as e:
        labels.compile_patterns(["a"] * 3, 2)
    assert e.value.message == "3 patterns; the limit is 2 (GATESCOPE_MAX_PATTERNS)"
    assert e.value.loc == ["patterns"]
