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

What Gatescope cannot compute exactly is refused, naming the node and the attribute: activations
other than Sigmoid, Tanh, Tanh, clip, input_forget=1, peepholes (input P), an initial state that is
not zero. layout=1 (batch first) changes how X and Y are arranged, not the weights: it is read as
layout 0.

Every tensor is judged by its header (data type, dims, how many numbers it holds) before its
numbers are converted; external data (which would read other files on the server) is refused.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import onnx
from google.protobuf.message import DecodeError
from onnx import TensorProto, numpy_helper

from app.models.formats import Header, bfloat16_to_float32, check_dims
from app.refusal import Invalid, TooLarge

IR_VERSION_TAG = 0x08  # field 1 (ir_version) as a varint: what every ModelProto is written with first
# ONNX's gate order is i, o, f, c; torch's i, f, g, o: torch's block k is ONNX's block TO_TORCH[k]
TO_TORCH = (0, 2, 3, 1)
DTYPES: dict[int, np.dtype] = {
    TensorProto.FLOAT: np.dtype(np.float32),
    TensorProto.DOUBLE: np.dtype(np.float64),
    TensorProto.FLOAT16: np.dtype(np.float16),
    TensorProto.BFLOAT16: np.dtype(np.float32),  # upcast exactly, as safetensors' BF16 is
}
DEFAULT_ACTIVATIONS = ("sigmoid", "tanh", "tanh")
# ops that hand one LSTM's Y to the next unchanged but for its shape (torch.onnx.export: Squeeze)
PASS_THROUGH = {"Squeeze", "Reshape", "Identity", "Dropout", "Unsqueeze"}
RECURRENT = {"GRU": "a GRU", "RNN": "a plain RNN"}
# how torch.onnx.export joins a bidirectional node's Y [T, 2, batch, H] into the next node's X
# [T, batch, 2H], forward h first: a Transpose to [T, batch, 2, H], then a Reshape whose 0s copy T
# and batch and whose -1 (or 2H) joins the last two
JOIN_PERM = (0, 2, 1, 3)
NO_OPS = {"Identity", "Dropout"}  # what may lie anywhere between two nodes: they change nothing
NUM_DIRECTIONS = {"forward": 1, "reverse": 1, "bidirectional": 2}
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
        where = _where(node, graph)
        direction = _check_attributes(node, where)
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
            _check_feeds(lstms[k - 1], node, producers, graph, initializers, direction)
        _check_inputs(node, where, initializers, producers)
        headers.extend(_layer(k, node, where, initializers, NUM_DIRECTIONS[direction]))
        headers.nodes.append(where)
    headers.backwards = directions[0] == "reverse"  # type: ignore[method-assign,assignment]
    headers.conversions = _conversions(lstms, directions[0])
    return headers


def _conversions(lstms: list[onnx.NodeProto], direction: str) -> list[str]:
    """What reading the nodes as torch's tensors took, in words."""
    said = ["ONNX gate order i, o, f, c reordered to i, f, g, o"]
    if all(_input(n, 3) for n in lstms):
        said.append("biases Wb and Rb kept as bias_ih and bias_hh")
    elif not any(_input(n, 3) for n in lstms):
        said.append("no input B: biases zero, ONNX's default")
    else:
        said.append("biases Wb and Rb kept as bias_ih and bias_hh; zero where a node has no B")
    if direction == "bidirectional":
        said.append("directions: forward and backward")
    elif direction == "reverse":
        said.append("direction reverse: every layer reads the sequence from the last step to the first")
    if any(_attributes(n).get("layout", 0) == 1 for n in lstms):
        said.append("layout 1 (batch first) read as layout 0")
    return said


def _type_name(data_type: int) -> str:
    try:
        return TensorProto.DataType.Name(data_type)
    except ValueError:  # a number no ONNX data type has
        return f"data type {data_type}"


def _where(node: onnx.NodeProto, graph: onnx.GraphProto) -> str:
    return node.name or f"node {list(graph.node).index(node)}"


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


def _input(node: onnx.NodeProto, position: int) -> str:
    """The name at an input position ('' when absent: ONNX leaves optional inputs empty)."""
    return node.input[position] if len(node.input) > position else ""


