"""A character-level language model of Python source, in the spirit of Karpathy, Johnson and
Fei-Fei (2015), "Visualizing and Understanding Recurrent Networks": it reads a fixed slice of the
Python standard library's own source one character at a time and predicts the next one, and some
of its cells turn out to follow the position in the line, the indentation, the bracket depth or
whether it is inside a string.

Training reads B places of the text side by side, T characters at a time, and carries each
place's h and c on to its next T characters (truncated BPTT, as char-rnn trains); a place that
reaches the end of the text wraps round to its start.
"""

from __future__ import annotations

import io
import sysconfig
import time
import tokenize
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from app.train.adam import Adam, clip_by_norm
from app.train.bptt import logits, loss_and_grads
from app.train.loop import init_model, learning_rate
from app.train.units import Unit, correlations

VOCAB = "".join(chr(c) for c in range(32, 127)) + "\n"  # printable ASCII and the newline
STAND_IN = "?"  # what every other character (a few accented letters in comments) is read as
HELD_OUT_FILES = ("textwrap.py", "heapq.py", "abc.py", "ast.py")  # never trained on
EXAMPLE = 'def area(width, height=1):\n    """Width times height."""\n    return width * height  # (w, h)\n'


def stdlib() -> Path:
    """The standard library's directory (a venv's own prefix holds no .py files of it)."""
    return Path(sysconfig.get_paths()["stdlib"])


def train_files(lib: Path) -> tuple[str, ...]:
    """Every top-level module of at most 100 KB whose name does not start with '_', but for the
    held-out files and this.py (ROT13 prose): for Python 3.11, 140 files, 3.4 million characters."""
    return tuple(
        sorted(
            p.name
            for p in lib.glob("*.py")
            if not p.name.startswith("_")
            and p.stat().st_size <= 100_000
            and p.name not in (*HELD_OUT_FILES, "this.py")
        )
    )


def read_text(lib: Path, files: tuple[str, ...]) -> str:
    return "".join((lib / name).read_text(encoding="utf-8") for name in files)


def encode(text: str) -> np.ndarray:
    """Vocabulary indices of the characters; any other character counts as STAND_IN."""
    index = {ch: k for k, ch in enumerate(VOCAB)}
    return np.array([index.get(ch, index[STAND_IN]) for ch in text], dtype=np.int64)


def labels(source: str) -> dict[str, np.ndarray]:
    """For each character of one Python file, properties of the place just after reading it, (N,).

    From the tokenizer: inside a string literal (from its opening quote up to, not including,
    its closing one), inside a comment, bracket depth (the code's brackets only). From the
    lines: position in line (characters since the newline), indentation level (the leading
    spaces of the last line whose first non-space character has been read)."""
    n = len(source)
    chars = np.array(list(source))
    newline = chars == "\n"
    starts = np.concatenate([[0], np.flatnonzero(newline) + 1])  # where tokenize's lines start
    string, comment, depth = np.zeros(n), np.zeros(n), np.zeros(n)
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        a = int(starts[tok.start[0] - 1] + tok.start[1])
        b = int(starts[tok.end[0] - 1] + tok.end[1])
        if tok.type == tokenize.STRING:
            string[a : b - 1] = 1
        elif tok.type == tokenize.COMMENT:
            comment[a:b] = 1
        elif tok.type == tokenize.OP and tok.string in ("(", "[", "{"):
            depth[a] += 1
        elif tok.type == tokenize.OP and tok.string in (")", "]", "}"):
            depth[a] -= 1
    at = np.arange(n)
    line_start = np.maximum.accumulate(np.where(newline, at, -1)) + 1  # the newline ends its line
    column = np.where(newline, 0, at - line_start + 1)
    inked = (chars != " ") & ~newline
    before = np.concatenate([[-1], np.maximum.accumulate(np.where(inked, at, -1))[:-1]])
    first = inked & (before < line_start)  # the first non-space character of its line
    last_first = np.maximum.accumulate(np.where(first, at, -1))
    level = np.where(last_first >= 0, last_first - line_start[np.maximum(last_first, 0)], 0)
    return {
        "inside a string literal": string,
        "inside a comment": comment,
        "bracket depth": np.cumsum(depth),
        "position in line": column.astype(float),
        "indentation level": level.astype(float),
    }


def held_out(lib: Path) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The held-out files' characters, one file after the other, and their labels."""
    texts = [read_text(lib, (name,)) for name in HELD_OUT_FILES]
    per_file = [labels(t) for t in texts]
    return encode("".join(texts)), {k: np.concatenate([p[k] for p in per_file]) for k in per_file[0]}


