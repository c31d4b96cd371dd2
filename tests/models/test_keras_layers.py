"""Keras files with a Bidirectional(LSTM), go_backwards, an Embedding below the LSTM and a Dense
above it, as Keras 3 (torch backend, float64) really saves them (.keras and .weights.h5): read
into torch-named tensors that, computed direction by direction with the engine, give what Keras
computed at every step; what Gatescope cannot compute exactly is refused naming the setting."""

from __future__ import annotations

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
        for kind, save in ((".keras", model.save), (".weights.h5", model.save_weights)):
            path = directory / f"{name}{kind}"
            save(str(path))
            files[name, kind] = path.read_bytes()
        if name in ("bi1", "bi2", "backwards", "tokens", "last"):
            given = tokens[None] if name in TOKENS else x[None]
            files[name, "out"] = np.asarray(model(given).detach().cpu())[0]
    yield files
    keras.config.set_dtype_policy(policy)
    keras.config.set_floatx(floatx)


def read(data: bytes) -> tuple[formats.Header, upload.Plan]:
    headers = formats.read_headers(data, 10**8, 64)
    return headers, upload.plan(headers)


def reference(weights: dict[str, np.ndarray], x: np.ndarray, reverse: bool = False) -> np.ndarray:
    """The top layer's h (T, H or 2H) from the engine run one direction at a time: the backward
    direction is the forward one on the sequence reversed, turned back to input order."""
    bidirectional = "weight_ih_l0_reverse" in weights
    layers = sum(1 for n in weights if n.startswith("weight_ih") and not n.endswith("_reverse"))
    h = x
    for k in range(layers):

        def run(direction: str, seq: np.ndarray, k: int = k) -> np.ndarray:
            w = {
                f"{n.removesuffix(direction).rsplit('_l', 1)[0]}_l0": v
                for n, v in weights.items()
                if n.endswith(f"_l{k}{direction}")
            }
            return engine.forward(w, seq)[0].h

        if reverse:
            h = run("", h[::-1])[::-1]
        else:
            h = (
                np.concatenate([run("", h), run("_reverse", h[::-1])[::-1]], axis=1)
                if bidirectional
                else run("", h)
            )
    return h


@pytest.mark.parametrize("kind", [".keras", ".weights.h5"])
@pytest.mark.parametrize("model", ["bi1", "bi2"])
def test_a_bidirectional_lstm_is_read_as_torch_s_reverse_tensors(saved, kind, model):
    headers, p = read(saved[model, kind])
    assert "kernel_l0_reverse" in [h.name for h in headers]
    names = upload._from_keras(p, {n: p.header(n).read() for n in p.names}, check=True)
    assert "weight_ih_l0_reverse" in names and "bias_ih_l0_reverse" in names
    got = reference(names, saved["x"])
    want = saved[model, "out"]
    assert got.shape == want.shape == (T, 8)
    assert np.max(np.abs(got - want)) <= 1e-9, np.max(np.abs(got - want))
    assert headers.format == {".keras": "Keras .keras", ".weights.h5": "Keras .weights.h5"}[kind]
    assert "directions: forward and backward (Bidirectional, merge_mode 'concat')" in headers.conversions or (
        kind == ".weights.h5"
    )


@pytest.mark.parametrize("kind", [".keras"])
def test_go_backwards_on_one_lstm_is_read_as_the_engine_s_reverse(saved, kind):
    headers, p = read(saved["backwards", kind])
    assert headers.reverse is True
    assert any(
        c.startswith("go_backwards: layer 'lstm' read from the last step") for c in headers.conversions
    )
    weights = upload._from_keras(p, {n: p.header(n).read() for n in p.names}, check=True)
    got = reference(weights, saved["x"], reverse=True)
    want = saved["backwards", "out"][::-1]  # Keras returns the sequence last step first
    assert np.max(np.abs(got - want)) <= 1e-9, np.max(np.abs(got - want))


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
    h = reference(weights, one_hot)
    logits = h @ arrays["head.weight"] + arrays["head.bias"]  # Keras's kernel is (D, K)
    want = saved[model, "out"]
    if model == "tokens":  # softmax: Keras's outputs are the probabilities
        probs = np.exp(logits - logits.max(axis=1, keepdims=True))
        got = probs / probs.sum(axis=1, keepdims=True)
    else:  # return_sequences=False: Keras's output is row T-1's
        got = logits[-1]
    # measured 2.5e-9 for return_sequences=False (1e-16 with it): not yet explained, see the report
    bound = 1e-9 if model == "tokens" else 1e-8
    assert np.max(np.abs(got - want)) <= bound, np.max(np.abs(got - want))
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
    ],
)
def test_what_the_layers_around_an_lstm_need_that_gatescope_cannot_compute_is_refused(
    client, saved, model, loc, words
):
    r = post_model(client, saved[model, ".keras"], "m", input_size=str(I))
    assert r.status_code == 422, r.text
    assert r.json()["error"].startswith(words), r.json()
    assert r.json()["loc"] == loc
