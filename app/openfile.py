"""`gatescope open FILE …`: uploads a weights file to a running Gatescope (GATESCOPE_URL), starting
one on this machine if none answers there, and prints the model's page URL.

Standard library only (urllib): the command must work wherever the package is installed, with no
HTTP client beyond what Python ships.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import app

DEFAULT_URL = "http://127.0.0.1:8000"
LOCAL_HOSTS = ("127.0.0.1", "localhost")  # the only hosts `open` starts a server for
HEALTH_TIMEOUT = 2.0  # seconds one /healthz probe may take
UPLOAD_TIMEOUT = 120.0  # seconds the upload (reading and checking the file) may take

Say = Callable[[str], None]


def add_command(sub: Any) -> None:
    """`open`, as a subcommand of `sub` (an argparse subparsers action)."""
    o = sub.add_parser(
        "open",
        help="upload a weights file to Gatescope (starting one locally if none runs) and print its page",
        description="Uploads FILE to the Gatescope at GATESCOPE_URL (default "
        f"{DEFAULT_URL}); if none answers there and the address is this machine's, starts one "
        "(uvicorn, in the background) first. Prints the model's page URL.",
    )
    o.add_argument("file", type=Path, help=".pt/.pth/.bin, .safetensors, .npz, .keras, .h5, .onnx")
    reads = o.add_mutually_exclusive_group()
    reads.add_argument("--vocab", help="the characters a text model reads, in one-hot order")
    reads.add_argument(
        "--tokens",
        type=Path,
        metavar="FILE",
        help="a word model's words in one-hot order: a JSON list, or one word a line",
    )
    reads.add_argument("--input-size", type=int, help="numbers per step, for a vector model")
    o.add_argument("--module", help="the LSTM's module prefix, when the file holds several (e.g. 'encoder.')")
    o.add_argument("--embedding", help="the module prefix of the embedding to fold into the first layer")
    o.add_argument("--head", help="the module prefix of the output layer after the LSTM")
    o.add_argument(
        "--labels",
        type=Path,
        metavar="FILE",
        help="the output layer's class names: a JSON list, or one a line",
    )
    o.add_argument("--name", help="the model's title on its page")
    o.add_argument(
        "--wait", type=float, default=60.0, help="seconds to wait for a server this command starts (60)"
    )


def words_of(path: Path, option: str) -> list[str]:
    """A list of names from a file: a JSON list of strings, or one name a line (blank lines skipped)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise SystemExit(f"gatescope open: cannot read {option} file {path}: {e}") from None
    if text.lstrip().startswith("["):
        try:
            items = json.loads(text)
        except ValueError as e:
            raise SystemExit(f"gatescope open: {option} file {path} is not a valid JSON list: {e}") from None
        if not isinstance(items, list) or not all(isinstance(w, str) for w in items):
            raise SystemExit(f"gatescope open: {option} file {path} must be a JSON list of strings")
        return items
    return [line.strip() for line in text.splitlines() if line.strip()]


def form_fields(a: argparse.Namespace) -> dict[str, str]:
    """The form fields of POST /api/models that the arguments give (absent ones are not sent)."""
    fields: dict[str, str] = {}
    if a.vocab is not None:
        fields["vocab"] = a.vocab
    if a.tokens is not None:
        fields["tokens"] = json.dumps(words_of(a.tokens, "--tokens"), ensure_ascii=False)
    if a.input_size is not None:
        fields["input_size"] = str(a.input_size)
    if a.labels is not None:
        fields["labels"] = json.dumps(words_of(a.labels, "--labels"), ensure_ascii=False)
    for key in ("module", "embedding", "head", "name"):
        value = getattr(a, key)
        if value is not None:
            fields[key] = value
    return fields


def multipart(fields: dict[str, str], filename: str, data: bytes) -> tuple[bytes, str]:
    """(body, Content-Type) of a multipart/form-data form: the fields, then the file as `weights`."""
    boundary = f"gatescope-{uuid.uuid4().hex}"
    parts = []
    for key, value in fields.items():
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n'.encode()
            + value.encode("utf-8")
            + b"\r\n"
        )
    quoted = filename.replace("\\", "_").replace('"', "_").replace("\r", "_").replace("\n", "_")
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="weights"; filename="{quoted}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n".encode()
        + data
        + b"\r\n"
    )
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def healthy(url: str) -> bool:
    """Whether a Gatescope answers at `url` (GET /healthz says {"status": "ok"})."""
    try:
        with urllib.request.urlopen(f"{url}/healthz", timeout=HEALTH_TIMEOUT) as r:
            return r.status == 200 and json.loads(r.read()).get("status") == "ok"
    except (OSError, ValueError, AttributeError):
        return False


