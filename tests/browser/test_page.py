"""The heatmap page in a real Chromium: what is drawn, written, hovered, linked and shared."""

from __future__ import annotations

from urllib.parse import quote, urlparse

import httpx
import pytest
from playwright.sync_api import Browser, Page

from tests.browser.helpers import (
    RDBU_WHITE,
    VIRIDIS_0,
    VIRIDIS_1,
    all_pixels,
    api_run,
    assert_no_sideways_scroll,
    canvas,
    near,
    open_page,
    phone,
    pixel,
    query_of,
    runs,
    shoot,
    wait_next_run,
)

pytestmark = pytest.mark.browser


def test_forget_gate_is_drawn_dark_at_the_reset_token_and_bright_elsewhere(page: Page) -> None:
    open_page(page, "model=counter&text=ab.ab")
    assert page.eval_on_selector(canvas("f"), "c => [c.width, c.height]") == [5, 4]
    for unit in (0, 1, 2):  # the counting units forget at '.' (t = 2)
        assert near(pixel(page, "f", 2, unit), VIRIDIS_0), pixel(page, "f", 2, unit)
        assert near(pixel(page, "f", 0, unit), VIRIDIS_1)
    assert near(pixel(page, "f", 2, 3), VIRIDIS_1)  # unit 3 never forgets
    # The cell state is wiped at '.': white, the diverging scale's centre; red where it counts.
    assert near(pixel(page, "c", 2, 1), RDBU_WHITE, tol=4)
    r, g, b = pixel(page, "c", 1, 1)
    assert r > b + 40, (r, g, b)
    shoot(page, "counter-1280")
    assert page.errors == []  # type: ignore[attr-defined]


def test_typing_changes_the_url_and_the_picture(page: Page) -> None:
    open_page(page, "model=counter&text=aaaa")
    before_pixels = all_pixels(page)
    before = runs(page)
    page.fill("#sequence", "")
    page.type("#sequence", "aa. aa", delay=20)
    page.wait_for_function("new URLSearchParams(location.search).get('text') === 'aa. aa'")
    wait_next_run(page, before)
    page.wait_for_function(f"document.querySelector('{canvas('f')}').width === 6")
    assert query_of(page)["text"] == ["aa. aa"]
    assert all_pixels(page) != before_pixels
    assert near(pixel(page, "f", 2, 0), VIRIDIS_0)
    assert page.errors == []  # type: ignore[attr-defined]


def test_hovering_a_cell_shows_the_values_the_api_computed(page: Page) -> None:
    text = "a cat. a banana"
    open_page(page, f"model=counter&text={quote(text)}")
    t, unit = 5, 0  # the '.' after "a cat": unit 0 held the count of a's, 2, and forgets it
    page.locator(canvas("c")).scroll_into_view_if_needed()
    box = page.locator(canvas("c")).bounding_box()
    assert box is not None
    page.mouse.move(
        box["x"] + (t + 0.5) * box["width"] / len(text), box["y"] + (unit + 0.5) * box["height"] / 4
    )
    tooltip = page.locator("#tooltip")
    tooltip.wait_for(state="visible")
    answer = api_run(page, {"model": "counter", "text": text})
    shown = tooltip.inner_text()
    assert "t = 5" in shown and "unit 0" in shown and "“.”" in shown
    for gate in "figoch":
        value = tooltip.locator(f'dd[data-gate="{gate}"]').inner_text()
        assert float(value) == pytest.approx(answer["layers"][0][gate][t][unit], abs=5e-5), gate
    # The crosshair marks the same column on every heatmap at once.
    columns = page.eval_on_selector_all(".cross.v", "ns => ns.map(n => n.hidden ? null : n.style.left)")
    assert len(columns) == 6 and len(set(columns)) == 1 and columns[0] is not None
    shoot(page, "counter-hover")
    page.mouse.move(0, 0)
    tooltip.wait_for(state="hidden")


def test_a_url_draws_the_same_pixels_in_a_fresh_browser(browser: Browser, page: Page) -> None:
    query = "model=random-h32-l2-s0&text=" + quote("Hello, world! (twice)")
    open_page(page, query)
    first = all_pixels(page)
    assert len(first) == 12  # six heatmaps for each of the two layers
    other = browser.new_context(viewport={"width": 800, "height": 600})
    try:
        fresh = other.new_page()
        fresh.base = page.base  # type: ignore[attr-defined]
        open_page(fresh, query)
        assert all_pixels(fresh) == first
    finally:
        other.close()


