"""Custody of the evidence: verify before use, and records bound to the audit chain.

Two gaps this closes (issue 19, items 2 and 4):

* **Verify before use.** A check, an experiment or a report reads evidence files that
  were hashed at import; they may have changed since. :func:`verify_artifact` re-hashes
  exactly the files of a model's manifest (streamed, with progress) and
  :func:`verify_transcript_set` re-hashes every stored transcript item against its
  per-item hash; both raise :class:`~core.errors.EvidenceChangedError` naming each
  difference, before anything is computed. A :class:`HashCache` (one per run, shared by
  :func:`hash_cache`) hashes a file read twice once, keyed by path, size, mtime, ctime
  and inode, so a file rewritten in between is hashed again.
* **Records the database cannot forge alone.** The case file's own record of the
  evidence (a model's manifest, a transcript's items) could be edited in SQL together
  with the files, and re-hashing would then agree with the forgery. So each import
  event (hash-chained, append-only) carries a binding of the row (:func:`model_binding`,
  :func:`transcript_binding`), and :func:`check_case_records` compares every row with the
  event that created it, naming the file, item or field that differs. Events written
  before bindings existed still verify: what they recorded (the file list of a model,
  the file hash and count of a transcript) is compared, and a note says which parts of
  the record are not bound.

The event itself is trusted as far as its own hash (:func:`core.store.audit.event_intact`)
here; ``audit verify`` walks the whole chain and, with an exported anchor
(core.store.anchor), catches a chain recomputed after editing.
"""

from __future__ import annotations

import contextvars
import hashlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.errors import EvidenceChangedError, NotFoundError
from core.evidence.hashing import FileHash, manifest_digest, sha256_file
from core.evidence.transcripts import TranscriptRecord
from core.jobs import JobState
from core.store.audit import event_intact
from core.store.db import CaseFile
from core.store.models import AuditEvent, ModelArtifact, TranscriptItem, TranscriptSet

BINDING_VERSION = 1
MODEL_IMPORTED = "evidence.model_imported"
TRANSCRIPTS_IMPORTED = "evidence.transcripts_imported"
BLOCK = 1000  # transcript items per bound block digest: a mismatch is named to the block
SHOWN = 20  # differences listed per item of evidence (the count says how many in all)


# --- hashing, once per file per run ---------------------------------------------------


class HashCache:
    """SHA-256 of the files hashed in one run, keyed by what identifies their bytes."""

    def __init__(self) -> None:
        self._known: dict[tuple[str, int, int, int, int], str] = {}
        self.hashed = 0  # files actually read (the rest came from the cache)

    @staticmethod
    def _key(path: Path) -> tuple[str, int, int, int, int]:
        st = path.stat()
        return (str(path.resolve()), st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)

    def sha256(self, path: Path, state: JobState | None = None) -> str:
        """The file's SHA-256, streamed with progress unless this run has hashed it already."""
        key = self._key(path)
        known = self._known.get(key)
        if known is not None:
            return known
        digest = sha256_file(path, state, 0, key[1])
        self.hashed += 1
        if self._key(path) == key:  # not cached when the file changed while being read
            self._known[key] = digest
        return digest


_ACTIVE: contextvars.ContextVar[HashCache | None] = contextvars.ContextVar(
    "distill_audit_hash_cache", default=None
)


@contextmanager
def hash_cache() -> Iterator[HashCache]:
    """One cache for every verification inside the block (one run); nested blocks share it."""
    current = _ACTIVE.get()
    if current is not None:
        yield current
        return
    cache = HashCache()
    token = _ACTIVE.set(cache)
    try:
        yield cache
    finally:
        _ACTIVE.reset(token)


def _cache(cache: HashCache | None) -> HashCache:
    return cache or _ACTIVE.get() or HashCache()


def file_status(
    path: Path, expected: str, cache: HashCache | None = None, state: JobState | None = None
) -> tuple[str, str | None]:
    """``(status, actual sha256)`` of one evidence file: ok | changed | missing."""
    if not path.is_file():
        return "missing", None
    actual = _cache(cache).sha256(path, state)
    return ("ok" if actual == expected else "changed"), actual


# --- bindings: what an import event records about the row it creates ----------------


