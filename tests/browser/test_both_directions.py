"""A bidirectional upload on the page: each layer shown twice, forward then backward, labelled;
the badge says how the file was read and, for ONNX, what was measured for it."""

from __future__ import annotations

import io
from pathlib import Path

import httpx
import pytest
import torch
from playwright.sync_api import Page
from safetensors.torch import save

from tests.browser.helpers import canvas, open_page

pytestmark = pytest.mark.browser
SHOTS = Path(__file__).resolve().parent.parent / "screenshots"
VOCAB = "abc. "


def upload(live_server: str, name: str, data: bytes, **form: str) -> str:
    r = httpx.post(f"{live_server}/api/models", files={"weights": (name, data)}, data=form)
    assert r.status_code == 200, r.text
    return r.json()["id"]


def test_a_bidirectional_model_shows_both_directions_labelled(page: Page, live_server: str) -> None:
    torch.manual_seed(0)
    model_id = upload(
        live_server,
        "m.safetensors",
        save(torch.nn.LSTM(5, 4, num_layers=2, bidirectional=True).state_dict()),
        vocab=VOCAB,
    )
    open_page(page, f"model={model_id}&text=ab.%20cab")
    headings = page.locator("#heatmaps section.layer h3").all_inner_texts()
    assert headings == [
        "Layer 0 forward (first step to last; reads the input)",
        "Layer 0 backward (last step to first; reads the input)",
        "Layer 1 forward (first step to last; reads layer 0's h, both directions)",
        "Layer 1 backward (last step to first; reads layer 0's h, both directions)",
    ]
    assert page.eval_on_selector(canvas("f", 3), "c => [c.width, c.height]") == [7, 4]
    page.locator(canvas("c", 1)).click(position={"x": 2, "y": 2})
    assert "layer 0 backward" in page.locator(".readout-head").first.inner_text()
    page.locator("#model-card > summary").click()  # the badge is folded into the model card
    summary = page.locator("#model-read-summary")
    assert summary.inner_text() == "Read from safetensors"
    page.locator("#model-read summary").click()
    assert "directions: forward and backward" in page.locator("#model-read-steps").inner_text()
    assert "Not run by its framework here" in page.locator("#model-read-measured").inner_text()
    page.screenshot(path=str(SHOTS / "bidirectional-1280.png"))
    assert page.errors == []  # type: ignore[attr-defined]


def test_an_onnx_upload_shows_the_difference_measured_for_it(page: Page, live_server: str) -> None:
    torch.manual_seed(1)
    buffer = io.BytesIO()
    torch.onnx.export(
        torch.nn.LSTM(5, 3).double(), (torch.randn(6, 1, 5, dtype=torch.float64),), buffer, dynamo=False
    )
    model_id = upload(live_server, "m.onnx", buffer.getvalue(), vocab=VOCAB)
    page.set_viewport_size({"width": 390, "height": 844})
    open_page(page, f"model={model_id}&text=ab.%20ca")
    page.locator("#model-card > summary").click()  # the badge is folded into the model card
    summary = page.locator("#model-read-summary").inner_text()
    assert summary.startswith("Read from ONNX · measured against its framework: largest difference ")
    page.locator("#model-read summary").click()
    measured = page.locator("#model-read-measured").inner_text()
    assert measured.startswith(
        "Measured for this model: onnx.reference.ReferenceEvaluator ran the file on a probe of 6 steps"
    )
    page.screenshot(path=str(SHOTS / "onnx-badge-390.png"))
    assert page.errors == []  # type: ignore[attr-defined]
