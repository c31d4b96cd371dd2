"""Keras files with a Bidirectional(LSTM), go_backwards, an Embedding below the LSTM and a Dense
above it, as Keras 3 (torch backend, float64) really saves them (.keras, .weights.h5, legacy .h5):
read
into torch-named tensors that, computed direction by direction with the engine, give what Keras
computed at every step; what Gatescope cannot compute exactly is refused naming the setting."""

from __future__ import annotations

import io
import os
from collections.abc import Iterator

os.environ.setdefault("KERAS_BACKEND", "torch")  # before keras is imported

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from app.engine import lstm as engine  # noqa: E402
from app.models import formats, upload  # noqa: E402
from tests.models.test_uploads import post_model  # noqa: E402

I, V, T = 3, 6, 7
L = keras.layers


def lstm(units: int = 4, name: str = "lstm", **kw) -> keras.layers.LSTM:
    kw.setdefault("return_sequences", True)
    return L.LSTM(units, bias_initializer="random_normal", name=name, **kw)


def bi(name: str = "bidirectional", merge_mode: str | None = "concat", **kw) -> keras.layers.Layer:
    return L.Bidirectional(lstm(name=f"lstm_{name}", **kw), merge_mode=merge_mode, name=name)


MODELS = {
    "bi1": lambda: [bi()],
    "bi2": lambda: [bi(), bi("bidirectional_1")],
    "backwards": lambda: [lstm(go_backwards=True)],
    "backwards2": lambda: [lstm(go_backwards=True), lstm(name="lstm_1")],
    "sum": lambda: [bi(merge_mode="sum")],
    "tokens": lambda: [
        L.Embedding(V, I, name="embedding"),
        lstm(),
        L.Dense(5, activation="softmax", name="dense"),
    ],
    "last": lambda: [
        L.Embedding(V, I, name="embedding"),
        lstm(return_sequences=False),
        L.Dense(5, name="dense"),
    ],
    "masked": lambda: [L.Embedding(V, I, mask_zero=True, name="embedding"), lstm()],
    "relu": lambda: [lstm(), L.Dense(5, activation="relu", name="dense")],
    "bilast": lambda: [bi(return_sequences=False), L.Dense(5, name="dense")],
    "mixed": lambda: [lstm(), bi()],
}
TOKENS = {"tokens", "last", "masked"}


@pytest.fixture(scope="module")
def saved(tmp_path_factory) -> Iterator[dict]:
    """Each model built once and saved as .keras and .weights.h5, with its outputs on one input."""
    policy, floatx = keras.config.dtype_policy(), keras.config.floatx()
    keras.config.set_floatx("float64")
    keras.config.set_dtype_policy("float64")
    directory = tmp_path_factory.mktemp("keras-layers")
    rng = np.random.default_rng(6)
    x, tokens = rng.normal(size=(T, I)), rng.integers(1, V, size=T)
    files: dict = {"x": x, "tokens": tokens}
    for name, layers in MODELS.items():
        keras.utils.set_random_seed(4)
        shape = (None,) if name in TOKENS else (None, I)
        model = keras.Sequential([keras.Input(shape, name="input_layer"), *layers()])
        for kind, save in ((".keras", model.save), (".weights.h5", model.save_weights), (".h5", model.save)):
            path = directory / f"{name}{kind}"
            save(str(path))
            files[name, kind] = path.read_bytes()
        if name in ("bi1", "bi2", "backwards", "tokens", "last"):
            given = tokens[None] if name in TOKENS else x[None]
            files[name, "out"] = np.asarray(model(given).detach().cpu())[0]
        if name in ("tokens", "last"):  # Keras's own LSTM h (T, H) and its Dense's kernel and bias
            h = model.layers[1](model.layers[0](tokens[None]))
            files[name, "h"] = np.asarray((h if h.ndim == 3 else h[:, None]).detach().cpu())[0]
            files[name, "dense"] = model.layers[-1].get_weights()
        if name in ("bi1", "bi2", "backwards"):
            files[name, "states"] = keras_states(model, x)
    yield files
    keras.config.set_dtype_policy(policy)
    keras.config.set_floatx(floatx)