def test_back_and_forward_redraw_the_earlier_view(page: Page) -> None:
    open_page(page, "model=counter&text=a.a")
    counter_pixels = all_pixels(page)
    before = runs(page)
    page.select_option("#model", "latch")
    wait_next_run(page, before)
    assert query_of(page)["model"] == ["latch"]
    latch_pixels = all_pixels(page)
    before = runs(page)
    page.go_back()
    wait_next_run(page, before)
    assert page.input_value("#model") == "counter"
    assert page.input_value("#sequence") == "a.a"
    assert all_pixels(page) == counter_pixels
    before = runs(page)
    page.go_forward()
    wait_next_run(page, before)
    assert page.input_value("#model") == "latch"
    assert all_pixels(page) == latch_pixels


def test_a_pinned_cell_travels_in_the_url(page: Page) -> None:
    open_page(page, "model=counter&text=ab.ab&t=1&unit=1&layer=0")
    readout = page.locator("#selection-text")
    assert "t = 1" in readout.inner_text() and "unit 1" in readout.inner_text()
    answer = api_run(page, {"model": "counter", "text": "ab.ab"})
    c_shown = float(readout.locator('dd[data-gate="c"]').inner_text())
    assert c_shown == pytest.approx(answer["layers"][0]["c"][1][1], abs=5e-5)
    assert page.locator('.panel[data-gate="f"] .pin').is_visible()
    # Clicking another cell pins it and rewrites the URL.
    box = page.locator(canvas("f")).bounding_box()
    assert box is not None
    page.mouse.click(box["x"] + 3.5 * box["width"] / 5, box["y"] + 0.5 * box["height"] / 4)
    page.wait_for_function("new URLSearchParams(location.search).get('t') === '3'")
    assert query_of(page)["unit"] == ["0"]
    assert "t = 3" in readout.inner_text()


def test_api_errors_appear_as_words_never_as_markup(page: Page) -> None:
    hostile = '<img src=x onerror="window.pwned=1">'
    open_page(page, "model=counter&text=" + quote(hostile))
    error = page.locator("#error")
    error.wait_for(state="visible")
    assert "'<' (U+003C) at position 0 is not in the vocabulary" in error.inner_text()
    assert page.locator("#error img").count() == 0
    assert page.evaluate("window.pwned === undefined")
    assert page.input_value("#sequence") == hostile
    shoot(page, "error")


def test_a_vector_model_reads_numbers(page: Page) -> None:
    open_page(page, "model=gated-sum&inputs=" + quote("0.5 1 -1 0.5"))
    assert page.eval_on_selector(canvas("c"), "c => [c.width, c.height]") == [4, 2]
    # unit 1 forgets at the negative input: its forget gate is dark there
    assert near(pixel(page, "f", 2, 1), VIRIDIS_0)
    before = runs(page)
    page.fill("#sequence", "0.5 banana")
    wait_next_run(page, before)
    assert '"banana" is not a number' in page.locator("#error").inner_text()


def test_an_emptied_box_is_explained_without_asking_the_server(page: Page) -> None:
    open_page(page, "model=counter&text=aa")
    asked: list[str] = []
    page.on("request", lambda r: asked.append(r.url) if r.url.endswith("/api/run") else None)
    before = runs(page)
    page.fill("#sequence", "")
    wait_next_run(page, before)
    assert "the sequence is empty" in page.locator("#error").inner_text()
    assert asked == [] and page.errors == []  # type: ignore[attr-defined]


def test_readable_on_a_phone_without_sideways_scrolling(browser: Browser, live_server: str) -> None:
    with phone(browser, live_server) as small:
        open_page(small, "model=counter&text=" + quote("a banana. an apple. aardvark"))
        assert_no_sideways_scroll(small)
        box = small.locator(canvas("f")).bounding_box()
        assert box is not None and box["width"] <= 390 and box["height"] >= 40
        shoot(small, "counter-phone")


def test_the_page_loads_nothing_from_other_hosts(page: Page) -> None:
    hosts = set()
    page.on("request", lambda r: hosts.add(urlparse(r.url).netloc))
    open_page(page, "model=counter&text=a.")
    assert hosts == {urlparse(page.base).netloc}  # type: ignore[attr-defined]
    assert page.errors == []  # type: ignore[attr-defined]


