"""Importing provider request logs into the DuckDB log store, on real files (issue 15).

Every test reads back the real DuckDB store and the real case file: what was stored, what
was rejected (with its line), and that a refused, failed or cancelled import left neither
changed.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqlalchemy import func, select

from core.errors import (
    Cancelled,
    EvidenceError,
    LogMappingError,
    LogStoreChangedError,
    UnreadableInputError,
)
from core.evidence.verify import verify_case_evidence
from core.jobs import JobState
from core.store.db import CaseFile
from core.store.models import AuditEvent, LogImport
from core.traffic.import_logs import import_logs
from core.traffic.mapping import load_mapping
from core.traffic.schema import create_imports_sql, create_rejects_sql, create_requests_sql
from core.traffic.store import IMPORTED, describe_store, store_path_for
from tests.traffic_logs import T0, record, write_log

ROOT = Path(__file__).resolve().parent.parent


def _rows(cf: CaseFile, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    with duckdb.connect(str(store_path_for(cf.path)), read_only=True) as con:
        con.execute("SET TimeZone = 'UTC'")
        return con.execute(sql, list(params)).fetchall()


def _events(cf: CaseFile) -> int:
    with cf.read_session() as s:
        return int(s.scalar(select(func.count()).where(AuditEvent.action == IMPORTED)) or 0)


def _imports(cf: CaseFile) -> int:
    with cf.read_session() as s:
        return int(s.scalar(select(func.count()).select_from(LogImport)) or 0)


def _nothing_written(cf: CaseFile) -> None:
    assert not store_path_for(cf.path).exists()
    assert _events(cf) == 0 and _imports(cf) == 0
    assert not list(cf.path.parent.glob("*.staging-*"))


def test_jsonl_default_mapping_stores_rows_with_source_and_audit(
    case_file: CaseFile, case_id: int, tmp_path: Path
) -> None:
    log = write_log(tmp_path / "log.jsonl", 300, accounts=7)
    report = import_logs(case_file, [log], case="DA-TEST-1")
    sha = hashlib.sha256(log.read_bytes()).hexdigest()
    f = report.files[0]
    assert (f.sha256, f.rows_read, f.rows_accepted, f.rows_rejected) == (sha, 300, 300, 0)
    assert f.columns_used["response"] == "choices[0].message.content"
    assert f.columns_used["input_tokens"] == "usage.prompt_tokens"
    assert "organization_id" in f.fields_missing and "ip" in f.fields_present
    row = _rows(
        case_file,
        "SELECT request_id, account_id, response, input_tokens, output_tokens, sampling, "
        "source_file, source_line, timestamp FROM requests WHERE request_id = 'req-000000005'",
    )[0]
    assert row[:5] == ("req-000000005", "acct-00005", "Step 5 follows.", 25, 35)
    assert json.loads(row[5]) == {"temperature": 0.7, "top_p": 0.95}
    assert row[6:8] == (sha, 6)
    assert row[8].timestamp() == T0 + 5
    assert _rows(case_file, "SELECT count(DISTINCT account_id) FROM requests") == [(7,)]
    with case_file.read_session() as s:
        ev = s.execute(select(AuditEvent).where(AuditEvent.action == IMPORTED)).scalar_one()
        li = s.execute(select(LogImport)).scalar_one()
    assert ev.case_id == case_id and li.case_id == case_id
    assert ev.details["files"][0]["sha256"] == sha == li.file_sha256
    assert ev.details["files"][0]["rows_accepted"] == 300 == li.rows_accepted
    summary = describe_store(case_file)
    assert summary.ok and summary.rows == 300 and summary.accounts == 7
    assert summary.first_request == "2025-02-19T21:20:00+00:00"
    assert "organization_id" in summary.fields_missing and "messages" in summary.fields_present


def test_csv_with_a_custom_yaml_mapping(case_file: CaseFile, tmp_path: Path) -> None:
    log = tmp_path / "export.csv"
    with log.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["when", "req", "acct", "question", "answer", "tok_in", "usage"])
        for i in range(40):
            w.writerow(
                [
                    f"19/02/2025 10:{i:02d}:00 +0100",
                    f"c{i}",
                    f"a{i % 4}",
                    f"q{i}, with comma",
                    f"line one\nline two {i}",
                    str(i),
                    json.dumps({"out": i * 2}),
                ]
            )
    mapping = tmp_path / "mine.yaml"
    mapping.write_text(
        textwrap.dedent(
            """
            name: provider-x export
            fields:
              timestamp: {column: when, time: "%d/%m/%Y %H:%M:%S %z"}
              request_id: req
              account_id: acct
              model: {constant: lumen-2}
              prompt: question
              response: answer
              input_tokens: tok_in
              output_tokens: usage.out
            """
        ),
        encoding="utf-8",
    )
    report = import_logs(case_file, [log], mapping)
    assert report.mapping_name == "provider-x export"
    assert report.mapping_sha256 == hashlib.sha256(mapping.read_bytes()).hexdigest()
    assert report.rows_accepted == 40 and report.rows_rejected == 0
    rows = _rows(
        case_file,
        "SELECT request_id, model, prompt, response, output_tokens, source_line, "
        "strftime(timestamp, '%Y-%m-%d %H:%M') FROM requests ORDER BY source_line LIMIT 2",
    )
    # Each CSV record spans two physical lines (the quoted answer): lines 2 and 4.
    assert rows[0] == (
        "c0",
        "lumen-2",
        "q0, with comma",
        "line one\nline two 0",
        0,
        2,
        "2025-02-19 09:00",
    )
    assert rows[1][0] == "c1" and rows[1][5] == 4


def test_parquet_with_nested_records(case_file: CaseFile, tmp_path: Path) -> None:
    table = pa.Table.from_pylist([record(i) for i in range(120)])
    log = tmp_path / "log.parquet"
    pq.write_table(table, log, row_group_size=50)
    report = import_logs(case_file, [log])
    assert report.files[0].format == "parquet"
    assert report.rows_accepted == 120
    assert report.files[0].sha256 == hashlib.sha256(log.read_bytes()).hexdigest()
    assert _rows(case_file, "SELECT sum(input_tokens), max(source_line) FROM requests") == [
        (sum(20 + i % 7 for i in range(120)), 120)
    ]


def test_gzipped_jsonl_and_csv(case_file: CaseFile, tmp_path: Path) -> None:
    jl = write_log(tmp_path / "a.jsonl.gz", 200)
    cs = tmp_path / "b.csv.gz"
    with gzip.open(cs, "wt", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["created", "id", "user", "model", "prompt"])
        for i in range(50):
            w.writerow([T0 + i, f"csv-{i}", "u1", "lumen-2", f"hello {i}"])
    report = import_logs(case_file, [jl, cs])
    assert [f.format for f in report.files] == ["jsonl.gz", "csv.gz"]
    assert [f.rows_accepted for f in report.files] == [200, 50]
    assert report.files[0].sha256 == hashlib.sha256(jl.read_bytes()).hexdigest()
    assert report.files[1].sha256 == hashlib.sha256(cs.read_bytes()).hexdigest()
    assert _events(case_file) == 1 and _imports(case_file) == 2


def test_malformed_line_deep_in_a_large_file_is_counted_with_its_line(
    case_file: CaseFile, tmp_path: Path
) -> None:
    bad = {
        30_000: '{"created": 1, "id": "broken", ',
        30_500: "[1, 2, 3]",
        31_000: json.dumps(
            {"created": "yesterday", "id": "t1", "user": "u", "model": "m", "prompt": "p"}
        ),
    }
    log = write_log(tmp_path / "big.jsonl", 40_000, bad=bad)
    report = import_logs(case_file, [log])
    f = report.files[0]
    assert f.rows_read == 40_003 and f.rows_accepted == 40_000 and f.rows_rejected == 3
    assert f.rejects_by_reason == {
        "malformed JSON": 1,
        "not a JSON object": 1,
        "timestamp unparseable": 1,
    }
    assert [(r.line, r.reason) for r in f.sample_rejects] == [
        (30_001, "malformed JSON"),
        (30_502, "not a JSON object"),
        (31_003, "timestamp unparseable"),
    ]
    assert f.sample_rejects[0].excerpt == '{"created": 1, "id": "broken", '
    stored = _rows(case_file, "SELECT source_line, reason FROM rejects ORDER BY source_line")
    assert stored == [
        (30_001, "malformed JSON"),
        (30_502, "not a JSON object"),
        (31_003, "timestamp unparseable"),
    ]
    # The record after the bad line sits one line further down.
    assert _rows(
        case_file, "SELECT source_line FROM requests WHERE request_id = 'req-000030000'"
    ) == [(30_002,)]


def test_wrong_encoding(case_file: CaseFile, tmp_path: Path) -> None:
    utf16 = tmp_path / "utf16.jsonl"
    utf16.write_text(json.dumps(record(0)) + "\n", encoding="utf-16")
    with pytest.raises(UnreadableInputError, match="not UTF-8 text.*UTF-16"):
        import_logs(case_file, [utf16])
    _nothing_written(case_file)

    mixed = tmp_path / "latin1.jsonl"
    good = [json.dumps(record(i)).encode() for i in range(5)]
    latin = json.dumps({**record(9), "messages": "Café"}, ensure_ascii=False).encode("latin-1")
    mixed.write_bytes(b"\n".join([*good[:2], latin, *good[2:]]) + b"\n")
    report = import_logs(case_file, [mixed])
    f = report.files[0]
    assert f.rows_accepted == 5 and f.rejects_by_reason == {"not UTF-8": 1}
    assert f.sample_rejects[0].line == 3 and "0xe9" in f.sample_rejects[0].detail


def test_mapping_naming_a_missing_column_is_refused_before_anything_is_written(
    case_file: CaseFile, tmp_path: Path
) -> None:
    log = write_log(tmp_path / "log.jsonl", 10)
    mapping = tmp_path / "m.yaml"
    mapping.write_text(
        "fields:\n  timestamp: created\n  request_id: id\n  account_id: account\n"
        "  model: model\n  messages: messages\n",
        encoding="utf-8",
    )
    with pytest.raises(LogMappingError) as err:
        import_logs(case_file, [log], mapping)
    assert "'account'" in str(err.value) and str(log) in str(err.value)
    _nothing_written(case_file)
    # A mapping that lacks a required field, or names an unknown one, is refused on load.
    mapping.write_text("fields:\n  timestamp: created\n  colour: c\n", encoding="utf-8")
    with pytest.raises(LogMappingError, match="'colour' is not a canonical field"):
        load_mapping(mapping)
    mapping.write_text("fields:\n  timestamp: created\n", encoding="utf-8")
    with pytest.raises(LogMappingError, match="required field"):
        load_mapping(mapping)


def test_mixed_time_zones_are_stored_in_utc(case_file: CaseFile, tmp_path: Path) -> None:
    same_instant = [
        "2025-03-01T12:00:00+02:00",
        "2025-03-01T10:00:00Z",
        "2025-03-01 05:00:00-05:00",
        1_740_823_200,  # epoch seconds
        1_740_823_200_000,  # epoch milliseconds
        "2025-03-01T10:00:00",  # no zone: the mapping's naive_timezone, UTC
    ]
    rows = [{**record(i), "created": t} for i, t in enumerate(same_instant)]
    log = tmp_path / "tz.jsonl"
    log.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    import_logs(case_file, [log])
    got = _rows(
        case_file,
        "SELECT count(*), count(DISTINCT timestamp), min(timestamp)::VARCHAR FROM requests",
    )
    assert got == [(6, 1, "2025-03-01 10:00:00+00")]


def test_values_out_of_range_are_rejected_not_fatal(case_file: CaseFile, tmp_path: Path) -> None:
    rows = [
        record(0),
        {**record(1), "created": 1e30},
        {**record(2), "usage": {"prompt_tokens": 2**70}},
        {**record(3), "usage": {"prompt_tokens": "many"}},
        {**record(4), "user": ""},
    ]
    log = tmp_path / "odd.jsonl"
    log.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    f = import_logs(case_file, [log]).files[0]
    assert f.rows_accepted == 1
    assert f.rejects_by_reason == {
        "account_id missing": 1,
        "input_tokens is not a whole number": 1,
        "input_tokens out of range": 1,
        "timestamp unparseable": 1,
    }
    assert [r.line for r in f.sample_rejects] == [2, 3, 4, 5]


def test_zero_row_files_are_refused(case_file: CaseFile, tmp_path: Path) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_bytes(b"")
    with pytest.raises(EvidenceError, match="holds no log rows.*empty"):
        import_logs(case_file, [empty])
    header_only = tmp_path / "header.csv"
    header_only.write_text("created,id,user,model,prompt\n", encoding="utf-8")
    with pytest.raises(EvidenceError, match="holds no log rows"):
        import_logs(case_file, [header_only])
    _nothing_written(case_file)


def test_duplicate_request_ids_are_rejected_naming_the_first(
    case_file: CaseFile, tmp_path: Path
) -> None:
    first = write_log(tmp_path / "first.jsonl", 20)
    import_logs(case_file, [first])
    again = tmp_path / "second.jsonl"
    rows = [record(100), record(5), record(100), record(101)]  # req-5 is in first.jsonl
    again.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    report = import_logs(case_file, [again])
    f = report.files[0]
    assert f.rows_accepted == 2 and f.rejects_by_reason == {"duplicate request_id": 2}
    details = {r.line: r.detail for r in f.sample_rejects}
    assert details == {
        2: f"duplicate request_id (first at file {first} line 6)",
        3: f"duplicate request_id (first at file {again} line 1)",
    }
    assert _rows(case_file, "SELECT count(*), count(DISTINCT request_id) FROM requests") == [
        (22, 22)
    ]


def test_reimporting_the_same_file_is_refused(case_file: CaseFile, tmp_path: Path) -> None:
    log = write_log(tmp_path / "log.jsonl", 30)
    import_logs(case_file, [log])
    copy = tmp_path / "renamed.jsonl"
    copy.write_bytes(log.read_bytes())
    with pytest.raises(EvidenceError, match=r"already imported .* as .*log\.jsonl \(import 1"):
        import_logs(case_file, [copy])
    assert _events(case_file) == 1 and _imports(case_file) == 1
    assert _rows(case_file, "SELECT count(*) FROM requests") == [(30,)]


class _CancelAfter(JobState):
    """Cancels once the import has reported ``n`` progress updates."""

    def __init__(self, n: int) -> None:
        super().__init__()
        self.n = n

    def on_progress(self, percent: float) -> None:
        if percent > 0:
            self.n -= 1
            if self.n <= 0:
                self.cancel()


def test_cancel_mid_import_leaves_no_rows_and_no_audit_event(
    case_file: CaseFile, tmp_path: Path
) -> None:
    log = write_log(tmp_path / "log.jsonl", 30_000)  # the first batch is 20,000 rows
    with pytest.raises(Cancelled):
        import_logs(case_file, [log], progress=_CancelAfter(1))
    _nothing_written(case_file)  # the store this import created is gone again
    # Into an existing store: it keeps exactly what it held.
    import_logs(case_file, [write_log(tmp_path / "small.jsonl", 10)])
    with pytest.raises(Cancelled):
        import_logs(case_file, [log], cancel=lambda: True)
    assert _rows(case_file, "SELECT count(*) FROM requests") == [(10,)]
    assert _events(case_file) == 1 and _imports(case_file) == 1
    assert describe_store(case_file).ok


def test_missing_or_changed_store_is_reported(
    case_file: CaseFile, case_id: int, tmp_path: Path
) -> None:
    log = write_log(tmp_path / "log.jsonl", 50)
    import_logs(case_file, [log], case=case_id)
    checks = verify_case_evidence(case_file, case_id)
    assert all(c.ok for c in checks if c.kind in ("traffic log", "log store"))
    store = store_path_for(case_file.path)
    with duckdb.connect(str(store)) as con:
        con.execute("DELETE FROM requests WHERE source_line = 7")
    summary = describe_store(case_file)
    assert not summary.ok and "holds 49 request rows, the import stored 50" in summary.problems[0]
    with pytest.raises(LogStoreChangedError, match="49 request rows"):
        import_logs(case_file, [write_log(tmp_path / "more.jsonl", 5)])
    bad = [f for c in verify_case_evidence(case_file, case_id) for f in c.files if not c.ok]
    assert any("49 request rows" in f.what for f in bad)
    store.unlink()
    assert "is missing" in describe_store(case_file).problems[0]


def test_a_damaged_or_unrecorded_store_is_refused_untouched(
    case_file: CaseFile, tmp_path: Path
) -> None:
    log = write_log(tmp_path / "a.jsonl", 5)
    store = store_path_for(case_file.path)
    store.write_bytes(b"not a DuckDB file " * 200)
    with pytest.raises(LogStoreChangedError, match="cannot be opened as a DuckDB database"):
        import_logs(case_file, [log])
    assert store.read_bytes().startswith(b"not a DuckDB file")
    store.unlink()
    with duckdb.connect(str(store)) as con:  # rows that no import of this case file made
        for ddl in (create_requests_sql(), create_imports_sql(), create_rejects_sql()):
            con.execute(ddl)
        con.execute(
            "INSERT INTO requests (timestamp, request_id, account_id, model, prompt, "
            "source_file, source_line) VALUES (now(), 'x', 'a', 'm', 'p', 'f00d', 1)"
        )
    with pytest.raises(LogStoreChangedError, match="never recorded"):
        import_logs(case_file, [log])
    assert _events(case_file) == 0 and _imports(case_file) == 0


def test_cli_import_and_show(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from core.cli import main

    db = str(tmp_path / "c.dacase")
    log = write_log(tmp_path / "log.jsonl", 25, bad={3: "not json"})
    assert main(["--db", db, "traffic", "import", str(log), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["rows_accepted"] == 25 and out["rows_rejected"] == 1
    assert out["files"][0]["sample_rejects"][0]["line"] == 4
    assert main(["--db", db, "traffic", "show"]) == 0
    text = capsys.readouterr().out
    assert "25 request(s) from 25 account(s)" in text and "malformed JSON: 1" in text
    assert main(["--db", db, "--json", "traffic", "show"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["rows"] == 25 and shown["files"][0]["rows_rejected"] == 1
    assert main(["--db", db, "traffic", "import", str(log)]) == 2
    assert "already imported" in capsys.readouterr().err
    # Filed under a case; opening the case says whether its log store still holds.
    assert main(["--db", db, "case", "new", "--title", "H v Q", "--reference", "DA-7"]) == 0
    more = write_log(tmp_path / "more.jsonl", 3, accounts=1)
    more.write_text(more.read_text().replace("req-", "more-"))
    assert main(["--db", db, "traffic", "import", str(more), "--case", "DA-7"]) == 0
    capsys.readouterr()
    assert main(["--db", db, "case", "show", "DA-7"]) == 0
    assert "matches the case file's record of its imports" in capsys.readouterr().out
    store_path_for(Path(db)).unlink()
    assert main(["--db", db, "case", "show", "DA-7"]) == 0
    assert "Logs: PROBLEM: The log store" in capsys.readouterr().out
    assert main(["--db", db, "traffic", "show"]) == 1
    assert "is missing" in capsys.readouterr().out


_RSS_SCRIPT = """
import resource, sys
from pathlib import Path
import duckdb, pyarrow, pyarrow.parquet
from core.store.db import open_case_file
from core.traffic.import_logs import import_logs
cf = open_case_file(Path(sys.argv[1]))
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
report = import_logs(cf, [Path(sys.argv[2])])
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(report.rows_accepted, before, after)
"""


def _peak_rss_growth_mb(tmp_path: Path, rows: int) -> float:
    log = write_log(tmp_path / "big.jsonl", rows)
    out = subprocess.run(
        [sys.executable, "-c", _RSS_SCRIPT, str(tmp_path / "c.dacase"), str(log)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert int(out[0]) == rows
    return (int(out[2]) - int(out[1])) / 1024  # ru_maxrss is in KiB on Linux


@pytest.mark.skipif(sys.platform != "linux", reason="ru_maxrss units differ off Linux")
def test_import_memory_stays_bounded(tmp_path: Path) -> None:
    growth = _peak_rss_growth_mb(tmp_path, 200_000)  # ~87 MB of JSONL
    assert growth < 300, f"peak RSS grew by {growth:.0f} MB"


@pytest.mark.slow
@pytest.mark.skipif(sys.platform != "linux", reason="ru_maxrss units differ off Linux")
def test_import_of_a_few_hundred_mb_streams(tmp_path: Path) -> None:
    growth = _peak_rss_growth_mb(tmp_path, 1_000_000)  # ~440 MB of JSONL
    assert growth < 400, f"peak RSS grew by {growth:.0f} MB"
