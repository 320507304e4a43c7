"""The Analyses tab: every run of the case with its status, parameters, results and charts.

A check run shows one row per check (verdict, strength, p-value, effect size with its
interval, probes and references), the combined Holm statement, each check's reason and
warnings, and the per-probe chart the PDF report shows. An experiment or a calibration
run shows its headline figures; a run that is still going or was cancelled shows what
it has saved so far (its partial results).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QSplitter,
    QTabWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.views.charts import ChartView, calibration_chart, probe_chart, tippett_chart
from app.views.readable import readable_lines
from app.views.table_model import Column, RecordTableModel
from app.views.tables import fit_columns, make_table
from core.checks.pformat import format_p
from core.reports.formatting import format_ci, format_num

if TYPE_CHECKING:
    from app.host import Host
    from core.distill.summaries import CostEstimate
    from core.records import RunDetails, RunRow


def fmt(x: float | None, digits: int = 3) -> str:
    return "—" if x is None else f"{x:.{digits}g}"


def verdict_summary(row: RunRow) -> str:
    if row.verdicts:
        return "; ".join(f"{k}: {v}" for k, v in row.verdicts.items())
    return ", ".join(row.checks) or row.kind


def effect_quantity(c: Any) -> str:
    """What a check row's Effect (and its 95% CI, always of the same quantity) measures.

    core.checks.framework pairs them: the model-level difference with its own interval,
    or, without a model-level test, the check's own effect with its own interval.
    """
    if getattr(c, "test_used", ""):
        return "the suspect's model-level difference from the references' mean"
    return f"the check's own effect size ({c.test or 'its test'})"


RUN_COLUMNS: list[Column[RunRow]] = [
    Column("Run", lambda r: r.id, align_right=True),
    Column("Model tested", lambda r: r.subject or "—", tooltip=lambda r: r.label),
    Column("Kind", lambda r: r.category),
    Column("Status", lambda r: r.status, tooltip=lambda r: r.error or r.status),
    Column("Started (UTC)", lambda r: r.created_at[:16].replace("T", " ")),
    Column("Checks and verdicts", verdict_summary, tooltip=verdict_summary),
]
CHECK_COLUMNS: list[Column[Any]] = [
    Column("Check", lambda c: c.title, tooltip=lambda c: c.question),
    Column("Verdict", lambda c: c.verdict, tooltip=lambda c: c.reason),
    Column(
        "Strength",
        lambda c: c.strength.replace(" for Hp over Hd", ""),
        tooltip=lambda c: c.strength,
    ),
    Column(
        "p",
        lambda c: format_p(c.p_value, floor=c.p_floor),
        align_right=True,
        tooltip=lambda c: (
            "Model-level p: the suspect against the spread of the reference "
            "models (if it were one more independent model, a result this extreme would occur "
            "with this probability)"
            + (
                f"; the assumption-free rank test needs {c.panel_needed} references"
                if getattr(c, "panel_needed", None)
                else ""
            )
        ),
    ),
    Column(
        "Holm p",
        lambda c: format_p(c.p_family),
        align_right=True,
        tooltip=lambda c: "p adjusted (Holm) over all the checks of the run",
    ),
    Column(
        "Effect",
        lambda c: format_num(c.effect_size),  # as the report prints it
        align_right=True,
        tooltip=lambda c: effect_quantity(c),
    ),
    Column(
        "95% CI",
        lambda c: format_ci(c.ci_low, c.ci_high) or "—",
        tooltip=lambda c: f"95% interval of the same quantity as Effect: {effect_quantity(c)}",
    ),
    Column("Probes", lambda c: c.n_probes if c.n_probes is not None else "—", align_right=True),
    Column(
        "Refs",
        lambda c: c.n_references if c.n_references is not None else "—",
        align_right=True,
        tooltip=lambda c: "Reference models in the panel",
    ),
]


def _experiment_text(d: RunDetails) -> str:
    """An experiment's or a sweep's headline figures, from its typed summary."""
    from core.distill.summaries import CalibrationSummary, ExperimentSummary

    p = d.parameters
    lines = [f"{d.row.label} ({d.row.kind}): {d.row.status}."]
    if d.row.error:
        lines.append(f"Stopped: {d.row.error}")
    if p.get("method"):
        source = p.get("answers") or p.get("transcripts") or p.get("source")
        on = f"the {Path(str(source)).name} answers" if source else "the captured answers"
        lines.append(f"Method: {p.get('method')}-level distillation on {on}; seed {p.get('seed')}.")
    if d.row.category == "calibration":
        sweep = CalibrationSummary.from_dict(d.summary)
        lines += _cost_lines(sweep.cost)
        for point in sweep.points:
            lines.append(
                f"N = {point.n}: detected {point.detected}/{point.trials} (rate {fmt(point.rate)})."
            )
        return "\n".join(lines)
    s = ExperimentSummary.from_dict(d.summary)
    if s.data:
        lines.append(
            f"Training records: {s.data.train_records} (held out for evaluation: "
            f"{s.data.eval_records})."
        )
    if s.training:
        lines.append(f"Steps: {s.training.steps_done} of {s.training.steps_planned}.")
    if s.teacher_agreement:
        lines.append(
            f"Teacher agreement (top-1 tokens on held-out answers): "
            f"{fmt(s.teacher_agreement.initial)} before, {fmt(s.teacher_agreement.final)} after."
        )
    if s.parity:
        lines.append(f"ONNX export parity: largest |difference| {fmt(s.parity.max_abs_diff)}.")
    lines += _cost_lines(s.cost)
    if s.student and s.student.path:
        lines.append(f"Student: {s.student.path} (artifact {s.student.artifact_id}).")
    return "\n".join(lines)


def _cost_lines(cost: CostEstimate | None) -> list[str]:
    lines = []
    presets = (cost.extra.get("presets") if cost else None) or []
    currency = {str(p.get("key")): str(p.get("currency") or "USD") for p in presets}
    for row in cost.by_samples if cost else []:
        prices = ", ".join(f"{k} {v:.4g} {currency.get(k, 'USD')}" for k, v in row.prices.items())
        lines.append(
            f"API cost of {row.n} samples ({row.tokens_in} tokens in, "
            f"{row.tokens_out} out): {prices}."
        )
    return lines


def _partial_text(d: RunDetails) -> str:
    partial = d.summary.get("partial") or {}
    if not partial:
        return ""
    parts = [f"{check}: {', '.join(models)}" for check, models in partial.items()]
    return "Saved so far (per-probe values kept in the run): " + "; ".join(parts) + "."


def parameters_text(d: RunDetails) -> str:
    """The Parameters page: the run's settings, inputs and partial results as labelled lines."""
    lines = ["Parameters", *readable_lines(d.parameters, 1), "", "Inputs"]
    lines += readable_lines(d.inputs, 1)
    partial = d.summary.get("partial") or {}
    if partial:
        lines += ["", "Partial results (saved before the run finished)"]
        lines += readable_lines(partial, 1)
    return "\n".join(lines)[:200_000]


