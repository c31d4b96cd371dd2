"""torch.save files (.pt, .pth, .bin), zip and legacy, read without torch and without running any
of their code; bfloat16 weights, in torch files and in .safetensors. Every file here is one torch
2.13.0 really wrote (or a pickle built by hand to attack the reader)."""

from __future__ import annotations

import io
import json
import os
import pickle
import subprocess
import sys
import zipfile

import numpy as np
import pytest
import torch
from safetensors.torch import save_file as save_torch_file

from tests.models.test_uploads import VOCAB, one_hot, post_model, stored_count

DTYPES = {
    "float32": torch.float32,
    "float64": torch.float64,
    "float16": torch.float16,
    "bfloat16": torch.bfloat16,
}
TEXT = "ab. cab.c a"


def saved(obj: object, tmp_path, legacy: bool = False, name: str = "m.pt") -> bytes:
    path = tmp_path / name
    torch.save(obj, str(path), _use_new_zipfile_serialization=not legacy)
    return path.read_bytes()


def lstm_in(dtype: torch.dtype, layers: int = 2, hidden: int = 6, seed: int = 1) -> torch.nn.LSTM:
    torch.manual_seed(seed)
    return torch.nn.LSTM(len(VOCAB), hidden, num_layers=layers).to(dtype)


def assert_runs_as_torch(client, model_id: str, model: torch.nn.LSTM) -> float:
    """h and c of every step and layer from POST /api/run, float64, against torch.nn.LSTM run in
    float64 on the very weights the file holds (their dtype's rounding is the file's)."""
    run = client.post("/api/run", json={"model": model_id, "text": TEXT, "precision": "float64"})
    assert run.status_code == 200, run.text
    reference = torch.nn.LSTM(model.input_size, model.hidden_size, num_layers=model.num_layers).double()
    reference.load_state_dict({k: v.double() for k, v in model.state_dict().items()})
    x = torch.from_numpy(one_hot(TEXT))
    worst = 0.0
    with torch.no_grad():
        for k in range(model.num_layers):
            cell = torch.nn.LSTM(
                reference.input_size if k == 0 else reference.hidden_size, reference.hidden_size
            )
            cell = cell.double()
            cell.load_state_dict(
                {
                    f"{p}_l0": getattr(reference, f"{p}_l{k}")
                    for p in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
                }
            )
            hs, cs, h, c = [], [], torch.zeros(1, reference.hidden_size, dtype=torch.float64), None
            c = torch.zeros_like(h)
            for x_t in x:
                _, (h, c) = cell(x_t[None], (h, c))
                hs.append(h[0].numpy())
                cs.append(c[0].numpy())
            layer = run.json()["layers"][k]
            for got, want in ((layer["h"], hs), (layer["c"], cs)):
                worst = max(worst, float(np.max(np.abs(np.array(got) - np.array(want)))))
            x = torch.from_numpy(np.array(hs))
    assert worst <= 1e-9, worst
    return worst


@pytest.mark.parametrize("legacy", [False, True], ids=["zip", "legacy"])
@pytest.mark.parametrize("dtype", DTYPES.values(), ids=DTYPES)
def test_a_saved_state_dict_runs_exactly_as_torch_computes(client, tmp_path, dtype, legacy):
    model = lstm_in(dtype)
    r = post_model(client, saved(model.state_dict(), tmp_path, legacy), "m.pt", vocab=VOCAB)
    assert r.status_code == 200, r.text
    assert_runs_as_torch(client, r.json()["id"], model)


CHECKPOINTS = {
    "state_dict": lambda sd: {"state_dict": sd},
    "model": lambda sd: {"model": sd, "epoch": 4, "note": "best"},
    "model_state_dict": lambda sd: {
        "model_state_dict": sd,
        "optimizer_state_dict": {"state": {0: {"exp_avg": torch.ones(3)}}, "param_groups": [{"lr": 0.1}]},
        "loss": 0.25,
    },
    "lightning": lambda sd: {
        "epoch": 7,
        "global_step": 700,
        "pytorch-lightning_version": "2.4.0",
        "state_dict": {f"lstm.{k}": v for k, v in sd.items()},
        "optimizer_states": [{"state": {0: {"exp_avg": torch.zeros(2)}}}],
        "lr_schedulers": [],
        "hyper_parameters": {"hidden": 6},
    },
    "nested": lambda sd: {"encoder": {"lstm": sd}, "step": 3},
}