def item_hash(key: str, prompt: str, response: str) -> str:
    """A transcript item's content hash, exactly as the importer computes it."""
    return TranscriptRecord(0, key, prompt, response, None).sha256()


class ItemsDigest:
    """Digest over transcript item hashes in order, with one digest per block of items."""

    def __init__(self) -> None:
        self._all = hashlib.sha256()
        self._block = hashlib.sha256()
        self.count = 0
        self.blocks: list[str] = []

    def add(self, sha256: str) -> None:
        line = (sha256 + "\n").encode()
        self._all.update(line)
        self._block.update(line)
        self.count += 1
        if self.count % BLOCK == 0:
            self.blocks.append(self._block.hexdigest())
            self._block = hashlib.sha256()

    def finish(self) -> tuple[str, list[str]]:
        blocks = list(self.blocks)
        if self.count % BLOCK:
            blocks.append(self._block.hexdigest())
        return self._all.hexdigest(), blocks


def model_binding(art: ModelArtifact) -> dict[str, Any]:
    """The binding an import event records for a model row (its manifest is in ``files``)."""
    return {
        "version": BINDING_VERSION,
        "record": {
            "case_id": art.case_id,
            "role": art.role,
            "format": art.format,
            "path": art.path,
            "manifest_sha256": art.manifest_sha256,
            "total_size": art.total_size,
            "tokenizer_hash": art.tokenizer_hash,
        },
    }


def transcript_binding(tset: TranscriptSet, digest: ItemsDigest) -> dict[str, Any]:
    """The binding an import event records for a transcript set and its items in order."""
    items_sha256, blocks = digest.finish()
    return {
        "version": BINDING_VERSION,
        "record": {
            "case_id": tset.case_id,
            "role": tset.role,
            "source_path": tset.source_path,
            "file_sha256": tset.file_sha256,
            "file_size": tset.file_size,
            "item_count": tset.item_count,
        },
        "items_sha256": items_sha256,
        "block_size": BLOCK,
        "item_blocks": blocks,
    }


# --- cross-checking rows against their import events ----------------------------------


@dataclass(frozen=True)
class Difference:
    """One thing that no longer matches: a file, an item or a field of the record."""

    subject: str  # the file path, "item KEY", "items 1000-1999" or the field name
    status: str  # changed | missing | altered (the case file's record was edited)
    what: str
    expected: str | None = None  # the value recorded at import
    found: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class Custody:
    """The outcome for one item of evidence: its differences and notes."""

    kind: str  # model | transcripts
    id: int
    name: str
    bound: bool = True  # False: imported before records were bound to the audit chain
    differences: list[Difference] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.differences

    def label(self) -> str:
        return f"{'model' if self.kind == 'model' else 'transcript set'} {self.id} ({self.name})"

    def summary(self) -> str:
        shown = "; ".join(f"{d.subject}: {d.what}" for d in self.differences[:SHOWN])
        more = len(self.differences) - SHOWN
        return f"{self.label()}: {shown}" + (f"; and {more} more" if more > 0 else "")

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "id": self.id,
            "name": self.name,
            "ok": self.ok,
            "bound": self.bound,
            "differences": [d.to_dict() for d in self.differences],
            "notes": list(self.notes),
        }


def _short(h: object) -> str:
    return f"{str(h)[:16]}…" if h else "nothing"


def import_events(s: Session, entity: str, ids: Iterable[int]) -> dict[int, AuditEvent]:
    """The import event of each row id (the latest, should SQLite have reused an id)."""
    action = MODEL_IMPORTED if entity == "model_artifact" else TRANSCRIPTS_IMPORTED
    wanted = {str(i) for i in ids}
    found: dict[int, AuditEvent] = {}
    if not wanted:
        return found
    events = s.execute(
        select(AuditEvent)
        .where(AuditEvent.action == action, AuditEvent.entity == entity)
        .order_by(AuditEvent.id)
    ).scalars()
    for ev in events:
        if ev.entity_id in wanted:
            found[int(ev.entity_id)] = ev
    return found


