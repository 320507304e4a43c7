"""Typed run summaries and the sample-count parser: no engine, no torch."""

from __future__ import annotations

import pytest

from core.distill.samples import check_training_samples, parse_sample_counts
from core.distill.summaries import CalibrationSummary, ExperimentSummary
from core.errors import DistillAuditError, EvidenceError

# What a finished experiment Run stores (the shape core.distill.execution writes).
EXPERIMENT = {
    "staged": {"train": 8, "eval": 2},
    "data": {
        "available": 20,
        "train_records": 8,
        "eval_records": 2,
        "examples": 8,
        "dropped_too_long": 0,
        "answer_tokens": 311,
        "max_len": 256,
        "answers": "teacher",
    },
    "steps_planned": 3,
    "training": {
        "steps_planned": 3,
        "steps_done": 3,
        "losses": [4.1, 3.9, 3.7],
        "evals": [{"step": 0, "agreement": 0.21}, {"step": 3, "agreement": 0.34}],
        "resumed_from": [],
        "tokens_trained": 900,
        "config": {"steps": 3, "lr": 0.0001},
        "method": "sequence",
        "logit": None,
    },
    "teacher_agreement": {"initial": 0.21, "final": 0.34},
    "student": {"path": "/cases/x-experiments/run-00001/student", "artifact_id": 7},
    "onnx": {"path": "/cases/student-onnx", "parity": {"max_abs_diff": 1.2e-5, "passed": True}},
    "cost": {
        "counted_with": "teacher tokenizer",
        "measured": {"samples": 8, "tokens_in": 80, "tokens_out": 231},
        "presets": [{"key": "custom"}],
        "by_samples": [
            {"n": 8, "tokens_in": 80, "tokens_out": 231, "measured": True, "prices": {"a": 0.5}}
        ],
        "compute_seconds": {"training": 1.5},
    },
    "compute_seconds": {"training": 1.5, "onnx_export_and_parity": 2.25},
}

# What a finished calibration sweep stores (the shape in core.distill.calibration).
CALIBRATION = {
    "alpha": 0.05,
    "checks": ["likelihood"],
    "design": "For each N and replicate ...",
    "probes": {"n": 10, "ids": ["r000001", "r000004"]},
    "references": {"ref-0": {"path": "/refs/ref-0", "mean_affinity": -0.4}},
    "interval": "Clopper-Pearson exact 95%",
    "points": [
        {
            "n": 0,
            "detected": 0,
            "trials": 1,
            "rate": 0.0,
            "ci": [0.0, 0.975],
            "teacher_agreement": {"distilled": 0.2, "control": None},
            "train_seconds": 0.0,
        },
        {
            "n": 4,
            "detected": 2,
            "trials": 2,
            "rate": 1.0,
            "ci": [0.158, 1.0],
            "teacher_agreement": {"distilled": 0.4, "control": 0.25},
            "train_seconds": 1.25,
        },
    ],
    "false_positive": {"k": 0, "m": 2, "rate": 0.0, "ci": [0.0, 0.842]},
    "start_point": {"detected": False, "trials": 1, "students": [3]},
    "students": [{"key": "n0-r0-start", "n": 0, "role": "start", "detected": False}],
    "cost": {"by_samples": [{"n": 4, "tokens_in": 40, "tokens_out": 90, "prices": {}}]},
    "timing": {"seconds": 12.5, "students": 5},
    "warnings": ["The false-positive rate is above alpha."],
}


def test_experiment_summary_reads_and_writes_the_stored_shape() -> None:
    s = ExperimentSummary.from_dict(EXPERIMENT)
    assert s.to_dict() == EXPERIMENT  # existing case files read and write back unchanged
    assert ExperimentSummary.from_dict(s.to_dict()) == s
    assert s.data is not None and (s.data.train_records, s.data.eval_records) == (8, 2)
    assert s.training is not None and (s.training.steps_done, s.training.steps_planned) == (3, 3)
    assert (s.final_agreement, s.last_eval_agreement) == (0.34, 0.34)
    assert s.parity is not None and s.parity.passed is True and s.parity.max_abs_diff == 1.2e-5
    assert s.student is not None and s.student.artifact_id == 7
    assert s.cost is not None and [(r.n, r.prices) for r in s.cost.by_samples] == [(8, {"a": 0.5})]
    assert s.compute_seconds["onnx_export_and_parity"] == 2.25


