"""The report's Conduct section: the recorded traffic analysis, its clauses, the PDF read back."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import numpy as np
from pypdf import PdfReader

from core.demo import demo_dir, demo_traffic
from core.policy.persist import import_policy
from core.reports.charts import campaign_timeline_figure
from core.reports.export import export_report
from core.store.cases import create_case
from core.store.db import open_case_file


def test_conduct_section_in_bundle_and_pdf(tmp_path: Path) -> None:
    root = demo_dir()
    with open_case_file(tmp_path / "c.dacase") as cf:
        case_id = create_case(cf, "Conduct", "DA-CON-1", conduct_date=date(2025, 8, 1))
        import_policy(
            cf,
            case_id,
            root / "policies/terms_v1.md",
            provider="Halcyon Labs",
            version="v1",
            effective_from=date(2024, 3, 1),
        )
        import_policy(
            cf,
            case_id,
            root / "policies/terms_v2.md",
            provider="Halcyon Labs",
            version="v2",
            effective_from=date(2025, 6, 17),
        )
        found = demo_traffic(
            cf, case_id, root / "transcripts/halcyon_harvest_log.jsonl", lambda _m: None
        )
        export_report(
            cf, case_id, tmp_path / "r.pdf", json_path=tmp_path / "r.json", prepared_by="test"
        )
    bundle = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    conduct = bundle["content"]["conduct"]
    (camp,) = conduct["campaigns"]
    assert camp["id"] == found.campaign_id and camp["requests"] == found.requests
    numbers = {(c["version"], c["number"], c["category"]) for c in camp["clauses"]}
    # rate-limit circumvention across accounts (5.2) and multiple accounts (3.3) in v2
    assert ("v2", "5.2", "rate-limits") in numbers
    assert any(n == "3.3" and v == "v2" for v, n, _c in numbers)
    assert all(c["version"] == "v2" for c in camp["clauses"])  # v2 in force in July 2025
    assert any("region_mismatch" in u for u in camp["unmapped"])
    assert conduct["validation"]["recall"]["k"] == found.accounts
    pdf = "\n".join(p.extract_text() for p in PdfReader(str(tmp_path / "r.pdf")).pages)
    assert "Conduct: the provider" in pdf
    assert f"Campaign {found.campaign_id}" in pdf
    assert "Precision" in pdf and "Recall" in pdf


def test_timeline_figure_draws_one_line_per_campaign_with_zero_days() -> None:
    fig = campaign_timeline_figure({"TC-a": {"2025-07-01": 5, "2025-07-04": 2}, "TC-b": {}})
    (ax,) = fig.axes
    lines = ax.get_lines()
    assert len(lines) == 2
    assert np.asarray(lines[0].get_ydata()).tolist() == [5, 0, 0, 2]
    empty = campaign_timeline_figure({})
    assert not empty.axes[0].get_lines()
