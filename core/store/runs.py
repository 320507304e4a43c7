"""The life cycle of a Run: queued → running → done | failed | cancelled | interrupted.

Every transition is committed at once (so a crash leaves an honest status behind) and
recorded in the audit log. A run left 'running' by a process that no longer exists is
marked 'interrupted' the next time the case file is opened.
"""

from __future__ import annotations

import os
import platform
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from core.errors import Cancelled, DistillAuditError, NotFoundError
from core.store import audit
from core.store.models import Run
from core.store.types import utcnow

if TYPE_CHECKING:
    from core.store.db import CaseFile

RERUN_ACTION = "run.rerun"
"""The audit action recording a re-run's outcome (core.checks.rerun; quoted by the report)."""

RESUMABLE = ("cancelled", "interrupted", "failed")
"""The statuses a run can be resumed from; a queued, running or finished run cannot."""

_PACKAGES = (
    "distill-audit",
    "torch",
    "transformers",
    "tokenizers",
    "onnxruntime",
    "onnx",
    "numpy",
    "scipy",
    "sqlalchemy",
    "reportlab",
)


def software_versions() -> dict[str, str]:
    """Versions of Python, the OS and the packages that can change a result."""
    out = {"python": sys.version.split()[0], "platform": platform.platform()}
    for name in _PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


_INVOCATION: ContextVar[list[str] | None] = ContextVar("distill_audit_invocation", default=None)


def relative_argv(argv: Sequence[str], cwd: Path | None = None) -> list[str]:
    """``distill-audit`` and its arguments, paths under ``cwd`` made relative to it.

    A run records the command that made it exactly as it can be typed again in the same
    folder; an absolute path outside the folder stays absolute (it is where it is).
    """
    base = (cwd or Path.cwd()).resolve()
    out = ["distill-audit"]
    for arg in argv:
        prefix, sep, value = arg.partition("=") if arg.startswith("--") else ("", "", arg)
        candidate = Path(value)
        if value and candidate.is_absolute():
            try:
                value = candidate.resolve().relative_to(base).as_posix() or "."
            except ValueError:
                pass
        out.append(f"{prefix}{sep}{value}")
    return out


@contextmanager
def recorded_invocation(argv: Sequence[str]) -> Iterator[None]:
    """Within this block, every run created records ``argv`` (relative) as its command."""
    token = _INVOCATION.set(relative_argv(argv))
    try:
        yield
    finally:
        _INVOCATION.reset(token)


_ACTION: ContextVar[str | None] = ContextVar("distill_audit_gui_action", default=None)


@contextmanager
def recorded_action(label: str) -> Iterator[None]:
    """Within this block (a GUI job's thread), runs record ``label`` as the action that
    started them (parameters' ``gui_action``), beside the tool version and seed."""
    token = _ACTION.set(label)
    try:
        yield
    finally:
        _ACTION.reset(token)


def _pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def mark_interrupted_runs(cf: CaseFile) -> list[int]:
    """Mark runs whose owning process died while they were running as 'interrupted'."""
    ids: list[int] = []
    with cf.read_session() as r:  # read first: opening a case file never waits for a writer
        owners = r.execute(select(Run.owner_pid).where(Run.status.in_(("running", "queued"))))
        if all(pid == os.getpid() or _pid_alive(pid) for pid in owners.scalars()):
            return ids
    with cf.session() as s:
        for run in s.execute(select(Run).where(Run.status.in_(("running", "queued")))).scalars():
            if run.owner_pid == os.getpid() or _pid_alive(run.owner_pid):
                continue
            run.status = "interrupted"
            run.finished_at = utcnow()
            run.error = "The process running this analysis stopped before it finished."
            audit.record(s, "run.interrupted", "run", run.id, case_id=run.case_id)
            ids.append(run.id)
    return ids


@dataclass
class RunHandle:
    """What a job body gets: the run id and a way to save partial outputs as it goes."""

    cf: CaseFile
    run_id: int
    case_id: int

    def save_summary(self, **values: Any) -> None:
        """Merge values into the run's summary and commit (survives a later cancel)."""
        with self.cf.session() as s:
            run = s.get(Run, self.run_id)
            assert run is not None
            run.summary = {**(run.summary or {}), **values}