def test_the_api_docs_load_nothing_from_other_hosts(page: Page) -> None:
    hosts = set()
    page.on("request", lambda r: hosts.add(urlparse(r.url).netloc))
    page.goto(f"{page.base}/docs")  # type: ignore[attr-defined]
    page.get_by_text("/api/run").first.wait_for()
    assert hosts == {urlparse(page.base).netloc}  # type: ignore[attr-defined]
    shoot(page, "docs")


def test_the_picker_groups_the_models_as_the_api_says(page: Page, live_server: str) -> None:
    open_page(page, "model=counter&text=a")
    groups = page.eval_on_selector_all(
        "#model optgroup", "gs => gs.map(g => [g.label, Array.from(g.children, o => o.value)])"
    )
    listed = httpx.get(f"{live_server}/api/models").json()["models"]
    names = {"hand-built": "Built by hand", "trained": "Trained", "random": "Random"}
    want: dict[str, list[str]] = {}
    for m in listed:
        want.setdefault(names[m["group"]], []).append(m["id"])
    assert groups == [[label, ids] for label, ids in want.items()]
    assert [label for label, _ in groups] == ["Built by hand", "Trained", "Random"]
    assert "reset-count" in want["Trained"] and "counter" in want["Built by hand"]


def test_an_unknown_model_in_the_url_is_explained_and_the_picker_still_works(page: Page) -> None:
    open_page(page, "model=no-such-model&text=abc")
    error = page.locator("#error")
    assert "no model 'no-such-model'" in error.inner_text()
    assert "counter" in error.inner_text()  # the known ids are listed
    options = page.eval_on_selector_all("#model option", "os => os.map(o => o.value)")
    assert "counter" in options and "latch" in options
    assert page.input_value("#model") == ""  # a placeholder, so that picking any model is a change
    page.fill("#sequence", "abcd")  # typing without a model must not throw
    page.wait_for_timeout(400)
    # the 404 of the unknown id is logged by the browser; nothing else may be
    assert [e for e in page.errors if "Failed to load resource" not in e] == []  # type: ignore[attr-defined]
    before = runs(page)
    page.select_option("#model", "counter")
    wait_next_run(page, before)
    assert error.is_hidden()
    assert near(pixel(page, "f", 0, 0), VIRIDIS_1)


def test_step_and_unit_labels_sit_under_and_beside_their_cells(page: Page) -> None:
    open_page(page, "model=gated-sum&inputs=" + quote("0.5 1 -1"))  # 3 steps: a narrow heatmap
    box = page.locator(canvas("f")).bounding_box()
    assert box is not None
    ticks = page.locator('.panel[data-gate="f"] .xaxis .tick')
    assert ticks.count() == 3
    for t in range(3):
        tick = ticks.nth(t).bounding_box()
        assert tick is not None
        centre = tick["x"] + tick["width"] / 2
        assert abs(centre - (box["x"] + (t + 0.5) * box["width"] / 3)) <= 2, t
    units = page.locator('.panel[data-gate="f"] .yaxis .tick')
    for u in range(units.count()):
        tick = units.nth(u).bounding_box()
        assert tick is not None
        middle = tick["y"] + tick["height"] / 2
        assert abs(middle - (box["y"] + (int(units.nth(u).inner_text()) + 0.5) * box["height"] / 2)) <= 2


def test_a_newline_in_the_url_is_a_step_and_stays_in_the_box(page: Page) -> None:
    open_page(page, "model=counter&text=ab%0Acd")
    assert page.input_value("#sequence") == "ab\ncd"
    assert page.eval_on_selector(canvas("f"), "c => c.width") == 5
    assert "⏎" in page.locator('.panel[data-gate="f"] .xaxis').inner_text()


def test_the_help_lists_the_characters_a_model_reads(page: Page) -> None:
    open_page(page, "model=counter&text=a")
    help_text = page.locator("#sequence-help").inner_text()
    assert "a b c" in help_text and "␣" in help_text and "⏎" in help_text


