"""The analytical middle of the PDF: methods, validation, results, interpretation.

Results (Section 5) state numbers only; what they mean is said in Section 6, so a reader
can check the numbers without the tool's reading of them.
"""

from __future__ import annotations

import io

from reportlab.lib.units import mm
from reportlab.platypus import CondPageBreak, Flowable, Paragraph

from core.checks.pformat import at_most
from core.checks.stats import p_floor
from core.reports import charts, wording
from core.reports.data import CheckRecord, ReportData, RunBrief
from core.reports.formatting import (
    DASH,
    compact,
    format_ci,
    format_lineage_p,
    format_num,
    format_p,
    format_p_n,
    format_rate,
    format_time,
    le,
)
from core.reports.pdf_layout import (
    STYLES,
    WIDTH,
    FigureImage,
    box,
    data_table,
    gap,
    heading,
    keep,
    kv_table,
    mono,
    para,
    text,
)

ACCESS = {
    "text": "text: the models' answers only (black-box)",
    "log-probs": "log-probabilities: the models score given texts (grey-box)",
    "weights": "weights: both models' parameters are examined (white-box)",
}


class FigureCounter:
    """Numbers figures across the document."""

    def __init__(self) -> None:
        self.n = 0

    def figure(self, fig: object, caption: str) -> list[Flowable]:
        self.n += 1
        png = charts.figure_png(fig)  # type: ignore[arg-type]
        w_in, h_in = fig.get_size_inches()  # type: ignore[attr-defined]
        scale = min(1.0, WIDTH / (w_in * 72))
        img = FigureImage(io.BytesIO(png), width=w_in * 72 * scale, height=h_in * 72 * scale)
        img.hAlign = "LEFT"
        return [
            keep(
                img, gap(1), Paragraph(f"<b>Figure {self.n}.</b> {text(caption)}", STYLES["small"])
            ),
            gap(3),
        ]


def _inputs(c: CheckRecord, references: bool) -> str:
    items = [i for i in c.inputs if (i.role == "reference") == references]
    if not items:
        return "none recorded"
    return "; ".join(
        f"{'' if references else i.role.replace('_', ' ') + ': '}"
        f"{(i.label + ' ') if i.label else ''}{i.name}"
        for i in items
    )


def _suite(c: CheckRecord) -> object:
    s = c.probe_suite
    if s is None:
        return "not recorded by the run"
    count = f"{s.count:,} probes" if s.count is not None else "count not recorded"
    return [
        para(f"{s.name}, version {s.version or 'not recorded'}, {count}", "cell"),
        mono(f"SHA-256 {s.sha256}" if s.sha256 else "SHA-256 not recorded"),
    ]


def _parameters(params: dict[str, object]) -> Flowable | str:
    if not params:
        return "none recorded"
    return Paragraph(
        "; ".join(f"<b>{text(k)}</b> {text(compact(v, 160))}" for k, v in sorted(params.items())),
        STYLES["cell_small"],
    )


def _software(sw: dict[str, object]) -> str:
    return "; ".join(f"{k} {v}" for k, v in sorted(sw.items())) or "not recorded"


def _check_method(number: str, c: CheckRecord) -> list[Flowable]:
    pairs: list[tuple[str, object]] = [
        ("Question", c.question),
        ("Access level", ACCESS.get(c.access, c.access)),
        ("Null hypothesis", c.null_hypothesis),
        ("Alternative", c.alternative),
        ("Test", c.test),
        ("Probe suite", _suite(c)),
        ("Reference panel", _inputs(c, True)),
        ("Other inputs", _inputs(c, False)),
        (
            "Significance level",
            f"alpha = {c.alpha:g}"
            + (f"; minimum effect size {c.min_effect:g}" if c.min_effect is not None else ""),
        ),
        ("Seed", str(c.seed) if c.seed is not None else "none recorded"),
        ("Parameters", _parameters(c.parameters)),
        (
            "Run",
            f"run {c.run_id} ({c.kind}), {c.status}; started {format_time(c.started_at)}, "
            f"finished {format_time(c.finished_at)}",
        ),
        ("Software", para(_software(c.software), "cell_small")),
    ]
    return [*heading(number, f"{c.title} (run {c.run_id})"), kv_table(pairs), gap(2)]


