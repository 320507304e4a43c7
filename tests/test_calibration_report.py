"""The calibration-of-the-procedure section: the bundle record, the Tippett plot, the PDF text."""

from __future__ import annotations

import io
from types import SimpleNamespace

import numpy as np
from reportlab.lib.pagesizes import A4
from reportlab.platypus import SimpleDocTemplate

from core.checks.likelihood_ratio import measure_lr, rate_bound
from core.distill.calibration_lr import groups
from core.reports.calibration_lr import calibration_lr_record
from core.reports.charts import figure_png, tippett_figure
from core.reports.pdf_calibration import NO_LR, lr_section


def _students() -> list[dict]:
    rng = np.random.default_rng(0)
    out = []
    for i, s in enumerate(rng.normal(3, 1, 6)):
        out.append(
            {
                "role": "distilled",
                "epochs": 1 + i % 2,
                "n": 8,
                "statistic": float(s),
                "detected": s > 1.3,
                "checks": {"harvest": {"verdict": "supports Hp", "p_family": 10**-s}},
            }
        )
    for s in rng.normal(0.3, 0.2, 5):
        out.append(
            {
                "role": "control",
                "n": 8,
                "statistic": float(s),
                "detected": False,
                "checks": {"harvest": {"verdict": "does not support Hp", "p_family": 0.5}},
            }
        )
    return out


def _record() -> dict:
    st = _students()
    lr = measure_lr(
        [s["statistic"] for s in st if s["role"] == "distilled"],
        [s["statistic"] for s in st if s["role"] == "control"],
        2.5,
        n_boot=50,
    )
    run = SimpleNamespace(
        id=7,
        parameters={"null_source": "another teacher's answers"},
        summary={
            "procedure": {"check_run_id": 3, "checks": ["harvest"], "n_tests": 1},
            "groups": groups(st, ["harvest"], 0.05),
            "false_positive_bound": rate_bound(0, 5).to_dict(),
            "likelihood_ratio": lr.to_dict(),
        },
    )
    rec = calibration_lr_record(run)
    assert rec is not None
    return rec


def test_groups_give_rates_per_epoch_and_per_check() -> None:
    rows = {(r["group"], r["epochs"]): r for r in groups(_students(), ["harvest"], 0.05)}
    assert set(rows) == {("distilled", 1), ("distilled", 2), ("control", None)}
    twins = rows[("control", None)]
    assert twins["k"] == 0 and twins["m"] == 5 and twins["quantity"] == "false_positive"
    assert abs(twins["upper_95_one_sided"] - (1 - 0.05 ** (1 / 5))) < 1e-9
    assert rows[("distilled", 1)]["by_check"]["harvest"] == {
        **rows[("distilled", 1)]["by_check"]["harvest"],
        "k": 3,
        "m": 3,
    }
    lo, hi = rows[("distilled", 1)]["ci"]
    assert 0 <= lo <= hi <= 1


def test_record_is_none_without_the_cases_procedure() -> None:
    old = SimpleNamespace(id=1, parameters={}, summary={"points": [], "students": []})
    assert calibration_lr_record(old) is None


def test_tippett_figure_renders() -> None:
    fig = tippett_figure([5.0, 20.0, 0.8], [0.1, 0.5, 1.2], 12.0, title="t")
    ax = fig.axes[0]
    assert len(ax.lines) == 4  # Hp, Hd, the case, LR = 1
    hp_line = np.asarray(ax.lines[0].get_ydata())
    assert hp_line[0] == 1.0 and hp_line[-1] == 0.0  # a survival curve from 1 down to 0
    assert figure_png(fig, dpi=50)[:8] == b"\x89PNG\r\n\x1a\n"
    empty = tippett_figure([], [])
    assert not empty.axes[0].axison


def _pdf_text(flowables: list) -> str:
    from pypdf import PdfReader

    buf = io.BytesIO()
    SimpleDocTemplate(buf, pagesize=A4).build(flowables)
    pages = PdfReader(io.BytesIO(buf.getvalue())).pages
    return " ".join(" ".join(p.extract_text().split()) for p in pages)


def test_the_pdf_section_quotes_the_lr_only_from_a_calibration() -> None:
    from core.reports.pdf_layout import register_fonts

    register_fonts()  # as core.reports.pdf does before building any paragraph
    shown: list[str] = []

    def figure(fig: object, caption: str) -> list:
        shown.append(caption)
        return []

    rec = _record()
    text = _pdf_text(lr_section([rec], figure))
    assert "replayed check run 3" in text and "Holm over 1" in text
    assert "another teacher" in text and "0/5" in text and "Cllr" in text
    assert rec["likelihood_ratio"]["verbal"]["label"].split()[0] in text
    assert shown and shown[0].startswith("Tippett plot")
    none = _pdf_text(lr_section([], figure))
    assert "no verbal scale of support" in none and NO_LR.split()[0] in none
    assert "support for Hp" not in none


def test_the_gui_hook_shows_the_same_tippett_figure() -> None:
    from app.views.charts import tippett_chart

    lr = _record()["likelihood_ratio"]
    fig = tippett_chart(lr)
    assert fig is not None and fig.axes[0].get_xlabel().startswith("log10 likelihood ratio")
    assert tippett_chart(None) is None and tippett_chart({"lr_hp": []}) is None
