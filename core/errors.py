"""Typed errors a user can cause. Each carries a message a lawyer can act on.

The CLI prints ``str(error)`` on stderr and exits non-zero; the GUI shows it in a dialog.
Anything that is not a ``DistillAuditError`` is a bug and is reported as such.
"""

from __future__ import annotations


class DistillAuditError(Exception):
    """Base class for every error caused by user input or user files."""

    exit_code = 2


class CaseFileError(DistillAuditError):
    """The case file cannot be opened, is damaged or is not a case file."""


class NotACaseFileError(CaseFileError):
    """The file exists but is not a Distill Audit case file."""


class CaseFileBusyError(CaseFileError):
    """Another process kept the case file's write lock for longer than the writer waits."""


class NewerSchemaError(CaseFileError):
    """The case file was written by a newer version of Distill Audit."""


class EvidenceError(DistillAuditError):
    """An evidence file (model, transcript, policy) is invalid or unsafe."""


class PickledWeightsError(EvidenceError):
    """Model weights are stored in a pickle-based format that could run code."""


class ModelLoadError(EvidenceError):
    """A model passed import checks but could not be loaded for inference."""


class InsufficientMemoryError(ModelLoadError):
    """A model at the chosen precision would not fit in the memory this machine has free."""


class DocumentLimitError(EvidenceError):
    """A document exceeds a size or structure limit that keeps imports bounded in time,
    memory and disk (a decompression bomb, absurd nesting, an endless line)."""


class NotFoundError(DistillAuditError):
    """A case, artifact, run or other record id does not exist."""


class DeclinedError(DistillAuditError):
    """An analysis declined to run because its inputs do not fit (the reason says why)."""


class Cancelled(DistillAuditError):
    """The user cancelled a long-running job."""

    exit_code = 130


class ReadOnlyCaseFileError(CaseFileError):
    """The case file can be read but not changed (read-only media, file or folder)."""


class DiskFullError(DistillAuditError):
    """The disk has no room left for what was being written."""


class FileAccessError(DistillAuditError):
    """A file or folder cannot be read or written (permission, read-only disk, missing)."""


class OutputExistsError(DistillAuditError):
    """An output file already exists and replacing it was not asked for."""


class CaptureError(DistillAuditError):
    """A model's API could not be used to capture answers (refused, unreachable, malformed);
    nothing was written."""


class UnreadableInputError(EvidenceError):
    """An input file cannot be read safely: bad encoding, broken markup, absurd nesting."""


class Terminated(BaseException):
    """The process was asked to stop (SIGTERM). Not an ``Exception``, like
    ``KeyboardInterrupt``, so that no ``except Exception`` swallows it on the way out and
    every ``finally`` (removing half-written files) still runs."""

    exit_code = 143


class EvidenceChangedError(EvidenceError):
    """Evidence no longer matches what was recorded at import: a file was changed or removed,
    or the case file's own record of it (a manifest, a transcript item) was altered. Nothing
    is computed on such evidence; the message names each difference.

    Exits 1, like ``evidence verify`` finding a difference: the tool worked, the evidence
    did not hold."""

    exit_code = 1


class LogMappingError(EvidenceError):
    """A column mapping for provider logs is invalid, or names a column the log lacks."""


class LogStoreChangedError(EvidenceChangedError):
    """The case's log store (the DuckDB file beside the case file) is missing, or no longer
    holds what the case file recorded at each import."""


class DuplicateEvidenceError(EvidenceError):
    """The same files (same hashes) are already evidence of this case: importing them again
    would give two records of one thing. The message names the existing record;
    ``existing_id`` is its id (a model artifact or a transcript set)."""

    def __init__(self, message: str, existing_id: int) -> None:
        super().__init__(message)
        self.existing_id = existing_id
