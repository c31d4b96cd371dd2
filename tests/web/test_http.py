"""HTTP hardening: security headers on every answer, JSON and multipart endpoints that read
nothing else (415), and the app's own limit on request headers (431)."""

from __future__ import annotations

import re
import socket
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save as save_numpy

from app.web.headers import CSP
from tests.servers import start_uvicorn, stop
from tests.web.test_api import assert_refused

TEMPLATES = Path(__file__).resolve().parents[2] / "app" / "templates"
SECURITY = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "x-frame-options": "SAMEORIGIN",
}


def assert_secured(r) -> None:
    for name, value in SECURITY.items():
        assert r.headers.get(name) == value, (r.url, name, r.headers)
    assert r.headers.get("content-security-policy") == CSP, (r.url, r.headers)


def test_the_policy_runs_no_inline_script_and_loads_nothing_from_another_origin() -> None:
    directives = dict(d.strip().split(" ", 1) for d in CSP.split(";"))
    assert directives["default-src"] == "'self'"
    assert directives["script-src"] == "'self'"
    assert directives["frame-ancestors"] == "'self'"
    assert "unsafe-inline" not in CSP and "unsafe-eval" not in CSP
    assert not re.search(r"https?:|\*", CSP)  # no other origin, no wildcard


def test_every_answer_carries_the_security_headers(make_client) -> None:
    c = make_client(max_body_bytes=2048)
    link = c.post("/api/links", json={"model": "counter", "text": "ab."}).json()["id"]
    answers = [
        c.get("/"),
        c.get(f"/l/{link}"),
        c.get(f"/l/{link}.png"),
        c.get(f"/api/links/{link}"),
        c.get("/api/models"),
        c.get("/static/main.js"),
        c.get("/docs"),
        c.get("/openapi.json"),
        c.get("/healthz"),
        c.get("/no/such/page"),  # 404
        c.post("/api/run", json={"model": "counter", "text": "a" * 3000}),  # 413 from the body limit
        c.post("/api/run", json={"model": "counter", "text": "☃"}),  # 422
        c.get("/", headers={"x-big": "a" * 20_000}),  # 431
    ]
    assert [r.status_code for r in answers[-4:]] == [404, 413, 422, 431]
    for r in answers:
        assert_secured(r)


def test_the_page_templates_hold_no_inline_script_style_or_handler() -> None:
    for template in TEMPLATES.glob("*.html"):
        html = template.read_text()
        for tag in re.findall(r"<script\b[^>]*>", html):
            # a module from /static, or a JSON data block (never run)
            assert "src=" in tag or 'type="application/json"' in tag, (template.name, tag)
        assert not re.search(r"<style\b|\sstyle=|\son[a-z]+=|javascript:", html, re.I), template.name


def test_the_api_docs_load_their_start_up_script_from_here(client) -> None:
    page = client.get("/docs").text
    scripts = re.findall(r"<script\b([^>]*)>(.*?)</script>", page, re.S)
    assert scripts and all("src=" in attrs and not body.strip() for attrs, body in scripts), scripts
    assert '<script src="/docs/init.js"></script>' in page
    init = client.get("/docs/init.js")
    assert init.status_code == 200 and init.headers["content-type"].startswith("text/javascript")
    assert "SwaggerUIBundle(" in init.text and "/openapi.json" in init.text


NOT_JSON = {
    "text/plain": {
        "content": b'{"model": "counter", "text": "a"}',
        "headers": {"content-type": "text/plain"},
    },
    "form": {"data": {"model": "counter", "text": "a"}},
    "none": {"content": b'{"model": "counter", "text": "a"}'},
}


@pytest.mark.parametrize("path", ["/api/run", "/api/step", "/api/links"])
@pytest.mark.parametrize("sent", NOT_JSON, ids=NOT_JSON)
def test_json_endpoints_refuse_other_content_types_with_415(client, path: str, sent: str) -> None:
    r = client.post(path, **NOT_JSON[sent])
    said = {
        "text/plain": "'text/plain'",
        "form": "'application/x-www-form-urlencoded'",
        "none": "no Content-Type",
    }
    body = assert_refused(r, 415, ["Content-Type: application/json", said[sent]], ["header", "content-type"])
    assert body["accepts"] == "application/json"


def test_json_with_a_charset_is_json(client) -> None:
    r = client.post(
        "/api/run",
        content=b'{"model": "counter", "text": "a"}',
        headers={"content-type": "Application/JSON; charset=utf-8"},
    )
    assert r.status_code == 200, r.text