def data_dir() -> Path:
    """Where a server this command starts keeps its models: GATESCOPE_DATA_DIR if set, else the
    user's data folder (not the working directory, which changes from one call to the next)."""
    if os.environ.get("GATESCOPE_DATA_DIR"):
        return Path(os.environ["GATESCOPE_DATA_DIR"])
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "gatescope"


def start_server(url: str, wait: float, say: Say) -> int:
    """Start `uvicorn app.main:app` on the URL's port of 127.0.0.1, in a session of its own so
    that it outlives this command; wait (at most `wait` seconds) until it answers. Its pid."""
    parsed = urllib.parse.urlsplit(url)
    port = parsed.port or 80
    folder = data_dir()
    folder.mkdir(parents=True, exist_ok=True)
    log_path = folder / "server.log"
    # The package's own folder first on the path: the server runs this very installation's app.
    root = str(Path(app.__file__).resolve().parents[1])
    env = {
        **os.environ,
        "GATESCOPE_DATA_DIR": str(folder),
        "PYTHONPATH": os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p),
    }
    args = [sys.executable, "-m", "uvicorn", "app.main:app", "--host", "127.0.0.1", "--port", str(port)]
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            args,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
    say(f"No Gatescope answered at {url}: started one (pid {proc.pid}), models kept in {folder}.")
    deadline = time.monotonic() + wait
    while not healthy(url):
        if proc.poll() is not None:
            raise SystemExit(
                f"gatescope open: the server it started exited (code {proc.returncode}); see {log_path}"
            )
        if time.monotonic() > deadline:
            raise SystemExit(
                f"gatescope open: the server it started (pid {proc.pid}) did not answer within "
                f"{wait:g} s; see {log_path}, and stop it with: kill {proc.pid}"
            )
        time.sleep(0.2)
    return proc.pid


def refusal_text(status: int, body: bytes) -> str:
    """The server's own message for a refused upload: {"error": …, "loc": […]}, or its raw text."""
    try:
        answer = json.loads(body)
        message = str(answer["error"])
        loc = answer.get("loc") or []
    except (ValueError, KeyError, TypeError):
        return f"the server refused the upload ({status}): {body[:500].decode('utf-8', 'replace')}"
    where = f" (at {'.'.join(str(p) for p in loc)})" if loc else ""
    return f"the server refused the upload ({status}): {message}{where}"


def upload(url: str, fields: dict[str, str], path: Path) -> dict[str, Any]:
    """POST the file and fields to {url}/api/models: the answer's JSON. SystemExit with the
    server's message if it refuses."""
    try:
        data = path.read_bytes()
    except OSError as e:
        raise SystemExit(f"gatescope open: cannot read {path}: {e}") from None
    body, content_type = multipart(fields, path.name, data)
    request = urllib.request.Request(
        f"{url}/api/models", data=body, method="POST", headers={"Content-Type": content_type}
    )
    try:
        with urllib.request.urlopen(request, timeout=UPLOAD_TIMEOUT) as r:
            return json.loads(r.read())
    except urllib.error.HTTPError as e:
        raise SystemExit(f"gatescope open: {refusal_text(e.code, e.read())}") from None
    except OSError as e:
        raise SystemExit(f"gatescope open: the upload to {url} failed: {e}") from None


def run(a: argparse.Namespace, out: IO[str] | None = None) -> int:
    """Upload (starting a server first if needed), print the page's URL. 0, or SystemExit."""
    stream = out or sys.stdout

    def say(line: str) -> None:  # the command's own output (what it is run for), not a log
        stream.write(line + "\n")
        stream.flush()

    url = (os.environ.get("GATESCOPE_URL") or DEFAULT_URL).rstrip("/")
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise SystemExit(f"gatescope open: GATESCOPE_URL must be an http(s) address, not {url!r}")
    fields = form_fields(a)  # the --tokens and --labels files are read before a server is started
    if not a.file.is_file():
        raise SystemExit(f"gatescope open: no file {a.file}")
    started = None
    if not healthy(url):
        if parsed.hostname not in LOCAL_HOSTS or parsed.scheme != "http":
            raise SystemExit(f"gatescope open: no Gatescope answers at {url} (GATESCOPE_URL)")
        started = start_server(url, a.wait, say)
    answer = upload(url, fields, a.file)
    model = answer.get("model", {})
    page = urllib.parse.urljoin(url + "/", answer["url"])
    say(
        f"{'Uploaded' if answer.get('created') else 'Already there'}: {model.get('title', answer['id'])} "
        f"({answer['id']}, {model.get('layers')} layer(s), H = {model.get('hidden_size')})"
    )
    if started is not None:
        say(f"The server keeps running in the background; stop it with: kill {started}")
    say(page)
    return 0
