"""The built-in models: seeded random LSTMs and hand-built ones whose weights are set analytically.

Hand-built models use large weights so that every gate sits near 0 or 1 and the
mechanism reads off the heatmaps: σ(10) ≈ 0.99995 is "open", σ(−10) ≈ 0.00005 is "shut".
"""

from __future__ import annotations

import json
import re
import string
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file

from app.engine.lstm import Shape, init_weights, shape_of
from app.models import versions

TEXT_VOCAB = string.ascii_lowercase + string.ascii_uppercase + string.digits + " .,;:!?'\"-()\n"
ASCII_VOCAB = "".join(chr(c) for c in range(32, 127)) + "\n"

UNKNOWN = "<unk>"  # the word a word model reads in place of one not in its list, if the list has it
OPEN = 10.0  # a pre-activation that saturates a gate: σ(10) ≈ 0.99995, tanh(10) ≈ 1
I, F, G, O = range(4)


@dataclass(frozen=True)
class Model:
    id: str
    title: str
    description: str
    hint: str
    weights: dict[str, np.ndarray] = field(repr=False)
    vocab: str | None = None  # characters of a character model, one-hot encoded in this order
    input_size: int = 0  # width of each step's vector (len(vocab) for a character model)
    units: tuple[str, ...] = ()  # what each hidden unit means, where it means something
    example: str = ""  # a sequence that shows the model off, as typed in the page
    gate_activation: str = "sigmoid"  # of i, f, o; Keras models may use "hard_sigmoid"
    parity: str = ""  # for uploaded models: how closely they match their framework, as tested
    card: dict | None = None  # for trained models: how they were trained and how well they do
    generator: str | None = None  # random models: the version of the generator that drew the weights
    # The output layer that reads the last layer's h: {"weight": (K, D), "bias": (K,)}, D = H (2H
    # bidirectional), bias optional; None: the model has none. Not part of the pin (versions.pin_of).
    head: dict[str, np.ndarray] | None = field(default=None, repr=False)
    labels: tuple[str, ...] = ()  # the head's K class names
    reverse: bool = False  # reads the sequence from its last step to its first (Keras go_backwards)
    conversion: dict | None = None  # uploads: what was read and how it was converted (app.models.badge)
    words: tuple[str, ...] | None = None  # a word model's words, one-hot in this order (text split on spaces)

    # Computed once per model object (cached_property writes past the frozen dataclass's fields).
    @cached_property
    def shape(self) -> Shape:
        """Layers, input size and hidden size: the one place they are read off the weights."""
        return shape_of(self.weights)

    @cached_property
    def pin(self) -> str:
        """This version's pin (see app.models.versions)."""
        return versions.pin_of(self)

    @property
    def reads_text(self) -> bool:
        """A text model (characters or words), not one that reads numbers per step."""
        return self.vocab is not None or self.words is not None

    @property
    def hidden_size(self) -> int:
        return self.shape.hidden_size

    @property
    def layers(self) -> int:
        return self.shape.layers


class _Builder:
    """Weights of a one-layer LSTM built unit by unit; W[gate, unit] is a row of W_ih."""

    def __init__(self, input_size: int, hidden_size: int):
        self.H = hidden_size
        self.W = np.zeros((4, hidden_size, input_size))
        self.U = np.zeros((4, hidden_size, hidden_size))
        self.b = np.zeros((4, hidden_size))

    def weights(self) -> dict[str, np.ndarray]:
        H = self.H
        return {
            "weight_ih_l0": self.W.reshape(4 * H, -1),
            "weight_hh_l0": self.U.reshape(4 * H, H),
            "bias_ih_l0": self.b.reshape(4 * H),
            "bias_hh_l0": np.zeros(4 * H),
        }


def _columns(vocab: str, chars: str) -> list[int]:
    return [vocab.index(ch) for ch in chars]


