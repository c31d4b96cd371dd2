"""An ONNX graph's LSTM nodes judged before any tensor is read: each node's attributes (what
Gatescope computes exactly), its inputs (weights from initializers, a zero initial state, no
peepholes or sequence lengths), what lies between stacked nodes (what torch.onnx.export writes,
nothing else), and whether a tensor's numbers can be read as declared. app.models.onnxfile reads
the tensors of the nodes these checks let through."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, numpy_helper

from app.refusal import Invalid

DTYPES: dict[int, np.dtype] = {
    TensorProto.FLOAT: np.dtype(np.float32),
    TensorProto.DOUBLE: np.dtype(np.float64),
    TensorProto.FLOAT16: np.dtype(np.float16),
    TensorProto.BFLOAT16: np.dtype(np.float32),  # upcast exactly, as safetensors' BF16 is
}
DEFAULT_ACTIVATIONS = ("sigmoid", "tanh", "tanh")
# ops that hand one LSTM's Y to the next unchanged but for its shape (torch.onnx.export: Squeeze)
PASS_THROUGH = {"Squeeze", "Reshape", "Identity", "Dropout", "Unsqueeze"}
# how torch.onnx.export joins a bidirectional node's Y [T, 2, batch, H] into the next node's X
# [T, batch, 2H], forward h first: a Transpose to [T, batch, 2, H], then a Reshape whose 0s copy T
# and batch and whose -1 (or 2H) joins the last two
JOIN_PERM = (0, 2, 1, 3)
NO_OPS = {"Identity", "Dropout"}  # what may lie anywhere between two nodes: they change nothing
NUM_DIRECTIONS = {"forward": 1, "reverse": 1, "bidirectional": 2}


def type_name(data_type: int) -> str:
    try:
        return TensorProto.DataType.Name(data_type)
    except ValueError:  # a number no ONNX data type has
        return f"data type {data_type}"


def node_name(node: onnx.NodeProto, graph: onnx.GraphProto) -> str:
    return node.name or f"node {list(graph.node).index(node)}"


def input_at(node: onnx.NodeProto, position: int) -> str:
    """The name at an input position ('' when absent: ONNX leaves optional inputs empty)."""
    return node.input[position] if len(node.input) > position else ""


def attributes_of(node: onnx.NodeProto) -> dict[str, Any]:
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def check_attributes(node: onnx.NodeProto, where: str) -> str:
    """The node's direction, once every attribute is one Gatescope computes exactly."""
    attributes = attributes_of(node)

    def refuse(name: str, value: Any, why: str) -> Invalid:
        return Invalid(
            f"LSTM node {where!r} of the ONNX model has {name}={value!r}: {why}",
            ["weights", where, name],
            attribute=name,
        )

    direction = text_of(attributes.get("direction", b"forward"))
    if direction not in NUM_DIRECTIONS:
        raise refuse("direction", direction, "ONNX defines forward, reverse and bidirectional only")
    if "activations" in attributes:
        activations = tuple(text_of(a).lower() for a in attributes["activations"])
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