def test_uploads_take_multipart_only(client) -> None:
    weights = save_numpy({"weight_ih_l0": np.zeros((8, 2)), "weight_hh_l0": np.zeros((8, 2))})
    for sent, said in [
        ({"json": {"vocab": "ab"}}, "'application/json'"),
        ({"data": {"vocab": "ab"}}, "'application/x-www-form-urlencoded'"),
        ({"content": weights}, "no Content-Type"),
    ]:
        r = client.post("/api/models", **sent)
        body = assert_refused(r, 415, ["multipart/form-data", said], ["header", "content-type"])
        assert body["accepts"] == "multipart/form-data"
    ok = client.post("/api/models", files={"weights": ("w.safetensors", weights)}, data={"vocab": "ab"})
    assert ok.status_code == 200, ok.text


def test_an_upload_another_sites_page_posts_is_refused_and_stores_nothing(client) -> None:
    """A form on another site can post multipart without a preflight; its browser says so."""
    weights = save_numpy({"weight_ih_l0": np.ones((8, 2)), "weight_hh_l0": np.zeros((8, 2))})
    form = {"files": {"weights": ("w.safetensors", weights)}, "data": {"vocab": "ab"}}
    for site in ("cross-site", "same-site"):
        r = client.post("/api/models", headers={"Sec-Fetch-Site": site}, **form)
        assert_refused(r, 403, ["another web site's page", site], ["header", "sec-fetch-site"])
    for site in ("same-origin", "none"):  # the page itself; a typed address or a bookmark
        r = client.post("/api/models", headers={"Sec-Fetch-Site": site}, **form)
        assert r.status_code == 200 and r.json()["created"] is (site == "same-origin"), r.text


def test_request_headers_over_the_limit_are_refused_with_431(make_client) -> None:
    c = make_client()
    assert c.get("/healthz", headers={"x-big": "a" * 15_000}).status_code == 200
    r = c.get("/healthz", headers={"x-big": "a" * 17_000})
    body = assert_refused(r, 431, ["16384", "GATESCOPE_MAX_HEADER_BYTES"], ["header"])
    assert body["limit"] == 16384
    small = make_client(max_header_bytes=2048)
    assert_refused(small.get("/api/models", headers={"x-big": "a" * 3000}), 431, ["2048"], ["header"])


def test_uvicorn_serving_the_app_refuses_a_1_mb_header_too(tmp_path) -> None:
    proc, url = start_uvicorn({"GATESCOPE_DATA_DIR": str(tmp_path / "data")})
    try:
        port = int(url.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
            big = "a" * (1 << 20)
            s.sendall(
                f"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: {big}\r\nConnection: close\r\n\r\n".encode()
            )
            chunks = []
            while chunk := s.recv(65536):
                chunks.append(chunk)
        answer = b"".join(chunks).decode()
        assert answer.startswith("HTTP/1.1 431"), answer[:200]
        assert "GATESCOPE_MAX_HEADER_BYTES" in answer
    finally:
        stop(proc)


def test_an_upload_is_judged_by_its_headers_before_its_form_is_read(make_client) -> None:
    c = make_client(uploads_per_minute=1)
    broken = {
        "content": b"--x\r\nnot a part at all",
        "headers": {"Content-Type": "multipart/form-data; boundary=x"},
    }
    r = c.post("/api/models", **broken)
    assert r.status_code == 422 and r.json()["loc"] == [], r.text  # read: the form is malformed
    # the same broken form, from another site's page, or past the rate limit: never read
    cross = c.post(
        "/api/models",
        content=broken["content"],
        headers={**broken["headers"], "Sec-Fetch-Site": "cross-site"},
    )
    assert cross.status_code == 403, cross.text
    r = c.post("/api/models", **broken)
    assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1, r.text
    assert r.headers["content-security-policy"]


def test_share_pages_name_the_configured_address_whatever_the_host_header(make_client) -> None:
    for c, shown in [
        (make_client(), "http://evil.example"),
        (make_client(public_url="https://gs.example/"), "https://gs.example"),
    ]:
        lid = c.post("/api/links", json={"model": "counter", "text": "ab"}).json()["id"]
        page = c.get(f"/l/{lid}", headers={"Host": "evil.example"}).text
        assert f'<link rel="canonical" href="{shown}/l/{lid}">' in page, page[:600]
        assert f'content="{shown}/l/{lid}.png"' in page