def keras_states(model: keras.Model, x: np.ndarray) -> list[dict[str, np.ndarray]]:
    """Keras's own h and c of every step, per layer and direction (forward, then backward), in
    input order: a twin of each layer that returns its state, run on the prefix x[:t+1] (the
    forward state after reading x_t) and on the suffix x[t:] (the backward, or go_backwards, state
    after reading x_t), fed what Keras's layer below handed on."""

    def numpy(a) -> np.ndarray:
        return np.asarray(a.detach().cpu())[0]

    def twin_of(layer: keras.layers.LSTM, **kw) -> keras.layers.LSTM:
        return L.LSTM(layer.units, return_sequences=True, return_state=True, **kw)

    entries, seq = [], x[None]
    for layer in model.layers:
        if isinstance(layer, L.Bidirectional):
            twin = L.Bidirectional(twin_of(layer.forward_layer))
            runs = [("forward", slice(1, 3)), ("backward", slice(3, 5))]
        else:
            twin = twin_of(layer, go_backwards=layer.go_backwards)
            runs = [("backward" if layer.go_backwards else "forward", slice(1, 3))]
        twin(seq)
        twin.set_weights(layer.get_weights())
        for direction, which in runs:
            parts = [seq[:, : t + 1] if direction == "forward" else seq[:, t:] for t in range(T)]
            steps = [[numpy(s) for s in twin(part)[which]] for part in parts]
            entries.append(
                {
                    "direction": direction,
                    "h": np.array([h for h, _ in steps]),
                    "c": np.array([c for _, c in steps]),
                }
            )
        seq = layer(seq)
    return entries


