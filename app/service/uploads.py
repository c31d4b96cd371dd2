"""Uploaded weights: the file's headers checked against the limits before any array is read, then
its data and its input description; everything is checked before anything is stored, so a refused
upload leaves nothing behind."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from app.engine import lstm
from app.models import formats, onnxprobe, upload
from app.refusal import Invalid
from app.service import limits, run
from app.service.limits import Limits
from app.service.requests import MAX_ABS
from app.service.store import Store


def _vocabulary(raw: str) -> str:
    """A vocabulary given as a plain string, or as a JSON list of one-character strings."""
    vocab = raw
    if raw.startswith("["):
        try:
            items = json.loads(raw)
        except ValueError as e:
            raise Invalid(f"vocab looks like a JSON list but is not valid JSON: {e}", ["vocab"]) from None
        except RecursionError:  # "[[[[…": the parser gives up before the list ends
            raise Invalid("vocab looks like a JSON list but nests too deeply to be one", ["vocab"]) from None
        if not isinstance(items, list) or not all(isinstance(c, str) and len(c) == 1 for c in items):
            raise Invalid("vocab as a JSON list must hold one-character strings", ["vocab"])
        vocab = "".join(items)
    if not vocab:
        raise Invalid("vocab is empty", ["vocab"])
    seen: set[str] = set()
    for k, ch in enumerate(vocab):
        if ch in seen:
            raise Invalid(f"vocab repeats {ch!r} (U+{ord(ch):04X}) at position {k}", ["vocab", k])
        if 0xD800 <= ord(ch) <= 0xDFFF:  # half a character: no text can hold it, nor a link keep it
            raise Invalid(f"vocab holds a lone surrogate (U+{ord(ch):04X}) at position {k}", ["vocab", k])
        seen.add(ch)
    return vocab


MAX_WORD = 64  # characters of one word of a word model's `tokens`


def _word_list(raw: str, s: Limits) -> list[str]:
    """A word model's words: a JSON list of distinct non-empty strings without whitespace, at most
    GATESCOPE_MAX_INPUT_SIZE of them, each at most MAX_WORD characters."""
    try:
        items = json.loads(raw)
    except ValueError as e:
        raise Invalid(
            f"tokens must be a JSON list of words, and is not valid JSON: {e}", ["tokens"]
        ) from None
    except RecursionError:
        raise Invalid(
            "tokens must be a JSON list of words, and nests too deeply to be one", ["tokens"]
        ) from None
    if not isinstance(items, list):
        raise Invalid("tokens must be a JSON list of words (strings)", ["tokens"])
    if not items:
        raise Invalid("tokens is empty", ["tokens"])
    if len(items) > s.max_input_size:
        raise Invalid(
            f"tokens holds {len(items)} words; the limit is {s.max_input_size} (GATESCOPE_MAX_INPUT_SIZE)",
            ["tokens"],
            limit=s.max_input_size,
        )
    seen: dict[str, int] = {}
    for k, word in enumerate(items):
        if not isinstance(word, str) or not word:
            raise Invalid(f"tokens[{k}] is not a word: each must be a non-empty string", ["tokens", k])
        if len(word) > MAX_WORD:
            raise Invalid(
                f"tokens[{k}] is {len(word)} characters long; the limit is {MAX_WORD}",
                ["tokens", k],
                limit=MAX_WORD,
            )
        if any(ch.isspace() for ch in word) or len(word.split()) != 1:
            raise Invalid(
                f"tokens[{k}] ({word!r}) holds whitespace: the text is split on whitespace, so no "
                "word can hold it",
                ["tokens", k],
            )
        if any(0xD800 <= ord(ch) <= 0xDFFF for ch in word):
            raise Invalid(f"tokens[{k}] holds a lone surrogate", ["tokens", k])
        if word in seen:
            raise Invalid(f"tokens repeats {word!r}: at {seen[word]} and at {k}", ["tokens", k])
        seen[word] = k
    return items


def accept(
    raw: bytes,
    filename: str,
    vocab: str | None,
    input_size: int | None,
    name: str | None,
    gate_activation: str,
    forget_bias: float,
    s: Limits,
    models: Store,
    module: str | None = None,
    embedding: str | None = None,
    head: str | None = None,
    labels: str | None = None,
    tokens: str | None = None,
) -> dict[str, Any]:
    """Check everything, then store: a refused upload leaves nothing behind. `embedding`, `head`:
    the module prefixes of a whole model's embedding and output layer (or "none"), when the file's
    shapes leave it open; `labels`: the output layer's class names, a JSON list; `tokens`: a word
    model's words, a JSON list."""
    if sum(given is not None for given in (vocab, tokens, input_size)) != 1:
        raise Invalid(
            "give either 'vocab' (the characters, in one-hot order) or 'input_size', or for a word "
            "model 'tokens' (its words, a JSON list): exactly one of them",
            [],
        )
    words = None if tokens is None else _word_list(tokens, s)  # before a byte of the file is read
    headers = formats.read_headers(raw, s.max_upload_bytes * 4, s.max_upload_tensors)
    # A Keras 2 file whose layers use hard_sigmoid says so itself (app.models.kerasfile)
    gate_activation = getattr(headers, "gate_activation", None) or gate_activation
    # Keras's go_backwards, or an ONNX stack of reverse nodes: read from the last step to the first
    reverse = getattr(headers, "backwards", False) is True
    # an empty form field counts as absent
    plan = upload.plan(headers, module or None, embedding or None, head or None)
    declared = plan.declared_shape()
    described = None
    if declared is not None:  # None: the names or shapes are off, and load says how
        H, layers, I = declared
        limits.check_size(H, layers, s, ["weights"], input_size=I)
        check_extras(plan, s)
        V = plan.vocabulary_size()
        described = _described(
            vocab, input_size, gate_activation, (4 * H, I if V is None else V), plan, words
        )
    K = plan.classes()
    if labels and K is None:
        raise Invalid(
            "'labels' name an output layer's classes, but the file holds no output layer", ["labels"]
        )
    named = None if K is None else _labels(labels, K, _names_of(described))
    upload.check_sizes(plan, largest_tensor(s), largest_extra(s))
    weights, native = upload.load(plan, forget_bias, MAX_ABS)
    if described is None:
        described = _described(vocab, input_size, gate_activation, weights["weight_ih_l0"].shape, plan, words)
    if reverse:  # part of the id: the same weights read forward are another model
        described["reverse"] = True
    if named is not None:  # the class names are part of what the model is, so of its id
        described["labels"] = named
    model_id = upload.content_id(weights, described)
    info = {**described, "name": name, "file": filename, "forget_bias": forget_bias, "source": plan.source}
    info["format"] = getattr(headers, "format", "")
    if info["format"] == "ONNX" and models.get_info(model_id) is None:  # measured once, when first stored
        lstm_only = {k: v for k, v in weights.items() if k not in upload.EXTRAS}
        info["measured"] = onnxprobe.measure(raw, lstm_only, reverse, lstm.shape_of(lstm_only).input_size)
    if plan.module is not None:  # what of a whole model's file was taken, and what left out
        info |= {"module": plan.module, **_left_out(plan.ignored)}
    info |= _whole_model(plan, headers)
    created = models.put_model(model_id, info, native)
    if not created:  # the same weights, uploaded before: answer what the store keeps (its name…)
        info = models.get_info(model_id) or info
    model = upload.as_model(model_id, info, weights)
    return {"id": model_id, "url": f"/?model={model_id}", "created": created, "model": run.model_info(model)}


