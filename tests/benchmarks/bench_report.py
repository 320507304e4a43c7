"""Report export speed: a 200-finding, 20-artifact case must export in under 10 s.

The baseline, measured in the same run, is ReportLab laying out the same number of plain
paragraphs as the report has text items (findings, evidence files, audit events, clause
links) in a bare document: the ratio shows what tables, figures, the table of contents
and the second layout pass cost on top of ReportLab itself.

Run with ``make bench`` or ``.venv/bin/python -m tests.benchmarks.bench_report``.
"""

from __future__ import annotations

import io
import tempfile
import time
from pathlib import Path

import pytest

BUDGET_S = 10.0


def _baseline(n_items: int) -> float:
    """Seconds for ReportLab to build a plain document of ``n_items`` short paragraphs."""
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.platypus import Paragraph, SimpleDocTemplate

    style = getSampleStyleSheet()["BodyText"]
    start = time.perf_counter()
    story = [
        Paragraph(
            f"Item {i}: the suspect model assigned the protected model's answers a "
            "higher likelihood than each reference model did.",
            style,
        )
        for i in range(n_items)
    ]
    SimpleDocTemplate(io.BytesIO(), invariant=1).build(story)
    return time.perf_counter() - start


def run(folder: Path) -> dict[str, float]:
    from core.reports.export import export_report
    from core.reports.gather import gather_report_data
    from core.store.db import open_case_file
    from tests.test_report import answers_file
    from tests.test_report_case import GENERATED_AT, build_report_case
    from tests.tinymodels import build_tiny_gpt2

    model = build_tiny_gpt2(folder / "tiny", seed=0)
    cf = open_case_file(folder / "bench.dacase")
    built = build_report_case(
        cf, model, folder, answers_file(folder), n_references=18, n_findings=200, n_probes=60
    )
    start = time.perf_counter()
    result = export_report(
        cf,
        built.reference,
        folder / "report.pdf",
        json_path=folder / "bundle.json",
        csv_dir=folder / "csv",
        generated_at=GENERATED_AT,
        prepared_by="Benchmark",
    )
    total = time.perf_counter() - start
    start = time.perf_counter()
    data = gather_report_data(cf, built.reference, generated_at=GENERATED_AT)
    gather = time.perf_counter() - start
    cf.close()
    items = (
        len(data.findings)
        + sum(len(e.files) for e in data.evidence)
        + len(data.audit)
        + len(data.clause_links)
    )
    baseline = _baseline(items)
    return {
        "export_s": total,
        "gather_s": gather,
        "pages": result.pages,
        "artifacts": sum(1 for e in data.evidence if e.kind == "model"),
        "findings": len(data.findings),
        "items": items,
        "baseline_s": baseline,
        "ratio": total / baseline,
    }


def _print(r: dict[str, float]) -> None:
    print(
        f"\nreport export: {r['findings']:.0f} findings, {r['artifacts']:.0f} model artifacts, "
        f"{r['pages']:.0f} pages in {r['export_s']:.2f} s (gather and re-verify "
        f"{r['gather_s']:.2f} s; budget {BUDGET_S:.0f} s)"
    )
    print(
        f"baseline (ReportLab, {r['items']:.0f} plain paragraphs): {r['baseline_s']:.2f} s; "
        f"ratio {r['ratio']:.1f}x"
    )


@pytest.mark.bench
def test_bench_report_export(tmp_path: Path) -> None:
    r = run(tmp_path)
    _print(r)
    assert r["artifacts"] == 20 and r["findings"] >= 200
    assert r["export_s"] < BUDGET_S


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp:
        _print(run(Path(tmp)))
