"""Parity of every way a model gets into Gatescope, and the words of each refusal.

Each file is one its framework really wrote (torch.save, safetensors, Keras 3's model.save and
save_weights, torch.onnx.export, onnx.helper), uploaded through the HTTP API (POST /api/models on
a TestClient over a fresh app), then run (POST /api/run, float64). The table gives the largest
|difference| between Gatescope's h and c — every step, layer and direction — and its output
layer's logits, and the framework's own forward pass of the same sequence: torch.nn.LSTM and
nn.Module in float64 (the file's weights cast up), Keras 3 on its torch backend with float64
layers, onnx.reference.ReferenceEvaluator (benchmarks/_references.py). The second section uploads
files Gatescope refuses and prints the status and the `error` of each answer.

Run: .venv/bin/python -m benchmarks.parity   (writes benchmarks/results/parity.md too)
"""

from __future__ import annotations

import io
import json
import os
import pickle
import tempfile
import zipfile
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "torch")  # before keras is imported

import keras  # noqa: E402
import numpy as np  # noqa: E402
import onnx  # noqa: E402
import torch  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402
from onnx.reference import ReferenceEvaluator  # noqa: E402
from safetensors.torch import save as safetensors_bytes  # noqa: E402

from app.web.app import create_app  # noqa: E402
from app.web.settings import Settings  # noqa: E402
from benchmarks._common import header, write  # noqa: E402
from benchmarks._references import keras_states, onnx_trace, torch_trace  # noqa: E402
from tests.models.test_onnx_directions import stack  # noqa: E402
from tests.models.test_onnxfile import lstm_model  # noqa: E402
from tests.models.test_prefixes import EncoderDecoder, WordLanguageModel  # noqa: E402
from tests.models.test_torchfile import Runs, torch_zip  # noqa: E402
from tests.models.test_uploads import VOCAB, one_hot, post_model  # noqa: E402

SEED = 0
T = 24  # steps of every sequence (the ONNX nodes built by tests' stack() are fixed at 6)
WORDS = ["<unk>", "the", "cat", "sat", "on", "mat", "."]
KERAS_VOCAB = "abcdefgh"  # one character per row of the Keras models' Embedding
NOTES: list[str] = []  # what a row's number needs said beside it


def torch_saved(state: dict, legacy: bool = False) -> bytes:
    buf = io.BytesIO()
    torch.save(state, buf, _use_new_zipfile_serialization=not legacy)
    return buf.getvalue()


def gatescope(client: TestClient, data: bytes, run: dict, head: bool = False, **form) -> dict:
    """Upload `data` with the form fields, then run it over `run` ({"text": …} or {"inputs": …})."""
    up = post_model(client, data, "upload", **form)
    assert up.status_code == 200, up.text
    body = {"model": up.json()["id"], "precision": "float64", **run}
    if head:
        body["include"] = ["outputs"]
    r = client.post("/api/run", json=body)
    assert r.status_code == 200, r.text
    return r.json()


def gaps(answer: dict, trace, logits: np.ndarray | None = None) -> tuple[float, float, float | None]:
    """Largest |Δh|, |Δc| over every entry of `layers` against the trace, and |Δlogits|."""
    layers = answer["layers"]
    assert len(layers) == len(trace), (len(layers), len(trace))
    dh = max(float(np.max(np.abs(np.array(e["h"]) - h))) for e, (h, _) in zip(layers, trace, strict=True))
    dc = max(float(np.max(np.abs(np.array(e["c"]) - c))) for e, (_, c) in zip(layers, trace, strict=True))
    if logits is None:
        return dh, dc, None
    return dh, dc, float(np.max(np.abs(np.array(answer["outputs"]["logits"]) - logits)))


def text_of(alphabet: str | list[str], rng: np.random.Generator) -> list:
    return [alphabet[k] for k in rng.integers(0, len(alphabet), size=T)]


