"""The checks of a calibration sweep: the reference panel scored once, each student assessed.

Nothing here re-implements a check: the students and the references go through the same
functions a case's check run uses (:func:`core.checks.likelihood.score_affinity` and
:func:`~core.checks.likelihood.likelihood_check`, :func:`core.checks.identity.collect_answers`
and :func:`~core.checks.identity.identity_check`), and several checks are combined with
:func:`core.checks.stats.combine_holm`, as in the case report.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.checks import identity, likelihood
from core.checks.markers import learn_phrases
from core.checks.probes import ChatTemplate, Probe
from core.checks.stats import combine_holm
from core.distill.summaries import ExperimentSummary
from core.jobs import JobState

if TYPE_CHECKING:
    from core.distill.spec import CalibrationSpec, ExperimentOutcome


class Panel:
    """The reference models' scores on the held-out probes, and the assessment of a student."""

    def __init__(self, spec: CalibrationSpec, probes: Sequence[Probe], folder: Path) -> None:
        self.spec = spec
        self.probes = list(probes)
        self.template = ChatTemplate(spec.template, spec.response_prefix)
        self.labels = _labels(spec.references)
        self.affinity: dict[str, likelihood.AffinityScores] = {}
        self.answers: dict[str, identity.IdentityAnswers] = {}
        self.suite = identity.load_suite() if "identity" in spec.checks else None
        phrases = (
            learn_phrases(
                [p.protected for p in self.probes],
                [p.control or "" for p in self.probes],
                exclude=spec.protected_names,
            )
            if self.suite
            else []
        )
        self.markers = identity.IdentityMarkers(
            tuple(spec.protected_names), identity.phrases_from(phrases)
        )

    def _load(self, path: str, name: str) -> Any:
        from core.backends import load_model

        return load_model(path, name=name, num_threads=self.spec.training.threads)

    def _measure(self, model: Any, seed: int, state: JobState) -> tuple[Any, Any]:
        scores = answers = None
        if "likelihood" in self.spec.checks:
            scores = likelihood.score_affinity(
                model, self.probes, self.template, state=state.sub(0, 50)
            )
        if self.suite is not None:
            answers = identity.collect_answers(
                model, self.suite, self.template, seed=seed, state=state.sub(50, 100)
            )
        return scores, answers

    def score_references(self, state: JobState) -> None:
        for n, (path, label) in enumerate(zip(self.spec.references, self.labels, strict=True)):
            model = self._load(path, label)
            try:
                sub = state.sub(100 * n / len(self.labels), 100 * (n + 1) / len(self.labels))
                scores, answers = self._measure(model, self.spec.seed, sub)
            finally:
                model.release()
            if scores is not None:
                self.affinity[label] = scores
            if answers is not None:
                self.answers[label] = answers

    def reference_summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for path, label in zip(self.spec.references, self.labels, strict=True):
            scores = self.affinity.get(label)
            out[label] = {
                "path": str(Path(path).resolve()),
                "mean_affinity": _mean(scores.affinity) if scores else None,
            }
        return out

    def assess(self, outcome: ExperimentOutcome, seed: int, state: JobState) -> dict[str, Any]:
        """Run the checks on one student; what the sweep records about it."""
        model = self._load(outcome.student_path, "student")
        try:
            scores, answers = self._measure(model, seed, state)
        finally:
            model.release()
        results = {}
        common: dict[str, Any] = {
            "seed": seed,
            "alpha": self.spec.alpha,
            "n_resamples": self.spec.n_resamples,
        }
        if scores is not None:
            results["likelihood"] = likelihood.likelihood_check(scores, self.affinity, **common)
        if answers is not None:
            results["identity"] = identity.identity_check(
                answers, self.answers, self.markers, **common
            )
        combined = combine_holm({k: r.p_value for k, r in results.items()}, alpha=self.spec.alpha)
        summary = ExperimentSummary.from_dict(outcome.summary or {})
        return {
            "run_id": outcome.run_id,
            "artifact_id": outcome.artifact_id,
            "detected": bool(combined.supporting),
            "p_value": min(combined.adjusted.values()) if combined.adjusted else None,
            "checks": {
                k: {
                    "verdict": r.verdict,
                    "p_value": r.p_value,
                    "effect_size": r.effect_size,
                    "statistic": r.statistic,
                    "reason": r.reason,
                }
                for k, r in results.items()
            },
            "teacher_agreement": summary.last_eval_agreement,
            "mean_affinity": _mean(scores.affinity) if scores is not None else None,
            "train_seconds": summary.compute_seconds.get("training"),
            "export_seconds": summary.compute_seconds.get("onnx_export_and_parity"),
            "onnx_parity_passed": summary.parity.passed if summary.parity else None,
        }