class AnalysesView(QWidget):
    """Runs on the left; the selected run's results, reasons, chart and parameters."""

    run_selected = Signal(object)  # run id or None

    def __init__(self, host: Host, actions: list[QAction], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.host = host
        self.details: RunDetails | None = None
        self.runs: RecordTableModel[RunRow] = RecordTableModel(RUN_COLUMNS, self)
        self.run_table = make_table("Runs", self)
        self.run_table.setModel(self.runs)
        self.run_table.selectionModel().selectionChanged.connect(lambda *_: self._on_run())
        self.checks: RecordTableModel[Any] = RecordTableModel(CHECK_COLUMNS, self)
        self.check_table = make_table("Check results", self)
        self.check_table.setModel(self.checks)
        self.check_table.selectionModel().selectionChanged.connect(lambda *_: self._on_check())

        self.headline = QLabel(self)
        self.headline.setObjectName("RunHeadline")
        self.headline.setAccessibleName("Run summary")
        self.headline.setWordWrap(True)
        self.headline.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.reason = QLabel(self)
        self.reason.setAccessibleName("Reason and warnings of the selected check")
        self.reason.setWordWrap(True)
        self.reason.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.chart = ChartView("Per-probe chart of the selected check", self)
        self.tippett = ChartView("Tippett plot of the calibration's likelihood ratios", self)
        self.parameters = QPlainTextEdit(self)
        self.parameters.setReadOnly(True)
        self.parameters.setAccessibleName("Parameters and inputs of the run")
        self.text = QPlainTextEdit(self)
        self.text.setReadOnly(True)
        self.text.setAccessibleName("Run details")

        bar = QHBoxLayout()
        for action in actions:
            button = QToolButton(self)
            button.setDefaultAction(action)
            button.setAccessibleName(action.text().replace("&", "").rstrip("…"))
            bar.addWidget(button)
        bar.addStretch(1)

        self.detail_tabs = QTabWidget(self)
        self.detail_tabs.setAccessibleName("Run detail pages")
        results = QWidget(self)
        rl = QVBoxLayout(results)
        rl.addWidget(self.check_table, 2)
        rl.addWidget(self.reason)
        chart_box = QGroupBox("Chart (as in the report)", results)
        QVBoxLayout(chart_box).addWidget(self.chart)
        rl.addWidget(chart_box, 3)
        self.detail_tabs.addTab(results, "Results")
        self.detail_tabs.addTab(self.tippett, "Tippett plot")
        self.detail_tabs.addTab(self.text, "Details")
        self.detail_tabs.addTab(self.parameters, "Parameters")

        right = QWidget(self)
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        right_layout.addWidget(self.headline)
        right_layout.addWidget(self.detail_tabs)
        split = QSplitter(Qt.Orientation.Horizontal, self)
        split.addWidget(self.run_table)
        split.addWidget(right)
        split.setStretchFactor(1, 1)
        split.setSizes([250, 800])
        split.setChildrenCollapsible(False)
        layout = QVBoxLayout(self)
        layout.addLayout(bar)
        layout.addWidget(split)
        self.show_run(None)

    # --- reading -------------------------------------------------------------------
    def load(self, select_run: int | None = None) -> None:
        """Re-read the case's runs; keep (or move) the selection to ``select_run``."""
        from core.records import run_rows

        cf, case_id = self.host.case_file, self.host.case_id
        keep = select_run if select_run is not None else self.selected_run_id()
        rows = run_rows(cf, case_id) if cf is not None and case_id is not None else []
        self.runs.set_records(rows)
        fit_columns(self.run_table, stretch=5, fit=(0, 1, 2, 3, 4))
        ids = [r.id for r in rows]
        if rows:
            self.select_run(keep if keep in ids else ids[0])
        else:
            self.show_run(None)

    def select_run(self, run_id: int) -> None:
        for row, rec in enumerate(self.runs.records()):
            if rec.id == run_id:
                if self.selected_run_id() == run_id:
                    self._on_run()  # reselecting: re-read (the run may have progressed)
                self.run_table.select_source_row(row)
                return

    def selected_run_id(self) -> int | None:
        row = self.run_table.selected_source_row()
        return self.runs.record(row).id if row is not None else None

    @Slot()
    def _on_run(self) -> None:
        from core.records import run_details

        run_id, cf = self.selected_run_id(), self.host.case_file
        self.show_run(run_details(cf, run_id) if run_id is not None and cf is not None else None)
        self.run_selected.emit(run_id)

    def show_run(self, details: RunDetails | None) -> None:
        self.details = details
        if details is None:
            self.headline.setText(
                "No run selected. Run a check with Analysis → Run a check… (Ctrl+R)."
            )
            self.checks.set_records([])
            self.tippett.set_figure(None)
            self.text.setPlainText("")
            self.parameters.setPlainText("")
            self._on_check()
            return
        row = details.row
        head = f"{row.label}: {row.category}, {row.status}."
        if details.combined is not None:
            head += f" Combined (Holm over the checks): {details.combined.statement}."
            if details.combined.signal_note:
                head += f" {details.combined.signal_note}"
        partial = _partial_text(details)
        if row.status != "done" and partial:
            head += " " + partial
        if row.error:
            head += f" {row.error}"
        self.headline.setText(head)
        self.tippett.set_figure(tippett_chart((details.summary or {}).get("likelihood_ratio")))
        self.checks.set_records(details.checks)
        fit_columns(self.check_table, stretch=0, fit=range(1, len(CHECK_COLUMNS)))
        if details.checks:
            self.check_table.select_source_row(0)
        else:
            self._on_check()
        self.text.setPlainText(
            _experiment_text(details)
            if row.category != "check"
            else "\n\n".join(f"{c.title}: {c.reason}" for c in details.checks)
        )
        self.parameters.setPlainText(parameters_text(details))

    def selected_check(self) -> Any | None:
        row = self.check_table.selected_source_row()
        return self.checks.record(row) if row is not None else None

    @Slot()
    def _on_check(self) -> None:
        check = self.selected_check()
        if check is None:
            rows = self.details.calibration if self.details else []
            self.reason.setText("")
            self.chart.set_figure(calibration_chart(rows))
            return
        notes = [check.reason, *check.warnings]
        self.reason.setText("\n".join(n for n in notes if n))
        self.chart.set_figure(
            probe_chart(check),
            f"{check.title}: per-probe values of the suspect and each reference model",
        )
