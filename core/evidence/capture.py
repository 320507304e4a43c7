"""Capture a model's answers from an OpenAI-compatible chat endpoint, with full custody.

An API-only suspect or reference is known by its answers to the probe prompts. This
collects them: one ``POST {endpoint}/v1/chat/completions`` per prompt (``urllib``, no
other dependency), with progress and Cancel, retries with exponential backoff on 429 and
5xx answers and on network errors, and a hard per-request timeout. Every line of the
JSONL transcript records the prompt and the answer, the SHA-256 of the exact request body
sent and of the exact response body received, when each was sent and received, the
settings, the endpoint, the model asked for and the model that answered, and the
collector. A manifest beside it records the run (settings, counts, the prompts file's and
the transcript's hashes, a digest of every line's hashes).

Offline by default: nothing here runs unless an endpoint is given explicitly
(:func:`parse_endpoint` refuses anything else), and the demo and the checks never call it.
The file is written only when every prompt was answered (a temporary file renamed at the
end): a failure or a Cancel leaves nothing behind. :func:`import_capture` imports the
transcript after checking it against its manifest, so the case keeps both the file hash
and the per-item hashes, and records the capture in the case's audit log (event
``capture``: endpoint, model, counts) as the explicit act it is.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from http.client import HTTPException
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from core.errors import CaptureError, DistillAuditError, EvidenceError
from core.jobs import JobState

if TYPE_CHECKING:
    from core.store.db import CaseFile

CHAT_PATH = "/v1/chat/completions"
MANIFEST_SUFFIX = ".manifest.json"
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})
MAX_RESPONSE_BYTES = 8 * 1024 * 1024  # one answer; a larger body is refused, not stored


@dataclass(frozen=True)
class CaptureSettings:
    """What is sent with every prompt, and how patiently (all recorded with each line)."""

    model: str
    system: str | None = None
    temperature: float | None = 0.0
    max_tokens: int | None = 256
    seed: int | None = None
    timeout_s: float = 60.0  # hard limit of one request (connect and read)
    retries: int = 4  # further tries after the first, on 429 / 5xx / network errors
    backoff_s: float = 1.0  # the first wait; doubled on each retry (Retry-After wins, capped)
    max_backoff_s: float = 60.0

    def sampling(self) -> dict[str, Any]:
        """The settings that shape an answer (stored as the set's sampling)."""
        return {
            k: v
            for k, v in (
                ("temperature", self.temperature),
                ("max_tokens", self.max_tokens),
                ("seed", self.seed),
                ("system", self.system),
            )
            if v is not None
        }


@dataclass(frozen=True)
class CaptureResult:
    """What was collected, where it was written and its hashes."""

    out: Path
    manifest: Path
    endpoint: str
    model: str
    n_prompts: int
    n_retries: int
    file_sha256: str
    started_at: str
    finished_at: str
    response_models: tuple[str, ...] = ()
    manifest_doc: dict[str, Any] = field(default_factory=dict)


def parse_endpoint(endpoint: str | None) -> str:
    """The endpoint's base URL (no trailing slash, no ``/v1/...``); CaptureError unless an
    ``http(s)://host[:port][/prefix]`` URL was given explicitly (offline by default)."""
    if endpoint is None or not str(endpoint).strip():
        raise CaptureError(
            "Capture is off by default: it contacts a model's API only when you give its "
            "address explicitly (--endpoint URL)."
        )
    url = str(endpoint).strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise CaptureError(
            f"{endpoint!r} is not an http(s) address of an OpenAI-compatible API "
            "(e.g. http://127.0.0.1:8000)."
        )
    if parts.query or parts.fragment or parts.username or parts.password:
        raise CaptureError(
            f"{endpoint!r}: give the API's base address without a query, a fragment or "
            "credentials (a key goes in --api-key-env)."
        )
    for suffix in (CHAT_PATH, "/v1"):
        if url.endswith(suffix):
            url = url[: -len(suffix)]
    return url


def request_body(settings: CaptureSettings, prompt: str) -> bytes:
    """The exact bytes POSTed for one prompt (sorted keys, so the same request hashes alike)."""
    messages = []
    if settings.system:
        messages.append({"role": "system", "content": settings.system})
    messages.append({"role": "user", "content": prompt})
    body: dict[str, Any] = {"model": settings.model, "messages": messages}
    for key in ("temperature", "max_tokens", "seed"):
        value = getattr(settings, key)
        if value is not None:
            body[key] = value
    return json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _answer(raw: bytes, where: str) -> tuple[str, str, str | None]:
    """(answer text, the model that answered, finish reason) of a chat-completion body."""
    try:
        doc = json.loads(raw.decode("utf-8"))
        choice = doc["choices"][0]
        text = choice["message"]["content"]
    except (UnicodeDecodeError, ValueError, KeyError, IndexError, TypeError) as exc:
        raise CaptureError(
            f"{where}: the endpoint's answer is not an OpenAI-style chat completion "
            f"(choices[0].message.content): {exc.__class__.__name__}; nothing was written."
        ) from None
    if not isinstance(text, str):
        raise CaptureError(f"{where}: the answer's content is not text; nothing was written.")
    return text, str(doc.get("model") or ""), choice.get("finish_reason")


def _wait(seconds: float, state: JobState, sleep: Callable[[float], None]) -> None:
    """Sleep in short steps so that Cancel is honoured during a backoff."""
    end = time.monotonic() + seconds
    while (left := end - time.monotonic()) > 0:
        state.check_cancelled()
        sleep(min(0.2, left))


def _retry_after(headers: Any, default: float, cap: float) -> float:
    value = headers.get("Retry-After") if headers is not None else None
    try:
        return min(cap, max(0.0, float(value))) if value is not None else default
    except ValueError:
        return default


def post_once(
    url: str, body: bytes, settings: CaptureSettings, api_key: str | None
) -> tuple[int, bytes, Any]:
    """One POST: (status, body, headers). HTTP errors come back as their status, network
    errors raise OSError (urllib's URLError and timeouts are OSErrors)."""
    import urllib.error
    import urllib.request

    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    req = urllib.request.Request(url, data=body, headers=headers, method="POST")

    class _NoRedirect(urllib.request.HTTPRedirectHandler):
        """A redirect is refused (HTTP 3xx): the answers must come from the endpoint given."""

        def redirect_request(self, *args: Any, **kwargs: Any) -> None:
            return None

    handlers: list[Any] = [_NoRedirect()]
    if urlsplit(url).hostname in LOOPBACK:
        handlers.append(urllib.request.ProxyHandler({}))  # loopback never goes through a proxy
    opener = urllib.request.build_opener(*handlers)
    try:
        with opener.open(req, timeout=settings.timeout_s) as resp:
            raw = resp.read(MAX_RESPONSE_BYTES + 1)
            return int(resp.status), raw, resp.headers
    except urllib.error.HTTPError as exc:
        raw = exc.read(MAX_RESPONSE_BYTES + 1) if exc.fp is not None else b""
        return int(exc.code), raw, exc.headers


def _exchange(
    url: str,
    body: bytes,
    settings: CaptureSettings,
    api_key: str | None,
    where: str,
    state: JobState,
    sleep: Callable[[float], None],
) -> tuple[bytes, int, str, str]:
    """POST with retries: (response body, attempts, sent_at, received_at) of the success."""
    wait = settings.backoff_s
    last = ""
    for attempt in range(1, settings.retries + 2):
        state.check_cancelled()
        sent = _now()
        headers: Any = None
        try:
            status, raw, headers = post_once(url, body, settings, api_key)
        except (OSError, HTTPException) as exc:  # refused, reset, timed out, cut short
            status, raw, last = 0, b"", f"{exc.__class__.__name__}: {exc}"
        received = _now()
        if len(raw) > MAX_RESPONSE_BYTES:
            raise CaptureError(f"{where}: the answer is larger than 8 MiB; nothing was written.")
        if status == 200:
            return raw, attempt, sent, received
        if status and status not in RETRY_STATUSES:
            raise CaptureError(
                f"{where}: the endpoint refused the request (HTTP {status}); nothing was "
                "written. Check the model name, the key and the address."
            )
        if status:
            last = f"HTTP {status}"
        if attempt <= settings.retries:
            delay = _retry_after(headers, wait, settings.max_backoff_s) if status else wait
            state.set_status(f"{where}: {last}; trying again in {delay:.3g} s")
            _wait(delay, state, sleep)
            wait = min(settings.max_backoff_s, wait * 2)
    raise CaptureError(
        f"{where}: no answer after {settings.retries + 1} tries (last: {last}); nothing was "
        "written."
    )


def capture(
    endpoint: str | None,
    prompts: Sequence[tuple[str, str]],
    out: str | Path,
    settings: CaptureSettings,
    *,
    collector: str,
    prompts_sha256: str | None = None,
    api_key: str | None = None,
    state: JobState | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> CaptureResult:
    """Put every ``(key, prompt)`` to the endpoint and write the transcript and its manifest.

    All or nothing: CaptureError (or Cancelled) leaves no file behind. ``collector`` is who
    collected the answers (recorded on every line); the key, when given, is never recorded.
    """
    state = state or JobState()
    base = parse_endpoint(endpoint)
    if not settings.model.strip():
        raise CaptureError("Name the model to ask (--model NAME): it is sent and recorded.")
    if not prompts:
        raise EvidenceError("The prompt set holds no prompts; nothing was captured.")
    keys = [k for k, _ in prompts]
    if len(set(keys)) != len(keys):
        raise EvidenceError("The prompt set repeats an id; each prompt needs its own id.")
    out = Path(out)
    manifest_path = out.with_name(out.name + MANIFEST_SUFFIX)
    url = base + CHAT_PATH
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.partial")
    started = _now()
    retries = 0
    models: set[str] = set()
    lines = hashlib.sha256()
    host = urlsplit(base).netloc
    try:
        with tmp.open("w", encoding="utf-8", newline="\n") as fh:
            for n, (key, prompt) in enumerate(prompts):
                where = f"prompt {n + 1} of {len(prompts)} ({key})"
                state.set_status(f"Asking {settings.model} at {host}: {where}")
                body = request_body(settings, prompt)
                raw, attempts, sent, received = _exchange(
                    url, body, settings, api_key, where, state, sleep
                )
                retries += attempts - 1
                text, answered_by, finish = _answer(raw, where)
                models.add(answered_by)
                row = {
                    "id": key,
                    "prompt": prompt,
                    "response": text,
                    "model": settings.model,
                    "response_model": answered_by,
                    "provider": host,
                    "endpoint": url,
                    "collector": collector,
                    "collected_at": sent,
                    "received_at": received,
                    "sampling": settings.sampling(),
                    "request_sha256": _sha(body),
                    "response_sha256": _sha(raw),
                    "finish_reason": finish,
                    "attempts": attempts,
                }
                line = json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n"
                lines.update(f"{row['request_sha256']}:{row['response_sha256']}\n".encode())
                fh.write(line)
                state.set_progress(n + 1, len(prompts))
            fh.flush()
            os.fsync(fh.fileno())
        file_hash = _sha(tmp.read_bytes())
        finished = _now()
        doc = {
            "kind": "distill-audit capture",
            "endpoint": url,
            "model": settings.model,
            "response_models": sorted(models),
            "settings": {
                k: v for k, v in asdict(settings).items() if k != "model" and v is not None
            },
            "collector": collector,
            "authorization": "bearer key given (not recorded)" if api_key else "none",
            "started_at": started,
            "finished_at": finished,
            "n_prompts": len(prompts),
            "n_retries": retries,
            "prompts_sha256": prompts_sha256,
            "transcript": out.name,
            "transcript_sha256": file_hash,
            "exchanges_sha256": lines.hexdigest(),
        }
        manifest_tmp = manifest_path.with_name(f".{manifest_path.name}.{os.getpid()}.partial")
        manifest_tmp.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n", "utf-8")
        os.replace(tmp, out)
        os.replace(manifest_tmp, manifest_path)
    except BaseException:  # failure, Cancel or Ctrl-C: no partial transcript is left behind
        tmp.unlink(missing_ok=True)
        manifest_path.with_name(f".{manifest_path.name}.{os.getpid()}.partial").unlink(
            missing_ok=True
        )
        raise
    return CaptureResult(
        out,
        manifest_path,
        url,
        settings.model,
        len(prompts),
        retries,
        file_hash,
        started,
        finished,
        tuple(sorted(models)),
        doc,
    )


def read_manifest(out: str | Path) -> dict[str, Any]:
    """The manifest written beside a captured transcript, checked against the file's hash.

    EvidenceError when it is missing or unreadable, or when the transcript's SHA-256 is not
    the one the manifest recorded (the file changed after it was captured).
    """
    from core.evidence.hashing import sha256_file

    out = Path(out)
    path = out.with_name(out.name + MANIFEST_SUFFIX)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise EvidenceError(
            f"{out.name}: its capture manifest {path.name} is missing or unreadable ({exc})."
        ) from None
    if not isinstance(doc, dict) or doc.get("kind") != "distill-audit capture":
        raise EvidenceError(f"{path.name} is not a distill-audit capture manifest.")
    if sha256_file(out) != doc.get("transcript_sha256"):
        raise EvidenceError(
            f"{out.name} is not the file that was captured: its SHA-256 differs from the one "
            f"its manifest {path.name} recorded; nothing was imported."
        )
    return doc


def _exchanges_digest(out: Path) -> tuple[str, int]:
    """The digest of every line's request and response hashes, and the number of lines."""
    digest, n = hashlib.sha256(), 0
    with out.open("r", encoding="utf-8") as fh:
        for number, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                pair = f"{row['request_sha256']}:{row['response_sha256']}\n"
            except (ValueError, KeyError, TypeError):
                raise EvidenceError(
                    f"{out.name}, line {number}: not a captured exchange (no request and "
                    "response hashes)."
                ) from None
            digest.update(pair.encode())
            n += 1
    return digest.hexdigest(), n


def import_capture(
    cf: CaseFile,
    case_key: int | str,
    out: str | Path,
    role: str,
    *,
    name: str | None = None,
    actor: str | None = None,
    state: JobState | None = None,
) -> int:
    """Import a captured transcript (checked against its manifest) as ``role``; the set id.

    The set records the endpoint, the model, the settings and the collector from the
    manifest; its items keep each exchange's request and response hashes as metadata.
    """
    from core.evidence.importer import import_transcripts
    from core.store.vocabulary import ANSWERS_ROLES

    if role not in ANSWERS_ROLES:
        raise DistillAuditError(
            f"A capture is one model's answers: import it as {' or '.join(ANSWERS_ROLES)}."
        )
    out = Path(out)
    doc = read_manifest(out)
    exchanges, n = _exchanges_digest(out)
    if exchanges != doc.get("exchanges_sha256") or n != doc.get("n_prompts"):
        raise EvidenceError(
            f"{out.name}: its exchanges do not match the manifest's record of them; nothing "
            "was imported."
        )
    settings = doc.get("settings") or {}
    sampling = {
        k: settings[k] for k in ("temperature", "max_tokens", "seed", "system") if k in settings
    }
    return import_transcripts(
        cf,
        case_key,
        out,
        role,
        name=name,
        source=f"captured from {doc.get('endpoint')} ({doc.get('started_at')} to "
        f"{doc.get('finished_at')}); manifest SHA-256 "
        f"{_sha(out.with_name(out.name + MANIFEST_SUFFIX).read_bytes())}",
        provider=urlsplit(str(doc.get("endpoint"))).netloc,
        model_name=str(doc.get("model") or ""),
        sampling=sampling,
        collector=str(doc.get("collector") or ""),
        actor=actor,
        state=state,
    )


def record_capture(
    cf: CaseFile,
    case_key: int | str,
    result: CaptureResult,
    *,
    imported_set: int | None = None,
    actor: str | None = None,
) -> None:
    """The capture in the case's audit log: an explicit act of contacting a model's API."""
    from core.store import audit
    from core.store.cases import get_case

    with cf.session() as s:
        case_id = get_case(s, case_key).id
        audit.record(
            s,
            "capture",
            "case",
            case_id,
            case_id=case_id,
            actor=actor,
            details={
                "endpoint": result.endpoint,
                "model": result.model,
                "response_models": list(result.response_models),
                "prompts": result.n_prompts,
                "answers": result.n_prompts,
                "retries": result.n_retries,
                "transcript": str(result.out.resolve()),
                "transcript_sha256": result.file_sha256,
                "manifest_sha256": _sha(result.manifest.read_bytes()),
                "started_at": result.started_at,
                "finished_at": result.finished_at,
                "imported_as_set": imported_set,
            },
        )
