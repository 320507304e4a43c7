"""Streaming readers of provider logs: JSONL, CSV/TSV (gzip too) and Parquet.

Each reader yields one item per data line: ``(line, record, rejected)`` where ``record``
is a dict (or None) and ``rejected`` a :class:`RowRejected` for a line that cannot be a
record (malformed JSON, not UTF-8, too long, wrong number of CSV columns), so a bad line
deep in a large file is counted with its line number instead of aborting the import. The
raw bytes are hashed as they are read (:attr:`LogReader.sha256` once the file is read
through), so the hash is that of the bytes imported. Memory is bounded by one line.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from core.errors import EvidenceError, UnreadableInputError
from core.evidence.formats import JSONL_SUFFIXES as FORMAT_JSONL_SUFFIXES
from core.jobs import JobState
from core.traffic.mapping import RowRejected

Item = tuple[int, dict[str, Any] | None, RowRejected | None]

JSONL_SUFFIXES = FORMAT_JSONL_SUFFIXES  # the same JSON Lines suffixes as transcripts
CSV_SUFFIXES = (".csv", ".tsv")
PARQUET_SUFFIXES = (".parquet", ".pq")
LOG_SUFFIXES = (
    *JSONL_SUFFIXES,
    *CSV_SUFFIXES,
    *PARQUET_SUFFIXES,
    *(s + ".gz" for s in (*JSONL_SUFFIXES, *CSV_SUFFIXES)),
)
MAX_LINE = 64 * 1024 * 1024  # a longer line is one reject, not a memory blow-up
EXCERPT = 200
_CHUNK = 1024 * 1024
_WIDE_BOMS = (b"\xff\xfe", b"\xfe\xff", b"\x00\x00\xfe\xff")


def log_format(path: Path) -> tuple[str, bool]:
    """(jsonl | csv | tsv | parquet, gzipped) from the file name; refused when unknown."""
    name = path.name.lower()
    gz = name.endswith(".gz")
    base = name[:-3] if gz else name
    for fmt, suffixes in (("jsonl", JSONL_SUFFIXES), ("csv", (".csv",)), ("tsv", (".tsv",))):
        if base.endswith(suffixes):
            return fmt, gz
    if not gz and base.endswith(PARQUET_SUFFIXES):
        return "parquet", False
    raise EvidenceError(
        f"{path} is not a log format Distill Audit reads; give JSON Lines (.jsonl), CSV "
        "(.csv, .tsv), either gzipped (.gz), or Parquet (.parquet)."
    )


class _HashingRaw(io.RawIOBase):
    """The file's raw bytes, hashed and counted as they are read."""

    def __init__(self, fh: BinaryIO) -> None:
        self._fh = fh
        self.hash = hashlib.sha256()
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        n = self._fh.readinto(buffer)  # type: ignore[attr-defined]
        if n:
            self.hash.update(memoryview(buffer)[:n])
            self.count += n
        return n or 0

    def drain(self) -> None:
        while chunk := self._fh.read(_CHUNK):
            self.hash.update(chunk)
            self.count += len(chunk)

    def close(self) -> None:
        self._fh.close()
        super().close()


def excerpt(raw: bytes | str) -> str:
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    return text.rstrip("\r\n")[:EXCERPT]