def counter() -> Model:
    """Cells that count and a forget gate that wipes them at each '.'."""
    v = TEXT_VOCAB
    m = _Builder(len(v), 4)
    counted = {
        0: "aA",  # 'a's in the current sentence
        1: v.replace(".", ""),  # characters in the current sentence
        2: " ",  # spaces in the current sentence
        3: ".",  # sentences so far: this unit never forgets
    }
    for u, chars in counted.items():
        m.b[I, u] = -OPEN
        m.W[I, u, _columns(v, chars)] = 2 * OPEN  # i opens on a counted character
        m.b[G, u] = OPEN  # g ≈ +1: each counted character adds one to c
        m.b[F, u] = OPEN  # f ≈ 1: keep the count ...
        m.b[O, u] = OPEN
    m.W[F, :3, v.index(".")] = -2 * OPEN  # ... except at '.', where f ≈ 0 wipes it
    return Model(
        id="counter",
        title="Counter with reset",
        description=(
            "Four cells count characters and the forget gate of the first three falls to ~0 at "
            "every '.', wiping what they held: f = 1 keeps, f = 0 forgets. Unit 0 counts the "
            "letter a, unit 1 all characters, unit 2 spaces, all since the last '.'; unit 3 counts "
            "the '.'s and never forgets. Built by hand: f = σ(10 − 20·[x is '.']), "
            "i = σ(−10 + 20·[x is counted]), g = tanh(10) ≈ 1, o = σ(10), no recurrent weights."
        ),
        hint="Watch the forget gate turn dark at each '.' and the cell state drop to 0 there.",
        weights=m.weights(),
        vocab=v,
        input_size=len(v),
        units=("a's this sentence", "characters this sentence", "spaces this sentence", "sentences"),
        example="a banana. an apple. aardvark",
    )


LATCH_CLASSES = (
    ("a vowel", "aeiouAEIOU"),
    ("a consonant", "".join(ch for ch in string.ascii_letters if ch not in "aeiouAEIOU")),
    ("a digit", string.digits),
    ("space or punctuation", " .,;:!?'\"-()\n"),
)


def latch() -> Model:
    """Stores what kind of character came first and holds it: i shuts after step 0, f stays 1."""
    v = TEXT_VOCAB
    H = 1 + len(LATCH_CLASSES)
    m = _Builder(len(v), H)
    m.b[F] = OPEN  # f ≈ 1 always: hold
    m.b[O] = OPEN
    m.b[I] = OPEN  # i open while h of unit 0 is 0, i.e. at the first step only ...
    m.U[I, :, 0] = -3 * OPEN  # ... then h_0 ≈ 0.76 drives it to σ(10 − 30·0.76) ≈ 0
    m.b[G, 0] = OPEN  # unit 0: "something has been seen"
    for u, (_, chars) in enumerate(LATCH_CLASSES, start=1):
        m.W[G, u, _columns(v, chars)] = OPEN  # g ≈ 1 for its class, 0 otherwise
    return Model(
        id="latch",
        title="Latch: remember the first character",
        description=(
            "Stores what kind of character came first (vowel, consonant, digit, or space and "
            "punctuation) and holds it to the end. The input gate is open at step 0 only: unit 0 "
            "writes a 1 and its h, fed back through the recurrent weights, shuts every input "
            "gate from then on (i = σ(10 − 30·h₀)). The forget gate stays at 1, so what was "
            "written is kept, whatever follows."
        ),
        hint="Type different first characters: only step 0 writes; f ≈ 1 and i ≈ 0 afterwards.",
        weights=m.weights(),
        vocab=v,
        input_size=len(v),
        units=("seen anything",) + tuple(f"first was {name}" for name, _ in LATCH_CLASSES),
        example="a 1 b 2 c 3. whatever follows",
    )


def gated_sum() -> Model:
    """A vector model: running sums, one of which a negative input wipes."""
    m = _Builder(1, 2)
    m.W[G, :, 0] = 1.0  # g = tanh(x)
    m.b[O] = OPEN
    m.b[I, 0] = m.b[F, 0] = OPEN  # unit 0 adds every input and never forgets
    m.W[I, 1, 0] = m.W[F, 1, 0] = 2 * OPEN  # unit 1: i = f = σ(20x), shut by a negative x
    return Model(
        id="gated-sum",
        title="Gated sum (numbers in)",
        description=(
            "Takes one number per step. Unit 0 adds tanh(x) at every step and never forgets; "
            "unit 1 adds it too, but its input and forget gates are σ(20x): a negative number "
            "shuts both, so the sum is wiped and nothing is written."
        ),
        hint="Type positive numbers, then a negative one: unit 1's cell drops to 0.",
        weights=m.weights(),
        input_size=1,
        units=("sum of all inputs", "sum since the last negative input"),
        example="0.5 1 0.3 -1 0.8 0.6 0.2",
    )