@pytest.mark.parametrize("legacy", [False, True], ids=["zip", "legacy"])
@pytest.mark.parametrize("wrap", CHECKPOINTS.values(), ids=CHECKPOINTS)
def test_a_checkpoint_wrapping_the_state_dict_is_unwrapped(client, tmp_path, wrap, legacy):
    model = lstm_in(torch.float64, layers=1)
    r = post_model(client, saved(wrap(model.state_dict()), tmp_path, legacy), "ckpt.pth", vocab=VOCAB)
    assert r.status_code == 200, r.text
    assert_runs_as_torch(client, r.json()["id"], model)


def test_the_file_name_does_not_matter_only_the_bytes(client, tmp_path):
    model = lstm_in(torch.float32, layers=1)
    r = post_model(
        client, saved(model.state_dict(), tmp_path, name="weights.bin"), "weights.npz", vocab=VOCAB
    )
    assert r.status_code == 200, r.text


def test_bfloat16_safetensors_are_upcast_exactly(client, tmp_path):
    model = lstm_in(torch.bfloat16)
    path = tmp_path / "m.safetensors"
    save_torch_file(model.state_dict(), str(path))
    r = post_model(client, path.read_bytes(), vocab=VOCAB)
    assert r.status_code == 200, r.text
    assert_runs_as_torch(client, r.json()["id"], model)


# ---- pickles that would run code ----