def create_run(
    cf: CaseFile,
    case_id: int,
    kind: str,
    parameters: dict[str, Any],
    inputs: dict[str, Any],
    seed: int | None,
    *,
    checkpoint_dir: Callable[[int], str] | None = None,
) -> int:
    """A new queued Run; ``checkpoint_dir(run_id)`` names its resume folder, if it has one.

    Inside :func:`recorded_invocation` (the CLI) the command line is recorded as the
    parameters' ``cli`` (what the report quotes as the run's recorded command); inside
    :func:`recorded_action` (the GUI) the action, as ``gui_action``.
    """
    invocation, action = _INVOCATION.get(), _ACTION.get()
    if invocation and "cli" not in parameters:
        parameters = {**parameters, "cli": invocation}
    if action and "gui_action" not in parameters:
        parameters = {**parameters, "gui_action": action}
    with cf.session() as s:
        run = Run(
            case_id=case_id,
            kind=kind,
            parameters=parameters,
            inputs=inputs,
            seed=seed,
            software=software_versions(),
            status="queued",
        )
        s.add(run)
        s.flush()
        if checkpoint_dir is not None:
            run.checkpoint_dir = checkpoint_dir(run.id)
        audit.record(
            s,
            "run.created",
            "run",
            run.id,
            case_id=case_id,
            details={"kind": kind, "parameters": parameters, "inputs": inputs, "seed": seed},
        )
        return run.id


@contextmanager
def resuming(cf: CaseFile, run_id: int, kind: str, what: str) -> Iterator[Run]:
    """The guard of every resume: the run exists, is a ``kind`` run and was stopped.

    Yields the run (detached, read-only) for the caller to check its inputs again; when
    the block ends without an error the resumption is recorded in the audit log and the
    previous stop's error text is cleared. A run that is queued, running or done is
    refused before anything is checked or written (``what`` names it in the message).
    """
    with cf.read_session() as s:
        run = s.get(Run, int(run_id))
        if run is None or run.kind != kind:
            raise NotFoundError(
                f"No {what} run {run_id} in this case file (see 'experiment list')."
            )
    if run.status not in RESUMABLE:
        raise DistillAuditError(
            f"Run {run_id} is {run.status}; only a cancelled, interrupted or "
            f"failed {what} can be resumed."
        )
    yield run
    with cf.session() as s:
        stored = s.get(Run, int(run_id))
        assert stored is not None
        audit.record(
            s,
            "run.resumed",
            "run",
            stored.id,
            case_id=stored.case_id,
            details={"previous_status": stored.status, "previous_error": stored.error},
        )
        stored.error = None


def _set_status(cf: CaseFile, run_id: int, status: str, error: str | None = None) -> None:
    with cf.session() as s:
        run = s.get(Run, run_id)
        assert run is not None
        run.status = status
        if status == "running":
            run.started_at = utcnow()
            run.owner_pid = os.getpid()
        else:
            run.finished_at = utcnow()
        if error is not None:
            run.error = error
        audit.record(
            s,
            f"run.{status}",
            "run",
            run_id,
            case_id=run.case_id,
            details={"error": error} if error else {},
        )


@contextmanager
def running(cf: CaseFile, run_id: int) -> Iterator[RunHandle]:
    """Mark the run running; on exit mark it done, cancelled or failed (and re-raise)."""
    with cf.session() as s:
        run = s.get(Run, run_id)
        assert run is not None
        case_id = run.case_id
    _set_status(cf, run_id, "running")
    try:
        yield RunHandle(cf, run_id, case_id)
    except Cancelled:
        _set_status(cf, run_id, "cancelled", "Cancelled by the user.")
        raise
    except DistillAuditError as exc:
        _set_status(cf, run_id, "failed", str(exc))
        raise
    except BaseException as exc:
        _set_status(cf, run_id, "failed", f"{type(exc).__name__}: {exc}")
        raise
    else:
        _set_status(cf, run_id, "done")


def run_category(kind: str) -> str:
    """'check', 'calibration' or 'experiment' for a run kind (anything else is an experiment).

    The one place runs are filed: the read model (core.records) and the report use it.
    """
    k = kind.lower()
    if "calibration" in k:
        return "calibration"
    if k == "check" or k.startswith(("check.", "check:")):
        return "check"
    return "experiment"