def _runs_table(runs: list[RunBrief]) -> Flowable:
    return data_table(
        ["Run", "Kind", "Status", "Seed", "Parameters"],
        [
            [
                str(r.run_id),
                r.kind,
                r.status,
                str(r.seed) if r.seed is not None else DASH,
                compact(r.parameters, 300),
            ]
            for r in runs
        ],
        [7, 18, 11, 9, 55],
        mono=(4,),
    )


def methods(data: ReportData) -> list[Flowable]:
    out = heading("3", "Methods", 0)
    out.append(
        para(
            "Each check states its question, the access to the models it needs and the null "
            "hypothesis it tests; probes, thresholds and seeds were fixed before the run. Every "
            "p-value is computed against a panel of reference models known to be independent of "
            "the protected model, and Monte Carlo p-values are (1+k)/(N+1), never zero."
        )
    )
    if not data.checks:
        out.append(box(wording.NOTES["checks"]))
    for i, c in enumerate(data.checks, 1):
        out += _check_method(f"3.{i}", c)
    others = data.calibration_runs + data.experiments
    out += heading(f"3.{len(data.checks) + 1}", "Experiments and calibration runs")
    if others:
        out.append(_runs_table(others))
    else:
        out.append(box(wording.NOTES["experiments"] + " " + wording.NO_CALIBRATION))
    return out


def _rate_ci(low: float | None, high: float | None) -> str:
    if low is None or high is None:
        return "not recorded"
    return f"[{format_rate(low)}, {format_rate(high)}]"


def validation(data: ReportData, figures: FigureCounter, number: str = "4") -> list[Flowable]:
    out = heading(number, "Validation: measured error rates", 0)
    out.append(
        para(
            "A test's p-value rests on its assumptions; how often a check actually flags distilled "
            "models (detection rate) and independent ones (false-positive rate) is measured by "
            "calibration: the checks are run on students distilled locally from a known teacher "
            "and on independent control models."
        )
    )
    if not data.calibration:
        out.append(
            box(
                [
                    para(wording.NO_CALIBRATION, "note_strong"),
                    para(
                        "The results in Section 4 must therefore be read without an empirical "
                        "check of the tests' error rates on models like these; they rest on the "
                        "tests' stated assumptions alone.",
                        "note",
                    ),
                ],
                "warn",
            )
        )
        return out
    titles = {c.key: c.title for c in data.checks}
    rows = [
        [
            titles.get(r.check, r.check),
            "detection rate" if r.quantity == "detection" else "false-positive rate",
            r.condition,
            f"{r.k}/{r.n}" if r.k is not None and r.n else (str(r.n) if r.n else DASH),
            format_rate(r.rate),
            _rate_ci(r.ci_low, r.ci_high),
            para(r.ci_method, "cell_small"),
        ]
        for r in data.calibration
    ]
    out.append(
        data_table(
            ["Check", "Measured", "Condition", "k / n", "Rate", "95% CI", "Interval"],
            rows,
            [19, 13, 21, 8, 9, 16, 14],
        )
    )
    calibrated = {r.check for r in data.calibration}
    missing = sorted(
        {
            c.title
            for c in data.checks
            if c.completed and c.verdict != "declined" and c.key not in calibrated
        }
    )
    if missing and "all checks" not in calibrated:
        out += [
            gap(2),
            box(
                "No calibration was run for: "
                + ", ".join(missing)
                + "; the error rates of these checks on this evidence are not "
                "measured.",
                "warn",
            ),
        ]
    out.append(gap(3))
    if "figures_calibration" in data.notes:
        out.append(box(data.notes["figures_calibration"]))
    else:
        fig = charts.calibration_curve_figure(data.calibration, labels=titles)
        out += figures.figure(
            fig,
            "Calibration curve: share of locally distilled students "
            "flagged by each check against the number of distillation "
            "samples (bars: 95% CI); dashed lines and bands: false-positive "
            "rate on independent controls with its 95% CI.",
        )
    from core.reports.pdf_calibration import lr_section

    out += lr_section(data.calibration_lr, figures.figure)
    return out


