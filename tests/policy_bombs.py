"""Resource-bomb terms files, built at test time, and a runner that imports one in a
fresh interpreter and reports the outcome with the time and memory it took.

Run as ``python -m tests.policy_bombs CASE DIR``: it builds the file in DIR, imports it
into a new case file there and prints one JSON line (outcome, error, CPU seconds, peak
resident memory above the baseline, row counts before and after, case-file size).
A separate process keeps a runaway import from taking the test run down with it and
makes its peak memory measurable (``ru_maxrss``), C allocations (lxml) included.
"""

from __future__ import annotations

import io
import json
import resource
import sys
import time
import traceback
import zipfile
from collections.abc import Callable
from pathlib import Path

_W_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"


def _lines(path: Path, lines: list[str]) -> Path:
    path.write_text("Acme Terms\n\nEffective 1 March 2025.\n\n" + "\n".join(lines) + "\n")
    return path


def repeated_one_markers(d: Path) -> Path:
    """1,000 lines of '1.': each clause nested in the previous one (was 516 MB)."""
    return _lines(d / "ones.txt", [f"1. The customer shall comply, item {i}." for i in range(1000)])


def nested_ordered_lists(d: Path) -> Path:
    """A 72 KB page of nested <ol><li>: one clause level per list (was 4 GB)."""
    n = 3000
    body = "<ol><li>Clause text " * n + "</li></ol>" * n
    path = d / "nested.html"
    path.write_text(f"<html><body><h1>Acme Terms</h1><p>Version 2.</p>{body}</body></html>")
    return path


def nested_paren_items(d: Path) -> Path:
    """A 360 KB file of '(a)' items, each nested in the previous (was a 28 GB WAL)."""
    lines: list[str] = []
    size = 0
    while size < 360 * 1024:
        line = f"(a) the licensee may not sublicense item {len(lines)};"
        lines.append(line)
        size += len(line) + 1
    return _lines(d / "parens.txt", lines)


def nested_divs(d: Path) -> Path:
    """8,000 nested <div> elements (was 23 s in html_to_text); a legal page, imported."""
    n = 8000
    path = d / "divs.html"
    path.write_text(
        "<html><body><h1>Acme Terms</h1><p>Version 3.</p>"
        + "<div>Nested text " * n
        + "</div>" * n
        + "</body></html>"
    )
    return path


def unterminated_attributes(d: Path) -> Path:
    """240 KB of "<a b='" (html.parser rescans the rest of the file at each one)."""
    path = d / "attrs.html"
    path.write_text("<html><body><p>Version 1.</p>" + "<a b='" * 40000)
    return path


def endless_line(d: Path) -> Path:
    """One 150,000-character line of tiny sentences (slow to tag, not a paragraph)."""
    return _lines(d / "line.txt", ["1. Scope", "A. " * 50_000])


def huge_text(d: Path) -> Path:
    """3 million characters of short lines: more text than any terms document."""
    return _lines(d / "huge.txt", ["A. B. C. D. E. F. G. H. I. J. K. L. M. N. O. P."] * 63_000)


def too_many_clauses(d: Path) -> Path:
    """5,001 clauses with one sub-clause each: over the clause limit."""
    lines: list[str] = []
    for i in range(1, 5002):
        lines += [f"{i}. Clause {i}.", f"{i}.1 Sub-clause of clause {i}."]
    return _lines(d / "many.txt", lines)


def _docx(path: Path, document_xml: bytes, *, stored: bool = False) -> Path:
    """A real python-docx package whose word/document.xml is replaced."""
    import docx

    template = io.BytesIO()
    docx.Document().save(template)
    with zipfile.ZipFile(template) as src, zipfile.ZipFile(path, "w") as dst:
        for info in src.infolist():
            data = document_xml if info.filename == "word/document.xml" else src.read(info)
            method = zipfile.ZIP_STORED if stored and data is document_xml else zipfile.ZIP_DEFLATED
            dst.writestr(info.filename, data, compress_type=method, compresslevel=1)
    return path


def _document(body: str) -> bytes:
    return (
        f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f'<w:document xmlns:w="{_W_NS}"><w:body>{body}</w:body></w:document>'
    ).encode()


def zip_bomb(d: Path) -> Path:
    """64 MB of text packed into a ~60 KB .docx (the 1 MB bomb unpacked to 2.1 GB)."""
    run = "a" * (64 * 2**20)
    return _docx(d / "bomb.docx", _document(f"<w:p><w:r><w:t>{run}</w:t></w:r></w:p>"))


def many_empty_paragraphs(d: Path) -> Path:
    """5 million empty paragraphs, stored uncompressed so no ratio check applies."""
    return _docx(d / "paras.docx", _document("<w:p/>" * 5_000_000), stored=True)


