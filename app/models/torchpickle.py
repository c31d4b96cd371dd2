"""The allowlisting unpickler of torch.save files (app.models.torchfile), the approach of
torch.load(weights_only=True): it builds tensors as stand-ins that say where their numbers lie,
storages, ordered dicts and the containers pickle builds by itself; any other global is refused
before it is even looked up. Each pickle is scanned opcode by opcode first, without building
anything, so that its size, the objects it builds and its memo are bounded."""

from __future__ import annotations

import _compat_pickle
import io
import pickle
import pickletools
import reprlib
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import numpy as np

from app.models import formats
from app.refusal import Invalid, TooLarge

MAX_PICKLE = 1024 * 1024  # a state_dict's pickle takes ~200 bytes a tensor; 64 tensors, a few KB
MAX_OPCODES = 200_000  # each opcode builds at most one object

SAVE_STATE_DICT = 'save the weights with torch.save(model.state_dict(), "m.pt")'

# what a hostile pickle declares, shown short: a repr of its objects could take megabytes, or
# recurse past Python's limit on a deeply nested list
_short = reprlib.Repr()
_short.maxlevel, _short.maxstring, _short.maxother, _short.maxlong = 3, 60, 60, 40
_show = _short.repr

# torch's storage classes -> the NumPy dtype of their bytes (before the byte order); bfloat16 is
# read as uint16 and upcast by hand
STORAGES = {
    "FloatStorage": "f4",
    "DoubleStorage": "f8",
    "HalfStorage": "f2",
    "BFloat16Storage": "u2",
    "LongStorage": "i8",
    "IntStorage": "i4",
    "ShortStorage": "i2",
    "CharStorage": "i1",
    "ByteStorage": "u1",
}
REFUSED_STORAGES = {
    "BoolStorage": "bool",
    "ComplexFloatStorage": "complex64",
    "ComplexDoubleStorage": "complex128",
}


# ---- what the unpickler builds: stand-ins, never torch objects ----


class _Refusing:
    """Every object the unpickler hands to the pickle refuses BUILD: a pickle cannot set
    attributes on them (and so on the functions behind them)."""

    __slots__ = ()

    def __setstate__(self, state: object) -> None:
        raise Invalid("the torch file's pickle sets the state of a tensor or a storage", ["weights"])


@dataclass(frozen=True)
class _StorageType(_Refusing):
    name: str


@dataclass(frozen=True)
class _Storage(_Refusing):
    key: str
    dtype: np.dtype  # of its bytes: uint16 for bfloat16
    bfloat16: bool
    numel: int


@dataclass(frozen=True)
class _Tensor(_Refusing):
    storage: _Storage
    offset: int
    shape: tuple[int, ...]
    stride: tuple[int, ...]


class _Rebuild(_Refusing):
    """torch._utils._rebuild_tensor_v2 (or _rebuild_parameter), as a callable that checks its
    arguments and builds a _Tensor."""

    __slots__ = ("what",)

    def __init__(self, what: str) -> None:
        self.what = what

    def __call__(self, *args: object) -> _Tensor:
        if self.what == "_rebuild_parameter":  # (data, requires_grad, backward_hooks)
            if not args or not isinstance(args[0], _Tensor):
                raise Invalid(
                    "the torch file's pickle makes a Parameter of something not a tensor", ["weights"]
                )
            return args[0]
        # (storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
        if len(args) < 4 or not isinstance(args[0], _Storage):
            raise Invalid(
                "the torch file's pickle rebuilds a tensor from something not a storage", ["weights"]
            )
        storage, offset, size, stride = args[:4]
        if not (
            type(offset) is int
            and isinstance(size, tuple)
            and isinstance(stride, tuple)
            and len(size) == len(stride)
            and all(type(n) is int for n in size + stride)
        ):
            raise Invalid(
                f"the torch file declares a tensor of size {_show(size)} and stride {_show(stride)} "
                f"at offset {_show(offset)}, not lists of sizes",
                ["weights"],
            )
        assert isinstance(storage, _Storage)  # for mypy: checked above
        return _Tensor(storage, offset, size, stride)


ALLOWED: dict[tuple[str, str], object] = {
    ("collections", "OrderedDict"): OrderedDict,
    ("torch._utils", "_rebuild_tensor_v2"): _Rebuild("_rebuild_tensor_v2"),
    ("torch._utils", "_rebuild_parameter"): _Rebuild("_rebuild_parameter"),
    **{("torch", name): _StorageType(name) for name in STORAGES.keys() | REFUSED_STORAGES.keys()},
}


