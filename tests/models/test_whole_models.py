"""Whole models' state_dicts: the embedding folded into the LSTM's first layer, the Linear after it
read as the output layer, against torch (float64) to 1e-9; ambiguous files refused by message."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
import torch
from safetensors.torch import save as save_safetensors

from tests.models.test_prefixes import EncoderDecoder, WordLanguageModel
from tests.models.test_uploads import post_model, stored_count

VOCAB = "abcdefghijk"  # V = 11 characters, one per row of the embedding


def torch_saved(module: torch.nn.Module) -> bytes:
    buf = io.BytesIO()
    torch.save(module.state_dict(), buf)
    return buf.getvalue()


def safetensors_saved(module: torch.nn.Module) -> bytes:
    return save_safetensors({k: v.contiguous() for k, v in module.state_dict().items()})


def reference(model: WordLanguageModel, text: str) -> tuple[list[np.ndarray], list[np.ndarray], np.ndarray]:
    """Every layer's h and c at every step and the decoder's logits, as torch computes them."""
    tokens = torch.tensor([VOCAB.index(ch) for ch in text])
    hs, cs = [], []
    with torch.no_grad():
        inputs = model.encoder(tokens)
        for k in range(model.rnn.num_layers):
            one = torch.nn.LSTM(inputs.shape[1], model.rnn.hidden_size).double()
            for kind in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                getattr(one, f"{kind}_l0").copy_(getattr(model.rnn, f"{kind}_l{k}"))
            h = torch.zeros(1, model.rnn.hidden_size, dtype=torch.float64)
            c = torch.zeros_like(h)
            layer_h, layer_c = [], []
            for x_t in inputs:
                _, (h, c) = one(x_t[None], (h, c))
                layer_h.append(h[0].clone())
                layer_c.append(c[0].clone())
            hs.append(torch.stack(layer_h).numpy())
            cs.append(torch.stack(layer_c).numpy())
            inputs = torch.stack(layer_h)
        whole, _ = model.rnn(model.encoder(tokens))
        assert np.max(np.abs(whole.numpy() - hs[-1])) <= 1e-12  # the step-by-step reference is torch's
        logits = model.decoder(whole).numpy()
    return hs, cs, logits


@pytest.mark.parametrize("save", [torch_saved, safetensors_saved], ids=["torch.save", "safetensors"])
def test_a_word_language_model_runs_as_torch_runs_it_embedding_lstm_and_decoder(client, save):
    torch.manual_seed(5)
    model = WordLanguageModel(V=len(VOCAB)).double()
    r = post_model(client, save(model), filename="lm.pt", vocab=VOCAB)
    assert r.status_code == 200, r.text
    model_id = r.json()["id"]
    assert r.json()["model"]["size"] == len(VOCAB) and r.json()["model"]["labels"] == list(VOCAB)
    text = "abkjcadbeefghaia"
    run = client.post(
        "/api/run", json={"model": model_id, "text": text, "include": ["outputs"], "precision": "float64"}
    )
    assert run.status_code == 200, run.text
    hs, cs, logits = reference(model, text)
    layers = run.json()["layers"]
    for k in range(2):
        assert np.max(np.abs(np.array(layers[k]["h"]) - hs[k])) <= 1e-9
        assert np.max(np.abs(np.array(layers[k]["c"]) - cs[k])) <= 1e-9
    out = run.json()["outputs"]
    assert out["labels"] == list(VOCAB)
    assert np.max(np.abs(np.array(out["logits"]) - logits)) <= 1e-9
    probs = torch.softmax(torch.from_numpy(logits), dim=-1).numpy()
    assert np.max(np.abs(np.array(out["probs"]) - probs)) <= 1e-9
    info = client.app.state.store.get_info(model_id)
    assert info["embedding"] == {"module": "encoder.", "shape": [11, 6]}
    assert info["head"] == {"module": "decoder.", "classes": 11}
    assert info["labels"] == list(VOCAB) and info["ignored"] == [] and info["module"] == "rnn."
    assert info["conversions"] == [
        "embedding 'encoder.' (11 × 6) folded into weight_ih_l0: the model reads one-hot tokens",
        "output layer 'decoder.' (K = 11)",
    ]


def test_the_same_model_saved_either_way_is_one_model(client):
    torch.manual_seed(6)
    model = WordLanguageModel(V=len(VOCAB)).double()
    ids = {
        post_model(client, save(model), vocab=VOCAB).json()["id"] for save in (torch_saved, safetensors_saved)
    }
    assert len(ids) == 1 and stored_count(client) == 1


def test_the_head_and_the_labels_are_part_of_the_model_s_id(client):
    torch.manual_seed(7)
    model = WordLanguageModel(V=len(VOCAB)).double()
    data = safetensors_saved(model)
    first = post_model(client, data, vocab=VOCAB).json()["id"]
    without_head = post_model(client, data, vocab=VOCAB, head="none").json()["id"]
    labelled = post_model(client, data, vocab=VOCAB, labels=json.dumps([f"w{k}" for k in range(11)])).json()
    with torch.no_grad():
        model.decoder.bias += 1
    other_head = post_model(client, safetensors_saved(model), vocab=VOCAB).json()["id"]
    assert len({first, without_head, labelled["id"], other_head}) == 4
    assert labelled["model"]["labels"] == [f"w{k}" for k in range(11)]
    run = client.post("/api/run", json={"model": without_head, "text": "ab", "include": ["outputs"]})
    assert run.status_code == 422 and run.json()["loc"] == ["include"]
    assert run.json()["error"].startswith(f"model {without_head!r} has no output layer")


def test_the_vocabulary_must_name_every_row_of_the_embedding(client):
    torch.manual_seed(8)
    data = safetensors_saved(WordLanguageModel(V=len(VOCAB)).double())
    r = post_model(client, data, vocab=VOCAB[:-1])
    assert r.status_code == 422, r.text
    assert r.json()["error"] == (
        "vocab has 10 characters but the embedding 'encoder.' has 11 rows, one per token: give 11"
    )
    assert r.json()["loc"] == ["vocab"]
    r = post_model(client, data, input_size="6")
    assert r.json()["error"] == (
        "the embedding 'encoder.' has 11 rows, one per token: give 'vocab' with 11 characters, "
        "not 'input_size'"
    )
    assert r.json()["loc"] == ["vocab"]
    assert stored_count(client) == 0


def test_an_embedding_beyond_the_input_size_limit_is_refused_before_any_data_is_read(make_client):
    c = make_client(max_input_size=10)
    torch.manual_seed(9)
    r = post_model(c, safetensors_saved(WordLanguageModel(V=len(VOCAB)).double()), vocab=VOCAB)
    assert r.status_code == 422, r.text
    assert r.json()["error"] == (
        "the embedding 'encoder.' has 11 rows (tokens), the model's input size once folded in; "
        "the limit is 10 (GATESCOPE_MAX_INPUT_SIZE)"
    )
    assert r.json()["loc"] == ["weights", "encoder.weight"]


def test_an_output_layer_beyond_the_class_limit_is_refused(make_client):
    c = make_client(max_classes=10)
    torch.manual_seed(9)
    r = post_model(c, safetensors_saved(WordLanguageModel(V=len(VOCAB)).double()), vocab=VOCAB)
    assert r.status_code == 422, r.text
    assert (
        r.json()["error"]
        == "the output layer 'decoder.' has 11 classes; the limit is 10 (GATESCOPE_MAX_CLASSES)"
    )
    assert r.json()["loc"] == ["weights", "decoder.weight"]


def test_an_encoder_decoder_pair_needs_module_and_each_gets_its_own_modules(client):
    torch.manual_seed(10)
    model = EncoderDecoder().double()
    data = safetensors_saved(model)
    assert post_model(client, data, vocab=VOCAB[:9]).json()["loc"] == ["module"]
    encoder = post_model(client, data, vocab=VOCAB[:9], module="encoder.lstm.")
    assert encoder.status_code == 200, encoder.text
    info = client.app.state.store.get_info(encoder.json()["id"])
    assert info["embedding"] == {"module": "encoder.embedding.", "shape": [9, 4]} and "head" not in info
    text = "abcii"
    run = client.post("/api/run", json={"model": encoder.json()["id"], "text": text, "precision": "float64"})
    with torch.no_grad():
        want, _ = model.encoder.lstm(model.encoder.embedding(torch.tensor([VOCAB.index(ch) for ch in text])))
    assert np.max(np.abs(np.array(run.json()["layers"][0]["h"]) - want.numpy())) <= 1e-9
    decoder = post_model(client, data, input_size="3", module="decoder.lstm.")
    assert decoder.status_code == 200, decoder.text
    info = client.app.state.store.get_info(decoder.json()["id"])
    assert info["head"] == {"module": "decoder.out.", "classes": 9} and "embedding" not in info
    x = np.random.default_rng(0).normal(size=(6, 3))
    run = client.post(
        "/api/run",
        json={
            "model": decoder.json()["id"],
            "inputs": x.tolist(),
            "include": ["outputs"],
            "precision": "float64",
        },
    )
    with torch.no_grad():
        h, _ = model.decoder.lstm(torch.from_numpy(x))
        logits = model.decoder.out(h).numpy()
    assert np.max(np.abs(np.array(run.json()["outputs"]["logits"]) - logits)) <= 1e-9
    assert run.json()["outputs"]["labels"] == [str(k) for k in range(9)]


class TwoOfEach(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.words = torch.nn.Embedding(7, 4)
        self.positions = torch.nn.Embedding(30, 4)
        self.rnn = torch.nn.LSTM(4, 3)
        self.tagger = torch.nn.Linear(3, 5)
        self.scorer = torch.nn.Linear(3, 1)


def test_several_candidates_are_refused_listing_them_until_the_form_fields_choose(client):
    torch.manual_seed(11)
    data = safetensors_saved(TwoOfEach().double())
    r = post_model(client, data, vocab="abcdefg")
    assert r.status_code == 422, r.text
    assert r.json()["error"] == (
        "the file holds 2 modules that could be the embedding (a module whose only tensor is weight "
        "(V, 4), 4 the LSTM's input size): 'positions.' (30 × 4), 'words.' (7 × 4); say which with "
        "the 'embedding' form field (embedding=positions.), or embedding=none"
    )
    assert r.json()["loc"] == ["embedding"] and r.json()["candidates"] == ["positions.", "words."]
    r = post_model(client, data, vocab="abcdefg", embedding="words")
    assert r.json()["error"] == (
        "the file holds 2 modules that could be the output layer (a module with weight (K, 3) and "
        "bias (K,), 3 the width of the LSTM's last h): 'scorer.' (1 × 3), 'tagger.' (5 × 3); say "
        "which with the 'head' form field (head=scorer.), or head=none"
    )
    assert r.json()["loc"] == ["head"]
    r = post_model(client, data, vocab="abcdefg", embedding="words", head="tagger.")
    assert r.status_code == 200, r.text
    info = client.app.state.store.get_info(r.json()["id"])
    assert info["embedding"]["module"] == "words." and info["head"]["module"] == "tagger."
    assert info["ignored"] == ["positions.weight", "scorer.bias", "scorer.weight"]
    r = post_model(client, data, vocab="abcdefg", embedding="rnn.", head="tagger.")
    assert r.json()["error"].startswith("embedding 'rnn.' names no embedding in the file")
    assert r.json()["loc"] == ["embedding"]
    assert stored_count(client) == 1


@pytest.mark.parametrize(
    ("labels", "words", "loc"),
    [
        (
            '["a", "b"]',
            "labels must be a JSON list of 5 strings, one per class of the output layer; got a list of 2",
            ["labels"],
        ),
        (
            '{"a": 1}',
            "labels must be a JSON list of 5 strings, one per class of the output layer; got a JSON dict",
            ["labels"],
        ),
        ("[not json", "labels must be a JSON list of 5 strings, one per class", ["labels"]),
        ('["a", "b", 3, "d", "e"]', "label 2 is not a string", ["labels", 2]),
        ('["a", "b", "", "d", "e"]', "label 2 must have 1 to 100 characters", ["labels", 2]),
        (json.dumps(["a", "b", "c", "d", "x" * 101]), "label 4 must have 1 to 100 characters", ["labels", 4]),
    ],
    ids=["count", "not-a-list", "not-json", "not-a-string", "empty", "too-long"],
)
def test_labels_are_checked(client, labels, words, loc):
    torch.manual_seed(12)
    data = safetensors_saved(TwoOfEach().double())
    r = post_model(client, data, vocab="abcdefg", embedding="words", head="tagger", labels=labels)
    assert r.status_code == 422, r.text
    assert r.json()["error"].startswith(words) and r.json()["loc"] == loc
    assert stored_count(client) == 0


def test_labels_name_the_classes_and_need_an_output_layer(client):
    torch.manual_seed(13)
    data = safetensors_saved(TwoOfEach().double())
    names = ["noun", "verb", "adj", "adv", "other"]
    r = post_model(client, data, vocab="abcdefg", embedding="words", head="tagger", labels=json.dumps(names))
    assert r.status_code == 200, r.text
    run = client.post("/api/run", json={"model": r.json()["id"], "text": "abc", "include": ["outputs"]})
    assert run.json()["outputs"]["labels"] == names
    r = post_model(client, data, vocab="abcdefg", embedding="words", head="none", labels=json.dumps(names))
    assert r.status_code == 422
    assert r.json()["error"] == "'labels' name an output layer's classes, but the file holds no output layer"
    assert r.json()["loc"] == ["labels"]


def test_a_linear_without_bias_is_an_output_layer_only_when_named(client):
    torch.manual_seed(14)
    model = torch.nn.Module()
    model.rnn = torch.nn.LSTM(3, 4)
    model.proj = torch.nn.Linear(4, 2, bias=False)
    model = model.double()
    data = safetensors_saved(model)
    guessed = post_model(client, data, input_size="3")
    assert guessed.status_code == 200 and guessed.json()["model"]["labels"] is None
    named = post_model(client, data, input_size="3", head="proj")
    assert named.status_code == 200, named.text
    x = np.random.default_rng(1).normal(size=(5, 3))
    run = client.post(
        "/api/run",
        json={
            "model": named.json()["id"],
            "inputs": x.tolist(),
            "include": ["outputs"],
            "precision": "float64",
        },
    )
    with torch.no_grad():
        want = model.proj(model.rnn(torch.from_numpy(x))[0]).numpy()
    assert np.max(np.abs(np.array(run.json()["outputs"]["logits"]) - want)) <= 1e-9


def test_the_upload_form_documents_the_new_fields(client):
    doc = client.get("/openapi.json").json()
    form = doc["paths"]["/api/models"]["post"]["requestBody"]["content"]["multipart/form-data"]["schema"]
    ref = form.get("$ref", "").rsplit("/", 1)[-1]
    props = doc["components"]["schemas"][ref]["properties"] if ref else form["properties"]
    for field in ("embedding", "head", "labels"):
        assert field in props and props[field].get("description")


class BidirectionalTagger(torch.nn.Module):
    def __init__(self, V: int = 11, I: int = 4, H: int = 3, K: int = 5):
        super().__init__()
        self.embed = torch.nn.Embedding(V, I)
        self.lstm = torch.nn.LSTM(I, H, num_layers=2, bidirectional=True)
        self.out = torch.nn.Linear(2 * H, K)


@pytest.mark.parametrize("save", [torch_saved, safetensors_saved], ids=["torch.save", "safetensors"])
def test_a_bidirectional_tagger_reads_both_directions_into_its_output_layer(client, save):
    """The embedding folded into weight_ih_l0 and weight_ih_l0_reverse; the head (K, 2H) reads
    [h_forward ; h_backward] of the last layer, as torch's output of a bidirectional LSTM."""
    torch.manual_seed(15)
    model = BidirectionalTagger().double()
    r = post_model(client, save(model), vocab=VOCAB)
    assert r.status_code == 200, r.text
    info = client.app.state.store.get_info(r.json()["id"])
    assert info["head"] == {"module": "out.", "classes": 5}
    assert info["conversions"][0].startswith(
        "embedding 'embed.' (11 × 4) folded into weight_ih_l0 and weight_ih_l0_reverse"
    )
    text = "kajbbcia"
    run = client.post(
        "/api/run",
        json={"model": r.json()["id"], "text": text, "include": ["outputs"], "precision": "float64"},
    )
    assert run.status_code == 200, run.text
    with torch.no_grad():
        h, _ = model.lstm(model.embed(torch.tensor([VOCAB.index(ch) for ch in text])))
        logits = model.out(h).numpy()
    layers = run.json()["layers"]
    assert [layer["direction"] for layer in layers] == ["forward", "backward"] * 2
    got_h = np.concatenate([np.array(layers[2]["h"]), np.array(layers[3]["h"])], axis=1)
    assert np.max(np.abs(got_h - h.numpy())) <= 1e-9
    assert np.max(np.abs(np.array(run.json()["outputs"]["logits"]) - logits)) <= 1e-9
    assert run.json()["outputs"]["labels"] == ["0", "1", "2", "3", "4"]


