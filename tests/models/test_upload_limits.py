"""Uploads read header first: what a file declares (its members, dtypes, shapes, where its data
lies) is checked against the limits before any array is read, and every format path refuses what
an LSTM's weights cannot be, naming the tensor."""

from __future__ import annotations

import io
import json
import struct
import tracemalloc
import zipfile

import numpy as np
import pytest
from safetensors.numpy import save as save_numpy

from tests.models.test_uploads import GOOD, VOCAB, npz_bytes, post_model, stored_count


def compressed_npz(arrays: dict) -> bytes:
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    return buf.getvalue()


def npy_member(header: str, data: bytes = b"") -> bytes:
    """A .npy file (version 1.0) with this header dict, padded as NumPy pads it."""
    text = header.encode("latin1")
    text += b" " * ((-(10 + len(text) + 1)) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(text)) + text + data


def zip_of(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    return buf.getvalue()


def safetensors_of(header: dict, data: bytes = b"") -> bytes:
    text = json.dumps(header).encode()
    return struct.pack("<Q", len(text)) + text + data


def refusal(r, status: int = 422) -> tuple[str, list]:
    assert r.status_code == status, r.text
    return r.json()["error"], r.json()["loc"]


# Memory: headers before arrays


def test_an_npz_whose_kernel_declares_79_mb_of_int8_is_refused_with_little_memory(client):
    data = compressed_npz(
        {"kernel": np.zeros((19375, 4096), np.int8), "recurrent_kernel": np.zeros((1024, 4096), np.int8)}
    )
    assert len(data) < 100_000  # 79 MB of zeros deflate to 77 KB
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        r = post_model(client, data, "bomb.npz", input_size="19375")
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    error, loc = refusal(r)
    assert error == "input size 19375 exceeds the limit of 1024 (GATESCOPE_MAX_INPUT_SIZE)"
    assert loc == ["weights", "weight_ih_l0"]
    assert peak < 50 * 2**20, f"peak +{peak / 2**20:.0f} MiB"


def test_an_npy_header_declaring_shape_2_to_the_40_is_refused_unread(client):
    member = npy_member("{'descr': '<f8', 'fortran_order': False, 'shape': (1099511627776,), }")
    error, loc = refusal(post_model(client, zip_of({"weight_ih_l0.npy": member}), "huge.npz", vocab=VOCAB))
    assert error == (
        "tensor 'weight_ih_l0' declares shape (1099511627776,) of float64, 8796093022208 bytes, "
        "but the .npz file holds 0 bytes for it"
    )
    assert loc == ["weights", "weight_ih_l0"]
    assert stored_count(client) == 0


@pytest.mark.parametrize(
    ("header", "words"),
    [
        ("{'descr': '<f8', 'fortran_order': False, 'shape': (-3,), }", "declares shape (-3,), not a list"),
        ("{'descr': '<f8', 'fortran_order': False, 'shape': (2,)}[0]", "not a readable .npy array"),
        ("{'descr': '<f8', 'fortran_order': False, 'shape': __import__('os')}", "not a readable .npy"),
    ],
    ids=["negative", "not-a-dict", "code"],
)
def test_npy_headers_that_are_not_literal_shapes_are_refused(client, header, words):
    member = npy_member(header, b"\0" * 16)
    error, loc = refusal(post_model(client, zip_of({"weight_ih_l0.npy": member}), "bad.npz", vocab=VOCAB))
    assert words in error and loc == ["weights", "weight_ih_l0"]


def many_members(n: int) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for i in range(n):
            z.writestr(f"{i}", b"")
    return buf.getvalue()


MANY = many_members(130_000)


@pytest.fixture
def no_zip_directory(monkeypatch):
    """zipfile reads a whole directory, 130,000 members in about a second: the count comes first."""

    def never(*args: object, **kwargs: object) -> None:
        raise AssertionError("zipfile read the directory")

    monkeypatch.setattr(zipfile, "ZipFile", never)


def test_an_npz_of_130000_members_is_refused_from_its_end_record(client, no_zip_directory):
    r = post_model(client, MANY, "many.npz", input_size="2")
    error, loc = refusal(r, 413)
    assert error == "the .npz file holds 130000 tensors; the limit is 64 (GATESCOPE_MAX_UPLOAD_TENSORS)"
    assert loc == ["weights"] and r.json()["limit"] == 64


def test_a_zip_whose_end_record_understates_its_members_is_refused_from_its_size(client, no_zip_directory):
    """zipfile reads the whole directory whatever the end record says: its size is bounded too."""
    end = MANY.rfind(b"PK\x05\x06")
    forged = bytearray(MANY[: MANY.rfind(b"PK\x06\x06")] + MANY[end:])  # no zip64 records
    forged[-22 + 8 : -22 + 12] = struct.pack("<HH", 1, 1)  # "one member"
    error, loc = refusal(post_model(client, bytes(forged), "many.npz", input_size="2"), 413)
    assert error == (
        "the .npz file's directory takes 6648890 bytes, more than 64 members need; "
        "the limit is 64 tensors (GATESCOPE_MAX_UPLOAD_TENSORS)"
    )
    assert loc == ["weights"]


def test_the_tensor_count_is_a_setting_for_both_formats(make_client):
    c = make_client(max_upload_tensors=4)
    assert post_model(c, npz_bytes(GOOD), "w.npz", vocab=VOCAB).status_code == 200
    extra = {**GOOD, "lstm.extra": np.zeros(1)}
    for data in (npz_bytes(extra), save_numpy(extra)):
        error, loc = refusal(post_model(c, data, vocab=VOCAB), 413)
        assert "holds 5 tensors; the limit is 4 (GATESCOPE_MAX_UPLOAD_TENSORS)" in error
        assert loc == ["weights"]


@pytest.mark.parametrize(
    ("data", "words", "loc"),
    [
        (
            safetensors_of(
                {"weight_ih_l0": {"dtype": "F64", "shape": [2**40], "data_offsets": [0, 16]}}, b"\0" * 16
            ),
            "tensor 'weight_ih_l0' declares shape (1099511627776,) of F64, 8796093022208 bytes, "
            "but the .safetensors file holds 16 bytes for it",
            ["weights", "weight_ih_l0"],
        ),
        (
            safetensors_of(
                {"weight_ih_l0": {"dtype": "F64", "shape": [2], "data_offsets": [0, 16]}}, b"\0" * 8
            ),
            "the .safetensors file is truncated or corrupt: tensor 'weight_ih_l0' lies at bytes [0, 16], "
            "outside the 8 bytes of data",
            ["weights", "weight_ih_l0"],
        ),
        (
            safetensors_of({"weight_ih_l0": {"dtype": "F64", "shape": [1], "data_offsets": [-8, 0]}}),
            "lies at bytes [-8, 0]",
            ["weights", "weight_ih_l0"],
        ),
        (safetensors_of({"weight_ih_l0": {"dtype": "F64"}}), "lacks dtype, shape or data_offsets", None),
        (
            safetensors_of(["weight_ih_l0"]),
            "the .safetensors file's header is not a JSON object",
            ["weights"],
        ),
        (struct.pack("<Q", 6000) + b"[" * 6000, "the .safetensors file's header is not JSON", ["weights"]),
        (struct.pack("<Q", 2) + b"\xff\xfe", "the .safetensors file's header is not JSON", ["weights"]),
    ],
    ids=["huge-shape", "outside", "negative-offset", "no-shape", "not-object", "deep", "not-utf8"],
)
def test_safetensors_headers_are_checked_before_any_array(client, data, words, loc):
    error, got = refusal(post_model(client, data, vocab=VOCAB))
    assert words in error
    assert got == (loc or ["weights", "weight_ih_l0"])


def test_a_tensor_larger_than_any_lstm_within_the_limits_is_refused_unread(make_client):
    c = make_client(max_hidden=2, max_input_size=5)  # no tensor holds more than 4 × 2 × 5 = 40
    weights = {**GOOD, "weight_hh_l0": np.zeros((8, 6))}  # 48 numbers
    error, loc = refusal(post_model(c, save_numpy(weights), vocab=VOCAB))
    assert error == (
        "tensor 'weight_hh_l0' declares shape (8, 6), 48 numbers; no tensor of an LSTM within the "
        "limits holds more than 40 (GATESCOPE_MAX_HIDDEN, GATESCOPE_MAX_INPUT_SIZE)"
    )
    assert loc == ["weights", "weight_hh_l0"]


# Bad input, on every format path

NOT_NUMBERS = {  # id: (array, words naming its dtype)
    "complex": (
        np.ones((8, 5), np.complex128),
        "is complex128 (complex: an LSTM's weights are real numbers)",
    ),
    "bool": (np.ones((8, 5), bool), "is bool (bool: an LSTM's weights are numbers)"),
    "unicode": (np.full((8, 5), "ab"), "is <U2 (strings: an LSTM's weights are numbers)"),
    "bytes": (np.full((8, 5), b"ab"), "is |S2 (strings: an LSTM's weights are numbers)"),
    "datetime": (np.zeros((8, 5), "datetime64[s]"), "is datetime64[s] (dates or times"),
    "timedelta": (np.zeros((8, 5), "timedelta64[ms]"), "is timedelta64[ms] (dates or times"),
    "void": (np.zeros((8, 5), "V4"), "is |V4 (structured or raw bytes"),
    "structured": (np.zeros((8, 5), [("a", "<f4")]), "(structured or raw bytes"),
    "float128": (np.zeros((8, 5), np.longdouble), "-bit float, which NumPy does not compute with"),
}


@pytest.mark.parametrize(("array", "words"), NOT_NUMBERS.values(), ids=NOT_NUMBERS)
@pytest.mark.parametrize("naming", ["torch", "keras"])
def test_tensors_that_are_not_real_numbers_are_refused_naming_tensor_and_dtype(client, array, words, naming):
    if naming == "torch":
        arrays, name, form = {**GOOD, "weight_ih_l0": array}, "weight_ih_l0", {"vocab": VOCAB}
    else:
        arrays = {"kernel": array.reshape(5, 8), "recurrent_kernel": np.zeros((2, 8)), "bias": np.zeros(8)}
        name, form = "kernel", {"input_size": "5"}
    error, loc = refusal(post_model(client, npz_bytes(arrays), "w.npz", **form))
    assert error.startswith(f"tensor {name!r} is "), error
    assert words in error and error.endswith("save the weights as float32 or float64")
    assert loc == ["weights", name]
    assert stored_count(client) == 0


@pytest.mark.parametrize(
    ("dtype", "words"),
    [
        ("BOOL", "tensor 'bias_hh_l0' is BOOL (bool: an LSTM's weights are numbers); "),
        ("F8_E4M3", "tensor 'bias_hh_l0' is F8_E4M3 (float8, which Gatescope does not read); "),
        ("C64", "tensor 'bias_hh_l0' is C64 (complex: an LSTM's weights are real numbers); "),
        ("Q4", "tensor 'bias_hh_l0' has an unknown dtype 'Q4'; "),
        (["F64"], "tensor 'bias_hh_l0' has a dtype that is not a name: ['F64']; "),
        ({"F64": 1}, "tensor 'bias_hh_l0' has a dtype that is not a name: {'F64': 1}; "),
    ],
)
def test_safetensors_dtypes_that_are_not_read_are_refused_naming_the_tensor(client, dtype, words):
    raw = save_numpy(GOOD)
    length = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8 : 8 + length])
    header["bias_hh_l0"]["dtype"] = dtype
    error, loc = refusal(post_model(client, safetensors_of(header, raw[8 + length :]), vocab=VOCAB))
    assert error == words + "save the weights as float32 or float64"
    assert loc == ["weights", "bias_hh_l0"]