def _refuse_global(module: str, name: str) -> Invalid:
    what = f"{module}.{name}"
    if module == "__main__" or module.startswith("torch.nn.") or module.startswith("torch.jit"):
        return Invalid(
            f"the file is a pickled module (it holds {what}), not a state_dict; Gatescope never "
            f"runs a file's code: {SAVE_STATE_DICT}",
            ["weights"],
            refused=what,
        )
    return Invalid(
        f"the file is a torch pickle that calls {what}, which Gatescope never runs: it reads only "
        f"tensors, storages, ordered dicts and plain containers; {SAVE_STATE_DICT}",
        ["weights"],
        refused=what,
    )


class _Unpickler(pickle.Unpickler):
    """Builds only what ALLOWED names; storages come from persistent ids
    ('storage', storage type, key, location, numel[, view metadata])."""

    def __init__(self, fp: io.BytesIO, storages: dict[str, _Storage], big_endian: bool) -> None:
        super().__init__(fp)
        self.storages = storages
        self.big_endian = big_endian

    def find_class(self, module: str, name: str) -> Any:
        # protocol 2 names Python 2's modules ('__builtin__.exec'), as pickle itself maps them
        module, name = _compat_pickle.NAME_MAPPING.get(
            (module, name), (_compat_pickle.IMPORT_MAPPING.get(module, module), name)
        )
        found = ALLOWED.get((module, name))
        if found is None:
            raise _refuse_global(module, name)
        return found

    def persistent_load(self, pid: Any) -> _Storage:
        if not (
            isinstance(pid, tuple)
            and len(pid) in (5, 6)
            and pid[0] == "storage"
            and isinstance(pid[1], _StorageType)
            and isinstance(pid[2], str)
            and type(pid[4]) is int
            and pid[4] >= 0
            and (len(pid) == 5 or pid[5] is None)  # storage views: torch < 1.0, not read
        ):
            raise Invalid(
                f"the torch file refers to a storage as {_show(pid)}, which Gatescope does not read",
                ["weights"],
            )
        kind, key, numel = pid[1].name, pid[2], pid[4]
        if kind in REFUSED_STORAGES:
            raise Invalid(
                f"the torch file holds a {REFUSED_STORAGES[kind]} tensor ({kind}); {formats.SAVE_AS}",
                ["weights"],
                dtype=REFUSED_STORAGES[kind],
            )
        dtype = np.dtype(STORAGES[kind]).newbyteorder(">" if self.big_endian else "<")
        storage = _Storage(key, dtype, kind == "BFloat16Storage", numel)
        if self.storages.setdefault(key, storage) != storage:
            raise Invalid(f"the torch file declares storage {_show(key)} twice, differently", ["weights"])
        return storage


def _scan(fp: io.BytesIO) -> int:
    """Walk one pickle's opcodes without building anything: it must end within MAX_PICKLE bytes
    and MAX_OPCODES opcodes, and its memo indices stay below the count of opcodes (the C
    unpickler allocates a memo as large as the largest index). Returns where it ends."""
    start = fp.tell()
    count = 0
    try:
        for op, arg, pos in pickletools.genops(fp):
            count += 1
            if count > MAX_OPCODES or (pos or 0) - start > MAX_PICKLE:
                raise TooLarge(
                    f"the torch file's pickle takes more than {MAX_PICKLE:,} bytes or {MAX_OPCODES:,} "
                    "objects; a state_dict's takes a few thousand",
                    ["weights"],
                    limit=MAX_PICKLE,
                )
            if "PUT" in op.name and isinstance(arg, int) and arg > MAX_OPCODES:
                raise Invalid(f"the torch file's pickle stores an object at memo index {arg:,}", ["weights"])
    except (ValueError, EOFError) as e:  # genops' words for an unknown opcode or cut data
        raise _corrupt(e) from None
    return fp.tell()


def _corrupt(e: BaseException) -> Invalid:
    return Invalid(f"the torch file is truncated or corrupt ({type(e).__name__}: {e})", ["weights"])


def _unpickle(fp: io.BytesIO, storages: dict[str, _Storage], big_endian: bool = False) -> object:
    start = fp.tell()
    end = _scan(fp)
    fp.seek(start)
    try:
        result = _Unpickler(fp, storages, big_endian).load()
    except Invalid:
        raise
    except Exception as e:  # noqa: BLE001 — whatever a malformed pickle makes the unpickler raise
        raise _corrupt(e) from None
    if fp.tell() != end:
        raise Invalid("the torch file's pickle ends elsewhere than its opcodes say", ["weights"])
    return result