def _results_table(c: CheckRecord) -> list[Flowable]:
    """Per reference: descriptive per-probe tests (mean difference, d_z with its own CI)."""
    rows = [
        [
            r.comparison or DASH,
            format_num(r.value),
            (
                f"{format_num(r.effect_size)} {format_ci(r.ci_low, r.ci_high)}".strip()
                + (f" ({r.effect_name})" if r.effect_name else "")
            ),
            format_p_n(r.p_value, r.n, p_floor(r.n_resamples)),
            format_p(r.p_adjusted),
        ]
        for r in c.results
    ]
    out: list[Flowable] = [
        data_table(
            [
                "Suspect compared with",
                "Mean per-probe difference",
                "Effect size [95% CI]",
                "Per-probe p (N)",
                "Holm p within check",
            ],
            rows,
            [22, 18, 24, 20, 16],
        )
    ]
    methods = list(dict.fromkeys(r.method for r in c.results if r.method))
    if methods:
        out.append(
            para(
                "Per comparison (descriptive: how consistently, probe by probe; these tests do "
                "not decide the verdict, since their null is not Hd): " + "; ".join(methods) + ".",
                "small",
            )
        )
    return out


def _check_results(number: str, c: CheckRecord, figures: FigureCounter) -> list[Flowable]:
    out = heading(number, f"{c.title} (run {c.run_id})")
    if not c.completed:
        return [
            *out,
            box(
                f"This check did not complete (status: {c.status}). "
                f"{c.reason or c.error or ''} No result is reported.",
                "warn",
            ),
        ]
    if c.verdict == "declined":
        return [
            *out,
            box(
                f"This check declined to run: {c.reason} No test was made and no "
                "result is reported.",
                "warn",
            ),
        ]
    tables: list[Flowable] = [
        data_table(
            [
                "Verdict",
                "Suspect's value",
                "Difference from the references [95% interval]",
                "Model-level p (N probes)",
                "Holm across checks",
            ],
            [
                [
                    para(c.verdict, "cell_bold"),
                    format_num(c.statistic),
                    f"{format_num(c.effect_size)} {format_ci(c.ci_low, c.ci_high)}".strip(),
                    (
                        format_lineage_p(c.p_value, c.results)
                        if c.key == "lineage"
                        else format_p_n(c.p_value, c.n_probes, c.p_floor)
                    ),
                    format_p(c.p_family),
                ]
            ],
            [18, 26, 14, 26, 16],
            zebra=False,
        ),
        gap(2),
    ]
    if c.test_used:
        tables += [
            para(
                f"Model-level test ({c.test_used}): if the suspect were an independent model "
                "like the references, a result at least this extreme would occur with "
                f"probability ≤ {at_most(format_p(c.p_value, c.p_floor))}."
                + (
                    f" The assumption-free rank test needs at least {c.panel_needed} "
                    f"references; this panel has {c.n_references}."
                    if c.panel_needed is not None
                    and c.n_references is not None
                    and c.n_references < c.panel_needed
                    else ""
                ),
                "small",
            ),
            gap(2),
        ]
    if c.results:
        tables += _results_table(c)
    elif not c.details.get("rank_histogram"):  # the harvest test compares with no panel
        tables.append(box("The run recorded no per-comparison results."))
    # The heading travels with the tables (keepWithNext cannot reach into a KeepTogether).
    out = [out[0], keep(out[1], *tables), gap(3)]
    if c.details.get("rank_histogram"):
        out += _harvest_section(c, figures)
    elif c.series:
        fig = charts.probe_distribution_figure(c.series, xlabel=c.score_label)
        what = (
            "share of probes with a hit"
            if charts.is_binary(c.series)
            else "per-probe values (points: probes; boxes: quartiles and median)"
        )
        out += figures.figure(
            fig,
            f"{c.title} (run {c.run_id}): {what} for the suspect and "
            "each reference model" + (f"; unit: {c.unit}" if c.unit else "") + ".",
        )
    else:
        out.append(box(wording.NOTES["figures_probes"]))
    if c.warnings:
        out += [
            gap(1),
            box(
                [para("Recorded by the check", "cell_bold")]
                + [Paragraph(text(w), STYLES["bullet"], bulletText="•") for w in c.warnings]
            ),
        ]
    return out


