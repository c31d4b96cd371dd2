"""The tensors of a torch.save file (.pt, .pth, .bin), read without torch and without running any
of the file's code: the zip format of torch >= 1.6 (`<stem>/data.pkl`, `<stem>/data/<key>`,
`<stem>/byteorder`) and the legacy format (`_use_new_zipfile_serialization=False`: pickles of a
magic number, a protocol version and the system's sizes, then the data pickle, then the storage
keys and each storage's raw bytes).

The pickle is read by an allowlisting unpickler (app.models.torchpickle), the approach of
torch.load(weights_only=True): it can build tensors (as stand-ins that say where their numbers
lie), storages, ordered dicts and the containers pickle builds by itself; any other global is
refused before it is even looked up.
Each pickle is scanned opcode by opcode first, without building anything, so that its size, the
objects it builds and its memo are bounded. Checkpoints that wrap a state_dict are unwrapped.
The result is the `Header` list app.models.formats returns for other files: data read on demand.
"""

from __future__ import annotations

import io
import math
import pickle
import zipfile
from collections.abc import Callable

import numpy as np

from app.models import formats
from app.models.torchpickle import (
    MAX_PICKLE,
    SAVE_STATE_DICT,
    _show,
    _Storage,
    _Tensor,
    _unpickle,
)
from app.refusal import Invalid, TooLarge

MAX_WALK = 100_000  # containers and items visited looking for tensors (memo sharing makes a DAG)
MAX_DEPTH = 32  # nesting of dicts looked into for tensors
LEGACY_MAGIC = pickle.dumps(0x1950A86A20F9469CFC6C, protocol=2)  # torch.serialization.MAGIC_NUMBER
LEGACY_PROTOCOL = 1001
WRAPPERS = ("state_dict", "model_state_dict", "model")  # checkpoint keys that hold the state_dict


def is_zip(raw: bytes) -> bool:
    """Whether a zip is a torch.save file: torch writes `<stem>/data.pkl` as its first member."""
    if raw[:4] != b"PK\x03\x04" or len(raw) < 30:
        return False
    length = int.from_bytes(raw[26:28], "little")
    name = raw[30 : 30 + length]
    return name.endswith(b"/data.pkl") and name.count(b"/") == 1


def is_legacy(raw: bytes) -> bool:
    """Whether the bytes start with the pickled magic number of torch's legacy format."""
    return raw.startswith(LEGACY_MAGIC)


# ---- the two layouts ----


def read(raw: bytes, max_unpacked: int, max_tensors: int) -> list[formats.Header]:
    """The tensors of a torch.save file, zip or legacy (tell them apart with is_zip, is_legacy)."""
    if is_zip(raw):
        return _zip(raw, max_unpacked, max_tensors)
    return _legacy(raw, max_unpacked, max_tensors)