def torch_rows(client: TestClient, rng: np.random.Generator) -> list[tuple]:
    rows = []
    text = "".join(text_of(VOCAB, rng))
    x = one_hot(text)
    for what, make, save in [
        ("torch.save, zip format", lambda: torch.nn.LSTM(5, 6, 2), torch_saved),
        ("torch.save, legacy format", lambda: torch.nn.LSTM(5, 6, 2), lambda s: torch_saved(s, True)),
        ("safetensors", lambda: torch.nn.LSTM(5, 6, 2), lambda s: safetensors_bytes(dict(s))),
        (
            "torch.save, 2-layer bidirectional",
            lambda: torch.nn.LSTM(5, 5, 2, bidirectional=True),
            torch_saved,
        ),
        ("torch.save, bfloat16 weights", lambda: torch.nn.LSTM(5, 6, 2).to(torch.bfloat16), torch_saved),
    ]:
        torch.manual_seed(SEED)
        lstm = make()
        answer = gatescope(client, save(lstm.state_dict()), {"text": text}, vocab=VOCAB)
        rows.append((what, f"nn.LSTM {describe(lstm)}", T, *gaps(answer, torch_trace(lstm, x))))

    torch.manual_seed(SEED)
    lm = WordLanguageModel(V=len(WORDS))
    words = text_of(WORDS, rng)
    answer = gatescope(
        client, torch_saved(lm.state_dict()), {"text": " ".join(words)}, head=True, tokens=json.dumps(WORDS)
    )
    lm = lm.double()
    with torch.no_grad():
        emb = lm.encoder(torch.tensor([WORDS.index(w) for w in words])).numpy()
        trace = torch_trace(lm.rnn, emb)
        logits = lm.decoder(torch.from_numpy(trace[-1][0])).numpy()
    rows.append(
        (
            "torch.save, word language model with `tokens`",
            f"Embedding(7, 6), LSTM {describe(lm.rnn)}, Linear(5, 7)",
            T,
            *gaps(answer, trace, logits),
        )
    )

    torch.manual_seed(SEED)
    pair = EncoderDecoder()
    xs = rng.normal(size=(T, 3))
    answer = gatescope(
        client,
        torch_saved(pair.state_dict()),
        {"inputs": xs.tolist()},
        head=True,
        input_size="3",
        module="decoder.lstm.",
    )
    pair = pair.double()
    with torch.no_grad():
        trace = torch_trace(pair.decoder.lstm, xs)
        logits = pair.decoder.out(torch.from_numpy(trace[-1][0])).numpy()
    rows.append(
        (
            "torch.save, encoder–decoder, `module=decoder.lstm.`",
            f"decoder LSTM {describe(pair.decoder.lstm)}, Linear(5, 9)",
            T,
            *gaps(answer, trace, logits),
        )
    )
    return rows


def describe(lstm: torch.nn.LSTM) -> str:
    both = ", bidirectional" if lstm.bidirectional else ""
    return f"I={lstm.input_size} H={lstm.hidden_size} L={lstm.num_layers}{both}"


def keras_file(model: keras.Model, directory: Path, name: str) -> bytes:
    path = directory / name
    (model.save_weights if name.endswith(".weights.h5") else model.save)(str(path))
    return path.read_bytes()