def _harvest_section(c: CheckRecord, figures: FigureCounter) -> list[Flowable]:
    """The harvest test's figures: p with N and K, the top share, exclusions, rank histogram."""
    d = c.details

    def pct(x: object) -> str:
        return format_rate(float(x)) if isinstance(x, (int, float)) else DASH

    lo, hi = (d.get("top_share_ci") or [None, None])[:2]
    ks = d.get("k_values") or []
    k_text = f"K = {ks[0]}" if len(ks) == 1 else f"K = {min(ks)}-{max(ks)}" if ks else ""
    excluded = {k: v for k, v in (d.get("excluded_by_reason") or {}).items() if v}
    lines = [
        f"{d.get('p_text', '')} (exact rank-sum test, N = {c.n_probes} logged prompts, {k_text} "
        "regenerations each; no reference panel).",
        f"The logged answer was the suspect's favourite on {pct(d.get('top_share'))} of prompts "
        f"(95% CI {pct(lo)} to {pct(hi)}); {pct(d.get('expected_top_share'))} expected if the "
        "suspect had never seen the logged answers.",
        f"Rank advantage {format_num(c.effect_size)} {format_ci(c.ci_low, c.ci_high)} (0 under "
        "Hd, 1 when the logged answer always ranks first).",
        f"Prompts left out: {d.get('prompts_excluded', 0)}"
        + (" (" + ", ".join(f"{k}: {v}" for k, v in excluded.items()) + ")" if excluded else "")
        + "; each is listed with its reason in the run's results.",
    ]
    fig = charts.harvest_rank_figure(d["rank_histogram"], d.get("rank_histogram_expected"))
    return [
        box([Paragraph(text(line), STYLES["bullet"], bulletText="•") for line in lines]),
        gap(2),
        *figures.figure(
            fig,
            f"{c.title} (run {c.run_id}): logged prompts by the rank of the logged answer among "
            "its regenerations under the suspect (left: the logged answer scored highest); the "
            "dashed line is what Hd predicts.",
        ),
    ]


def results(data: ReportData, figures: FigureCounter) -> list[Flowable]:
    out = heading("5", "Results", 0)
    out.append(
        para(
            "This section reports the statistics as computed, without interpretation (see "
            "Section 6). Each verdict's p-value is the model-level test's (the suspect against "
            "the spread of the reference models) and is shown with its N; the per-reference "
            "per-probe tests are descriptive. 'Holm p within check' corrects for the comparisons "
            "within a check, 'Holm across checks' for the several checks of this report. "
            "Per-probe values are in the CSV tables and the JSON bundle."
        )
    )
    if not data.checks:
        out.append(box(wording.NOTES["checks"]))
        return out
    for i, c in enumerate(data.checks, 1):
        out += _check_results(f"5.{i}", c, figures)
    if data.combined:
        out += heading(f"5.{len(data.checks) + 1}", "Across checks")
        out.append(
            data_table(
                ["Check", "p (raw)", "Holm-adjusted across checks"],
                [
                    [
                        f"{c.title} (run {c.run_id})",
                        format_p(c.p_value, c.p_floor),
                        format_p(c.p_family)
                        if c.p_family is not None
                        else "not part of the combination",
                    ]
                    for c in data.checks
                    if c.completed
                ],
                [60, 20, 20],
            )
        )
        for cb in data.combined:
            out.append(gap(2))
            out.append(
                para(
                    f"Run {cb.run_id} — {cb.method}: {le(cb.statement)}."
                    + (f" {cb.signal_note}" if cb.signal_note else "")
                    + "".join(f" {v}" for v in cb.excluded.values())
                )
            )
    return out


def _lineage_scale(data: ReportData) -> list[dict[str, str]]:
    """The weight check's own scale (it never speaks of Hp or Hd), when it was run."""
    from core.checks.lineage import SCALE

    return [lv.to_dict() for lv in SCALE] if any(c.key == "lineage" for c in data.checks) else []


