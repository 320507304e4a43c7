"""Charts on screen: the report's own matplotlib figures on a Qt canvas.

The figures come from :mod:`core.reports.charts`, so the screen and the PDF show the
same picture. matplotlib (and its QtAgg backend) is imported only when the first chart
is shown, never at start-up.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from PySide6.QtWidgets import QLabel, QSizePolicy, QVBoxLayout, QWidget

if TYPE_CHECKING:
    from matplotlib.figure import Figure


class ChartView(QWidget):
    """Holds at most one figure; shows a plain-text placeholder when there is none."""

    def __init__(self, name: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAccessibleName(name)
        self.canvas: Any = None
        self.figure: Figure | None = None
        self.placeholder = QLabel("No chart for this selection.", self)
        self.placeholder.setAccessibleName(f"{name} (empty)")
        self.placeholder.setWordWrap(True)
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._layout.addWidget(self.placeholder)

    def set_figure(self, figure: Figure | None, description: str = "") -> None:
        """Show ``figure`` (replacing any earlier one); None shows the placeholder."""
        if self.canvas is not None:
            self._layout.removeWidget(self.canvas)
            self.canvas.setParent(None)
            self.canvas.deleteLater()
            self.canvas = None
        self.figure = figure
        self.placeholder.setVisible(figure is None)
        if figure is None:
            return
        from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg

        self.canvas = FigureCanvasQTAgg(figure)
        self.canvas.setAccessibleName(self.accessibleName())
        self.canvas.setAccessibleDescription(description or self.accessibleName())
        self.canvas.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        width, height = figure.get_size_inches()
        dpi = self.logicalDpiY() or 96
        self.canvas.setMinimumHeight(int(min(height, 4.0) * dpi * 0.8))
        self._layout.addWidget(self.canvas)


def probe_chart(record: Any) -> Figure | None:
    """The per-probe distribution figure of a check record (core.reports.data.CheckRecord);
    for the harvest test, its rank histogram (the same figure as the PDF's)."""
    details = getattr(record, "details", None) or {}
    if details.get("rank_histogram"):
        from core.reports.charts import harvest_rank_figure

        return harvest_rank_figure(
            details["rank_histogram"], details.get("rank_histogram_expected"), title=record.title
        )
    if not getattr(record, "series", None):
        return None
    from core.reports.charts import probe_distribution_figure

    return probe_distribution_figure(
        record.series, title=record.title, xlabel=record.score_label or "Per-probe value"
    )


def calibration_chart(rows: list[Any]) -> Figure | None:
    """Detection and false-positive rates of a calibration run, if it recorded any."""
    if not rows:
        return None
    from core.reports.charts import calibration_curve_figure

    return calibration_curve_figure(rows, title="Measured detection and false-positive rates")


def tippett_chart(lr: Mapping[str, Any] | None) -> Figure | None:
    """The Tippett plot of a calibration's measured likelihood ratio (a
    ``core.checks.likelihood_ratio.MeasuredLR.to_dict()``), the PDF's own figure."""
    if not lr or not lr.get("lr_hp") or not lr.get("lr_hd"):
        return None
    from core.reports.charts import tippett_figure

    return tippett_figure(
        lr["lr_hp"], lr["lr_hd"], lr.get("lr"), title="Tippett plot of the calibration"
    )