def test_a_stopped_or_twin_experiment_has_no_parts_it_did_not_reach() -> None:
    partial = {"training": {"steps_planned": 8, "steps_done": 5, "evals": []}, "cost": None}
    s = ExperimentSummary.from_dict(partial)
    assert s.student is None and s.cost is None and s.parity is None and s.data is None
    assert s.final_agreement is None and s.last_eval_agreement is None
    assert ExperimentSummary.from_dict(s.to_dict()) == s
    assert s.to_dict()["training"] == partial["training"] and s.to_dict()["student"] is None
    assert ExperimentSummary.from_dict({}) == ExperimentSummary()
    odd = ExperimentSummary.from_dict({"training": "garbage", "data": {"train_records": "x"}})
    assert odd.training is None and odd.data is not None and odd.data.train_records is None


def test_calibration_summary_reads_and_writes_the_stored_shape() -> None:
    s = CalibrationSummary.from_dict(CALIBRATION)
    assert s.to_dict() == CALIBRATION
    assert CalibrationSummary.from_dict(s.to_dict()) == s
    assert [(p.n, p.detected, p.trials, p.ci) for p in s.points] == [
        (0, 0, 1, (0.0, 0.975)),
        (4, 2, 2, (0.158, 1.0)),
    ]
    assert (s.points[1].agreement_distilled, s.points[1].agreement_control) == (0.4, 0.25)
    assert s.false_positive is not None and (s.false_positive.k, s.false_positive.m) == (0, 2)
    assert s.alpha == 0.05 and s.timing_seconds == 12.5 and s.check is None
    assert s.warnings == ["The false-positive rate is above alpha."]
    running = CalibrationSummary.from_dict({"alpha": 0.05, "students": []})
    assert running.points == [] and running.false_positive is None and running.cost is None
    assert CalibrationSummary.from_dict(running.to_dict()) == running


def test_the_report_reads_the_sweep_rates_through_the_summary() -> None:
    from core.reports.analyses import _sweep_rates

    rates = _sweep_rates(CALIBRATION)
    assert [(r["quantity"], r.get("samples")) for r in rates] == [
        ("detection", 0),
        ("detection", 4),
        ("false_positive", None),
    ]
    assert rates[1] == {
        "quantity": "detection",
        "rate": 1.0,
        "ci": [0.158, 1.0],
        "k": 2,
        "n": 2,
        "samples": 4,
        "check": "combined checks (Holm)",
        "ci_method": "exact (Clopper-Pearson)",
    }
    assert rates[2]["k"] == 0 and rates[2]["n"] == 2
    assert _sweep_rates({"alpha": 0.05}) == []  # a sweep still running has no rates


@pytest.mark.parametrize(
    ("text", "counts"),
    [("200", (200,)), ("0, 10 ,all", (0, 10, None)), ("ALL", (None,)), ("5,,6,", (5, 6))],
)
def test_sample_counts_parse(text, counts) -> None:
    assert parse_sample_counts(text) == counts


@pytest.mark.parametrize(("text", "match"), [("ten", "'ten'"), ("-5", "'-5'"), (" , ", "least")])
def test_unreadable_sample_counts_are_refused(text, match) -> None:
    with pytest.raises(DistillAuditError, match=match):
        parse_sample_counts(text)


def test_training_samples_are_checked_against_the_source() -> None:
    assert check_training_samples(None, 150, 30) == 120
    assert check_training_samples(120, 150, 30) == 120
    with pytest.raises(EvidenceError, match="200 training samples were asked for, but the source"):
        check_training_samples(200, 150, 30)
    with pytest.raises(DistillAuditError, match="negative"):
        check_training_samples(-1, 150, 30)