def keras_rows(client: TestClient, rng: np.random.Generator, directory: Path) -> list[tuple]:
    keras.config.set_floatx("float64")
    keras.config.set_dtype_policy("float64")
    rows = []
    init = {"return_sequences": True, "bias_initializer": "random_normal"}  # a bias that counts
    keras.utils.set_random_seed(SEED)
    V = len(KERAS_VOCAB)
    lm = keras.Sequential(
        [
            keras.Input((None,), dtype="int32"),
            keras.layers.Embedding(V, 4),
            keras.layers.LSTM(5, **init),
            keras.layers.Dense(V),
        ]
    )
    text = "".join(text_of(KERAS_VOCAB, rng))
    tokens = np.array([[KERAS_VOCAB.index(ch) for ch in text]])
    emb = np.asarray(lm.layers[0](tokens).detach().cpu())[0]
    trace = [keras_states(lm.layers[1], emb)]
    logits = np.asarray(lm(tokens).detach().cpu())[0]
    kernel, bias = lm.layers[2].get_weights()
    exact = trace[0][0] @ kernel + bias  # the Dense layer in float64 from Keras's own h
    for name in ("m.keras", "m.weights.h5"):
        answer = gatescope(
            client, keras_file(lm, directory, name), {"text": text}, head=True, vocab=KERAS_VOCAB
        )
        rows.append(
            (
                f"Keras 3 {name[1:]}",
                "Sequential(Embedding(8, 4), LSTM(5), Dense(8))",
                T,
                *gaps(answer, trace, logits),
            )
        )
    far = float(np.max(np.abs(np.array(answer["outputs"]["logits"]) - exact)))
    NOTES.append(
        f"Keras's Dense multiplies in float32 on the torch backend even with float64 layers: "
        f"Gatescope's logits are within {far:.1e} of h @ kernel + bias in float64 from Keras's h."
    )

    x = rng.normal(size=(T, 3))
    for what, layer in [
        ("Bidirectional(LSTM(4))", keras.layers.Bidirectional(keras.layers.LSTM(4, **init))),
        ("LSTM(5, go_backwards=True)", keras.layers.LSTM(5, go_backwards=True, **init)),
    ]:
        keras.utils.set_random_seed(SEED)
        model = keras.Sequential([keras.Input((None, 3)), layer])
        parts = [layer.forward_layer, layer.backward_layer] if what.startswith("Bi") else [layer]
        trace = [keras_states(p, x) for p in parts]
        answer = gatescope(
            client, keras_file(model, directory, "m.keras"), {"inputs": x.tolist()}, input_size="3"
        )
        rows.append(("Keras 3 .keras", what, T, *gaps(answer, trace)))
    return rows


def onnx_rows(client: TestClient, rng: np.random.Generator) -> list[tuple]:
    rows = []
    x = rng.normal(size=(6, 3))
    for direction in ("forward", "reverse", "bidirectional"):
        data, model, _ = stack((direction,), seed=SEED)
        answer = gatescope(client, data, {"inputs": x.tolist()}, input_size="3")
        rows.append(
            (
                "ONNX, onnx.helper node, float64",
                f"LSTM node, direction={direction}, I=3 H=4",
                6,
                *gaps(answer, onnx_trace(model, x, direction)),
            )
        )

    torch.manual_seed(SEED)
    lstm = torch.nn.LSTM(3, 4, 2)
    buf = io.BytesIO()
    torch.onnx.export(lstm, (torch.randn(T, 1, 3),), buf, dynamo=False)
    x = rng.normal(size=(T, 3))
    answer = gatescope(client, buf.getvalue(), {"inputs": x.tolist()}, input_size="3")
    graph = onnx.load_model_from_string(buf.getvalue())
    (y,) = ReferenceEvaluator(graph).run(
        [graph.graph.output[0].name], {graph.graph.input[0].name: x[:, None, :].astype(np.float32)}
    )
    top = float(np.max(np.abs(np.array(answer["layers"][-1]["h"]) - y.reshape(T, -1))))
    rows.append(
        (
            "ONNX, torch.onnx.export (float32 graph)",
            "nn.LSTM I=3 H=4 L=2 vs ReferenceEvaluator in float32, top layer's h",
            T,
            top,
            None,
            None,
        )
    )
    rows.append(
        (
            "ONNX, torch.onnx.export (float32 graph)",
            "the same vs torch.nn.LSTM in float64",
            T,
            *gaps(answer, torch_trace(lstm, x)),
        )
    )
    return rows


