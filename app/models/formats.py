"""The tensors of an uploaded .npz or .safetensors file, read header first: each tensor's name,
dtype and shape, and where its data lies, checked before a single array is read, so a file that
declares more than it holds, or more than the limits allow, costs no memory. Nothing is unpickled.

Dtypes: float16, float32 and float64 are read; so are integers (a hand-built LSTM written as
`np.array([[20, -20]])` is int64; every integer within the magnitude bound is exact in float64),
and bfloat16 (safetensors' BF16), upcast to float32 exactly. Complex, bool, strings, dates and
times, structured and raw bytes and float8 are refused, naming the tensor and its dtype.

torch.save files (.pt, .pth, .bin), recognised by their bytes, are read by app.models.torchfile;
ONNX files by app.models.onnxfile.
"""

from __future__ import annotations

import io
import json
import lzma
import math
import struct
import zipfile
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

from app.refusal import Invalid, TooLarge

FLOATS = {2, 4, 8}  # float16, float32, float64: the itemsizes NumPy computes with
# safetensors' dtype names; all little-endian by the format's definition
SAFETENSORS = {
    "F16": "<f2",
    "F32": "<f4",
    "F64": "<f8",
    **{f"I{8 * n}": f"<i{n}" for n in (1, 2, 4, 8)},
    **{f"U{8 * n}": f"<u{n}" for n in (1, 2, 4, 8)},
}
BFLOAT16 = "BF16"  # NumPy has no bfloat16: its bytes are read as uint16 and upcast by hand
REFUSED_SAFETENSORS = {
    "BOOL": "bool: an LSTM's weights are numbers",
    "F8_E4M3": "float8, which Gatescope does not read",
    "F8_E5M2": "float8, which Gatescope does not read",
    "C64": "complex: an LSTM's weights are real numbers",
    "C128": "complex: an LSTM's weights are real numbers",
}
SAVE_AS = "save the weights as float32 or float64"
# what reading a damaged zip member raises: RuntimeError for an encrypted one,
# NotImplementedError for an unknown compression
# What a damaged zip raises as it is read: a bad deflate stream is zlib's own error, a bad LZMA one
# lzma's, a bad bzip2 one an OSError, a size too large for the platform an OverflowError.
CORRUPT = (
    OSError,
    zipfile.BadZipFile,
    EOFError,
    NotImplementedError,
    RuntimeError,
    ValueError,
    zlib.error,
    lzma.LZMAError,
    OverflowError,
)
NPZ_DIRECTORY_ENTRY = 1024  # bytes a zip's central directory may take per member, name included


@dataclass(frozen=True)
class Header:
    """One tensor as its file declares it; `read()` reads its data (in its own dtype)."""

    name: str
    dtype: np.dtype
    shape: tuple[int, ...]
    read: Callable[[], np.ndarray]

    @property
    def size(self) -> int:
        return math.prod(self.shape)


class Headers(list[Header]):
    """A file's tensors, and what its reader says of it: the format (for the model's badge), the
    conversions made in reading it, in words. Keras's and ONNX's readers say more."""

    def __init__(self, headers: Iterable[Header], format: str) -> None:
        super().__init__(headers)
        self.format = format
        self.conversions: list[str] = []


def read_headers(raw: bytes, max_unpacked: int, max_tensors: int) -> list[Header]:
    """The tensors of a torch.save file (a zip whose first member is `*/data.pkl`, or the legacy
    format's pickled magic number), a Keras file (app.models.kerasfile), an .npz (a zip: 'PK'
    first), an ONNX model (app.models.onnxfile) or a .safetensors file, headers checked:
    recognised by the bytes, never the name."""
    if not raw:
        raise Invalid("the file 'weights' is empty", ["weights"])
    # The readers of other formats build on this module's Header and checks: imported here.
    # (kerasfile also brings h5py, which nothing else needs.)
    from app.models import kerasfile, sandbox, torchfile

    if torchfile.is_zip(raw) or torchfile.is_legacy(raw):
        layout = "zip" if torchfile.is_zip(raw) else "legacy"
        return Headers(torchfile.read(raw, max_unpacked, max_tensors), f"torch.save ({layout} format)")

    if kerasfile.is_hdf5(raw):  # a Keras .weights.h5 or legacy .h5
        return sandbox.read_keras("read_hdf5", raw, max_unpacked, max_tensors)
    if raw[:2] == b"PK":
        if kerasfile.is_archive(raw):  # a .keras: config.json and model.weights.h5 in a zip
            return sandbox.read_keras("read_archive", raw, max_unpacked, max_tensors)
        return Headers(_npz(raw, max_unpacked, max_tensors), "NumPy .npz")
    from app.models import onnxfile  # brings the onnx package, which only ONNX files need

    if (model := onnxfile.parse(raw)) is not None:  # after every other format has declined
        return onnxfile.read(model, max_tensors)
    return Headers(_safetensors(raw, max_tensors), "safetensors")