def test_float16_float32_and_integer_tensors_are_read_exactly(client):
    # whole numbers, as float64 (+ 0.0: a -0.0 would hash apart from the integer 0)
    hand_built = {k: np.round(v * 10) + 0.0 for k, v in GOOD.items()}
    ids = set()
    for dtype in (np.float64, np.float32, np.float16, np.int64, np.int8):
        arrays = {k: v.astype(dtype) for k, v in hand_built.items()}
        for data in (npz_bytes(arrays), save_numpy(arrays)):
            r = post_model(client, data, vocab=VOCAB)
            assert r.status_code == 200, r.text
            ids.add(r.json()["id"])
    assert len(ids) == 1  # the id hashes the float64 values: the same numbers, the same model


@pytest.mark.parametrize("value", [1e300, -2e6, np.iinfo(np.int64).min])
def test_uploaded_magnitudes_are_held_to_the_inline_bound(client, value):
    weights = {**GOOD, "bias_ih_l0": np.full(8, value, dtype=np.int64 if isinstance(value, int) else None)}
    for data, name, form in (
        (save_numpy(weights), "bias_ih_l0", {"vocab": VOCAB}),
        (
            npz_bytes(
                {
                    "kernel": np.zeros((5, 8)),
                    "recurrent_kernel": np.zeros((2, 8)),
                    "bias": weights["bias_ih_l0"],
                }
            ),
            "bias",
            {"input_size": "5"},
        ),
    ):
        r = post_model(client, data, **form)
        error, loc = refusal(r)
        assert error == f"tensor {name!r} holds a value beyond ±1,000,000"
        assert loc == ["weights", name] and r.json()["limit"] == 1e6
    assert stored_count(client) == 0