def interpretation(data: ReportData, number: str = "6") -> list[Flowable]:
    out = heading(number, "Interpretation and limitations", 0)
    out += heading(f"{number}.1", "The verbal scale")
    out.append(
        para(
            "Each check's level is expressed on a fixed verbal scale defined before any run, "
            "keyed on the family-wise p-value (Holm across the checks) and the direction and "
            "size of the effect; it says how unusual the result is for an independent model:"
        )
    )
    out.append(
        data_table(
            ["Level", "Definition"],
            [
                [para(str(lv["label"]), "cell_bold"), str(lv["definition"])]
                for lv in [*data.verbal_scale, *_lineage_scale(data)]
            ],
            [26, 74],
        )
    )
    out += heading(f"{number}.2", "What a p-value does not say")
    out.append(box(wording.P_VALUE_CAUTION, "warn"))
    out += heading(f"{number}.3", "Limitations")
    out += [Paragraph(text(item), STYLES["bullet"], bulletText="•") for item in data.limitations]
    return out


def _run_label(data: ReportData, run_id: int) -> str:
    """'suspect-osprey (M3, suspect)': the model a run tested, with its role on page one."""
    op = data.opinion
    for m in op.models if op else []:
        if m.run_id == run_id:
            return f"{m.model} ({m.label}, {m.role}; run {run_id})"
    return f"run {run_id}"


def _method_table(c: CheckRecord) -> Flowable:
    return kv_table(
        [
            ("Question", c.question),
            ("Access level", ACCESS.get(c.access, c.access)),
            ("Null hypothesis", c.null_hypothesis),
            ("Alternative", c.alternative),
            ("Test", c.test),
            ("Probe suite", _suite(c)),
            ("Reference panel", _inputs(c, True)),
            (
                "Significance level",
                f"alpha = {c.alpha:g}"
                + (f"; minimum effect size {c.min_effect:g}" if c.min_effect is not None else "")
                + "; seeds, parameters and software of each run: Appendix B",
            ),
        ]
    )


def _p_cell(c: CheckRecord) -> str:
    if c.key == "lineage":
        return format_lineage_p(c.p_value, c.results)
    return format_p_n(c.p_value, c.n_probes, c.p_floor)


def _verdict_rows(data: ReportData, group: list[CheckRecord]) -> list[list[object]]:
    rows: list[list[object]] = []
    for c in group:
        if not c.completed or c.verdict == "declined":
            rows.append(
                [
                    _run_label(data, c.run_id),
                    para(c.verdict if c.completed else f"not completed ({c.status})", "cell_bold"),
                    "no test (reason below)",
                    DASH,
                    DASH,
                    DASH,
                ]
            )
            continue
        rows.append(
            [
                _run_label(data, c.run_id),
                para(f"{c.verdict} ({c.strength})", "cell_bold"),
                format_num(c.statistic),
                f"{format_num(c.effect_size)} {format_ci(c.ci_low, c.ci_high)}".strip(),
                _p_cell(c),
                format_p(c.p_family) if c.p_family is not None else "not combined",
            ]
        )
    return rows


def _comparison_rows(data: ReportData, group: list[CheckRecord]) -> list[list[object]]:
    return [
        [
            _run_label(data, c.run_id),
            r.comparison or DASH,
            format_num(r.value),
            f"{format_num(r.effect_size)} {format_ci(r.ci_low, r.ci_high)}".strip(),
            format_p_n(r.p_value, r.n, p_floor(r.n_resamples)),
            format_p(r.p_adjusted),
        ]
        for c in group
        if c.completed
        for r in c.results
    ]