def check_dtype(name: str, dtype: np.dtype) -> None:
    """Refuse every dtype that is not a real number NumPy computes with, naming the tensor."""
    what = None
    if dtype.hasobject:
        raise Invalid(
            f"tensor {name!r} in the .npz file holds pickled objects, which are never loaded; "
            "save plain numeric arrays",
            ["weights", name],
        )
    if dtype.kind == "c":
        what = "complex: an LSTM's weights are real numbers"
    elif dtype.kind == "b":
        what = "bool: an LSTM's weights are numbers"
    elif dtype.kind in "US":
        what = "strings: an LSTM's weights are numbers"
    elif dtype.kind in "Mm":
        what = "dates or times: an LSTM's weights are numbers"
    elif dtype.kind == "V":
        what = "structured or raw bytes: an LSTM's weights are plain numbers"
    elif dtype.kind == "f" and dtype.itemsize not in FLOATS:
        what = f"a {8 * dtype.itemsize}-bit float, which NumPy does not compute with portably"
    elif dtype.kind not in "fiu":
        what = "not a numeric dtype"
    if what:
        raise Invalid(f"tensor {name!r} is {dtype} ({what}); {SAVE_AS}", ["weights", name], dtype=str(dtype))


def _too_many(count: int, max_tensors: int, what: str) -> TooLarge:
    return TooLarge(
        f"the {what} holds {count} tensors; the limit is {max_tensors} (GATESCOPE_MAX_UPLOAD_TENSORS)",
        ["weights"],
        limit=max_tensors,
    )


def zip_directory(raw: bytes) -> tuple[int, int]:
    """(members, bytes of the central directory) from a zip's end record, before zipfile reads
    the directory itself (130,000 members take it a second). (0, 0) if there is no end record:
    zipfile then says why."""
    end = raw.rfind(b"PK\x05\x06", max(0, len(raw) - 22 - 65535))
    if end < 0 or len(raw) < end + 22:
        return 0, 0
    count, size = struct.unpack_from("<HI", raw, end + 10)
    locator = end - 20  # zip64: more than 65,535 members, or a directory past 4 GB
    zip64 = locator >= 0 and raw[locator : locator + 4] == b"PK\x06\x07"
    if zip64 and (count == 0xFFFF or size == 0xFFFFFFFF):
        (record,) = struct.unpack_from("<Q", raw, locator + 8)
        if raw[record : record + 4] == b"PK\x06\x06" and len(raw) >= record + 56:
            count, size = struct.unpack_from("<QQ", raw, record + 32)
    return count, size


def _npz(raw: bytes, max_unpacked: int, max_tensors: int) -> list[Header]:
    count, size = zip_directory(raw)
    if count > max_tensors:
        raise _too_many(count, max_tensors, ".npz file")
    if size > max_tensors * NPZ_DIRECTORY_ENTRY:  # zipfile reads it all, whatever the count says
        raise TooLarge(
            f"the .npz file's directory takes {size} bytes, more than {max_tensors} members need; "
            f"the limit is {max_tensors} tensors (GATESCOPE_MAX_UPLOAD_TENSORS)",
            ["weights"],
            limit=max_tensors,
        )
    try:
        archive = zipfile.ZipFile(io.BytesIO(raw))
    except (zipfile.BadZipFile, EOFError, ValueError, NotImplementedError) as e:
        raise Invalid(f"the .npz file is not a readable zip archive ({e})", ["weights"]) from None
    members = archive.infolist()
    if len(members) > max_tensors:  # the end record may understate what the directory lists
        raise _too_many(len(members), max_tensors, ".npz file")
    if not any(m.filename.endswith(".npy") for m in members):  # np.savez names every array so
        names = ", ".join(repr(m.filename) for m in members[:5]) + (" …" if len(members) > 5 else "")
        raise Invalid(
            f"the file is a zip archive that holds no arrays ({names or 'nothing'}): not an .npz, a "
            '.keras file nor a torch.save file; save the weights with np.savez, model.save("m.keras") '
            'or torch.save(model.state_dict(), "m.pt")',
            ["weights"],
        )
    unpacked = sum(m.file_size for m in members)
    if unpacked > max_unpacked:  # a zip bomb, or simply too much
        raise TooLarge(
            f"the .npz file unpacks to {unpacked} bytes; the limit is {max_unpacked}",
            ["weights"],
            limit=max_unpacked,
        )
    try:
        return [_npy(archive, m) for m in members]
    except CORRUPT as e:
        raise Invalid(f"the .npz file is truncated or corrupt ({e})", ["weights"]) from None