RANDOM_ID = re.compile(r"random-h([0-9]{1,4})-l([0-9])-s([0-9]{1,9})")  # ASCII digits: one id a model
RANDOM_LISTED = ("random-h8-l1-s0", "random-h32-l2-s0")

# A random model is its id (H, layers, seed) and the generator that draws its weights, so a link
# pins it by these rather than by a copy of the weights. A generator's output never changes
# (tests/service/test_link_hardening.py freezes it): drawing weights differently, or a NumPy
# whose random stream differs, needs a new version here, and the old one kept so that old links
# still show theirs.
GENERATORS: dict[str, Callable[[int, int, int], dict[str, np.ndarray]]] = {
    "random-v1": lambda H, layers, seed: init_weights(len(ASCII_VOCAB), H, layers, seed),
}
RANDOM_GENERATOR = "random-v1"  # what new random models are drawn with


def random_title(H: int, layers: int, seed: int) -> str:
    return f"Random LSTM (H={H}, {layers} layer{'s' if layers > 1 else ''}, seed {seed})"


def upload_title(info: dict) -> str:
    return info.get("name") or "Uploaded model"


def random_model(model_id: str, generator: str | None = None) -> Model:
    """A random character LSTM with PyTorch's default initialisation; its id holds H, layers, seed.
    `generator`: the version that draws the weights (None: the current one). KeyError for an id
    that is no such model, or a generator this release does not know."""
    generator = generator or RANDOM_GENERATOR
    match = RANDOM_ID.fullmatch(model_id)
    if match is None or generator not in GENERATORS:
        raise KeyError(model_id)
    H, L, seed = (int(g) for g in match.groups())
    if H < 1 or L < 1:
        raise KeyError(model_id)
    return Model(
        id=model_id,
        title=random_title(H, L, seed),
        description=(
            "Untrained: every weight drawn from U(−1/√H, 1/√H), as torch.nn.LSTM initialises "
            "them. Its gates hover around 0.5 and mean nothing yet — the baseline that trained "
            "and hand-built models are compared with. Any random-h<H>-l<layers>-s<seed> id works."
        ),
        hint="Gates near 0.5 everywhere: nothing has been learnt.",
        weights=GENERATORS[generator](H, L, seed),
        vocab=ASCII_VOCAB,
        input_size=len(ASCII_VOCAB),
        example="hello, world",
        generator=generator,
    )


TRAINED_DIR = Path(__file__).resolve().parent  # the trained models ship beside this module


def trained() -> list[Model]:
    """The models trained by `gatescope train` and shipped in app/models, each with its card."""
    models = []
    for card_path in sorted(TRAINED_DIR.glob("*.json")):
        card = json.loads(card_path.read_text())
        tensors = load_file(str(card_path.with_suffix(".safetensors")))
        weights = {k: v.astype(np.float64) for k, v in tensors.items() if not k.startswith("head.")}
        head = {
            k.removeprefix("head."): v.astype(np.float64) for k, v in tensors.items() if k.startswith("head.")
        }
        accuracy = f"{100 * card['accuracy']:.1f} %"
        models.append(
            Model(
                id=card["task"],
                title=f"Trained: {card['title']}",
                description=f"{card['description']} Trained by Gatescope's own NumPy trainer: "
                f"{accuracy} right on {card['accuracy_on']}. Reproduce: {card['command']}",
                hint=card["hint"],
                weights=weights,
                vocab=card["vocab"],
                input_size=len(card["vocab"]),
                units=_unit_names(card, weights["weight_hh_l0"].shape[1]),
                example=card.get("example", ""),
                card=card,
                head=head,
                labels=trained_labels(card, head["weight"].shape[0]),
            )
        )
    return models