def _zip(raw: bytes, max_unpacked: int, max_tensors: int) -> list[formats.Header]:
    extra = 8  # data.pkl, byteorder, version, .format_version, .storage_alignment, serialization_id…
    count, size = formats.zip_directory(raw)
    if count > max_tensors + extra or size > (max_tensors + extra) * formats.NPZ_DIRECTORY_ENTRY:
        raise _too_many(count, max_tensors)
    try:
        archive = zipfile.ZipFile(io.BytesIO(raw))
        members = {m.filename: m for m in archive.infolist()}
        stem = raw[30 : 30 + int.from_bytes(raw[26:28], "little")].decode("utf-8").split("/")[0]
        pickled = members.get(f"{stem}/data.pkl")
        if pickled is None:
            raise zipfile.BadZipFile(f"no member {stem}/data.pkl in its directory")
        if pickled.file_size > MAX_PICKLE:
            raise TooLarge(
                f"the torch file's data.pkl takes {pickled.file_size:,} bytes; the limit is {MAX_PICKLE:,}",
                ["weights"],
                limit=MAX_PICKLE,
            )
        order = members.get(f"{stem}/byteorder")
        byteorder = archive.read(order).decode("ascii", "replace") if order else "little"
        if byteorder not in ("little", "big"):
            raise Invalid(f"the torch file's byteorder is {byteorder[:20]!r}, not little or big", ["weights"])
        storages: dict[str, _Storage] = {}
        obj = _unpickle(io.BytesIO(archive.read(pickled)), storages, byteorder == "big")
    except formats.CORRUPT as e:
        raise Invalid(
            f"the torch file is truncated or not a readable zip archive ({e})", ["weights"]
        ) from None
    tensors = _tensors(obj, max_tensors)
    unpacked = 0
    for s in storages.values():
        member = members.get(f"{stem}/data/{s.key}")
        if member is None:
            raise Invalid(
                f"the torch file is truncated or corrupt: storage {_show(s.key)} is missing", ["weights"]
            )
        if member.file_size != s.numel * s.dtype.itemsize:
            raise Invalid(
                f"the torch file declares storage {_show(s.key)} of {s.numel} numbers, "
                f"{s.numel * s.dtype.itemsize} bytes, but holds {member.file_size} bytes for it",
                ["weights"],
            )
        unpacked += member.file_size
    _check_unpacked(unpacked, max_unpacked)

    def storage_bytes(s: _Storage) -> bytes:
        try:
            return archive.read(members[f"{stem}/data/{s.key}"])
        except formats.CORRUPT as e:
            raise Invalid(f"the torch file is truncated or corrupt ({e})", ["weights"]) from None

    return [_header(name, t, storage_bytes) for name, t in tensors.items()]


def _legacy(raw: bytes, max_unpacked: int, max_tensors: int) -> list[formats.Header]:
    fp = io.BytesIO(raw)
    storages: dict[str, _Storage] = {}
    _unpickle(fp, storages)  # the magic number
    protocol = _unpickle(fp, storages)
    if protocol != LEGACY_PROTOCOL:
        raise Invalid(
            f"the torch file's legacy protocol is {_show(protocol)}, not {LEGACY_PROTOCOL}", ["weights"]
        )
    info = _unpickle(fp, storages)
    little = info.get("little_endian", True) if isinstance(info, dict) else True
    obj = _unpickle(fp, storages, big_endian=not little)
    keys = _unpickle(fp, storages)
    if not (isinstance(keys, list) and all(isinstance(k, str) for k in keys)) or set(keys) != set(storages):
        raise Invalid(
            "the torch file's list of storages does not match the storages its tensors use", ["weights"]
        )
    tensors = _tensors(obj, max_tensors)
    _check_unpacked(sum(s.numel * s.dtype.itemsize for s in storages.values()), max_unpacked)
    where: dict[str, int] = {}  # each storage's bytes: an int64 count of numbers, then the numbers
    pos = fp.tell()
    for key in keys:
        s = storages[key]
        if pos + 8 > len(raw):
            raise Invalid(f"the torch file is truncated: storage {_show(key)} is cut short", ["weights"])
        numel = int.from_bytes(raw[pos : pos + 8], "little" if little else "big", signed=True)
        if numel != s.numel:
            raise Invalid(
                f"the torch file declares storage {_show(key)} of {s.numel} numbers but records {numel}",
                ["weights"],
            )
        where[key] = pos + 8
        pos += 8 + numel * s.dtype.itemsize
        if pos > len(raw):
            raise Invalid(f"the torch file is truncated: storage {_show(key)} is cut short", ["weights"])

    def storage_bytes(s: _Storage) -> bytes:
        return raw[where[s.key] : where[s.key] + s.numel * s.dtype.itemsize]

    return [_header(name, t, storage_bytes) for name, t in tensors.items()]


def _too_many(count: int, max_tensors: int) -> TooLarge:
    return TooLarge(
        f"the torch file holds {count} tensors; the limit is {max_tensors} (GATESCOPE_MAX_UPLOAD_TENSORS)",
        ["weights"],
        limit=max_tensors,
    )