def run(client, data: bytes, x: np.ndarray) -> dict:
    up = post_model(client, data, "m", input_size=str(x.shape[1]))
    assert up.status_code == 200, up.text
    answer = client.post(
        "/api/run", json={"model": up.json()["id"], "inputs": x.tolist(), "precision": "float64"}
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


@pytest.mark.parametrize(
    ("model", "kind"),  # a .weights.h5 holds no config, so says nothing of go_backwards
    [
        ("bi1", ".keras"),
        ("bi1", ".weights.h5"),
        ("bi2", ".keras"),
        ("bi2", ".weights.h5"),
        ("bi2", ".h5"),
        ("backwards", ".keras"),
        ("backwards", ".h5"),
    ],
)
def test_a_keras_bidirectional_or_go_backwards_lstm_runs_as_keras_computes_it_at_every_step(
    client, saved, kind, model
):
    got, want = run(client, saved[model, kind], saved["x"])["layers"], saved[model, "states"]
    assert [e["direction"] for e in got] == [e["direction"] for e in want]
    worst = max(
        float(np.max(np.abs(np.array(g[n]) - w[n]))) for g, w in zip(got, want, strict=True) for n in "hc"
    )
    assert worst <= 1e-9, worst


def read(data: bytes) -> tuple[formats.Header, upload.Plan]:
    headers = formats.read_headers(data, 10**8, 64)
    return headers, upload.plan(headers)


@pytest.mark.parametrize("kind", [".keras", ".weights.h5"])
def test_a_bidirectional_lstm_is_read_as_torch_s_reverse_tensors_and_says_so(saved, kind):
    headers, p = read(saved["bi2", kind])
    assert [h.name for h in headers if h.name.endswith("_reverse")] == [
        f"{part}_l{k}_reverse" for k in (0, 1) for part in ("kernel", "recurrent_kernel", "bias")
    ]
    assert p.names["kernel_l1_reverse"] == "kernel_l1_reverse" and p.layers == 2
    assert headers.format == {".keras": "Keras .keras", ".weights.h5": "Keras .weights.h5"}[kind]
    assert "directions: forward and backward (Bidirectional, merge_mode 'concat')" in headers.conversions


def test_go_backwards_on_one_lstm_is_handed_on_as_the_engine_s_reverse(saved):
    headers, _ = read(saved["backwards", ".keras"])
    assert headers.backwards is True
    assert any(
        c.startswith("go_backwards: layer 'lstm' read from the last step") for c in headers.conversions
    )
    assert read(saved["bi1", ".keras"])[0].backwards is False  # a Bidirectional's backward half is no setting


@pytest.mark.parametrize("kind", [".keras", ".weights.h5"])
@pytest.mark.parametrize("model", ["tokens", "last"])
def test_an_embedding_below_and_a_dense_above_are_read_as_embedding_and_head(saved, kind, model):
    headers, p = read(saved[model, kind])
    assert [h.name for h in headers][-3:] == ["embeddings", "dense_kernel", "dense_bias"]
    assert p.names["embedding.weight"] == "embeddings"
    assert p.names["head.weight"] == "dense_kernel" and p.names["head.bias"] == "dense_bias"
    arrays = {n: p.header(n).read() for n in p.names}
    weights = upload._from_keras(p, arrays, check=True)
    assert set(weights) == {"weight_ih_l0", "weight_hh_l0", "bias_ih_l0"}  # the LSTM's only
    weights["weight_ih_l0"] = weights["weight_ih_l0"] @ arrays["embedding.weight"].T  # folded
    one_hot = np.eye(V)[saved["tokens"]]
    h = engine.forward(weights, one_hot)[0].h
    keras_h = saved[model, "h"]  # every step's, or the last only (return_sequences=False)
    assert np.max(np.abs(h[-len(keras_h) :] - keras_h)) <= 1e-9
    logits = h @ arrays["head.weight"] + arrays["head.bias"]  # Keras's kernel is (D, K)
    kernel, bias = saved[model, "dense"]
    assert np.array_equal(arrays["head.weight"], kernel) and np.array_equal(arrays["head.bias"], bias)
    if model == "tokens":  # softmax: Keras's outputs are the probabilities
        probs = np.exp(logits - logits.max(axis=1, keepdims=True))
        got = probs / probs.sum(axis=1, keepdims=True)
    else:  # return_sequences=False: Keras's output is row T-1's
        got = logits[-1]
    # Keras 3's Dense on the torch backend rounds to float32 under the float64 policy (its output
    # equals the float32 product bit for bit): its outputs are held to float32's precision
    worst = float(np.max(np.abs(got - saved[model, "out"])))
    assert worst <= 1e-8, worst
    said = " ".join(headers.conversions)
    if kind == ".keras":
        assert "embedding 'embedding' (6 × 3) read as the input: one-hot tokens of size 6" in said
        if model == "tokens":
            assert "activation 'softmax': its outputs are probabilities, equal to softmax(logits)" in said
        else:
            assert "row T−1 equals Keras's output" in said
    else:
        assert "a .weights.h5 holds no config" in said


@pytest.mark.parametrize(
    ("model", "loc", "words"),
    [
        (
            "sum",
            ["weights", "bidirectional", "merge_mode"],
            "Keras layer 'bidirectional' has merge_mode='sum': ",
        ),
        ("masked", ["weights", "embedding", "mask_zero"], "Keras layer 'embedding' has mask_zero=True: "),
        (
            "backwards2",
            ["weights", "lstm", "go_backwards"],
            "Keras layer 'lstm' has go_backwards=True: Keras hands",
        ),
        ("relu", ["weights", "dense", "activation"], "Keras layer 'dense' has activation='relu': "),
        (
            "bilast",
            ["weights", "bidirectional", "return_sequences"],
            "Keras layer 'bidirectional' has return_sequences=False: Keras then hands 'dense' the forward h",
        ),
        ("mixed", ["weights", "lstm"], "the .keras file stacks plain and Bidirectional LSTM layers"),
    ],
)
def test_what_the_layers_around_an_lstm_need_that_gatescope_cannot_compute_is_refused(
    client, saved, model, loc, words
):
    r = post_model(client, saved[model, ".keras"], "m", input_size=str(I))
    assert r.status_code == 422, r.text
    assert r.json()["error"].startswith(words), r.json()
    assert r.json()["loc"] == loc


def test_a_bidirectional_whose_halves_differ_is_refused_naming_the_setting(client, saved, tmp_path):
    """Keras lets a Bidirectional take its own backward_layer; torch's layout has one activation."""
    import json
    import zipfile

    source = zipfile.ZipFile(io.BytesIO(saved["bi1", ".keras"]))
    config = json.loads(source.read("config.json"))
    config["config"]["layers"][1]["config"]["backward_layer"]["config"]["activation"] = "relu"
    edited = io.BytesIO()
    with zipfile.ZipFile(edited, "w") as out:
        for member in source.namelist():
            out.writestr(member, json.dumps(config) if member == "config.json" else source.read(member))
    r = post_model(client, edited.getvalue(), "m", input_size=str(I))
    assert r.status_code == 422, r.text
    assert r.json() == {
        "error": "Keras layer 'bidirectional' is a Bidirectional whose halves differ in activation "
        "('tanh' forward, 'relu' backward): Gatescope computes both directions with one set of "
        "settings, as torch does",
        "loc": ["weights", "bidirectional", "activation"],
        "setting": "activation",
    }


@pytest.mark.parametrize("kind", [".keras", ".weights.h5"])
@pytest.mark.parametrize("model", ["tokens", "last"])
def test_an_embedding_lstm_dense_model_uploads_and_predicts_as_keras_does(client, saved, kind, model):
    """Through the API: the embedding folded in, the Dense as the output layer, its outputs
    against Keras's own (softmax: Keras's outputs are the probabilities; linear: the logits,
    and with return_sequences=False only row T−1's)."""
    vocab = "abcdef"[:V]
    up = post_model(client, saved[model, kind], "m", vocab=vocab)
    assert up.status_code == 200, up.text
    text = "".join(vocab[k] for k in saved["tokens"])
    body = {"model": up.json()["id"], "text": text, "precision": "float64", "include": ["outputs"]}
    outputs = client.post("/api/run", json=body).json()["outputs"]
    assert outputs["labels"] == [str(k) for k in range(5)]
    got = np.array(outputs["probs"] if model == "tokens" else outputs["logits"][-1])
    worst = float(np.max(np.abs(got - saved[model, "out"])))
    assert worst <= 1e-8, worst  # Keras's Dense rounds to float32's precision (see above)
    h = np.array(client.post("/api/run", json=body).json()["layers"][0]["h"])
    assert np.max(np.abs(h[-len(saved[model, "h"]) :] - saved[model, "h"])) <= 1e-9