def refusal_files(directory: Path, marker: Path) -> list[tuple[str, bytes, dict]]:
    """(what, file, form) for each refusal, every file written by its framework."""
    torch.manual_seed(SEED)
    keras.utils.set_random_seed(SEED)
    five = {"vocab": VOCAB}
    relu = keras.Sequential([keras.Input((None, 3)), keras.layers.LSTM(4, activation="relu")])
    summed = keras.Sequential(
        [keras.Input((None, 3)), keras.layers.Bidirectional(keras.layers.LSTM(4), merge_mode="sum")]
    )
    buf = io.BytesIO()
    np.savez(buf, images=np.random.default_rng(SEED).random((10, 28, 28)), labels=np.arange(10))
    empty = io.BytesIO()
    with zipfile.ZipFile(empty, "w") as z:
        z.writestr("README.txt", "no arrays here\n")
    # the command succeeds and would leave `marker` behind: proof it ran, were it ever unpickled
    evil = pickle.dumps({"weight_ih_l0": Runs(os.system, f"true && touch {marker}")}, protocol=2)
    return [
        ("GRU state_dict (torch.save)", torch_saved(torch.nn.GRU(5, 4).state_dict()), five),
        ("plain RNN state_dict (torch.save)", torch_saved(torch.nn.RNN(5, 4).state_dict()), five),
        ("pickled whole module, torch.save(model)", torch_saved(torch.nn.LSTM(5, 4)), five),
        ("pickle whose __reduce__ calls os.system", torch_zip(evil), five),
        ("LSTM with proj_size=2", torch_saved(torch.nn.LSTM(5, 4, proj_size=2).state_dict()), five),
        (
            "two LSTMs (encoder–decoder), no `module`",
            torch_saved(EncoderDecoder().state_dict()),
            {"input_size": "3"},
        ),
        (
            "Keras LSTM activation='relu' (.keras)",
            keras_file(relu, directory, "relu.keras"),
            {"input_size": "3"},
        ),
        (
            "Keras Bidirectional merge_mode='sum' (.keras)",
            keras_file(summed, directory, "sum.keras"),
            {"input_size": "3"},
        ),
        ("ONNX LSTM with peepholes (input P)", lstm_model(inputs=("P",))[0], {"input_size": "3"}),
        ("ONNX LSTM with clip=3.0", lstm_model(clip=3.0)[0], {"input_size": "3"}),
        (".npz that is not a model", buf.getvalue(), five),
        ("zip with no arrays", empty.getvalue(), five),
        ("4,096 random bytes", np.random.default_rng(SEED).bytes(4096), five),
    ]


def fmt(value: float | None) -> str:
    return "—" if value is None else f"{value:.1e}"


def main() -> None:
    rng = np.random.default_rng(SEED)
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        app = create_app(Settings(data_dir=directory / "data"))
        with TestClient(app, raise_server_exceptions=False) as client:
            rows = torch_rows(client, rng) + keras_rows(client, rng, directory) + onnx_rows(client, rng)
            marker = directory / "ran"
            refused = []
            for what, data, form in refusal_files(directory, marker):
                r = post_model(client, data, "upload", **form)
                refused.append((what, r.status_code, r.json().get("error", r.text)))
            ran = marker.exists()
    lines = header("Parity: each import format against the framework that wrote the file")
    lines += [
        "",
        "Largest |Gatescope − framework| over every step, layer and direction (float64 run).",
        "",
        "| format | model | T | max abs Δh | max abs Δc | max abs Δlogits |",
        "| --- | --- | ---: | ---: | ---: | ---: |",
    ]
    lines += [f"| {f} | {m} | {t} | {fmt(h)} | {fmt(c)} | {fmt(g)} |" for f, m, t, h, c, g in rows]
    lines += ["", *NOTES]
    lines += [
        "",
        "## Refusals",
        "",
        "POST /api/models with each file: status code, then the answer's `error`.",
        "",
    ]
    lines += [f"- **{what}**: {status} — {error}" for what, status, error in refused]
    lines += [
        "",
        f"The os.system pickle's marker file was {'CREATED: the pickle ran' if ran else 'not created'}.",
    ]
    print("\n".join(lines))
    print(f"\nwritten to {write('parity.md', lines)}")


if __name__ == "__main__":
    main()