class LogReader:
    """One log file, read once, front to back."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.format, self.gzipped = log_format(path)
        try:
            self.size = path.stat().st_size
        except OSError as exc:
            raise UnreadableInputError(f"{path} cannot be read: {exc.strerror}.") from exc
        self._raw: _HashingRaw | None = None
        self._parquet_done = 0
        self._sha256 = ""
        self.excerpts: dict[int, str] = {}  # line -> start of the raw line, for rejects

    @property
    def label(self) -> str:
        return self.format + (".gz" if self.gzipped else "")

    @property
    def bytes_read(self) -> int:
        return self._raw.count if self._raw is not None else 0

    @property
    def sha256(self) -> str:
        """The SHA-256 of the file's bytes; known once the file is read through."""
        return self._sha256

    def items(self, state: JobState | None = None) -> Iterator[Item]:
        """Every data line; ``state`` shows progress and can cancel the up-front hashing
        of a Parquet file (read by row group, not front to back)."""
        if self.format == "parquet":
            yield from self._parquet(state)
            return
        try:
            fh = open(self.path, "rb")  # closed with raw below
        except OSError as exc:
            raise UnreadableInputError(f"{self.path} cannot be read: {exc.strerror}.") from exc
        raw = self._raw = _HashingRaw(fh)
        try:
            buffered = io.BufferedReader(raw, _CHUNK)
            stream: BinaryIO = gzip.GzipFile(fileobj=buffered) if self.gzipped else buffered  # type: ignore[assignment]
            lines = self._lines(stream)
            if self.format == "jsonl":
                yield from self._jsonl(lines)
            else:
                yield from self._csv(lines, "\t" if self.format == "tsv" else ",")
            raw.drain()
            self._sha256 = raw.hash.hexdigest()
        except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
            raise UnreadableInputError(
                f"{self.path} is not a complete gzip file (damaged near byte "
                f"{raw.count:,}: {exc}); nothing was imported."
            ) from exc
        finally:
            raw.close()

    def _lines(self, stream: BinaryIO) -> Iterator[tuple[int, bytes, RowRejected | None]]:
        """(line number, bytes, too-long reject) for every physical line."""
        number = 0
        first = True
        while True:
            line = stream.readline(MAX_LINE)
            if not line:
                return
            number += 1
            if first:
                first = False
                if line.startswith(_WIDE_BOMS) or b"\x00" in line[:4096]:
                    raise UnreadableInputError(
                        f"{self.path} is not UTF-8 text (it looks like UTF-16 or UTF-32); "
                        "nothing was imported. Save the log as UTF-8 and import it again."
                    )
                if line.startswith(b"\xef\xbb\xbf"):
                    line = line[3:]
            if len(line) >= MAX_LINE and not line.endswith(b"\n"):
                head = line
                while line and not line.endswith(b"\n"):
                    line = stream.readline(MAX_LINE)
                yield (
                    number,
                    head[:EXCERPT],
                    RowRejected(
                        "line too long", f"line longer than {MAX_LINE // (1024 * 1024)} MiB"
                    ),
                )
                continue
            yield number, line, None

    def _jsonl(self, lines: Iterator[tuple[int, bytes, RowRejected | None]]) -> Iterator[Item]:
        loads = json.loads
        for number, line, too_long in lines:
            if too_long is not None:
                self.excerpts[number] = excerpt(line)
                yield number, None, too_long
                continue
            try:
                text = line.decode("utf-8")
            except UnicodeDecodeError as exc:
                self.excerpts[number] = excerpt(line)
                yield number, None, _not_utf8(line, exc)
                continue
            if not text.strip():
                continue
            try:
                obj = loads(text)
            except (ValueError, RecursionError) as exc:
                self.excerpts[number] = excerpt(text)
                yield number, None, RowRejected("malformed JSON", f"malformed JSON: {exc}")
                continue
            if not isinstance(obj, dict):
                self.excerpts[number] = excerpt(text)
                yield (
                    number,
                    None,
                    RowRejected("not a JSON object", f"a JSON {type(obj).__name__}, not an object"),
                )
                continue
            yield number, obj, None

    def _csv(
        self, lines: Iterator[tuple[int, bytes, RowRejected | None]], delimiter: str
    ) -> Iterator[Item]:
        pending: list[tuple[int, RowRejected]] = []
        state = {"line": 0}

        def texts() -> Iterator[str]:
            for number, line, too_long in lines:
                state["line"] = number
                if too_long is not None:
                    self.excerpts[number] = excerpt(line)
                    pending.append((number, too_long))
                    yield "\n"
                    continue
                try:
                    yield line.decode("utf-8")
                except UnicodeDecodeError as exc:
                    self.excerpts[number] = excerpt(line)
                    pending.append((number, _not_utf8(line, exc)))
                    yield "\n"

        csv.field_size_limit(MAX_LINE)
        reader = csv.reader(texts(), delimiter=delimiter)
        header: list[str] | None = None
        end = 0
        while True:
            try:
                values = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                start, end = end + 1, state["line"]
                pending.append((start, RowRejected("malformed CSV", f"malformed CSV: {exc}")))
                values = []
            else:
                start, end = end + 1, state["line"]
            for number, rejected in pending:
                yield number, None, rejected
            pending.clear()
            if not values or values == [""]:
                continue
            if header is None:
                header = [v.strip() for v in values]
                if len(set(header)) != len(header) or not all(header):
                    raise UnreadableInputError(
                        f"{self.path}: the header row has empty or repeated column names; "
                        "nothing was imported."
                    )
                continue
            if len(values) != len(header):
                self.excerpts[start] = excerpt(delimiter.join(values))
                yield (
                    start,
                    None,
                    RowRejected(
                        "wrong number of columns",
                        f"{len(values)} columns where the header has {len(header)}",
                    ),
                )
                continue
            yield (
                start,
                {h: (v if v != "" else None) for h, v in zip(header, values, strict=True)},
                None,
            )
        for number, rejected in pending:
            yield number, None, rejected

    def _parquet(self, state: JobState | None) -> Iterator[Item]:
        import pyarrow as pa
        import pyarrow.parquet as pq

        from core.evidence.hashing import sha256_file

        try:
            self._sha256 = sha256_file(self.path, state, 0, self.size)
            pf = pq.ParquetFile(self.path)
        except (OSError, pa.ArrowException) as exc:
            raise UnreadableInputError(
                f"{self.path} is not a readable Parquet file ({exc}); nothing was imported."
            ) from exc
        number = 0
        total = max(1, pf.metadata.num_rows)
        for batch in pf.iter_batches(batch_size=10_000):
            for row in batch.to_pylist():
                number += 1
                yield number, row, None
            self._parquet_done = int(self.size * min(1.0, number / total))

    @property
    def progress_bytes(self) -> int:
        if self.format == "parquet":
            return self._parquet_done
        return self.bytes_read


def _not_utf8(line: bytes, exc: UnicodeDecodeError) -> RowRejected:
    bad = line[exc.start : exc.start + 1].hex()
    return RowRejected("not UTF-8", f"byte 0x{bad} at column {exc.start + 1} is not UTF-8")
