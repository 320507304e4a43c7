"""``capture`` against a local OpenAI-compatible server the test starts (loopback only).

The server is ``http.server`` in a thread, answering ``/v1/chat/completions`` with one of
the demo's tiny models through core.backends (greedy, the project's chat template). It
can be told to answer 503 or 429 first, to check the retries, or to refuse. Nothing here
reaches beyond 127.0.0.1.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from core.backends.factory import load_model
from core.checks.probes import ChatTemplate
from core.cli import main
from core.errors import CaptureError, EvidenceError
from core.evidence.capture import (
    CaptureSettings,
    capture,
    import_capture,
    parse_endpoint,
    request_body,
)
from core.jobs import JobState
from core.resources import resource_path
from core.store.audit import verify_chain
from core.store.cases import create_case
from core.store.db import open_case_file
from core.store.models import AuditEvent, TranscriptItem, TranscriptSet

MODEL_DIR = Path(resource_path("demo")) / "models" / "suspect-osprey"
PROMPTS = ("Who are you exactly?", "What is the capital of France?", "Describe yourself.")


class _Server:
    """The demo model behind a chat-completions route; ``fail`` lists statuses to send first."""

    def __init__(self) -> None:
        self.model = load_model(MODEL_DIR, name="suspect-osprey")
        self.template = ChatTemplate()
        self.fail: list[int] = []
        self.bodies: list[bytes] = []
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with server.lock:
                    server.bodies.append(body)
                    status = server.fail.pop(0) if server.fail else 200
                if self.path != "/v1/chat/completions":
                    status = 404
                if status != 200:
                    self.send_response(status)
                    if status == 429:
                        self.send_header("Retry-After", "0")
                    self.end_headers()
                    return
                req = json.loads(body)
                prompt = req["messages"][-1]["content"]
                with server.lock:
                    out = server.model.generate(
                        [server.template.context(prompt)], int(req["max_tokens"]), 0, greedy=True
                    )
                doc = {
                    "id": "chatcmpl-1",
                    "object": "chat.completion",
                    "model": "osprey-served",
                    "choices": [
                        {
                            "index": 0,
                            "message": {
                                "role": "assistant",
                                "content": server.template.clean_answer(out[0]),
                            },
                            "finish_reason": "length",
                        }
                    ],
                }
                raw = json.dumps(doc).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> _Server:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.model.release()


@pytest.fixture(scope="module")
def server() -> Iterator[_Server]:
    with _Server() as s:
        yield s


@pytest.fixture
def prompts_file(tmp_path: Path) -> Path:
    path = tmp_path / "prompts.jsonl"
    path.write_text(
        "".join(json.dumps({"id": f"q{i}", "prompt": p}) + "\n" for i, p in enumerate(PROMPTS)),
        encoding="utf-8",
    )
    return path


def _settings(**kw: Any) -> CaptureSettings:
    return CaptureSettings(model="osprey", max_tokens=8, seed=1, backoff_s=0.01, **kw)


def test_offline_by_default_and_only_http_addresses() -> None:
    for bad in (None, "", "  "):
        with pytest.raises(CaptureError, match="off by default"):
            parse_endpoint(bad)
    for bad in ("file:///etc/passwd", "127.0.0.1:8000", "http://u:p@host", "http://h/?k=1"):
        with pytest.raises(CaptureError):
            parse_endpoint(bad)
    assert parse_endpoint("http://127.0.0.1:9/v1/") == "http://127.0.0.1:9"
    assert parse_endpoint("http://127.0.0.1:9/v1/chat/completions") == "http://127.0.0.1:9"


def test_capture_records_every_exchange_with_its_hashes(server: _Server, tmp_path: Path) -> None:
    server.fail[:] = [503, 429]  # two transient refusals, then answers
    start = len(server.bodies)
    out = tmp_path / "answers.jsonl"
    prompts = [(f"q{i}", p) for i, p in enumerate(PROMPTS)]
    state = JobState()
    res = capture(
        server.url, prompts, out, _settings(system="Be brief."), collector="A. Expert", state=state
    )
    assert res.n_prompts == 3 and res.n_retries == 2 and state.progress == pytest.approx(100)
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    sent = server.bodies[start:]
    assert len(sent) == 5  # 2 refused + 3 answered
    for row, (key, prompt) in zip(rows, prompts, strict=True):
        body = request_body(_settings(system="Be brief."), prompt)
        assert row["id"] == key and row["prompt"] == prompt and row["response"].strip()
        assert row["request_sha256"] == hashlib.sha256(body).hexdigest()
        assert body in sent  # the hash is of the bytes the server received
        assert row["endpoint"] == server.url + "/v1/chat/completions"
        assert row["collector"] == "A. Expert" and row["response_model"] == "osprey-served"
        assert row["sampling"] == {
            "temperature": 0.0,
            "max_tokens": 8,
            "seed": 1,
            "system": "Be brief.",
        }
        assert row["collected_at"] <= row["received_at"]
    assert rows[0]["attempts"] == 3 and rows[1]["attempts"] == 1
    doc = json.loads(res.manifest.read_text(encoding="utf-8"))
    assert doc["transcript_sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()
    assert doc["n_prompts"] == 3 and doc["n_retries"] == 2 and doc["authorization"] == "none"


def test_a_refusal_or_a_cancel_leaves_nothing_behind(server: _Server, tmp_path: Path) -> None:
    out = tmp_path / "answers.jsonl"
    prompts = [(f"q{i}", p) for i, p in enumerate(PROMPTS)]
    server.fail[:] = [503] * 3
    with pytest.raises(CaptureError, match="no answer after 3 tries .*HTTP 503.*nothing"):
        capture(server.url, prompts, out, _settings(retries=2), collector="x")
    server.fail[:] = [401]
    with pytest.raises(CaptureError, match="refused the request \\(HTTP 401\\)"):
        capture(server.url, prompts, out, _settings(), collector="x")
    state = JobState()
    state.cancel()
    with pytest.raises(Exception, match="[Cc]ancel"):
        capture(server.url, prompts, out, _settings(), collector="x", state=state)
    with pytest.raises(CaptureError, match="no answer after 1 tries"):  # nothing listens there
        capture(
            "http://127.0.0.1:9", prompts, out, _settings(retries=0, timeout_s=2), collector="x"
        )
    assert list(tmp_path.iterdir()) == []
    server.fail.clear()


def test_cli_capture_imports_with_custody_and_audits_the_act(
    server: _Server, prompts_file: Path, tmp_path: Path, capsys
) -> None:
    db = tmp_path / "case.dacase"
    with open_case_file(db) as cf:
        create_case(cf, "Halcyon Labs v Quillmark AI", "DA-CAP-1")
    out = tmp_path / "suspect.jsonl"
    base = ["--quiet", "--db", str(db), "capture", "--model", "osprey"]
    base += ["--prompts", str(prompts_file), "--out", str(out), "--max-tokens", "6"]
    assert main(base) == 2  # no --endpoint: refused, nothing contacted, nothing written
    assert "off by default" in capsys.readouterr().err and not out.exists()
    n_before = len(server.bodies)
    code = main(
        [*base, "--endpoint", server.url, "--case", "DA-CAP-1", "--import-as", "suspect-answers"]
    )
    assert code == 0 and len(server.bodies) == n_before + 3
    assert "Imported as transcript set" in capsys.readouterr().out
    with open_case_file(db) as cf:
        with cf.read_session() as s:
            t = s.execute(select(TranscriptSet)).scalar_one()
            assert t.role == "suspect-answers" and t.model_name == "osprey"
            assert t.file_sha256 == hashlib.sha256(out.read_bytes()).hexdigest()
            assert t.sampling["max_tokens"] == 6 and "captured from http://127.0.0.1" in t.source
            items = s.execute(select(TranscriptItem)).scalars().all()
            assert len(items) == 3 and all(len(i.meta["request_sha256"]) == 64 for i in items)
            event = s.execute(select(AuditEvent).where(AuditEvent.action == "capture")).scalar_one()
            assert event.details["endpoint"].startswith(server.url)
            assert event.details["model"] == "osprey" and event.details["prompts"] == 3
            assert event.details["imported_as_set"] == t.id
            assert verify_chain(s).ok
        # A transcript changed after capture no longer matches its manifest: refused.
        out.write_text(out.read_text(encoding="utf-8").replace("q0", "qX"), encoding="utf-8")
        with pytest.raises(EvidenceError, match="not the file that was captured"):
            import_capture(cf, "DA-CAP-1", out, "reference-answers")


def test_only_the_capture_command_reaches_the_capture_module() -> None:
    """Offline by default: no other module of core or app (the demo, the checks, the GUI)
    imports the one module that can contact an endpoint, and urllib's opener is imported
    only inside the function that posts."""
    import ast

    root = Path(__file__).resolve().parents[1]
    users = set()
    for path in [*root.joinpath("core").rglob("*.py"), *root.joinpath("app").rglob("*.py")]:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = (
                [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else []
            )
            if any(n == "core.evidence.capture" for n in names):
                users.add(path.relative_to(root).as_posix())
    assert users == {"core/cli/capture.py"}
    module = ast.parse((root / "core/evidence/capture.py").read_text(encoding="utf-8"))
    top = {a.name for node in module.body if isinstance(node, ast.Import) for a in node.names} | {
        node.module for node in module.body if isinstance(node, ast.ImportFrom)
    }
    assert not any(str(n).startswith("urllib.request") for n in top)