def many_paragraphs(d: Path) -> Path:
    """150,000 short paragraphs: within the XML limits, over the paragraph limit."""
    para = "<w:p><w:r><w:t>Item.</w:t></w:r></w:p>"
    return _docx(d / "long.docx", _document(para * 150_000), stored=True)


def billion_laughs(d: Path) -> Path:
    """An entity-expansion bomb in word/document.xml."""
    ents = '<!ENTITY a0 "lol">' + "".join(
        f'<!ENTITY a{i} "{("&a" + str(i - 1) + ";") * 10}">' for i in range(1, 10)
    )
    xml = (
        f'<?xml version="1.0"?>\n<!DOCTYPE w:document [{ents}]>'
        f'<w:document xmlns:w="{_W_NS}"><w:body><w:p><w:r><w:t>&a9;</w:t></w:r></w:p>'
        "</w:body></w:document>"
    )
    return _docx(d / "laughs.docx", xml.encode())


def wide_table_cell(d: Path) -> Path:
    """One table cell claiming to span 50 million grid columns."""
    span = '<w:tcPr><w:gridSpan w:val="50000000"/></w:tcPr>'
    cell = f"<w:tc>{span}<w:p><w:r><w:t>x</w:t></w:r></w:p></w:tc>"
    return _docx(d / "wide.docx", _document(f"<w:tbl><w:tr>{cell}</w:tr></w:tbl><w:p/>"))


def tall_merged_table(d: Path) -> Path:
    """A 3,000-row table whose first column is one vertically merged cell (python-docx
    resolves each row by recursing through every row above it)."""
    restart = '<w:tcPr><w:vMerge w:val="restart"/></w:tcPr>'
    first = f"<w:tr><w:tc>{restart}<w:p><w:r><w:t>Fees</w:t></w:r></w:p></w:tc></w:tr>"
    rest = "<w:tr><w:tc><w:tcPr><w:vMerge/></w:tcPr><w:p/></w:tc></w:tr>" * 2999
    body = f"<w:p><w:r><w:t>Version 4.</w:t></w:r></w:p><w:tbl>{first}{rest}</w:tbl>"
    return _docx(d / "tall.docx", _document(body))


CASES: dict[str, Callable[[Path], Path]] = {
    f.__name__: f
    for f in (
        repeated_one_markers,
        nested_ordered_lists,
        nested_paren_items,
        nested_divs,
        unterminated_attributes,
        endless_line,
        huge_text,
        too_many_clauses,
        zip_bomb,
        many_empty_paragraphs,
        many_paragraphs,
        billion_laughs,
        wide_table_cell,
        tall_merged_table,
    )
}


def _counts(cf: object) -> dict[str, int]:
    from sqlalchemy import func, select

    from core.store.models import AuditEvent, Clause, ClauseTag, Policy

    with cf.read_session() as s:  # type: ignore[attr-defined]
        return {
            m.__name__: int(s.execute(select(func.count()).select_from(m)).scalar_one())
            for m in (Policy, Clause, ClauseTag, AuditEvent)
        }


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def run(case: str, directory: Path) -> dict[str, object]:
    """Build ``case`` in ``directory``, import it into a new case file, report."""
    import bs4  # noqa: F401  (load every importer's libraries before the baseline)
    import docx  # noqa: F401
    import lxml.etree  # noqa: F401

    from core.errors import DistillAuditError
    from core.policy.persist import import_policy
    from core.store.cases import create_case
    from core.store.db import open_case_file

    path = CASES[case](directory)
    db = directory / "case.dacase"
    cf = open_case_file(db)
    case_id = create_case(cf, "Bomb v Test", "DA-BOMB-1")
    before = _counts(cf)
    baseline = _rss_mib()
    cpu0, wall0 = time.process_time(), time.monotonic()
    report: dict[str, object] = {"case": case, "input_bytes": path.stat().st_size}
    try:
        import_policy(cf, case_id, path, provider="Acme", version="v1")
        report["outcome"] = "imported"
    except DistillAuditError as exc:
        report.update(outcome="refused", error=type(exc).__name__, message=str(exc))
    except BaseException as exc:  # a crash is a result too: the test shows it
        report.update(outcome="crash", error=type(exc).__name__, message=traceback.format_exc())
    report["cpu_s"] = round(time.process_time() - cpu0, 2)
    report["wall_s"] = round(time.monotonic() - wall0, 2)
    report["rss_mib"] = round(_rss_mib() - baseline, 1)
    report["before"], report["after"] = before, _counts(cf)
    cf.close()
    report["case_file_bytes"] = sum(
        p.stat().st_size for p in directory.glob("case.dacase*") if p.is_file()
    )
    return report


if __name__ == "__main__":
    print(json.dumps(run(sys.argv[1], Path(sys.argv[2]))))
