"""The page of a link (/l/<id>) is a read: it finds its title without reading, drawing or hashing
any model's weights."""

from __future__ import annotations

import pytest
from safetensors.numpy import save as save_numpy

from app.models import zoo
from app.service.store import Store
from tests.models.test_uploads import GOOD, VOCAB, post_model


def test_a_links_page_names_its_model_without_its_weights(client, monkeypatch):
    upload = post_model(client, save_numpy(GOOD), vocab=VOCAB, name="my <LSTM>").json()
    links = {
        "Trained: Count with reset": {"model": "reset-count", "text": "ab.a"},
        "Random LSTM (H=512, 4 layers, seed 9)": {"model": "random-h512-l4-s9", "text": "ab"},
        "my &lt;LSTM&gt;": {"model": upload["id"], "text": "abc"},
    }
    ids = {title: client.post("/api/links", json=state).json()["id"] for title, state in links.items()}
    monkeypatch.setattr(Store, "get_model", lambda *a: pytest.fail("weights read"))
    monkeypatch.setattr(zoo, "random_model", lambda *a, **k: pytest.fail("weights drawn"))
    for title, lid in ids.items():
        page = client.get(f"/l/{lid}")
        assert page.status_code == 200
        assert f"<title>{title} — Gatescope</title>" in page.text, page.text[:400]