def _event_usable(c: Custody, ev: AuditEvent | None) -> dict[str, Any] | None:
    if ev is None:
        c.differences.append(
            Difference(
                "record",
                "altered",
                "the audit log has no import event for it: the record was added to the case "
                "file outside Distill Audit, or the end of the audit log was cut off",
            )
        )
        return None
    if not event_intact(ev):
        c.differences.append(
            Difference(
                "record",
                "altered",
                f"its import event {ev.id} was altered after it was written, so the record "
                "cannot be checked against it (`audit verify` names the break)",
            )
        )
        return None
    return dict(ev.details or {})


def _shown(value: object) -> str:
    text = str(value)
    is_hash = len(text) == 64 and all(ch in "0123456789abcdef" for ch in text)
    return _short(text) if is_hash else repr(value)


def _compare_fields(c: Custody, recorded: dict[str, Any], row: dict[str, Any]) -> None:
    for name, value in recorded.items():
        if name in row and row[name] != value:
            c.differences.append(
                Difference(
                    name,
                    "altered",
                    f"the case file now records {_shown(row[name])}; its import recorded "
                    f"{_shown(value)}",
                    None if value is None else str(value),
                    None if row[name] is None else str(row[name]),
                )
            )


def check_model_record(art: ModelArtifact, ev: AuditEvent | None) -> Custody:
    """Compare a model row (manifest, hashes, path, role) with its import event."""
    c = Custody("model", art.id, art.name)
    details = _event_usable(c, ev)
    if details is None:
        return c
    binding = details.get("binding")
    c.bound = isinstance(binding, dict) and binding.get("version") == BINDING_VERSION
    recorded_files = {str(e["path"]): e for e in details.get("files") or []}
    row_files = {str(e["path"]): e for e in art.manifest or []}
    for path in sorted(set(recorded_files) | set(row_files)):
        was, now = recorded_files.get(path), row_files.get(path)
        if was is None:
            c.differences.append(
                Difference(path, "altered", "added to the manifest after import", None, None)
            )
        elif now is None:
            c.differences.append(
                Difference(path, "altered", "removed from the manifest after import", was["sha256"])
            )
        elif was["sha256"] != now["sha256"] or was.get("size") != now.get("size"):
            c.differences.append(
                Difference(
                    path,
                    "altered",
                    f"the manifest now records SHA-256 {_short(now['sha256'])}; the import "
                    f"recorded {_short(was['sha256'])}",
                    was["sha256"],
                    now["sha256"],
                )
            )
    try:
        computed = manifest_digest(
            [FileHash(str(e["path"]), str(e["sha256"]), int(e["size"])) for e in art.manifest]
        )
    except (KeyError, TypeError, ValueError):
        computed = ""
    if computed != art.manifest_sha256:
        c.differences.append(
            Difference(
                "manifest_sha256",
                "altered",
                "the manifest digest does not match the manifest it summarises",
                art.manifest_sha256,
                computed,
            )
        )
    row = model_binding(art)["record"]
    recorded = (
        binding["record"]
        if c.bound and isinstance(binding, dict)
        else {k: details[k] for k in ("role", "format", "path", "manifest_sha256") if k in details}
    )
    _compare_fields(c, recorded, row)
    if not c.bound:
        c.notes.append(
            f"{c.label()} was imported before records were bound to the audit chain: its "
            "manifest, role, format and path are checked against its import event; its "
            "case, total size and tokenizer hash are not bound."
        )
    return c