def _npy(archive: zipfile.ZipFile, member: zipfile.ZipInfo) -> Header:
    """A member's .npy header (magic, version, then a literal dict of descr, fortran_order and
    shape), read without its data; the data must be exactly what the header declares."""
    name = member.filename.removesuffix(".npy")  # as np.load names them
    with archive.open(member) as fp:
        try:
            major, _ = np.lib.format.read_magic(fp)
            if major not in (1, 2, 3):
                raise ValueError(f"unknown .npy version {major}")
            length = int.from_bytes(fp.read(2 if major == 1 else 4), "little")
            if length > MAX_NPY_HEADER:  # NumPy would read all of it before judging it
                raise ValueError(
                    f"its header declares {length:,} bytes; an array's takes at most {MAX_NPY_HEADER:,}"
                )
            fp.seek(8)  # back to the length, which NumPy reads itself
            # version 3.0 differs from 2.0 only by a UTF-8 header, which only structured
            # dtypes (refused) ever need
            read = np.lib.format.read_array_header_1_0 if major == 1 else np.lib.format.read_array_header_2_0
            shape, fortran_order, dtype = read(fp)
        except ValueError as e:
            raise Invalid(
                f"member {member.filename!r} of the .npz file is not a readable .npy array ({e})",
                ["weights", name],
            ) from None
        start = fp.tell()
    check_dtype(name, dtype)
    check_shape(name, shape)
    declared = math.prod(shape) * dtype.itemsize
    if declared != member.file_size - start:
        raise Invalid(
            f"tensor {name!r} declares shape {shape} of {dtype}, {declared} bytes, but the .npz file "
            f"holds {member.file_size - start} bytes for it",
            ["weights", name],
        )
    check_dims(name, shape)

    def data() -> np.ndarray:
        try:
            with archive.open(member) as fp:
                fp.seek(start)
                buffer = fp.read(declared)
        except CORRUPT as e:
            raise Invalid(f"the .npz file is truncated or corrupt ({e})", ["weights", name]) from None
        if len(buffer) != declared:
            raise Invalid(f"the .npz file is truncated: tensor {name!r} is cut short", ["weights", name])
        flat = np.frombuffer(buffer, dtype=dtype, count=math.prod(shape))
        return flat.reshape(shape, order="F" if fortran_order else "C")

    return Header(name, dtype, shape, data)


MAX_NPY_HEADER = 10_000  # NumPy's own bound for headers it trusts (max_header_size)
MAX_SAFETENSORS_HEADER = 1024 * 1024  # 64 tensors' entries take a few KB; metadata, a few more
MAX_DIMS, MAX_DIM = 4, 2**31  # an LSTM's tensors have one or two dimensions, each far smaller


def check_shape(name: str, shape: object) -> None:
    if not (isinstance(shape, (tuple, list)) and all(type(n) is int and n >= 0 for n in shape)):
        raise Invalid(f"tensor {name!r} declares shape {shape!r}, not a list of sizes", ["weights", name])


def check_dims(name: str, shape: tuple[int, ...]) -> None:
    """Each size on its own, once the data is known to match the shape: a shape with a 0 in it
    holds no number, whatever its other sizes, and passes every check of bytes."""
    if len(shape) > MAX_DIMS or any(n > MAX_DIM for n in shape):
        raise Invalid(
            f"tensor {name!r} declares shape {tuple(shape)}: an LSTM's tensors have at most "
            f"{MAX_DIMS} dimensions of at most {MAX_DIM:,} each",
            ["weights", name],
        )