def test_nan_is_still_refused_with_its_place(client):
    weights = {**GOOD, "bias_ih_l0": np.array([0, 0, np.nan, 0, 0, 0, 0, 0], np.float16)}
    error, loc = refusal(post_model(client, npz_bytes(weights), "w.npz", vocab=VOCAB))
    assert error == "tensor 'bias_ih_l0' holds a NaN or infinite value at [2]"
    assert loc == ["weights", "bias_ih_l0"]


@pytest.mark.parametrize(
    ("arrays", "first", "second", "form"),
    [
        (
            {**{f"a.{k}": v for k, v in GOOD.items()}, "b.weight_ih_l0": GOOD["weight_ih_l0"] * 2},
            "a.weight_ih_l0",
            "b.weight_ih_l0",
            {"vocab": VOCAB},
        ),
        ({**GOOD, "lstm.bias_hh_l0": GOOD["bias_hh_l0"]}, "bias_hh_l0", "lstm.bias_hh_l0", {"vocab": VOCAB}),
        (
            {"kernel": np.zeros((5, 8)), "recurrent_kernel": np.zeros((2, 8)), "kernel_l0": np.ones((5, 8))},
            "kernel",
            "kernel_l0",
            {"input_size": "5"},
        ),
    ],
    ids=["two-prefixes", "prefix-and-none", "keras-suffix"],
)
def test_two_tensors_that_map_onto_one_name_are_refused_naming_both(client, arrays, first, second, form):
    r = post_model(client, npz_bytes(arrays), "w.npz", **form)
    error, loc = refusal(r)
    assert f"tensors {first!r} and {second!r} both stand for" in error
    assert loc == ["weights", second] and r.json()["tensors"] == [first, second]
    assert stored_count(client) == 0