def test_a_head_as_wide_as_one_direction_of_a_bidirectional_lstm_is_not_its_output_layer(client):
    torch.manual_seed(16)
    model = torch.nn.Module()
    model.lstm = torch.nn.LSTM(3, 4, bidirectional=True)
    model.out = torch.nn.Linear(4, 2)  # H wide: reads no h this model has
    r = post_model(client, safetensors_saved(model.double()), input_size="3")
    assert r.status_code == 200, r.text
    assert r.json()["model"]["labels"] is None
    assert client.app.state.store.get_info(r.json()["id"])["ignored"] == ["out.bias", "out.weight"]


@pytest.mark.parametrize(
    ("tensor", "at"), [("decoder.weight", "[1, 2]"), ("decoder.bias", "[0]"), ("encoder.weight", "[3, 1]")]
)
def test_a_nan_or_infinity_in_the_embedding_or_output_layer_is_refused_naming_it(client, tensor, at):
    import torch
    from safetensors.torch import save

    torch.manual_seed(0)
    whole = torch.nn.ModuleDict(
        {"encoder": torch.nn.Embedding(5, 3), "rnn": torch.nn.LSTM(3, 4), "decoder": torch.nn.Linear(4, 5)}
    )
    state = {k: v.detach().clone() for k, v in whole.state_dict().items()}
    index = tuple(int(i) for i in at.strip("[]").split(", "))
    state[tensor][index] = float("nan") if tensor != "decoder.bias" else float("inf")
    answer = client.post(
        "/api/models", files={"weights": ("m.safetensors", save(state))}, data={"vocab": "abcde"}
    )
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"] == f"tensor {tensor!r} holds a NaN or infinite value at {at}"
    assert answer.json()["loc"] == ["weights", tensor]
