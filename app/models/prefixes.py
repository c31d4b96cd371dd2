"""A whole model's state_dict, torch naming: its tensors grouped by module prefix ('rnn.',
'encoder.lstm.', 'model.layers.0.', or none), each group told apart as an LSTM, a GRU, a plain RNN
or neither by its tensors' shapes, and the one LSTM to show chosen — never tensors of two prefixes
mixed. Headers only: no data is read here."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from app.models import formats
from app.refusal import Invalid

# A recurrent layer's own tensor names in torch; layer numbers in ASCII digits, a few of them.
TORCH_NAME = re.compile(r"(?:.*\.)?((?:weight|bias)_(?:ih|hh)_l[0-9]{1,4}(?:_reverse)?)")

SHOWN = 5  # tensor names a refusal lists at most: the rest are counted
LONGEST = 80  # characters of one name or prefix a refusal quotes
LSTM_LOOKS = (
    "a torch.nn.LSTM's tensors are weight_ih_l0 (4H, I), weight_hh_l0 (4H, H), bias_ih_l0 and "
    "bias_hh_l0 (4H) (_l1, _l2… for stacked layers) under any module prefix such as 'rnn.'; "
    "a Keras LSTM's are kernel, recurrent_kernel and bias"
)


@dataclass(frozen=True)
class Group:
    """One module's tensors: `names` maps the name within the module ('weight_ih_l0') to the
    name in the file ('rnn.weight_ih_l0'), in file order."""

    prefix: str
    names: dict[str, str]

    @property
    def recurrent(self) -> bool:
        """Whether it holds any of a recurrent layer's tensor names."""
        return any(TORCH_NAME.fullmatch(n) for n in self.names)


@dataclass(frozen=True)
class Found:
    """A module holding weight_ih_l0 and weight_hh_l0: what kind of layer, and its shape as the
    headers declare it (rows: weight_ih_l0's first size)."""

    group: Group
    kind: str  # "LSTM", "GRU" or "RNN"
    layers: int
    input_size: int
    hidden_size: int
    rows: int

    def describe(self) -> str:
        layers = f"{self.layers} layer" + ("s" if self.layers != 1 else "")
        return (
            f"{quote(self.group.prefix)} ({layers}, input size {self.input_size}, "
            f"hidden size {self.hidden_size})"
        )

    def as_dict(self) -> dict[str, object]:
        return {
            "module": self.group.prefix,
            "layers": self.layers,
            "input_size": self.input_size,
            "hidden_size": self.hidden_size,
        }


def quote(prefix: str) -> str:
    return "no prefix" if prefix == "" else repr(short(prefix))


def short(name: str) -> str:
    return name if len(name) <= LONGEST else name[: LONGEST - 1] + "…"


def group(names: list[str]) -> dict[str, Group]:
    """The file's names by module prefix: everything before a recurrent tensor's own name
    ('weight_ih_l0'…), or else before the last dot ('decoder.' of 'decoder.bias')."""
    groups: dict[str, Group] = {}
    for uploaded in names:
        match = TORCH_NAME.fullmatch(uploaded)
        if match:
            prefix, own = uploaded[: match.start(1)], match[1]
        else:
            prefix, dot, own = uploaded.rpartition(".")
            prefix += dot
        groups.setdefault(prefix, Group(prefix, {})).names[own] = uploaded
    return groups


def found(g: Group, headers: Mapping[str, formats.Header]) -> Found | None:
    """The layer a module holds, told by its shapes: weight_hh_l0 (4H, H) an LSTM, (3H, H) a GRU,
    (H, H) with bias_ih_l0 of size H a plain RNN. None without weight_ih_l0 and weight_hh_l0;
    shapes that are none of these count as an LSTM's, for the engine to say what is off."""
    ih, hh = g.names.get("weight_ih_l0"), g.names.get("weight_hh_l0")
    if ih is None or hh is None:
        return None
    ih_shape, hh_shape = headers[ih].shape, headers[hh].shape
    layers = 0
    while f"weight_ih_l{layers}" in g.names:
        layers += 1
    if len(ih_shape) != 2 or len(hh_shape) != 2 or hh_shape[1] == 0:
        return Found(g, "LSTM", layers, 0, 0, ih_shape[0] if ih_shape else 0)
    H, rows = hh_shape[1], ih_shape[0]
    kind = "LSTM"
    if "weight_hr_l0" not in g.names:  # an LSTM with projections: weight_hh_l0 is (4H, P)
        bias = g.names.get("bias_ih_l0")
        if hh_shape[0] == rows == 3 * H:
            kind = "GRU"
        elif hh_shape[0] == rows == H and (bias is None or headers[bias].shape == (H,)):
            kind = "RNN"
    hidden = rows // 4 if kind == "LSTM" else H
    return Found(g, kind, layers, ih_shape[1], hidden, rows)


