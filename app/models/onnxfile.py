"""ONNX files (.onnx) with LSTM nodes, read with the onnx package: each node's W, R and B, taken
by the node's input positions (0 X, 1 W, 2 R, 3 B, 4 sequence_lens, 5 initial_h, 6 initial_c,
7 P) from the graph's initializers, converted from ONNX's gate order (i, o, f, c) to torch's
(i, f, g, o) and named as torch names them: `weight_ih_l{k}`, `weight_hh_l{k}`, `bias_ih_l{k}`
(ONNX's Wb), `bias_hh_l{k}` (ONNX's Rb). LSTM nodes that feed each other (through Squeeze,
Reshape, Identity or Dropout, as torch.onnx.export writes them) are stacked as layers 0, 1…

Directions: a bidirectional node's W, R, B hold [forward, reverse]; the reverse half becomes torch's
`weight_ih_l{k}_reverse`… (layer k > 0 reads [h_fwd ; h_bwd], as torch's does). Stacked
bidirectional nodes must join the two directions' Y [T, 2, batch, H] into [T, batch, 2H] exactly as
torch.onnx.export writes it: Transpose(perm=[0, 2, 1, 3]) then Reshape([0, 0, -1]). A stack of
reverse nodes is the engine's `reverse=True` (ONNX stores a reverse node's Y in input order, so each
node reads the one below as the engine's backward layers do): `headers.backwards`. A stack mixing
directions is refused, naming the node.

What Gatescope cannot compute exactly is refused, naming the node and the attribute (the checks
are app.models.onnxgraph's): activations other than Sigmoid, Tanh, Tanh, clip, input_forget=1,
peepholes (input P), sequence_lens, an initial state that is not zero. layout=1 (batch first)
changes how X and Y are arranged, not the weights: it is read as layout 0.

Every tensor is judged by its header (data type, dims, how many numbers it holds) before its
numbers are converted; external data (which would read other files on the server) is refused.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import onnx
from google.protobuf.message import DecodeError
from onnx import TensorProto, numpy_helper

from app.models.formats import Header, bfloat16_to_float32, check_dims
from app.models.onnxgraph import (
    DTYPES,
    NUM_DIRECTIONS,
    attributes_of,
    check_attributes,
    check_feeds,
    check_inputs,
    input_at,
    node_name,
    type_name,
    why_unreadable,
)
from app.refusal import Invalid, TooLarge

IR_VERSION_TAG = 0x08  # field 1 (ir_version) as a varint: what every ModelProto is written with first
# ONNX's gate order is i, o, f, c; torch's i, f, g, o: torch's block k is ONNX's block TO_TORCH[k]
TO_TORCH = (0, 2, 3, 1)
RECURRENT = {"GRU": "a GRU", "RNN": "a plain RNN"}
MAX_NODES = 100_000  # a graph of a few LSTMs takes a few dozen nodes (torch's export: ~30 per layer)


class Headers(list[Header]):
    """The LSTM tensors' headers in torch naming, with what the file says about them."""

    def __init__(self) -> None:
        super().__init__()
        self.format = "ONNX"
        self.nodes: list[str] = []  # the LSTM nodes taken, bottom first
        self.opset: int | None = None
        self.backwards = False  # every node is direction reverse: the engine's reverse=True
        self.conversions: list[str] = []  # what was converted, in words (the model's badge)


def parse(raw: bytes) -> onnx.ModelProto | None:
    """The ModelProto the bytes hold, or None if they do not look like one (then another format's
    reader says what they are). Only bytes that begin as a ModelProto does, and not as a
    .safetensors header ('{' after its 8-byte length), are parsed."""
    if raw[:1] != bytes([IR_VERSION_TAG]) or raw[8:9] == b"{":
        return None
    try:
        model = onnx.load_model_from_string(raw)
    except (DecodeError, ValueError, RuntimeError):
        return None
    # protobuf reads many byte strings as some message: a model has a version and a graph's nodes
    if model.ir_version <= 0 or not model.graph.node:
        return None
    return model


