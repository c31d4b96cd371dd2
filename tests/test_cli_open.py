"""`gatescope open FILE`: against a real uvicorn on 127.0.0.1, the file is uploaded and the printed
URL opens the model; a refusal prints the server's message; with no server, one is started."""

from __future__ import annotations

import io
import json
import os
import re
import signal
import time
import urllib.parse
import urllib.request

import pytest
import torch

from app import cli
from tests.servers import free_port, start_uvicorn, stop


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    proc, url = start_uvicorn({"GATESCOPE_DATA_DIR": str(tmp_path_factory.mktemp("data"))})
    yield url
    stop(proc)


def torch_file(tmp_path, input_size: int = 3, hidden: int = 4, seed: int = 0):
    torch.manual_seed(seed)
    lstm = torch.nn.LSTM(input_size, hidden, num_layers=2)
    path = tmp_path / "lstm.pt"
    torch.save(lstm.state_dict(), path)
    return path


def open_file(monkeypatch, url: str, *args: str) -> tuple[int, str]:
    """Run `gatescope open …` in this process against `url`: (exit code, what it printed)."""
    monkeypatch.setenv("GATESCOPE_URL", url)
    out = io.StringIO()
    parsed = cli.parser().parse_args(["open", *args])
    from app import openfile

    try:
        code = openfile.run(parsed, out)
    except SystemExit as e:
        return (1 if e.code is None or isinstance(e.code, str) else e.code), str(e.code)
    return code, out.getvalue()


def model_of(page: str) -> dict:
    """GET /api/models/{id} for the model a printed page URL shows."""
    parsed = urllib.parse.urlsplit(page)
    model_id = urllib.parse.parse_qs(parsed.query)["model"][0]
    with urllib.request.urlopen(f"{parsed.scheme}://{parsed.netloc}/api/models/{model_id}") as r:
        return json.loads(r.read())


def test_a_torch_saved_file_is_uploaded_and_the_printed_url_opens_it(server, monkeypatch, tmp_path):
    code, printed = open_file(
        monkeypatch, server, str(torch_file(tmp_path)), "--input-size", "3", "--name", "mine"
    )
    assert code == 0
    page = printed.strip().splitlines()[-1]
    assert re.fullmatch(re.escape(server) + r"/\?model=up-[0-9a-z]+", page), printed
    info = model_of(page)
    assert (info["title"], info["kind"], info["size"], info["hidden_size"], info["layers"]) == (
        "mine",
        "vector",
        3,
        4,
        2,
    )
    assert "started" not in printed  # a server answered: none was started


def test_a_refused_upload_prints_the_servers_message_and_fails(server, monkeypatch, tmp_path):
    code, printed = open_file(monkeypatch, server, str(torch_file(tmp_path)), "--input-size", "5")
    assert code == 1
    assert printed == (
        "gatescope open: the server refused the upload (422): input_size is 5 but the weights take 3 "
        "inputs per step (weight_ih_l0 is (16, 3)) (at input_size)"
    )


def test_the_tokens_file_is_sent_as_a_json_list_of_words(monkeypatch, tmp_path):
    words = tmp_path / "words.txt"
    words.write_text("the\ncat\n\nsat\n")
    a = cli.parser().parse_args(["open", "m.pt", "--tokens", str(words), "--module", "rnn."])
    from app import openfile

    assert openfile.form_fields(a) == {"tokens": '["the", "cat", "sat"]', "module": "rnn."}


def test_with_no_server_answering_it_starts_one_that_keeps_running(monkeypatch, tmp_path):
    monkeypatch.setenv("GATESCOPE_DATA_DIR", str(tmp_path / "data"))
    url = f"http://127.0.0.1:{free_port()}"
    started = time.monotonic()
    code, printed = open_file(monkeypatch, url, str(torch_file(tmp_path)), "--input-size", "3")
    pids = {int(p) for p in re.findall(r"kill (\d+)", printed)}
    try:
        assert code == 0, printed
        assert len(pids) == 1, printed
        assert f"No Gatescope answered at {url}: started one (pid {next(iter(pids))})" in printed
        page = printed.strip().splitlines()[-1]
        assert page.startswith(f"{url}/?model=up-")
        # the command has returned; the server it started still serves the model
        assert model_of(page)["hidden_size"] == 4
        assert (tmp_path / "data").is_dir()
        print(f"started, uploaded and answered in {time.monotonic() - started:.1f} s")
    finally:
        for pid in pids:
            os.killpg(pid, signal.SIGTERM)  # its own session: the server and nothing else


def test_with_no_server_at_another_host_it_starts_none(monkeypatch, tmp_path):
    code, printed = open_file(
        monkeypatch, "http://192.0.2.1:9", str(torch_file(tmp_path)), "--input-size", "3"
    )
    assert (code, printed) == (
        1,
        "gatescope open: no Gatescope answers at http://192.0.2.1:9 (GATESCOPE_URL)",
    )


def test_the_train_commands_parse_as_before():
    a = cli.parser().parse_args(["train", "reset-count", "--out", "m.safetensors"])
    assert (a.command, a.task, a.hidden) == ("train", "reset-count", None)