def _described(
    vocab: str | None,
    input_size: int | None,
    gate_activation: str,
    first: tuple[int, ...],
    plan: upload.Plan | None = None,
    words: list[str] | None = None,
) -> dict[str, Any]:
    """The input description, checked against weight_ih_l0's shape `first` (4H, I) — (4H, V) once
    an embedding of V tokens is folded in."""
    I = first[1]
    if plan is not None and plan.embedding is not None:
        return _described_tokens(vocab, input_size, gate_activation, plan, I, words)
    described: dict[str, Any] = {"gate_activation": gate_activation}
    if words is not None:
        described["tokens"] = words
        if len(words) != I:
            raise Invalid(
                f"tokens has {len(words)} words but the weights take {I} inputs per step "
                f"(weight_ih_l0 is {tuple(first)})",
                ["tokens"],
            )
    elif vocab is not None:
        described["vocab"] = _vocabulary(vocab)
        if len(described["vocab"]) != I:
            raise Invalid(
                f"vocab has {len(described['vocab'])} characters but the weights take "
                f"{I} inputs per step (weight_ih_l0 is {tuple(first)})",
                ["vocab"],
            )
    else:
        described["input_size"] = input_size
        if input_size != I:
            raise Invalid(
                f"input_size is {input_size} but the weights take {I} inputs per step "
                f"(weight_ih_l0 is {tuple(first)})",
                ["input_size"],
            )
    return described


def _left_out(ignored: tuple[str, ...]) -> dict[str, Any]:
    """The names left out, as stored: at most IGNORED_KEPT, each at most IGNORED_NAME characters
    (a file may hold up to GATESCOPE_MAX_UPLOAD_TENSORS names of any length), and how many."""
    kept = [n if len(n) <= IGNORED_NAME else n[: IGNORED_NAME - 1] + "…" for n in ignored[:IGNORED_KEPT]]
    return {"ignored": kept, "ignored_count": len(ignored)}


IGNORED_KEPT = 32
IGNORED_NAME = 200


def largest_tensor(s: Limits) -> int:
    """The most numbers one tensor of an LSTM within the limits holds: weight_ih_l0 (4H, I) or,
    in a layer above, weight_ih (4H, H), or (4H, 2H) reading both directions of a bidirectional one."""
    return 4 * s.max_hidden * max(s.max_input_size, 2 * s.max_hidden)