def read(model: onnx.ModelProto, max_tensors: int) -> Headers:
    """The model's LSTM tensors. A damaged model parses as protobuf all the same, with names that
    are bytes, not text, or numbers no enum has: what that breaks is a refusal in words."""
    try:
        return _read(model, max_tensors)
    except (TypeError, ValueError, KeyError, IndexError, AttributeError, UnicodeError) as e:
        raise Invalid(f"the ONNX model is damaged: {type(e).__name__}: {str(e)[:200]}", ["weights"]) from None


def _read(model: onnx.ModelProto, max_tensors: int) -> Headers:
    graph = model.graph
    if len(graph.node) > MAX_NODES:
        raise TooLarge(
            f"the ONNX model's graph holds {len(graph.node):,} nodes; an LSTM's takes a few dozen "
            f"(at most {MAX_NODES:,} are read)",
            ["weights"],
            limit=MAX_NODES,
        )
    lstms = [n for n in graph.node if n.op_type == "LSTM"]
    if not lstms:
        raise _no_lstm(graph)
    if 4 * len(lstms) > max_tensors:
        raise TooLarge(
            f"the ONNX model holds {len(lstms)} LSTM nodes, {4 * len(lstms)} tensors; the limit is "
            f"{max_tensors} (GATESCOPE_MAX_UPLOAD_TENSORS)",
            ["weights"],
            limit=max_tensors,
        )
    initializers = {t.name: t for t in graph.initializer}
    producers = {out: n for n in graph.node for out in n.output if out}
    headers = Headers()
    headers.opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), None)
    directions: list[str] = []
    for k, node in enumerate(lstms):
        where = node_name(node, graph)
        direction = check_attributes(node, where)
        if k and direction != directions[0]:
            raise Invalid(
                f"LSTM node {where!r} of the ONNX model has direction={direction!r} but node "
                f"{headers.nodes[0]!r} below it has direction={directions[0]!r}: Gatescope computes "
                "a stack whose nodes are all forward, all reverse or all bidirectional",
                ["weights", where, "direction"],
                attribute="direction",
            )
        directions.append(direction)
        if k:
            check_feeds(lstms[k - 1], node, producers, graph, initializers, direction)
        check_inputs(node, where, initializers, producers)
        headers.extend(_layer(k, node, where, initializers, NUM_DIRECTIONS[direction]))
        headers.nodes.append(where)
    headers.backwards = directions[0] == "reverse"  # type: ignore[method-assign,assignment]
    headers.conversions = _conversions(lstms, directions[0])
    return headers


def _conversions(lstms: list[onnx.NodeProto], direction: str) -> list[str]:
    """What reading the nodes as torch's tensors took, in words."""
    said = ["ONNX gate order i, o, f, c reordered to i, f, g, o"]
    if all(input_at(n, 3) for n in lstms):
        said.append("biases Wb and Rb kept as bias_ih and bias_hh")
    elif not any(input_at(n, 3) for n in lstms):
        said.append("no input B: biases zero, ONNX's default")
    else:
        said.append("biases Wb and Rb kept as bias_ih and bias_hh; zero where a node has no B")
    if direction == "bidirectional":
        said.append("directions: forward and backward")
    elif direction == "reverse":
        said.append("direction reverse: every layer reads the sequence from the last step to the first")
    if any(attributes_of(n).get("layout", 0) == 1 for n in lstms):
        said.append("layout 1 (batch first) read as layout 0")
    return said


def _no_lstm(graph: onnx.GraphProto) -> Invalid:
    ops = sorted({n.op_type for n in graph.node})
    held = [RECURRENT[op] for op in ops if op in RECURRENT]
    what = f"; this file holds {' and '.join(held)}" if held else ""
    return Invalid(
        f"the file is an ONNX model whose graph holds no LSTM node (its ops: {', '.join(ops)}): "
        f"Gatescope shows LSTMs{what}",
        ["weights"],
        ops=ops,
    )