def _check_unpacked(unpacked: int, max_unpacked: int) -> None:
    if unpacked > max_unpacked:
        raise TooLarge(
            f"the torch file's storages take {unpacked} bytes; the limit is {max_unpacked}",
            ["weights"],
            limit=max_unpacked,
        )


# ---- from the unpickled object to named tensors ----


def _tensors(obj: object, max_tensors: int) -> dict[str, _Tensor]:
    """The flat name -> tensor mapping: a checkpoint's state_dict unwrapped (`state_dict`,
    `model_state_dict`, `model`, Lightning's layout), other nested dicts flattened with dots;
    values that are not tensors are ignored."""
    if isinstance(obj, dict) and not any(isinstance(v, _Tensor) for v in obj.values()):
        for key in WRAPPERS:
            inner = obj.get(key)
            if isinstance(inner, dict):
                obj = inner
                break
    found: dict[str, _Tensor] = {}
    visits = 0

    def walk(value: object, prefix: str, depth: int) -> None:
        nonlocal visits
        visits += 1
        if visits > MAX_WALK or len(found) > max_tensors:
            raise (
                _too_many(len(found), max_tensors)
                if len(found) > max_tensors
                else TooLarge(
                    f"the torch file's pickle nests more than {MAX_WALK:,} objects",
                    ["weights"],
                    limit=MAX_WALK,
                )
            )
        if isinstance(value, _Tensor):
            found[prefix] = value
        elif isinstance(value, dict) and depth < MAX_DEPTH:
            for k, v in value.items():
                if isinstance(k, str):
                    walk(v, f"{prefix}.{k}" if prefix else k, depth + 1)

    walk(obj, "", 0)
    if len(found) > max_tensors:
        raise _too_many(len(found), max_tensors)
    if not found or "" in found:
        what = "a single tensor" if "" in found else f"a {type(obj).__name__} without tensors"
        raise Invalid(
            f"the torch file holds {what}, not a state_dict of named tensors; {SAVE_STATE_DICT}", ["weights"]
        )
    return found


def _header(name: str, t: _Tensor, storage_bytes: Callable[[_Storage], bytes]) -> formats.Header:
    """A tensor's header, its size, offset and stride checked against its storage first."""
    s = t.storage
    formats.check_shape(name, t.shape)
    formats.check_dims(name, t.shape)
    if t.offset < 0 or any(n < 0 for n in t.stride):
        raise Invalid(
            f"tensor {name!r} lies at offset {t.offset} with stride {t.stride}, outside its storage",
            ["weights", name],
        )
    numbers = math.prod(t.shape)
    last = t.offset + sum((n - 1) * step for n, step in zip(t.shape, t.stride, strict=True))
    if numbers and last >= s.numel:
        raise Invalid(
            f"tensor {name!r} of shape {t.shape} and stride {t.stride} at offset {t.offset} reaches "
            f"number {last}, past the {s.numel} numbers of its storage",
            ["weights", name],
        )
    dtype = np.dtype(np.float32) if s.bfloat16 else s.dtype.newbyteorder("=")
    formats.check_dtype(name, dtype)

    def data() -> np.ndarray:
        buffer = storage_bytes(s)
        if len(buffer) != s.numel * s.dtype.itemsize:
            raise Invalid(f"the torch file is truncated: tensor {name!r} is cut short", ["weights", name])
        flat = np.frombuffer(buffer, dtype=s.dtype)
        flat = formats.bfloat16_to_float32(flat) if s.bfloat16 else flat.astype(dtype)
        if not numbers:
            return np.zeros(t.shape, dtype)
        step = flat.itemsize
        view = np.lib.stride_tricks.as_strided(
            flat[t.offset :], t.shape, tuple(n * step for n in t.stride), writeable=False
        )
        return np.array(view)  # its own numbers, in C order

    return formats.Header(name, dtype, t.shape, data)