def check_transcript_record(
    s: Session, tset: TranscriptSet, ev: AuditEvent | None, state: JobState | None = None
) -> Custody:
    """Re-hash every item of a transcript set and compare the set with its import event."""
    c = Custody("transcripts", tset.id, tset.name)
    digest = ItemsDigest()
    rows = s.execute(
        select(
            TranscriptItem.ordinal,
            TranscriptItem.item_key,
            TranscriptItem.prompt,
            TranscriptItem.response,
            TranscriptItem.sha256,
        )
        .where(TranscriptItem.set_id == tset.id)
        .order_by(TranscriptItem.ordinal)
        .execution_options(yield_per=BLOCK)
    )
    for n, (ordinal, key, prompt, response, stored) in enumerate(rows):
        if ordinal != n:
            c.differences.append(
                Difference(
                    f"item {n}",
                    "altered",
                    f"the items are out of sequence (position {n} holds item {ordinal}): "
                    "items were removed or inserted",
                )
            )
        actual = item_hash(key, prompt, response)
        if actual != stored:
            c.differences.append(
                Difference(
                    f"item {key}",
                    "altered",
                    "its prompt or response was edited after import (it no longer matches "
                    "the hash recorded for it)",
                    stored,
                    actual,
                )
            )
        digest.add(stored)
        if state is not None and n % BLOCK == 0:
            state.check_cancelled()
            state.set_progress(n, max(tset.item_count, 1))
    if digest.count != tset.item_count:
        c.differences.append(
            Difference(
                "item_count",
                "altered",
                f"the case file holds {digest.count} item(s), its record says {tset.item_count}",
            )
        )
    details = _event_usable(c, ev)
    if details is None:
        return c
    binding = details.get("binding")
    c.bound = isinstance(binding, dict) and binding.get("version") == BINDING_VERSION
    if c.bound and isinstance(binding, dict):
        now = transcript_binding(tset, digest)
        _compare_fields(c, binding["record"], now["record"])
        if now["items_sha256"] != binding.get("items_sha256"):
            _name_blocks(c, list(binding.get("item_blocks") or []), now["item_blocks"])
    else:
        old = {"path": "source_path", "sha256": "file_sha256", "items": "item_count"}
        recorded = {old[k]: details[k] for k in old if k in details}
        row = {
            "source_path": tset.source_path,
            "file_sha256": tset.file_sha256,
            "item_count": tset.item_count,
        }
        _compare_fields(c, recorded, row)
        c.notes.append(
            f"{c.label()} was imported before records were bound to the audit chain: each "
            "item is checked against its own stored hash, but the item hashes themselves "
            "are not bound, so an edit that also rewrote an item's hash would not show."
        )
    return c


def _name_blocks(c: Custody, was: list[str], now: list[str]) -> None:
    size = BLOCK
    for b in range(max(len(was), len(now))):
        if b >= len(was) or b >= len(now) or was[b] != now[b]:
            c.differences.append(
                Difference(
                    f"items {b * size}-{(b + 1) * size - 1}",
                    "altered",
                    "the stored item hashes in this range differ from those bound at import "
                    "(items were edited together with their hashes, added, removed or "
                    "reordered)",
                    was[b] if b < len(was) else None,
                    now[b] if b < len(now) else None,
                )
            )


def check_case_records(
    s: Session, case_id: int | None = None, state: JobState | None = None
) -> list[Custody]:
    """Every model and transcript row (of one case, or all) against its import event."""
    arts_q = select(ModelArtifact).order_by(ModelArtifact.id)
    sets_q = select(TranscriptSet).order_by(TranscriptSet.id)
    if case_id is not None:
        arts_q = arts_q.where(ModelArtifact.case_id == case_id)
        sets_q = sets_q.where(TranscriptSet.case_id == case_id)
    arts = s.execute(arts_q).scalars().all()
    sets = s.execute(sets_q).scalars().all()
    model_events = import_events(s, "model_artifact", [a.id for a in arts])
    set_events = import_events(s, "transcript_set", [t.id for t in sets])
    out = [check_model_record(a, model_events.get(a.id)) for a in arts]
    for i, t in enumerate(sets):
        sub = state.sub(100 * i / len(sets), 100 * (i + 1) / len(sets)) if state else None
        if state is not None:
            state.set_status(f"Checking the items of {t.name}")
        out.append(check_transcript_record(s, t, set_events.get(t.id), sub))
    return out


# --- verify before use -----------------------------------------------------------------


def check_artifact(
    cf: CaseFile,
    artifact_id: int,
    state: JobState | None = None,
    cache: HashCache | None = None,
) -> Custody:
    """A model's record against its import event, then each manifest file re-hashed."""
    state = state or JobState()
    with cf.read_session() as s:
        art = s.get(ModelArtifact, int(artifact_id))
        if art is None:
            raise NotFoundError(f"No model artifact {artifact_id} in this case file.")
        c = check_model_record(art, import_events(s, "model_artifact", [art.id]).get(art.id))
        root, manifest = Path(art.path), list(art.manifest or [])
    total = sum(int(e.get("size") or 0) for e in manifest) or 1
    done = 0
    for e in manifest:
        state.check_cancelled()
        size = int(e.get("size") or 0)
        state.set_status(f"Verifying {c.name}: {e['path']}")
        status, actual = file_status(
            root / e["path"],
            e["sha256"],
            cache,
            state.sub(100 * done / total, 100 * (done + size) / total),
        )
        done += size
        if status == "missing":
            c.differences.append(
                Difference(e["path"], "missing", "the file is no longer there", e["sha256"])
            )
        elif status == "changed":
            c.differences.append(
                Difference(
                    e["path"],
                    "changed",
                    f"the file now hashes to {_short(actual)}; it was {_short(e['sha256'])} "
                    "at import",
                    e["sha256"],
                    actual,
                )
            )
    state.set_progress(100)
    return c