def _safetensors(raw: bytes, max_tensors: int) -> list[Header]:
    """An 8-byte little-endian length, a JSON header {name: {dtype, shape, data_offsets}}, then
    the data, offsets counted from the header's end."""
    length = int.from_bytes(raw[:8], "little")
    if len(raw) < 8 or (length > len(raw) - 8 and raw[8:9] != b"{"):  # a header is a JSON object
        raise Invalid(
            f"the file is in no format Gatescope reads (it begins {raw[:8].hex(' ')}): not a torch.save "
            "file, .safetensors, .npz, a Keras file (.keras, .weights.h5, .h5) nor ONNX; "
            'save the weights with torch.save(model.state_dict(), "m.pt") or model.save("m.keras")',
            ["weights"],
        )
    if length > len(raw) - 8:
        raise Invalid(
            f"the .safetensors file is cut short: its header declares {length:,} bytes, and the file "
            f"holds {len(raw) - 8:,} after the length",
            ["weights"],
        )
    if length > MAX_SAFETENSORS_HEADER:
        raise Invalid(
            f"the .safetensors file's header takes {length:,} bytes; the header of {max_tensors} "
            f"tensors takes far less than {MAX_SAFETENSORS_HEADER:,}",
            ["weights"],
        )
    try:
        header = json.loads(raw[8 : 8 + length])
    except (ValueError, RecursionError) as e:  # UnicodeDecodeError is a ValueError
        raise Invalid(f"the .safetensors file's header is not JSON ({e})", ["weights"]) from None
    if not isinstance(header, dict):
        raise Invalid("the .safetensors file's header is not a JSON object", ["weights"])
    metadata = header.pop("__metadata__", {})
    if not (isinstance(metadata, dict) and all(isinstance(v, str) for v in metadata.values())):
        raise Invalid(
            "the .safetensors file's __metadata__ is not a map of strings", ["weights", "__metadata__"]
        )
    if len(header) > max_tensors:
        raise _too_many(len(header), max_tensors, ".safetensors file")
    data_start, data_size = 8 + length, len(raw) - 8 - length
    tensors = []
    for name, spec in header.items():
        if not isinstance(spec, dict) or not {"dtype", "shape", "data_offsets"} <= spec.keys():
            raise Invalid(
                f"the .safetensors file's entry for {name!r} lacks dtype, shape or data_offsets",
                ["weights", name],
            )
        kind = spec["dtype"]
        if not isinstance(kind, str):
            raise Invalid(
                f"tensor {name!r} has a dtype that is not a name: {kind!r}; {SAVE_AS}", ["weights", name]
            )
        if kind in REFUSED_SAFETENSORS:
            raise Invalid(
                f"tensor {name!r} is {kind} ({REFUSED_SAFETENSORS[kind]}); {SAVE_AS}",
                ["weights", name],
                dtype=kind,
            )
        if kind not in SAFETENSORS and kind != BFLOAT16:
            raise Invalid(f"tensor {name!r} has an unknown dtype {kind!r}; {SAVE_AS}", ["weights", name])
        dtype = np.dtype("<u2" if kind == BFLOAT16 else SAFETENSORS[kind])
        shape, offsets = spec["shape"], spec["data_offsets"]
        check_shape(name, shape)
        shape = tuple(shape)
        if not (
            isinstance(offsets, list)
            and len(offsets) == 2
            and all(type(n) is int for n in offsets)
            and 0 <= offsets[0] <= offsets[1] <= data_size
        ):
            raise Invalid(
                f"the .safetensors file is truncated or corrupt: tensor {name!r} lies at bytes "
                f"{offsets!r}, outside the {data_size} bytes of data",
                ["weights", name],
            )
        declared = math.prod(shape) * dtype.itemsize
        if declared != offsets[1] - offsets[0]:
            raise Invalid(
                f"tensor {name!r} declares shape {shape} of {kind}, {declared} bytes, but the "
                f".safetensors file holds {offsets[1] - offsets[0]} bytes for it",
                ["weights", name],
            )
        check_dims(name, shape)
        read = _slice(raw, data_start + offsets[0], dtype, shape)
        if kind == BFLOAT16:
            tensors.append(Header(name, np.dtype(np.float32), shape, _upcast(read)))
        else:
            tensors.append(Header(name, dtype, shape, read))
    return tensors


def _upcast(read: Callable[[], np.ndarray]) -> Callable[[], np.ndarray]:
    return lambda: bfloat16_to_float32(read())


def bfloat16_to_float32(bits: np.ndarray) -> np.ndarray:
    """bfloat16 numbers (as uint16) as float32, exactly: a bfloat16 is the top 16 bits of a float32."""
    return (bits.astype(np.uint32) << 16).view(np.float32)


def _slice(raw: bytes, offset: int, dtype: np.dtype, shape: tuple[int, ...]) -> Callable[[], np.ndarray]:
    def data() -> np.ndarray:
        if not math.prod(shape):  # frombuffer refuses an offset at the buffer's very end
            return np.zeros(shape, dtype)
        return np.frombuffer(raw, dtype=dtype, count=math.prod(shape), offset=offset).reshape(shape)

    return data
