"""Expected failures of the world outside (disk, permissions, damaged files) as typed errors.

Code deep in the engine lets ``OSError``, SQLite errors and parser errors rise; the CLI's
top-level guard (and any other front end) passes them to :func:`explain`, which returns
the :class:`~core.errors.DistillAuditError` to show: one line a lawyer can act on. What
:func:`explain` does not recognise (``None``) is a bug and keeps its traceback.
"""

from __future__ import annotations

import errno
import shutil
import sqlite3
from pathlib import Path

from core.errors import (
    CaseFileError,
    DiskFullError,
    DistillAuditError,
    FileAccessError,
    ReadOnlyCaseFileError,
    UnreadableInputError,
)

_FULL = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}
_READ_ONLY = {errno.EROFS}
_DENIED = {errno.EACCES, errno.EPERM}


_NEARLY_FULL_BYTES = 1 << 20  # SQLite reports a full disk as an I/O error when mapping -shm


def _disk_full(path: str | Path | None) -> bool:
    """Whether the disk holding ``path`` has (almost) no room left."""
    if path is None:
        return False
    try:
        return shutil.disk_usage(Path(path).absolute().parent).free < _NEARLY_FULL_BYTES
    except OSError:
        return False


def one_line(text: object) -> str:
    """``text`` with its line breaks and runs of white space folded into single spaces."""
    return " ".join(str(text).split())


def explain(exc: BaseException, case_file: str | Path | None = None) -> DistillAuditError | None:
    """The typed error to show for an expected failure, or None when ``exc`` is a bug.

    ``case_file`` names the case file in messages about SQLite errors (which do not say
    which database they came from).
    """
    if isinstance(exc, DistillAuditError):
        return exc
    orig = getattr(exc, "orig", None)  # SQLAlchemy wraps the driver's error
    if isinstance(orig, sqlite3.Error):
        exc = orig
    if isinstance(exc, sqlite3.Error):
        return explain_sqlite(exc, case_file)
    if isinstance(exc, OSError):
        return explain_os_error(exc)
    if isinstance(exc, RecursionError):
        return UnreadableInputError(
            "An input file is nested too deeply to be read safely (it may have been made to "
            "crash the tool); nothing was imported from it. Keep the file as evidence and ask "
            "for a plainer copy."
        )
    if isinstance(exc, UnicodeError):
        return UnreadableInputError(
            f"A file is not valid text in the expected encoding ({one_line(exc)}); nothing "
            "was imported from it. Re-save it as UTF-8 (or export it again) and retry."
        )
    if type(exc).__module__.startswith("lxml"):
        return UnreadableInputError(
            f"An HTML or XML document could not be parsed ({one_line(exc)}); nothing was "
            "imported from it. Save it again from the browser or convert it to PDF or text."
        )
    if isinstance(exc, OverflowError):
        return UnreadableInputError(
            f"A number in the input is too large to handle ({one_line(exc)}); nothing was "
            "changed. Check the file or the option values for an absurd number."
        )
    if isinstance(exc, MemoryError):
        return DistillAuditError(
            "The computer ran out of memory; nothing was saved by this step. Close other "
            "programs, or use fewer probes or smaller models, and try again."
        )
    return None


def explain_os_error(exc: OSError) -> DistillAuditError:
    """A disk, permission or path failure, naming the file involved."""
    name = exc.filename if exc.filename is not None else "a file"
    reason = one_line(exc.strerror or exc)
    if exc.errno in _FULL:
        return DiskFullError(
            f"The disk is full: {name} could not be written, so this step stopped. Free "
            "some space (or choose a folder on another disk) and run it again."
        )
    if exc.errno in _READ_ONLY:
        return FileAccessError(
            f"{name} is on a read-only disk or share, so it cannot be written. Choose a "
            "folder you can write to (or copy the case file there) and run it again."
        )
    if exc.errno in _DENIED:
        return FileAccessError(
            f"Permission denied for {name} (it may be read-only, locked or owned by another "
            "user). Choose a file or folder you can use, or ask for access, and try again."
        )
    if exc.errno == errno.ENOENT:
        return FileAccessError(f"{name} does not exist. Check the path and try again.")
    if exc.errno == errno.EISDIR:
        return FileAccessError(f"{name} is a folder; a file is needed here.")
    if exc.errno == errno.ENOTDIR:
        return FileAccessError(f"A part of the path {name} is a file, not a folder.")
    return FileAccessError(f"Cannot read or write {name}: {reason}.")


def explain_sqlite(exc: sqlite3.Error, case_file: str | Path | None = None) -> DistillAuditError:
    """A SQLite failure on a case file: full disk, read-only, busy, damaged or unreachable."""
    subject = f"The case file {case_file}" if case_file else "The case file"
    where = subject[0].lower() + subject[1:]
    code = getattr(exc, "sqlite_errorname", "") or ""
    text = one_line(exc)
    full = code.startswith("SQLITE_FULL") or "disk is full" in text
    if full or (code.startswith("SQLITE_IOERR") and _disk_full(case_file)):
        return DiskFullError(
            f"The disk holding {where} is full; this step was not saved and the case file "
            "is unchanged. Free some space (or move the case file to a disk with room) and "
            "run it again."
        )
    if code.startswith("SQLITE_READONLY") or "readonly database" in text:
        return ReadOnlyCaseFileError(
            f"{subject} cannot be changed: it, or the disk or folder "
            "holding it, is read-only. Nothing was changed. To work on it, copy it to a "
            "folder you can write to and open the copy."
        )
    if code.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")) or "locked" in text:
        return CaseFileError(
            f"{subject} is busy: another Distill Audit window or command "
            "is writing to it. Let it finish (or close it) and try again."
        )
    if code.startswith("SQLITE_CANTOPEN") or "unable to open" in text:
        return CaseFileError(
            f"{subject} cannot be opened: its folder is missing, not "
            "accessible or read-only. Check the path and your access to the folder."
        )
    if code.startswith("SQLITE_IOERR") or "disk I/O error" in text:
        return CaseFileError(
            f"The disk failed while reading or writing {where} ({text}); this step was not "
            "saved. Check that the disk or share is still connected and has room, then try "
            "again; if it repeats, copy the case file to another disk."
        )
    if code.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB")) or "malformed" in text:
        return CaseFileError(
            f"{subject} is damaged ({text}). Restore it from a backup; "
            "keep the damaged file for examination."
        )
    return CaseFileError(f"{subject} could not be used: {text}.")