def test_uploading_weights_switches_the_page_to_them(page: Page, tmp_path) -> None:
    import torch
    from safetensors.torch import save_file

    torch.manual_seed(0)
    model = torch.nn.LSTM(4, 3)
    path = tmp_path / "lstm.safetensors"
    save_file(model.state_dict(), str(path))
    open_page(page, "model=counter&text=a")
    page.click("#upload summary")
    page.set_input_files("#upload-file", str(path))
    page.fill("#upload-vocab", "xyz")  # 3 characters for 4 inputs: refused, in words
    page.click("#upload-form button[type=submit]")
    page.locator("#upload-error").filter(has_text="4 inputs per step").wait_for()
    before = runs(page)
    page.fill("#upload-vocab", "wxyz")
    page.fill("#upload-name", "my <b>LSTM</b>")
    page.click("#upload-form button[type=submit]")
    wait_next_run(page, before)
    model_id = query_of(page)["model"][0]
    assert model_id.startswith("up-")
    assert page.locator("#model-title").inner_text() == "my <b>LSTM</b>"  # text, not markup
    assert page.eval_on_selector(canvas("f"), "c => [c.height]") == [3]
    assert page.input_value("#model") == model_id
    assert "torch.nn.LSTM" in page.locator("#model-parity").inner_text()
    shoot(page, "uploaded")


def test_a_whole_models_torch_save_file_is_uploaded_from_the_page(page: Page, tmp_path) -> None:
    import torch

    torch.manual_seed(1)
    whole = torch.nn.ModuleDict({"encoder": torch.nn.LSTM(4, 3), "decoder": torch.nn.LSTM(3, 2)})
    path = tmp_path / "seq2seq.pt"
    torch.save(whole.state_dict(), path)
    open_page(page, "model=counter&text=a")
    page.click("#upload summary")
    page.set_input_files("#upload-file", str(path))
    page.fill("#upload-vocab", "wxyz")
    page.click("#upload-form button[type=submit]")
    page.locator("#upload-error").filter(has_text="the file holds 2 LSTMs").wait_for()
    before = runs(page)
    page.fill("#upload-module", "encoder")
    page.click("#upload-form button[type=submit]")
    wait_next_run(page, before)
    assert query_of(page)["model"][0].startswith("up-")
    assert page.eval_on_selector(canvas("f"), "c => [c.height]") == [3]  # the encoder's 3 units


def test_a_word_model_with_an_embedding_and_named_classes_is_uploaded_from_the_page(
    page: Page, live_server: str, tmp_path
) -> None:
    """Words typed with spaces and class names with commas reach the API as its JSON lists."""
    import torch

    torch.manual_seed(2)
    whole = torch.nn.ModuleDict(
        {"emb": torch.nn.Embedding(3, 2), "rnn": torch.nn.LSTM(2, 3), "out": torch.nn.Linear(3, 2)}
    )
    path = tmp_path / "tagger.pt"
    torch.save(whole.state_dict(), path)
    open_page(page, "model=counter&text=a")
    page.click("#upload summary")
    page.set_input_files("#upload-file", str(path))
    page.fill("#upload-tokens", "<unk>  the cat")
    page.fill("#upload-labels", "noun, other")
    before = runs(page)
    page.click("#upload-form button[type=submit]")
    wait_next_run(page, before)
    model_id = query_of(page)["model"][0]
    info = httpx.get(f"{live_server}/api/models/{model_id}").json()
    assert info["kind"] == "words" and info["words"] == ["<unk>", "the", "cat"]
    assert info["labels"] == ["noun", "other"]
    assert "embedding 'emb.' (3 × 2) folded into weight_ih_l0" in " ".join(info["conversion"]["steps"])
    assert page.eval_on_selector(canvas("f"), "c => [c.height]") == [3]


@pytest.mark.parametrize("model_id", ["bracket-depth", "python-chars"])
def test_a_trained_models_best_unit_can_be_picked(page: Page, live_server: str, model_id: str) -> None:
    card = httpx.get(f"{live_server}/api/models/{model_id}").json()["card"]
    best = card["units"][0]
    open_page(page, f"model={model_id}")
    page.locator("#model-card > summary").click()  # the chips are folded into the model card
    chip = page.locator("#model-units .unit-chip", has_text=f"unit {best['unit']}:")
    assert f"tracks {best['property']}" in chip.inner_text()
    chip.click()
    page.wait_for_function(f"new URLSearchParams(location.search).get('unit') === '{best['unit']}'")
    assert f"unit {best['unit']}" in page.locator("#selection-text").inner_text()
    assert page.locator('.panel[data-gate="c"] .pin').is_visible()
