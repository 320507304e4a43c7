"""The likelihood-ratio part of a calibration run, as the report bundle holds it.

A sweep that replayed the case's check run (core.distill.calibration_procedure) records
its rates per kind of student (``groups``: distilled for 1–3 epochs, null twins,
laundered and other-sample students), the twins' exact false-positive bound and the
measured likelihood ratio (core.checks.likelihood_ratio). This module copies those
parts, unchanged, into one record per calibration run, so the PDF, the JSON bundle and
the GUI quote the same numbers. Runs that did not replay the case's procedure give no
record: without a calibration of the case's procedure there is no ratio to report.
"""

from __future__ import annotations

from typing import Any

from core.checks.stats import jsonable


def calibration_lr_record(run: Any) -> dict[str, Any] | None:
    """The LR record of a calibration ``Run`` (None: it did not replay the case's procedure)."""
    summary = dict(getattr(run, "summary", None) or {})
    procedure = summary.get("procedure")
    if not isinstance(procedure, dict) or not summary.get("groups"):
        return None
    return jsonable(
        {
            "run_id": int(run.id),
            "procedure": procedure,
            "groups": summary.get("groups") or [],
            "false_positive_bound": summary.get("false_positive_bound"),
            "likelihood_ratio": summary.get("likelihood_ratio"),
            "design": summary.get("design"),
            "null_source": (getattr(run, "parameters", None) or {}).get("null_source", ""),
        }
    )