def _refuse(problems: list[Custody], what: str) -> None:
    if problems:
        raise EvidenceChangedError(
            f"The evidence no longer matches what was imported, so {what}: "
            + " | ".join(p.summary() for p in problems)
            + ". Restore the original files, or import the changed ones as new evidence; "
            "`distill-audit evidence verify --case …` lists every difference."
        )


def verify_artifact(
    cf: CaseFile,
    artifact_id: int,
    state: JobState | None = None,
    cache: HashCache | None = None,
    *,
    what: str = "it was not used",
) -> None:
    """Refuse (EvidenceChangedError, naming each file) a model that changed since import."""
    c = check_artifact(cf, artifact_id, state, cache)
    _refuse([c] if not c.ok else [], what)


def verify_transcript_set(
    cf: CaseFile, set_id: int, state: JobState | None = None, *, what: str = "it was not used"
) -> None:
    """Refuse a transcript set whose items (or record) changed since import."""
    with cf.read_session() as s:
        tset = s.get(TranscriptSet, int(set_id))
        if tset is None:
            raise NotFoundError(f"No transcript set {set_id} in this case file.")
        ev = import_events(s, "transcript_set", [tset.id]).get(tset.id)
        c = check_transcript_record(s, tset, ev, state)
    _refuse([c] if not c.ok else [], what)


def verify_inputs(
    cf: CaseFile,
    artifact_ids: Iterable[int],
    set_ids: Iterable[int] = (),
    state: JobState | None = None,
    *,
    what: str = "nothing was computed",
) -> None:
    """Verify every model and transcript set a run reads; one error naming all differences."""
    state = state or JobState()
    models = list(dict.fromkeys(int(a) for a in artifact_ids))
    sets = list(dict.fromkeys(int(t) for t in set_ids))
    jobs = len(models) + len(sets) or 1
    bad: list[Custody] = []
    with hash_cache() as cache:
        for i, aid in enumerate(models):
            c = check_artifact(cf, aid, state.sub(100 * i / jobs, 100 * (i + 1) / jobs), cache)
            if not c.ok:
                bad.append(c)
    with cf.read_session() as s:
        events = import_events(s, "transcript_set", sets)
        for j, sid in enumerate(sets, len(models)):
            tset = s.get(TranscriptSet, sid)
            if tset is None:
                raise NotFoundError(f"No transcript set {sid} in this case file.")
            state.set_status(f"Verifying the items of {tset.name}")
            sub = state.sub(100 * j / jobs, 100 * (j + 1) / jobs)
            c = check_transcript_record(s, tset, events.get(sid), sub)
            if not c.ok:
                bad.append(c)
    _refuse(bad, what)


def verify_source(cf: CaseFile, case_id: int, path: Path, cache: HashCache | None = None) -> str:
    """SHA-256 of a file an experiment reads; refused when the case imported this very file
    (same resolved path) as a transcript set and it no longer matches that import."""
    digest = _cache(cache).sha256(path)
    resolved = str(path.resolve())
    with cf.read_session() as s:
        imported = (
            s.execute(
                select(TranscriptSet).where(
                    TranscriptSet.case_id == case_id, TranscriptSet.source_path == resolved
                )
            )
            .scalars()
            .all()
        )
    if imported and all(t.file_sha256 != digest for t in imported):
        t = imported[-1]
        c = Custody("transcripts", t.id, t.name)
        c.differences.append(
            Difference(
                path.name,
                "changed",
                f"the file now hashes to {_short(digest)}; it was {_short(t.file_sha256)} "
                "when it was imported",
                t.file_sha256,
                digest,
            )
        )
        _refuse([c], "nothing was computed")
    return digest