def torch_zip(pickled: bytes) -> bytes:
    """A torch.save zip's layout around a pickle of our own."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("m/data.pkl", pickled)
        z.writestr("m/byteorder", "little")
        z.writestr("m/version", "3\n")
    return buf.getvalue()


def torch_legacy(pickled: bytes) -> bytes:
    head = [0x1950A86A20F9469CFC6C, 1001, {"protocol_version": 1001, "little_endian": True}]
    return b"".join(pickle.dumps(x, protocol=2) for x in head) + pickled + pickle.dumps([], protocol=2)


class Runs:
    """Unpickling this would call `call(*args)`."""

    def __init__(self, call, *args):
        self.call, self.args = call, args

    def __reduce__(self):
        return self.call, self.args


def attacks(marker) -> dict[str, tuple[bytes, str]]:
    """id: (a pickle that would create `marker`, words the refusal must say)."""
    touch = f"touch {marker}"
    code = f"open({str(marker)!r}, 'w').close()"
    return {
        "os.system": (pickle.dumps({"weight_ih_l0": Runs(os.system, touch)}, protocol=2), "posix.system"),
        "exec": (pickle.dumps(Runs(exec, code), protocol=2), "builtins.exec"),
        "eval": (pickle.dumps({"state_dict": Runs(eval, code)}, protocol=2), "builtins.eval"),
        "subprocess.Popen": (
            pickle.dumps(Runs(subprocess.Popen, ["touch", str(marker)]), protocol=4),
            "subprocess.Popen",
        ),
        # raw opcodes: the old text protocol's GLOBAL, then REDUCE
        "raw-opcodes": (f"cos\nsystem\n(V{touch}\ntR.".encode(), "os.system"),
        # INST: a class instantiated without REDUCE
        "inst": (f"(V{touch}\nios\nsystem\n.".encode(), "os.system"),
        # getattr(__import__("os"), "system")(touch)
        "getattr": (
            f"cbuiltins\ngetattr\n(cbuiltins\n__import__\n(Vos\ntRVsystem\ntR(V{touch}\ntR.".encode(),
            "builtins.getattr",
        ),
    }


ATTACKS = list(attacks("x"))


def assert_really_runs(attack: str, tmp_path) -> None:
    """The attack is real: plain pickle.loads, in a child process, creates its file."""
    control = tmp_path / "control"
    pickled, _ = attacks(control)[attack]
    script = "import pickle, sys, time; pickle.loads(sys.stdin.buffer.read()); time.sleep(0.5)"
    subprocess.run(
        [sys.executable, "-c", script], input=pickled, capture_output=True, timeout=30, check=False
    )
    assert control.exists(), attack


@pytest.mark.parametrize("layout", [torch_zip, torch_legacy], ids=["zip", "legacy"])
@pytest.mark.parametrize("attack", ATTACKS)
def test_a_pickle_that_would_run_code_is_refused_and_nothing_runs(client, tmp_path, attack, layout):
    marker = tmp_path / "ran"
    pickled, refused = attacks(marker)[attack]
    assert_really_runs(attack, tmp_path)
    r = post_model(client, layout(pickled), "m.pt", vocab=VOCAB)
    assert r.status_code == 422, r.text
    answer = r.json()
    assert answer["loc"] == ["weights"]
    assert refused in answer["error"] and "never runs" in answer["error"], answer
    assert 'torch.save(model.state_dict(), "m.pt")' in answer["error"]
    assert not marker.exists()
    assert stored_count(client) == 0


@pytest.mark.parametrize("legacy", [False, True], ids=["zip", "legacy"])
@pytest.mark.parametrize(
    ("whole", "holds"),
    [
        (lambda: torch.nn.LSTM(5, 3), "torch.nn.modules.rnn.LSTM"),
        (
            lambda: torch.nn.Sequential(torch.nn.Embedding(5, 4), torch.nn.LSTM(4, 3)),
            "torch.nn.modules.container.Sequential",
        ),
    ],
    ids=["lstm", "sequential"],
)
def test_a_pickled_whole_module_is_refused_with_the_state_dict_advice(client, tmp_path, whole, holds, legacy):
    r = post_model(client, saved(whole(), tmp_path, legacy), "m.pt", vocab=VOCAB)
    assert r.status_code == 422, r.text
    answer = r.json()
    assert answer["loc"] == ["weights"] and answer["refused"] == holds
    assert answer["error"] == (
        f"the file is a pickled module (it holds {holds}), not a state_dict; Gatescope never runs a "
        'file\'s code: save the weights with torch.save(model.state_dict(), "m.pt")'
    )


@pytest.mark.parametrize("legacy", [False, True], ids=["zip", "legacy"])
@pytest.mark.parametrize("cut", [0.5, 0.9, 0.99])
def test_a_truncated_torch_file_is_refused_saying_so(client, tmp_path, legacy, cut):
    raw = saved(lstm_in(torch.float32).state_dict(), tmp_path, legacy)
    r = post_model(client, raw[: int(len(raw) * cut)], "m.pt", vocab=VOCAB)
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert "torch file" in error and ("truncated" in error or "cut short" in error), error
    assert r.json()["loc"][0] == "weights"


def test_a_memo_index_far_beyond_the_pickle_is_refused_before_unpickling(client):
    # LONG_BINPUT 2**31 would make the C unpickler allocate a memo of 2**31 slots
    pickled = b"\x80\x02}r\x00\x00\x00\x80."
    r = post_model(client, torch_zip(pickled), "m.pt", vocab=VOCAB)
    assert r.status_code == 422, r.text
    assert r.json() == {
        "error": "the torch file's pickle stores an object at memo index 2,147,483,648",
        "loc": ["weights"],
    }


def test_a_tensor_reaching_past_its_storage_is_refused_unread(client, tmp_path):
    raw = saved({"weight_ih_l0": torch.zeros(24, 5)}, tmp_path)
    # the same file, its tensor's size declared (24, 50): bytes BININT1 5 -> BININT1 50 in data.pkl
    with zipfile.ZipFile(io.BytesIO(raw)) as z:
        members = {n: z.read(n) for n in z.namelist()}
    members["m/data.pkl"] = members["m/data.pkl"].replace(b"K\x18K\x05\x86", b"K\x18K2\x86", 1)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for n, data in members.items():
            z.writestr(n, data)
    r = post_model(client, buf.getvalue(), "m.pt", vocab=VOCAB)
    assert r.status_code == 422, r.text
    assert r.json()["loc"] == ["weights", "weight_ih_l0"]
    assert "past the 120 numbers of its storage" in r.json()["error"]


def test_a_bfloat16_safetensors_tensor_is_held_to_two_bytes_a_number(client, tmp_path):
    path = tmp_path / "m.safetensors"
    save_torch_file(
        {k: v.float() for k, v in lstm_in(torch.bfloat16, layers=1).state_dict().items()}, str(path)
    )
    raw = path.read_bytes()
    length = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8 : 8 + length])
    header["bias_hh_l0"]["dtype"] = "BF16"  # 24 numbers in float32's 96 bytes: twice too many
    text = json.dumps(header).encode()
    r = post_model(client, len(text).to_bytes(8, "little") + text + raw[8 + length :], vocab=VOCAB)
    assert r.status_code == 422, r.text
    assert r.json() == {
        "error": "tensor 'bias_hh_l0' declares shape (24,) of BF16, 48 bytes, but the .safetensors file "
        "holds 96 bytes for it",
        "loc": ["weights", "bias_hh_l0"],
    }


def test_what_a_hostile_pickle_declares_is_shown_short(client):
    # a storage id of six parts, its key 100,000 characters long
    pickled = b"\x80\x02(Vstorage\nctorch\nFloatStorage\nV" + b"k" * 100_000 + b"\nVcpu\nK\x01K\x02tQ."
    r = post_model(client, torch_zip(pickled), "m.pt", vocab=VOCAB)
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error.startswith("the torch file refers to a storage as ('storage', ") and len(error) < 300, error
    assert error.endswith(", 'cpu', 1, 2), which Gatescope does not read")