def test_two_members_of_one_name_are_refused(client):
    member = io.BytesIO()
    np.save(member, GOOD["weight_ih_l0"])
    data = zip_of({"weight_ih_l0.npy": member.getvalue(), "weight_ih_l0": member.getvalue()})
    error, loc = refusal(post_model(client, data, "w.npz", vocab=VOCAB))
    assert error == "the file holds two tensors named 'weight_ih_l0'" and loc == ["weights", "weight_ih_l0"]


def test_a_keras_kernel_of_strings_is_a_422(client):
    arrays = {"kernel": np.full((5, 8), "0.5"), "recurrent_kernel": np.zeros((2, 8)), "bias": np.full(8, "x")}
    error, loc = refusal(post_model(client, npz_bytes(arrays), "k.npz", input_size="5"))
    assert error.startswith("tensor 'kernel' is <U3 (strings") and loc == ["weights", "kernel"]


def test_a_vocab_of_5000_brackets_is_a_422(client):
    error, loc = refusal(post_model(client, save_numpy(GOOD), vocab="[" * 5000))
    assert error == "vocab looks like a JSON list but nests too deeply to be one"
    assert loc == ["vocab"]


def test_a_re_upload_answers_the_name_the_store_keeps(client):
    first = post_model(client, save_numpy(GOOD), vocab=VOCAB, name="first name").json()
    again = post_model(client, npz_bytes(GOOD), "again.npz", vocab=VOCAB, name="second name").json()
    assert again["id"] == first["id"] and again["created"] is False
    assert again["model"]["title"] == "first name" == first["model"]["title"]
    assert client.get(f"/api/models/{first['id']}").json()["title"] == "first name"