def largest_extra(s: Limits) -> int:
    """The most numbers an embedding (V, I) or an output layer (K, 2H) within the limits holds."""
    return max(s.max_input_size**2, s.max_classes * 2 * s.max_hidden)


def _described_tokens(
    vocab: str | None,
    input_size: int | None,
    gate_activation: str,
    plan: upload.Plan,
    V: int,
    words: list[str] | None = None,
) -> dict[str, Any]:
    """A model with an embedding reads tokens: one of V, named by the vocabulary or the words."""
    where = f"the embedding {_quote(plan.embedding_module)} has {V} rows"
    if words is not None:
        if len(words) != V:
            raise Invalid(f"tokens has {len(words)} words but {where}, one per token: give {V}", ["tokens"])
        return {"gate_activation": gate_activation, "tokens": words}
    if vocab is None:
        raise Invalid(
            f"{where}, one per token: give 'vocab' with {V} characters, not 'input_size'", ["vocab"]
        )
    chars = _vocabulary(vocab)
    if len(chars) != V:
        raise Invalid(f"vocab has {len(chars)} characters but {where}, one per token: give {V}", ["vocab"])
    return {"gate_activation": gate_activation, "vocab": chars}


def _quote(prefix: str | None) -> str:
    return "with no prefix" if not prefix else repr(prefix)


def check_extras(plan: upload.Plan, s: Limits) -> None:
    """The embedding's V (the input size the model reads once it is folded in) and the output
    layer's K within the limits, from the headers: before any data is read."""
    V = plan.vocabulary_size()
    if V is not None and V > s.max_input_size:
        raise Invalid(
            f"the embedding {_quote(plan.embedding_module)} has {V} rows (tokens), the model's input "
            f"size once folded in; the limit is {s.max_input_size} (GATESCOPE_MAX_INPUT_SIZE)",
            ["weights", plan.embedding or "embedding"],
            limit=s.max_input_size,
        )
    K = plan.classes()
    if K is not None and K > s.max_classes:
        raise Invalid(
            f"the output layer {_quote(plan.head_module)} has {K} classes; the limit is "
            f"{s.max_classes} (GATESCOPE_MAX_CLASSES)",
            ["weights", plan.head.get("weight", "head")],
            limit=s.max_classes,
        )


LABEL_LONGEST = 100  # characters of one class name


def _names_of(described: dict[str, Any] | None) -> Sequence[str] | None:
    """The names of a model's inputs, where it has some: its characters or its words."""
    if described is None:
        return None
    return described.get("vocab") or described.get("tokens")


def _labels(raw: str | None, K: int, vocab: Sequence[str] | None) -> list[str]:
    """The output layer's K class names: the `labels` form field (a JSON list of K strings), else
    the vocabulary when it has K characters (a language model predicts the next one), else
    "0"…"K−1"."""
    if not raw:
        return list(vocab) if vocab is not None and len(vocab) == K else [str(k) for k in range(K)]
    try:
        items = json.loads(raw)
    except (ValueError, RecursionError):
        raise Invalid(f"labels must be a JSON list of {K} strings, one per class", ["labels"]) from None
    if not isinstance(items, list) or len(items) != K:
        got = f"a list of {len(items)}" if isinstance(items, list) else f"a JSON {type(items).__name__}"
        raise Invalid(
            f"labels must be a JSON list of {K} strings, one per class of the output layer; got {got}",
            ["labels"],
        )
    for k, item in enumerate(items):
        if not isinstance(item, str):
            raise Invalid(f"label {k} is not a string", ["labels", k])
        if not item or len(item) > LABEL_LONGEST:
            raise Invalid(f"label {k} must have 1 to {LABEL_LONGEST} characters", ["labels", k])
        if any(0xD800 <= ord(ch) <= 0xDFFF for ch in item):
            raise Invalid(f"label {k} holds a lone surrogate, which is not a character", ["labels", k])
    return items


def _whole_model(plan: upload.Plan, headers: Any) -> dict[str, Any]:
    """What the answer says of a whole model's other modules: the embedding folded in, the output
    layer, and each conversion in words."""
    info: dict[str, Any] = {}
    conversions = list(getattr(headers, "conversions", None) or [])
    emb = plan.header(upload.EMBEDDING)
    if emb is not None:
        V, I = emb.shape
        info["embedding"] = {"module": plan.embedding_module, "shape": [V, I]}
        folded = (
            "weight_ih_l0 and weight_ih_l0_reverse"
            if "weight_ih_l0_reverse" in plan.names
            else "weight_ih_l0"
        )
        conversions.append(
            f"embedding {_quote(plan.embedding_module)} ({V} × {I}) folded into {folded}: "
            "the model reads one-hot tokens"
        )
    K = plan.classes()
    if K is not None:
        info["head"] = {"module": plan.head_module, "classes": K}
        conversions.append(f"output layer {_quote(plan.head_module)} (K = {K})")
    if conversions:
        info["conversions"] = conversions
    return info