def choose(headers: Mapping[str, formats.Header], module: str | None) -> tuple[Group, list[str]]:
    """The one module whose tensors are the LSTM to show, and the names of every other tensor
    (left out, in file order). `module` names it (a trailing '.' may be left off); without it, the
    file must hold one LSTM. Refusals list what the file holds and say what to do."""
    names = list(headers)
    groups = group(names)
    layers = {p: f for p, g in groups.items() if (f := found(g, headers)) is not None}
    lstms = [f for f in layers.values() if f.kind == "LSTM"]
    if module is not None:
        chosen = _named(module, groups, layers, lstms)
    elif len(lstms) == 1:
        chosen = lstms[0].group
        _check_collisions(chosen, groups, layers, names)
    elif len(lstms) > 1:
        listed = _listing(lstms)
        raise Invalid(
            f"the file holds {len(lstms)} LSTMs: {listed}; say which to show with the 'module' "
            f"form field (module={short(lstms[0].group.prefix) or '.'})",
            ["module"],
            modules=[f.as_dict() for f in lstms],
        )
    else:
        chosen = _no_lstm(groups, layers, names, headers)
    ignored = [n for n in names if n not in chosen.names.values()]
    return chosen, ignored


def _named(module: str, groups: dict[str, Group], layers: dict[str, Found], lstms: list[Found]) -> Group:
    prefix = "" if module in ("", ".") else module if module.endswith(".") else module + "."
    g = groups.get(prefix)
    if g is not None and g.recurrent:
        f = layers.get(prefix)
        if f is not None and f.kind != "LSTM":
            raise not_an_lstm(f)
        return g
    holds = f"its LSTMs are under {_listing(lstms)}" if lstms else "it holds no LSTM"
    raise Invalid(
        f"module {short(module)!r} names no LSTM in the file: {holds}",
        ["module"],
        modules=[f.as_dict() for f in lstms],
    )


def _listing(lstms: list[Found]) -> str:
    parts = [f.describe() for f in lstms[:SHOWN]]
    more = f" and {len(lstms) - SHOWN} more" if len(lstms) > SHOWN else ""
    return (", ".join(parts[:-1]) + " and " + parts[-1] if len(parts) > 1 else parts[0]) + more


def not_an_lstm(f: Found) -> Invalid:
    what, rows = ("a GRU", "3H") if f.kind == "GRU" else ("a plain RNN", "H")
    where = f"module {f.group.prefix!r}" if f.group.prefix else "no module prefix"
    name = f.group.names["weight_ih_l0"]
    return Invalid(
        f"Gatescope shows LSTMs; this file holds {what} ({where}, {rows} = {f.rows} rows in "
        f"{short(name)!r}, where an LSTM's has 4H): save a torch.nn.LSTM's state_dict",
        ["weights", name],
        found=f.kind,
    )


def _check_collisions(
    chosen: Group, groups: dict[str, Group], layers: dict[str, Found], names: list[str]
) -> None:
    """A stray piece of an LSTM (a recurrent tensor name under a prefix that holds no whole layer)
    that stands for a tensor the chosen LSTM has: refused naming both, as ever — which was meant?"""
    order = {n: k for k, n in enumerate(names)}
    for g in groups.values():
        if g is chosen or g.prefix in layers:
            continue
        for own, uploaded in g.names.items():
            theirs = chosen.names.get(own)
            if theirs is None or not TORCH_NAME.fullmatch(own):
                continue
            first, second = sorted((theirs, uploaded), key=order.__getitem__)
            raise Invalid(
                f"tensors {first!r} and {second!r} both stand for {own!r}: "
                "upload one LSTM's tensors, under one module prefix",
                ["weights", second],
                tensors=[first, second],
            )


def _no_lstm(
    groups: dict[str, Group],
    layers: dict[str, Found],
    names: list[str],
    headers: Mapping[str, formats.Header],
) -> Group:
    """No module holds a whole LSTM: a GRU or RNN is named as such; a single module with some of
    an LSTM's names is taken, for the engine to say what it lacks; else what the file holds."""
    others = list(layers.values())
    if others:
        raise not_an_lstm(others[0])
    pieces = [g for g in groups.values() if g.recurrent]
    if len(pieces) == 1:
        return pieces[0]
    if pieces:
        listed = "; ".join(
            f"{quote(g.prefix)} holds {', '.join(short(n) for n in list(g.names)[:SHOWN])}"
            for g in pieces[:SHOWN]
        )
        raise Invalid(
            f"no module prefix holds a whole LSTM ({listed}), and tensors of two prefixes are "
            f"never mixed: {LSTM_LOOKS}",
            ["weights"],
        )
    shown = ", ".join(f"{short(n)!r} {headers[n].shape}" for n in names[:SHOWN])
    more = f" and {len(names) - SHOWN} more" if len(names) > SHOWN else ""
    raise Invalid(
        f"found no LSTM in the file: it holds {shown}{more}; {LSTM_LOOKS}",
        ["weights"],
        tensors=[short(n) for n in names[:SHOWN]],
    )