def test_a_vocabulary_of_the_wrong_length_is_refused_before_any_array_is_read(client, monkeypatch):
    from app.models import upload

    monkeypatch.setattr(upload, "load", lambda *a: pytest.fail("the arrays were read"))
    for form, loc in [({"vocab": VOCAB + "xyz"}, "vocab"), ({"input_size": "9"}, "input_size")]:
        r = post_model(client, save_numpy(GOOD), **form)
        assert r.status_code == 422 and r.json()["loc"] == [loc], r.text
        assert f"the weights take {len(VOCAB)} inputs per step (weight_ih_l0 is (8, 5))" in r.json()["error"]


# Found by a red-team pass: headers that cost much to read, or slipped past every check


def test_a_shape_with_a_zero_and_huge_sizes_is_refused_not_a_500(client):
    huge = {"weight_ih_l0": {"dtype": "F32", "shape": [2**40, 2**40, 0], "data_offsets": [0, 0]}}
    error, loc = refusal(post_model(client, safetensors_of(huge), vocab="ab"))
    assert error == (
        "tensor 'weight_ih_l0' declares shape (1099511627776, 1099511627776, 0): an LSTM's tensors "
        "have at most 4 dimensions of at most 2,147,483,648 each"
    )
    assert loc == ["weights", "weight_ih_l0"]


def test_a_layer_number_of_5000_digits_is_no_layer(client):
    entry = {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}
    header = {"kernel": entry, "recurrent_kernel": {**entry, "data_offsets": [4, 8]}}
    header["kernel_l" + "9" * 5000] = {**entry, "data_offsets": [8, 12]}
    r = post_model(client, safetensors_of(header, b"\0" * 12), vocab="ab")
    assert r.status_code == 422, r.text[:300]
    assert r.json()["loc"][:1] == ["weights"]


def test_a_safetensors_header_of_megabytes_is_refused_before_it_is_parsed(client):
    data = safetensors_of({"__metadata__": [{}] * 600_000})  # 2.4 MB: parsed, half a GB of dicts
    tracemalloc.start()
    error, loc = refusal(post_model(client, data, vocab="ab"))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert error.startswith("the .safetensors file's header takes 2,400,018 bytes") and loc == ["weights"]
    assert peak < 20 * 1024 * 1024, peak


def test_safetensors_metadata_must_be_a_map_of_strings(client):
    header = {"__metadata__": {"format": ["pt"]}, **json.loads(save_numpy(GOOD)[8:].split(b"}}")[0] + b"}}")}
    error, loc = refusal(post_model(client, safetensors_of(header), vocab=VOCAB))
    assert error == "the .safetensors file's __metadata__ is not a map of strings"
    assert loc == ["weights", "__metadata__"]


def test_an_npy_header_that_declares_80_mb_is_refused_from_its_length(client):
    member = b"\x93NUMPY\x02\x00" + struct.pack("<I", 80_000_000) + b" " * 80_000_000
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("weight_ih_l0.npy", member)
    assert len(buf.getvalue()) < 200_000
    tracemalloc.start()
    error, loc = refusal(post_model(client, buf.getvalue(), "w.npz", vocab="ab"))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert "its header declares 80,000,000 bytes; an array's takes at most 10,000" in error, error
    assert loc == ["weights", "weight_ih_l0"]
    assert peak < 20 * 1024 * 1024, peak