def sweep_cost(
    spec: CalibrationSpec,
    samples: Sequence[int],
    teacher_file: Path,
    students: Sequence[dict[str, Any]],
) -> dict[str, Any]:
    """The API cost of N harvested answers for each N, and the compute measured per student."""
    from core.backends.folders import detect_format
    from core.distill.cost import (
        cost_estimate,
        count_tokens,
        custom_price,
        load_price_presets,
    )
    from core.distill.presets import borrowed_tokenizer
    from core.evidence.transcripts import read_transcripts

    tokenizer = None
    if spec.teacher:
        tokenizer = borrowed_tokenizer(detect_format(spec.teacher)[1])
    count = count_tokens(
        ((r.prompt, r.response) for r in read_transcripts(teacher_file)), tokenizer
    )
    prices = load_price_presets(spec.price_file)
    if spec.price_in is not None or spec.price_out is not None:
        prices.insert(0, custom_price(spec.price_in or 0.0, spec.price_out or 0.0))
    estimate = cost_estimate(count, samples, prices)
    for row in estimate["by_samples"]:
        row["measured"] = False  # the pool's mean per answer, times N
        mine = [s for s in students if s["n"] == row["n"] and s["role"] == "distilled"]
        times = [float(s["train_seconds"]) for s in mine if s.get("train_seconds") is not None]
        row["compute_seconds_training"] = sum(times) / len(times) if times else None
    return estimate


def summarise(
    spec: CalibrationSpec,
    samples: Sequence[int],
    students: list[dict[str, Any]],
    teacher_file: Path,
) -> dict[str, Any]:
    """Detection per N, false positives on the twins, warnings and cost (see the sweep's shape)."""
    from core.checks.stats import clopper_pearson

    def rate(group: list[dict[str, Any]]) -> dict[str, Any]:
        k, m = sum(bool(s["detected"]) for s in group), len(group)
        ci = list(clopper_pearson(k, m)) if m else [None, None]
        return {"detected": k, "trials": m, "rate": k / m if m else None, "ci": ci}

    def mean(values: list[Any]) -> float | None:
        values = [v for v in values if v is not None]
        return sum(values) / len(values) if values else None

    points = []
    for n in samples:
        mine = [s for s in students if s["n"] == n]
        positive = [s for s in mine if s["role"] in ("distilled", "start")]
        point = {
            "n": n,
            **rate(positive),
            "teacher_agreement": {
                "distilled": mean([s.get("teacher_agreement") for s in positive]),
                "control": mean(
                    [s.get("teacher_agreement") for s in mine if s["role"] == "control"]
                )
                if n
                else None,
            },
        }
        point["train_seconds"] = mean([s.get("train_seconds") for s in mine])
        points.append(point)
    controls = [s for s in students if s["role"] == "control"]
    fp = rate(controls)
    starts = [s for s in students if s["role"] == "start"]
    warnings = []
    if any(s["detected"] for s in starts):
        warnings.append(
            "The checks already fire on the starting model (N = 0, never trained on any "
            "teacher answer): against this panel they cannot tell it from a distilled "
            "model. Choose references at the same training stage as the suspect."
        )
    if fp["rate"] is not None and fp["rate"] > spec.alpha:
        warnings.append(
            f"The false-positive rate on control twins ({fp['detected']}/{fp['trials']}) "
            f"is above alpha = {spec.alpha:g}."
        )
    return {
        "points": points,
        "false_positive": {
            "k": fp["detected"],
            "m": fp["trials"],
            "rate": fp["rate"],
            "ci": fp["ci"],
        },
        "start_point": {
            "detected": any(s["detected"] for s in starts),
            "trials": len(starts),
            "students": [s.get("run_id") for s in starts],
        },
        "cost": sweep_cost(spec, samples, teacher_file, students),
        "warnings": warnings,
    }


def _labels(paths: Sequence[str]) -> list[str]:
    """Unique, readable labels for the reference models (their folder names)."""
    out: list[str] = []
    for path in paths:
        p = Path(path)
        base = p.parent.name if p.suffix.lower() == ".onnx" else p.name
        label, n = base, 2
        while label in out:
            label, n = f"{base}-{n}", n + 1
        out.append(label)
    return out


def _mean(values: Any) -> float | None:
    import numpy as np

    a = np.asarray(values, dtype=float)
    a = a[np.isfinite(a)]
    return float(a.mean()) if a.size else None