def _attributes(node: onnx.NodeProto) -> dict[str, Any]:
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def _check_attributes(node: onnx.NodeProto, where: str) -> str:
    """The node's direction, once every attribute is one Gatescope computes exactly."""
    attributes = _attributes(node)

    def refuse(name: str, value: Any, why: str) -> Invalid:
        return Invalid(
            f"LSTM node {where!r} of the ONNX model has {name}={value!r}: {why}",
            ["weights", where, name],
            attribute=name,
        )

    direction = _text(attributes.get("direction", b"forward"))
    if direction not in NUM_DIRECTIONS:
        raise refuse("direction", direction, "ONNX defines forward, reverse and bidirectional only")
    if "activations" in attributes:
        activations = tuple(_text(a).lower() for a in attributes["activations"])
        if activations != DEFAULT_ACTIVATIONS:
            raise refuse(
                "activations",
                list(activations),
                "Gatescope computes an LSTM's own activations only, Sigmoid, Tanh, Tanh",
            )
    if "clip" in attributes:
        raise refuse("clip", attributes["clip"], "Gatescope does not clip the gates' inputs")
    if attributes.get("input_forget", 0) != 0:
        raise refuse(
            "input_forget", attributes["input_forget"], "Gatescope does not couple the input and forget gates"
        )
    if attributes.get("layout", 0) not in (0, 1):
        raise refuse("layout", attributes["layout"], "ONNX defines layout 0 and 1 only")
    return direction


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _check_inputs(
    node: onnx.NodeProto,
    where: str,
    initializers: dict[str, TensorProto],
    producers: dict[str, onnx.NodeProto],
) -> None:
    if _input(node, 7):
        raise Invalid(
            f"LSTM node {where!r} of the ONNX model has peepholes (input P, {_input(node, 7)!r}), "
            "which Gatescope does not compute",
            ["weights", where, "P"],
            input="P",
        )
    if _input(node, 4):  # a reverse node would start each sequence at its own length, not at T
        raise Invalid(
            f"LSTM node {where!r} of the ONNX model takes sequence_lens ({_input(node, 4)!r}): "
            "sequences shorter than the input are read to their own length, which Gatescope does not "
            "compute (it reads every step it is given); export the LSTM without sequence lengths",
            ["weights", where, "sequence_lens"],
            input="sequence_lens",
        )
    for position, part in ((1, "W"), (2, "R"), (3, "B")):
        name = _input(node, position)
        if position < 3 and not name:
            raise Invalid(
                f"LSTM node {where!r} of the ONNX model has no input {part}", ["weights", where, part]
            )
        if name and name not in initializers:
            raise Invalid(
                f"LSTM node {where!r} of the ONNX model takes {part} from {name!r}, which is not one "
                "of the graph's initializers: Gatescope reads weights stored in the file, not computed",
                ["weights", where, part],
                input=part,
            )
    for position, part in ((5, "initial_h"), (6, "initial_c")):
        name = _input(node, position)
        if name and not _zero(name, initializers, producers):
            raise Invalid(
                f"LSTM node {where!r} of the ONNX model starts from {part} {name!r}, which is not "
                "a constant zero: Gatescope starts every sequence from zero state",
                ["weights", where, part],
                input=part,
            )


def _zero(name: str, initializers: dict[str, TensorProto], producers: dict[str, onnx.NodeProto]) -> bool:
    """Whether a state is a constant zero: an all-zero initializer or Constant, expanded or not
    (torch.onnx.export writes Expand(Constant 0, shape)). A graph input is not known to be zero."""
    for _ in range(8):  # a short chain; anything longer is not what an export writes
        tensor = initializers.get(name)
        node = producers.get(name)
        if tensor is None and node is not None and node.op_type == "Constant":
            value = next((a for a in node.attribute if a.name == "value"), None)
            tensor = value.t if value is not None else None
        if tensor is not None:
            return _declared(tensor) is None and not np.any(numpy_helper.to_array(tensor))
        if node is None or node.op_type not in ("Expand", "Identity") or not node.input:
            return False
        name = node.input[0]
    return False


def _check_feeds(
    below: onnx.NodeProto,
    node: onnx.NodeProto,
    producers: dict[str, onnx.NodeProto],
    graph: onnx.GraphProto,
    initializers: dict[str, TensorProto],
    direction: str,
) -> None:
    """A node above another must read its Y (output 0), through ops that only reshape it; a
    bidirectional node's Y through the ops that join its two directions as torch's exporter does."""
    bidirectional = direction == "bidirectional"
    allowed = PASS_THROUGH | {"Transpose"} if bidirectional else PASS_THROUGH
    name, chain = _input(node, 0), list[onnx.NodeProto]()
    for _ in range(8):
        if below.output and name == below.output[0]:
            if bidirectional:
                _check_join(below, node, chain[::-1], graph, initializers, producers)
            return
        step = producers.get(name)
        if step is None or step.op_type not in allowed or not step.input:
            break
        chain.append(step)
        name = step.input[0]
    raise Invalid(
        f"LSTM nodes {_where(below, graph)!r} and {_where(node, graph)!r} of the ONNX model do not "
        "feed each other (the second does not read the first's Y): Gatescope shows one stack of "
        "LSTM layers",
        ["weights", _where(node, graph), "X"],
        nodes=[_where(below, graph), _where(node, graph)],
    )