# What each class of a toy task's head stands for (app/train/tasks.py draws the targets; the
# models layer may not import the trainer, so tests/models/test_heads.py checks the two agree).
TASK_LABELS: dict[str, Callable[[dict], tuple[str, ...]]] = {
    "reset-count": lambda card: (*(str(n) for n in range(5)), "5+"),  # a's since '.', 5 or more
    "bracket-depth": lambda card: tuple(str(n) for n in range(card["classes"])),  # nesting depth
    "parity": lambda card: ("even", "odd"),  # of the 1s read so far
    "recall": lambda card: tuple(card["vocab"][: card["classes"]]),  # the first symbol, a–d
}


def trained_labels(card: dict, K: int) -> tuple[str, ...]:
    """The K class names of a trained model's head: a card's own `labels`, else its task's, else
    the vocabulary when there is one class per character (a language model), else "0"…"K−1"."""
    labels = card.get("labels") or (TASK_LABELS[card["task"]](card) if card["task"] in TASK_LABELS else None)
    if labels is None and len(card["vocab"]) == K:
        labels = tuple(card["vocab"])
    labels = tuple(labels) if labels is not None else tuple(str(k) for k in range(K))
    if len(labels) != K:
        raise ValueError(f"{card['task']}: {len(labels)} labels for a head of {K} classes")
    return labels


def _unit_names(card: dict, H: int) -> tuple[str, ...]:
    names = [""] * H
    for u in card.get("units", []):
        if u["layer"] == 0 and not names[u["unit"]]:
            names[u["unit"]] = f"{u['state']} tracks {u['property']} (r = {u['correlation']:+.2f})"
    return tuple(names)


BUILT = {m.id: m for m in (counter(), latch(), gated_sum(), *trained())}


@lru_cache(maxsize=len(RANDOM_LISTED))
def _listed_random(model_id: str) -> Model:
    return random_model(model_id)


def listed() -> list[Model]:
    """The models the picker offers, in its order."""
    return [*BUILT.values(), *(_listed_random(i) for i in RANDOM_LISTED)]


def random_shape(model_id: str) -> tuple[int, int] | None:
    """(hidden size, layers) that a random-… id asks for, or None if it is not such an id."""
    match = RANDOM_ID.fullmatch(model_id)
    return (int(match[1]), int(match[2])) if match else None


def get(model_id: str) -> Model:
    """The model with this id; KeyError if there is none. Check random_shape against limits first."""
    if model_id in BUILT:
        return BUILT[model_id]
    if model_id in RANDOM_LISTED:
        return _listed_random(model_id)
    return random_model(model_id)  # built on demand, never kept: any seed is a new model


def from_upload(
    model_id: str,
    info: dict,
    weights: dict[str, np.ndarray],
    parity: str = "",
    head: dict[str, np.ndarray] | None = None,
    conversion: dict | None = None,
) -> Model:
    """A model someone uploaded (see app.upload), as stored; `head`: its output layer, if any
    (stored without labels: "0"…"K−1")."""
    vocab = info.get("vocab")
    words = tuple(info["tokens"]) if info.get("tokens") is not None else None
    size = len(vocab) if vocab is not None else len(words) if words is not None else int(info["input_size"])
    if words is not None:
        example = " ".join(w for w in words[:8] if w != UNKNOWN)
    else:
        example = (vocab or "")[:20] if vocab is not None else " ".join(["0"] * size)
    return Model(
        id=model_id,
        title=upload_title(info),
        description=f"Uploaded {_read_from(info, conversion)} ({info.get('file', 'file')}).",
        hint="Your own model: look for units whose forget gate opens and closes with the input.",
        weights=weights,
        vocab=vocab,
        input_size=size,
        example=example,
        gate_activation=info.get("gate_activation", "sigmoid"),
        parity=parity,
        head=head,
        labels=tuple(info.get("labels") or map(str, range(len(head["weight"]) if head else 0))),
        reverse=bool(info.get("reverse", False)),
        words=words,
        conversion=conversion,
    )


def _read_from(info: dict, conversion: dict | None) -> str:
    if conversion is not None:
        return f"weights, read from {conversion['format']}"
    return f"{info.get('source', 'LSTM')} weights"


def known_ids() -> list[str]:
    return [*BUILT, "random-h<H>-l<layers>-s<seed>"]
