"""A real Keras LSTM (Keras 3 on its torch backend), exported as the README says, uploaded, and run:
Gatescope computes what Keras computed."""

from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "torch")  # before keras is imported

import keras  # noqa: E402
import numpy as np  # noqa: E402

from tests.models.test_uploads import npz_bytes, post_model  # noqa: E402


def keras_lstm(I: int, H: int, seed: int) -> keras.Model:
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((None, I), dtype="float64")
    lstm = keras.layers.LSTM(
        H, return_sequences=True, name="lstm", dtype="float64", bias_initializer="random_normal"
    )  # not the zeros-and-ones default
    return keras.Model(inputs, lstm(inputs))


def test_a_keras_lstm_exported_as_the_readme_says_runs_as_in_keras(client):
    model = keras_lstm(3, 5, seed=4)
    # What the README tells people to do:
    kernel, recurrent_kernel, bias = model.get_layer("lstm").get_weights()
    data = npz_bytes({"kernel": kernel, "recurrent_kernel": recurrent_kernel, "bias": bias})
    answer = post_model(client, data, "lstm.npz", input_size="3").json()
    assert "Keras" in answer["model"]["parity"]
    x = np.random.default_rng(5).normal(size=(9, 3))
    run = client.post("/api/run", json={"model": answer["id"], "inputs": x.tolist(), "precision": "float64"})
    assert run.status_code == 200, run.text
    want = np.asarray(model(x[None]).detach().cpu())[0]  # (T, H)
    got = np.array(run.json()["layers"][0]["h"])
    assert np.max(np.abs(got - want)) <= 1e-14, np.max(np.abs(got - want))