def _layer(
    k: int, node: onnx.NodeProto, where: str, initializers: dict[str, TensorProto], directions: int
) -> list[Header]:
    """Layer k's tensors in torch naming: direction 0 as `weight_ih_l{k}`…, direction 1 of a
    bidirectional node as `weight_ih_l{k}_reverse`…"""
    w, r = initializers[input_at(node, 1)], initializers[input_at(node, 2)]
    b = initializers.get(input_at(node, 3))
    for part, tensor in (("W", w), ("R", r), ("B", b)):
        if tensor is None:
            continue
        if tensor.data_type not in DTYPES:
            raise Invalid(
                f"LSTM node {where!r} of the ONNX model has {part} {tensor.name!r} of "
                f"{type_name(tensor.data_type)}; save the weights as float32 or float64",
                ["weights", where, part],
            )
        why = why_unreadable(tensor)
        if why:
            raise Invalid(
                f"LSTM node {where!r} of the ONNX model has {part} {tensor.name!r}, which cannot be "
                f"read: {why}",
                ["weights", where, part],
            )
        check_dims(tensor.name, tuple(tensor.dims))
    d = directions
    if len(w.dims) != 3 or len(r.dims) != 3 or w.dims[0] != d or r.dims[0] != d or w.dims[1] % 4:
        kind = "a bidirectional" if d == 2 else "a forward or reverse"
        raise Invalid(
            f"LSTM node {where!r} of the ONNX model has W of shape {tuple(w.dims)} and R of shape "
            f"{tuple(r.dims)}; {kind} LSTM's are [{d}, 4·hidden, input] and [{d}, 4·hidden, hidden]",
            ["weights", where, "W"],
        )
    hidden = w.dims[1] // 4
    if b is not None and tuple(b.dims) != (d, 8 * hidden):
        raise Invalid(
            f"LSTM node {where!r} of the ONNX model has B of shape {tuple(b.dims)}; with W of shape "
            f"{tuple(w.dims)} it is [{d}, {8 * hidden}] (Wb then Rb)",
            ["weights", where, "B"],
        )
    dtype = DTYPES[w.data_type]
    headers = []
    for j in range(d):
        suffix = "_reverse" if j else ""

        def one(a: np.ndarray, j: int = j) -> np.ndarray:
            return a[j]

        def wb(a: np.ndarray, j: int = j) -> np.ndarray:
            return a[j, : 4 * hidden]

        def rb(a: np.ndarray, j: int = j) -> np.ndarray:
            return a[j, 4 * hidden :]

        headers += [
            _header(f"weight_ih_l{k}{suffix}", w, (4 * hidden, w.dims[2]), one),
            _header(f"weight_hh_l{k}{suffix}", r, (4 * hidden, r.dims[2]), one),
        ]
        if b is None:  # ONNX's default: zero biases
            zeros: Callable[[], np.ndarray] = lambda: np.zeros(4 * hidden, dtype)  # noqa: E731
            headers += [
                Header(f"bias_{kind}_l{k}{suffix}", dtype, (4 * hidden,), zeros) for kind in ("ih", "hh")
            ]
        else:
            headers += [
                _header(f"bias_ih_l{k}{suffix}", b, (4 * hidden,), wb),
                _header(f"bias_hh_l{k}{suffix}", b, (4 * hidden,), rb),
            ]
    return headers


def _header(
    name: str, tensor: TensorProto, shape: tuple[int, ...], part: Callable[[np.ndarray], np.ndarray]
) -> Header:
    """A torch-named tensor from part of an ONNX one, its gate blocks reordered when read."""
    dtype = DTYPES[tensor.data_type]

    def data() -> np.ndarray:
        if tensor.data_type == TensorProto.BFLOAT16:
            if tensor.HasField("raw_data"):
                bits = np.frombuffer(tensor.raw_data, dtype="<u2")
            else:  # each bfloat16 in the low 16 bits of an int32
                bits = np.asarray(tensor.int32_data, dtype=np.uint32).astype(np.uint16)
            a = bfloat16_to_float32(bits).reshape(tuple(tensor.dims))
        else:
            a = numpy_helper.to_array(tensor).astype(dtype, copy=False)
        blocks = np.split(part(a), 4, axis=0)
        return np.ascontiguousarray(np.concatenate([blocks[i] for i in TO_TORCH], axis=0))

    return Header(name, dtype, shape, data)
