"""A word model on the page: its text is read a word a step, and nothing on the page breaks."""

from __future__ import annotations

import json
from urllib.parse import quote

import httpx
import pytest
import torch
from playwright.sync_api import Page
from safetensors.torch import save

from tests.browser.helpers import canvas, open_page

pytestmark = pytest.mark.browser


def test_a_word_model_shows_a_step_per_word(page: Page, live_server: str) -> None:
    torch.manual_seed(0)
    words = ["<unk>", "the", "cat", "sat"]
    lstm = torch.nn.LSTM(len(words), 3)
    r = httpx.post(
        f"{live_server}/api/models",
        files={"weights": ("w.safetensors", save(lstm.state_dict()))},
        data={"tokens": json.dumps(words), "name": "words"},
    )
    assert r.status_code == 200, r.text
    open_page(page, f"model={r.json()['id']}&text={quote('the cat  sat on the mat')}")
    assert page.locator("#error").is_hidden()
    assert page.eval_on_selector(canvas("f"), "c => [c.width, c.height]") == [6, 3]  # 6 words, 3 units
    help_text = page.locator("#sequence-help").inner_text()
    assert help_text.startswith("One time step per word") and "read as <unk>" in help_text
    assert page.errors == []  # type: ignore[attr-defined]