@dataclass(frozen=True)
class Extra:
    """A module beside the LSTM that the model uses: an embedding that feeds it or an output layer
    that reads it; `shape` is its weight's, (V, I) or (K, D)."""

    group: Group
    shape: tuple[int, ...]

    def describe(self) -> str:
        return f"{quote(self.group.prefix)} ({' × '.join(str(n) for n in self.shape)})"


def _weight_shape(g: Group, headers: Mapping[str, formats.Header]) -> tuple[int, ...]:
    return headers[g.names["weight"]].shape


def embeddings(
    groups: Mapping[str, Group], headers: Mapping[str, formats.Header], input_size: int
) -> list[Extra]:
    """Modules whose only tensor is `weight` (V, I), I the LSTM's input size: torch.nn.Embedding's
    state_dict."""
    found_ = []
    for g in groups.values():
        if set(g.names) == {"weight"}:
            shape = _weight_shape(g, headers)
            if len(shape) == 2 and shape[1] == input_size and shape[0] > 0:
                found_.append(Extra(g, shape))
    return found_


def heads(
    groups: Mapping[str, Group], headers: Mapping[str, formats.Header], width: int, named: bool
) -> list[Extra]:
    """Modules holding `weight` (K, D), D the width of the LSTM's last h (H, or 2H both ways), and
    `bias` (K,): torch.nn.Linear's state_dict. A weight-only module (Linear(bias=False)) only when
    the `head` field names it (`named`): guessed, it could as well be a projection, or a stray."""
    with_bias, without = [], []
    for g in groups.values():
        if "weight" not in g.names or not set(g.names) <= {"weight", "bias"}:
            continue
        shape = _weight_shape(g, headers)
        if len(shape) != 2 or shape[1] != width or shape[0] == 0:
            continue
        if "bias" in g.names:
            if headers[g.names["bias"]].shape == (shape[0],):
                with_bias.append(Extra(g, shape))
        else:
            without.append(Extra(g, shape))
    return with_bias + without if named else with_bias


def pick(kind: str, field: str, candidates: list[Extra], named: str | None, needs: str) -> Extra | None:
    """The one candidate module to use as `kind`: `named` (a prefix, a trailing '.' optional, or
    "none") chooses; else the only one; several are refused, listing them and naming `field`."""
    if named is not None and named.strip().lower() == "none":
        return None
    if named is not None:
        prefix = "" if named in ("", ".") else named if named.endswith(".") else named + "."
        for c in candidates:
            if c.group.prefix == prefix:
                return c
        listed = ", ".join(c.describe() for c in candidates[:SHOWN]) if candidates else "none"
        raise Invalid(
            f"{field} {short(named)!r} names no {kind} in the file ({needs}); the modules that fit "
            f"are: {listed}; or send {field}=none",
            [field],
            candidates=[c.group.prefix for c in candidates[:SHOWN]],
        )
    if len(candidates) > 1:
        listed = ", ".join(c.describe() for c in candidates[:SHOWN])
        more = f" and {len(candidates) - SHOWN} more" if len(candidates) > SHOWN else ""
        raise Invalid(
            f"the file holds {len(candidates)} modules that could be the {kind} ({needs}): "
            f"{listed}{more}; say which with the '{field}' form field "
            f"({field}={short(candidates[0].group.prefix) or '.'}), or {field}=none",
            [field],
            candidates=[c.group.prefix for c in candidates[:SHOWN]],
        )
    return candidates[0] if candidates else None


def extras(
    headers: Mapping[str, formats.Header],
    chosen: Group,
    embedding: str | None = None,
    head: str | None = None,
) -> tuple[Extra | None, Extra | None]:
    """The embedding that feeds the chosen LSTM and the output layer that reads it, found among
    the file's other modules by their shapes (or named by the `embedding` and `head` form
    fields); never the same module for both."""
    ih, hh = chosen.names.get("weight_ih_l0"), chosen.names.get("weight_hh_l0")
    if ih is None or hh is None or len(headers[ih].shape) != 2 or len(headers[hh].shape) != 2:
        return None, None  # the engine says what is off with the LSTM itself
    others = {p: g for p, g in group(list(headers)).items() if p != chosen.prefix}
    I, H = headers[ih].shape[1], headers[hh].shape[1]
    width = 2 * H if "weight_ih_l0_reverse" in chosen.names else H
    emb = pick(
        "embedding",
        "embedding",
        embeddings(others, headers, I),
        embedding,
        f"a module whose only tensor is weight (V, {I}), {I} the LSTM's input size",
    )
    if emb is not None:
        others.pop(emb.group.prefix)
    out = pick(
        "output layer",
        "head",
        heads(others, headers, width, named=head is not None),
        head,
        f"a module with weight (K, {width}) and bias (K,), {width} the width of the LSTM's last h",
    )
    return emb, out