def text_of(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def check_inputs(
    node: onnx.NodeProto,
    where: str,
    initializers: dict[str, TensorProto],
    producers: dict[str, onnx.NodeProto],
) -> None:
    if input_at(node, 7):
        raise Invalid(
            f"LSTM node {where!r} of the ONNX model has peepholes (input P, {input_at(node, 7)!r}), "
            "which Gatescope does not compute",
            ["weights", where, "P"],
            input="P",
        )
    if input_at(node, 4):  # a reverse node would start each sequence at its own length, not at T
        raise Invalid(
            f"LSTM node {where!r} of the ONNX model takes sequence_lens ({input_at(node, 4)!r}): "
            "sequences shorter than the input are read to their own length, which Gatescope does not "
            "compute (it reads every step it is given); export the LSTM without sequence lengths",
            ["weights", where, "sequence_lens"],
            input="sequence_lens",
        )
    for position, part in ((1, "W"), (2, "R"), (3, "B")):
        name = input_at(node, position)
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
        name = input_at(node, position)
        if name and not is_zero(name, initializers, producers):
            raise Invalid(
                f"LSTM node {where!r} of the ONNX model starts from {part} {name!r}, which is not "
                "a constant zero: Gatescope starts every sequence from zero state",
                ["weights", where, part],
                input=part,
            )


def is_zero(name: str, initializers: dict[str, TensorProto], producers: dict[str, onnx.NodeProto]) -> bool:
    """Whether a state is a constant zero: an all-zero initializer or Constant, expanded or not
    (torch.onnx.export writes Expand(Constant 0, shape)). A graph input is not known to be zero."""
    for _ in range(8):  # a short chain; anything longer is not what an export writes
        tensor = initializers.get(name)
        node = producers.get(name)
        if tensor is None and node is not None and node.op_type == "Constant":
            value = next((a for a in node.attribute if a.name == "value"), None)
            tensor = value.t if value is not None else None
        if tensor is not None:
            return why_unreadable(tensor) is None and not np.any(numpy_helper.to_array(tensor))
        if node is None or node.op_type not in ("Expand", "Identity") or not node.input:
            return False
        name = node.input[0]
    return False


def check_feeds(
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
    name, chain = input_at(node, 0), list[onnx.NodeProto]()
    for _ in range(8):
        if below.output and name == below.output[0]:
            if bidirectional:
                check_join(below, node, chain[::-1], graph, initializers, producers)
            return
        step = producers.get(name)
        if step is None or step.op_type not in allowed or not step.input:
            break
        chain.append(step)
        name = step.input[0]
    raise Invalid(
        f"LSTM nodes {node_name(below, graph)!r} and {node_name(node, graph)!r} of the ONNX model do not "
        "feed each other (the second does not read the first's Y): Gatescope shows one stack of "
        "LSTM layers",
        ["weights", node_name(node, graph), "X"],
        nodes=[node_name(below, graph), node_name(node, graph)],
    )


def check_join(
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
    hidden = int(attributes_of(below).get("hidden_size", 0))
    layout = attributes_of(below).get("layout", 0)
    wanted = (["Transpose"] if layout == 0 else []) + ["Reshape"]
    right = [op.op_type for op in ops] == wanted
    if right and layout == 0:
        right = tuple(attributes_of(ops[0]).get("perm", ())) == JOIN_PERM
    if right:
        reshape = ops[-1]
        shape = constant_of(input_at(reshape, 1), initializers, producers)
        right = (
            shape is not None
            and shape.ndim == 1
            and tuple(shape[:2].tolist()) == (0, 0)
            and len(shape) == 3
            and int(shape[2]) in (-1, 2 * hidden)
            and attributes_of(reshape).get("allowzero", 0) == 0
        )
    if right:
        return
    through = ", ".join(f"{op.op_type} {node_name(op, graph)!r}" for op in ops) or "no op"
    how = (
        "Transpose(perm=[0, 2, 1, 3]) then Reshape([0, 0, -1])"
        if layout == 0
        else "Reshape([0, 0, -1]) (layout 1)"
    )
    raise Invalid(
        f"LSTM node {node_name(node, graph)!r} of the ONNX model reads bidirectional node "
        f"{node_name(below, graph)!r}'s Y through {through}: Gatescope joins the two directions' h "
        f"(forward first) as torch.onnx.export does, {how}, and computes no other arrangement",
        ["weights", node_name(node, graph), "X"],
        nodes=[node_name(below, graph), node_name(node, graph)],
    )


def constant_of(
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
        or why_unreadable(tensor)
        or math.prod(tensor.dims) > 8
    ):
        return None
    return numpy_helper.to_array(tensor)


def why_unreadable(tensor: TensorProto) -> str | None:
    """Why a tensor's numbers cannot be read as declared, or None if they can."""
    if tensor.data_location == TensorProto.EXTERNAL:
        return "its data lies in another file, which Gatescope never reads"
    if tensor.data_type not in DTYPES and tensor.data_type not in (TensorProto.INT64, TensorProto.INT32):
        return f"it is {type_name(tensor.data_type)}; save the weights as float32 or float64"
    count = math.prod(tensor.dims)
    if tensor.HasField("raw_data"):
        itemsize = 2 if tensor.data_type == TensorProto.BFLOAT16 else itemsize_of(tensor.data_type)
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


def itemsize_of(data_type: int) -> int:
    return np.dtype(onnx.helper.tensor_dtype_to_np_dtype(data_type)).itemsize