def chunks(
    ids: np.ndarray, rng: np.random.Generator, batch: int, length: int
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Inputs and next-character targets, (length, batch) each, from `batch` places that move on by
    `length` characters per chunk, wrapping round the text's end."""
    at = rng.integers(0, len(ids), size=batch)
    steps = np.arange(length + 1)[:, None]
    while True:
        window = ids[(at + steps) % len(ids)]
        yield window[:-1], window[1:]
        at = (at + length) % len(ids)


@dataclass
class Reading:
    """How well a model predicts a text it reads whole, and what its cells held meanwhile."""

    bits_per_char: float
    accuracy: float  # share of next characters given the highest probability
    states: list[tuple[np.ndarray, np.ndarray]]  # each layer's (c, h), (steps, lanes, H), float32
    lanes: int


def read(params: dict[str, np.ndarray], ids: np.ndarray, lanes: int = 16, segment: int = 250) -> Reading:
    """Read the text as `lanes` consecutive pieces side by side, `segment` steps at a time with the
    state carried over, predicting each next character."""
    per = len(ids) // lanes
    text = ids[: per * lanes].reshape(lanes, per).T  # (per, lanes): lane b reads piece b
    layers = sum(name.startswith("weight_ih") for name in params)
    h = c = np.zeros((layers, lanes, params["weight_hh_l0"].shape[1]))
    nats, right, kept = 0.0, 0, []
    for a in range(0, per - 1, segment):
        x, y = text[a : min(a + segment, per - 1)], text[a + 1 : min(a + segment, per - 1) + 1]
        traces, z = logits(params, np.eye(len(VOCAB))[x], h, c)
        z -= z.max(axis=-1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(axis=-1, keepdims=True))
        nats -= float(np.take_along_axis(logp, y[..., None], axis=-1).sum())
        right += int((z.argmax(axis=-1) == y).sum())
        h, c = np.stack([t.h[-1] for t in traces]), np.stack([t.c[-1] for t in traces])
        kept.append([(t.c.astype(np.float32), t.h.astype(np.float32)) for t in traces])
    seen = (per - 1) * lanes
    states = [
        (np.concatenate([k[layer][0] for k in kept]), np.concatenate([k[layer][1] for k in kept]))
        for layer in range(layers)
    ]
    return Reading(nats / seen / np.log(2), right / seen, states, lanes)


def lane_labels(values: np.ndarray, reading: Reading) -> np.ndarray:
    """A property's labels (N,) laid out as the reading's states, (steps, lanes)."""
    steps = reading.states[0][0].shape[0]
    return values[: (len(values) // reading.lanes) * reading.lanes].reshape(reading.lanes, -1).T[:steps]


def find_units(reading: Reading, props: dict[str, np.ndarray], warm: int = 100, top: int = 3) -> list[Unit]:
    """Per property, the `top` units whose c or h follows it most closely (after the first `warm`
    steps of each lane, while the state settles), strongest first."""
    found = []
    for name, values in props.items():
        y = lane_labels(values, reading)[warm:].ravel()
        best: dict[tuple[int, int], Unit] = {}
        for layer, pair in enumerate(reading.states):
            for state, s in zip(("c", "h"), pair, strict=True):
                r = correlations(s[warm:].reshape(-1, s.shape[-1]).astype(np.float64), y)
                for unit, value in enumerate(r):
                    held = best.get((layer, unit))
                    if held is None or abs(value) > abs(held.correlation):
                        best[(layer, unit)] = Unit(layer, unit, state, name, round(float(value), 4))
        found += sorted(best.values(), key=lambda u: -abs(u.correlation))[:top]
    return sorted(found, key=lambda u: -abs(u.correlation))


@dataclass
class TrainedLM:
    params: dict[str, np.ndarray]
    steps: int
    loss: float  # training loss over the last 50 steps, bits per character
    seconds: float
    characters: int  # in the training text


def train(
    hidden: int = 128,
    layers: int = 1,
    seed: int = 0,
    steps: int = 2800,
    batch: int = 32,
    length: int = 100,
    lr: float = 1e-2,
    forget_bias: float = 1.0,
    recurrent_decay: float = 3.0,
    schedule: str = "cosine",
    clip: float = 1.0,
    lib: Path | None = None,
    report: Callable[[int, float, float], None] | None = None,
) -> TrainedLM:
    """Train from scratch on the standard library's files; report(step, loss in bits per character,
    seconds) every 100 steps. The same arguments (and Python version) give the same weights."""
    lib = lib or stdlib()
    ids = encode(read_text(lib, train_files(lib)))
    params = init_model(len(VOCAB), len(VOCAB), hidden, layers, seed, forget_bias)
    opt = Adam(params, lr=lr, decay={f"weight_hh_l{k}": recurrent_decay for k in range(layers)})
    start = time.perf_counter()
    losses: list[float] = []
    h = c = None
    for step, (x, y) in enumerate(chunks(ids, np.random.default_rng(seed), batch, length), start=1):
        result = loss_and_grads(params, np.eye(len(VOCAB))[x], y, None, h, c)
        h, c = result.h, result.c
        clip_by_norm(result.grads, clip)
        opt.lr = learning_rate(lr, step, steps, schedule)
        opt.step(params, result.grads)
        losses.append(result.loss / np.log(2))
        if report and (step % 100 == 0 or step == steps):
            report(step, float(np.mean(losses[-100:])), time.perf_counter() - start)
        if step == steps:
            break
    return TrainedLM(params, steps, float(np.mean(losses[-50:])), time.perf_counter() - start, len(ids))