def checks_section(data: ReportData, figures: FigureCounter, number: str) -> list[Flowable]:
    """One subsection per check: its method once, then one row per model under test."""
    out = heading(number, "The checks: method and results", 0)
    out.append(
        para(
            "Each check states its question, the access to the models it needs and the null "
            "hypothesis it tests; probes, thresholds and seeds were fixed before the run. A "
            "verdict's p is the model-level test's (the suspect against the spread of the "
            "reference models) with its N; the per-reference tests are descriptive. Every effect "
            "is printed with its own 95% interval. Per-probe values: CSV tables and JSON bundle."
        )
    )
    if not data.checks:
        out.append(box(wording.NOTES["checks"]))
        return out
    groups: dict[str, list[CheckRecord]] = {}
    for c in data.checks:
        groups.setdefault(c.key, []).append(c)
    order = [m.run_id for m in (data.opinion.models if data.opinion else [])]
    rank = {r: i for i, r in enumerate(order)}
    for i, group in enumerate(groups.values(), 1):
        group.sort(key=lambda c: rank.get(c.run_id, len(rank) + c.run_id))
        first = group[0]
        out += heading(f"{number}.{i}", first.title)
        out.append(_method_table(first))
        out.append(gap(2))
        out.append(
            data_table(
                [
                    "Model under test",
                    "Verdict (verbal scale)",
                    "Suspect's value",
                    "Difference from the references [95% interval]",
                    "Model-level p (N)",
                    "Holm across checks",
                ],
                _verdict_rows(data, group),
                [25, 17, 11, 19, 16, 12],
            )
        )
        for c in group:
            basis = c.reason or c.error or ""
            if basis:
                out.append(
                    Paragraph(
                        f"<b>{text(_run_label(data, c.run_id))}:</b> {text(basis)}", STYLES["small"]
                    )
                )
        first_ml = next((c for c in group if c.test_used), None)
        if first_ml is not None:
            out.append(
                para(
                    f"Model-level test ({first_ml.test_used}): the p states how often a result at "
                    "least this extreme would occur if the model were an independent model like "
                    "the references."
                    + (
                        f" The assumption-free rank test needs at least {first_ml.panel_needed} "
                        f"references; this panel has {first_ml.n_references}."
                        if first_ml.panel_needed is not None
                        and first_ml.n_references is not None
                        and first_ml.n_references < first_ml.panel_needed
                        else ""
                    ),
                    "small",
                )
            )
        if any(c.results for c in group):
            out.append(
                para(
                    "The per-reference comparisons of this check (descriptive) are in Appendix B.",
                    "small",
                )
            )
        shown = next((c for c in group if c.completed and c.verdict != "declined"), None)
        if shown is not None and shown.details.get("rank_histogram"):
            out += _harvest_section(shown, figures)
        elif shown is not None and shown.series:
            fig = charts.probe_distribution_figure(shown.series, xlabel=shown.score_label)
            what = (
                "share of probes at each count"
                if charts.is_count(shown.series)
                else "per-probe values (points: probes; boxes: quartiles and median)"
            )
            out += figures.figure(
                fig,
                f"{shown.title}, {_run_label(data, shown.run_id)}: {what} for the model under "
                "test and each reference model"
                + (f"; unit: {shown.unit}" if shown.unit else "")
                + ".",
            )
        warnings = list(dict.fromkeys(w for c in group for w in c.warnings))
        if warnings:
            out.append(
                box(
                    [para("Recorded by the check", "cell_bold")]
                    + [Paragraph(text(w), STYLES["bullet"], bulletText="•") for w in warnings]
                )
            )
    if data.combined:
        out += heading(f"{number}.{len(groups) + 1}", "Across checks")
        for cb in data.combined:
            out.append(
                para(
                    f"{_run_label(data, cb.run_id)} — {cb.method}: {le(cb.statement)}."
                    + "".join(f" {v}" for v in cb.excluded.values())
                )
            )
        if data.combined[0].signal_note:
            out.append(para(data.combined[0].signal_note, "small"))
    return out


def comparisons_appendix(data: ReportData, number: str) -> list[Flowable]:
    """Per check, the descriptive per-reference tests of every model under test."""
    out = heading(number, "Per-reference comparisons (descriptive)")
    out.append(
        para(
            "Each model under test against each reference, probe by probe. These tests do not "
            "decide a verdict (their null is not Hd); each effect d_z is printed with the 95% "
            "interval of d_z."
        )
    )
    groups: dict[str, list[CheckRecord]] = {}
    for c in data.checks:
        if c.results:
            groups.setdefault(c.key, []).append(c)
    if not groups:
        out.append(box("No check recorded per-reference comparisons."))
    for group in groups.values():
        out.append(CondPageBreak(40 * mm))
        out.append(para(group[0].title, "h3_flow"))
        out.append(
            data_table(
                [
                    "Model under test",
                    "Compared with",
                    "Mean per-probe difference",
                    "Effect size d_z [95% CI of d_z]",
                    "Per-probe p (N)",
                    "Holm p within check",
                ],
                _comparison_rows(data, group),
                [25, 14, 14, 21, 15, 11],
            )
        )
        methods_ = list(dict.fromkeys(r.method for c in group for r in c.results if r.method))
        if methods_:
            out.append(para("; ".join(methods_) + ".", "small"))
    return out