def _check_join(
    below: onnx.NodeProto,
    node: onnx.NodeProto,
    chain: list[onnx.NodeProto],
    graph: onnx.GraphProto,
    initializers: dict[str, TensorProto],
    producers: dict[str, onnx.NodeProto],
) -> None:
    """The ops from a bidirectional node's Y to the next node's X (bottom first) must be torch's
    exporter's: Transpose(perm=[0, 2, 1, 3]), Reshape([0, 0, -1]); for layout 1 (Y is
    [batch, T, 2, H]) the Reshape alone. Any other order of the numbers is refused, not guessed."""
    ops = [step for step in chain if step.op_type not in NO_OPS]
    hidden = int(_attributes(below).get("hidden_size", 0))
    layout = _attributes(below).get("layout", 0)
    wanted = (["Transpose"] if layout == 0 else []) + ["Reshape"]
    right = [op.op_type for op in ops] == wanted
    if right and layout == 0:
        right = tuple(_attributes(ops[0]).get("perm", ())) == JOIN_PERM
    if right:
        reshape = ops[-1]
        shape = _constant(_input(reshape, 1), initializers, producers)
        right = (
            shape is not None
            and shape.ndim == 1
            and tuple(shape[:2].tolist()) == (0, 0)
            and len(shape) == 3
            and int(shape[2]) in (-1, 2 * hidden)
            and _attributes(reshape).get("allowzero", 0) == 0
        )
    if right:
        return
    through = ", ".join(f"{op.op_type} {_where(op, graph)!r}" for op in ops) or "no op"
    how = (
        "Transpose(perm=[0, 2, 1, 3]) then Reshape([0, 0, -1])"
        if layout == 0
        else "Reshape([0, 0, -1]) (layout 1)"
    )
    raise Invalid(
        f"LSTM node {_where(node, graph)!r} of the ONNX model reads bidirectional node "
        f"{_where(below, graph)!r}'s Y through {through}: Gatescope joins the two directions' h "
        f"(forward first) as torch.onnx.export does, {how}, and computes no other arrangement",
        ["weights", _where(node, graph), "X"],
        nodes=[_where(below, graph), _where(node, graph)],
    )


def _constant(
    name: str, initializers: dict[str, TensorProto], producers: dict[str, onnx.NodeProto]
) -> np.ndarray | None:
    """A small integer tensor the graph holds as an initializer or a Constant node, else None."""
    tensor = initializers.get(name)
    node = producers.get(name)
    if tensor is None and node is not None and node.op_type == "Constant":
        value = next((a for a in node.attribute if a.name == "value"), None)
        tensor = value.t if value is not None else None
    if (
        tensor is None
        or tensor.data_type != TensorProto.INT64
        or _declared(tensor)
        or math.prod(tensor.dims) > 8
    ):
        return None
    return numpy_helper.to_array(tensor)


def _declared(tensor: TensorProto) -> str | None:
    """Why a tensor's numbers cannot be read as declared, or None if they can."""
    if tensor.data_location == TensorProto.EXTERNAL:
        return "its data lies in another file, which Gatescope never reads"
    if tensor.data_type not in DTYPES and tensor.data_type not in (TensorProto.INT64, TensorProto.INT32):
        return f"it is {_type_name(tensor.data_type)}; save the weights as float32 or float64"
    count = math.prod(tensor.dims)
    if tensor.HasField("raw_data"):
        itemsize = 2 if tensor.data_type == TensorProto.BFLOAT16 else _itemsize(tensor.data_type)
        held = len(tensor.raw_data)
        if held != count * itemsize:
            return f"it declares {count} numbers, {count * itemsize} bytes, but holds {held} bytes"
        return None
    held = max(
        len(tensor.float_data), len(tensor.double_data), len(tensor.int32_data), len(tensor.int64_data)
    )
    if held != count:
        return f"it declares {count} numbers but holds {held}"
    return None


def _itemsize(data_type: int) -> int:
    return np.dtype(onnx.helper.tensor_dtype_to_np_dtype(data_type)).itemsize


def _layer(
    k: int, node: onnx.NodeProto, where: str, initializers: dict[str, TensorProto], directions: int
) -> list[Header]:
    """Layer k's tensors in torch naming: direction 0 as `weight_ih_l{k}`…, direction 1 of a
    bidirectional node as `weight_ih_l{k}_reverse`…"""
    w, r = initializers[_input(node, 1)], initializers[_input(node, 2)]
    b = initializers.get(_input(node, 3))
    for part, tensor in (("W", w), ("R", r), ("B", b)):
        if tensor is None:
            continue
        if tensor.data_type not in DTYPES:
            raise Invalid(
                f"LSTM node {where!r} of the ONNX model has {part} {tensor.name!r} of "
                f"{_type_name(tensor.data_type)}; save the weights as float32 or float64",
                ["weights", where, part],
            )
        why = _declared(tensor)
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
