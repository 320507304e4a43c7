"""A check run over a case's evidence: the one entry point the GUI, the CLI and the demo call.

:func:`run_checks` resolves the suspect, the reference panel, the protected model / base
model (optional) and the transcript sets from the case file by id; fixes the probes and
the learned markers from the evidence *before* any model is run; creates a Run (parameters,
seed, input ids and hashes, software versions); loads each model once (backend factory),
computes everything the selected checks need from it, releases it; saves per-probe values
into the run as it goes (they survive a cancel); runs the statistics; combines the checks
that address Hp by Holm; stores Results and draft Findings; and audits every step.
Same evidence, settings and seed give the same numbers. The seed, unless given, is derived
from the evidence hashes and the settings (:func:`derive_seed`), so nobody can shop for one;
the run's parameters record it with its rule.

Nothing here knows a particular check: the chosen checks come from the registry
(core.checks.registry) and each says what it needs and does (core.checks.plugin).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from core.checks import model_loading, registry
from core.checks.available import AvailableInputs
from core.checks.cache import MEASUREMENTS, cache_key
from core.checks.chat import rendered_example, template_for
from core.checks.evidence import CaseEvidence, ModelRef, load_case_evidence
from core.checks.findings import out_json, store_results
from core.checks.framework import (
    PANEL_PASS,
    PROTECTED_PASS,
    WEIGHTS_PASS,
    CheckResult,
    CheckSpec,
    declined,
    with_family_p,
)
from core.checks.markers import learn_phrases, learn_style
from core.checks.plugin import Check, CheckData, RunContext
from core.checks.probes import ChatTemplate, match_probes
from core.checks.settings import CheckInputs, CheckSettings
from core.checks.stats import CombinedResult, combine_holm, jsonable
from core.errors import DeclinedError
from core.evidence.hashing import sha256_file
from core.jobs import JobState
from core.store import runs
from core.store.db import CaseFile

__all__ = [
    "CheckInputs",
    "CheckRunReport",
    "CheckSettings",
    "Procedure",
    "SPECS",
    "derive_seed",
    "evaluate",
    "plan",
    "run_checks",
]
SEED_DERIVED = (
    "derived from the evidence hashes: the first 8 hex digits of the SHA-256 of the suspect's, "
    "the references', the protected and base models' manifest hashes, the transcript sets' "
    "file hashes and the settings (all but the seed), as sorted JSON"
)
SEED_GIVEN = "given by the user"
# Settings that cannot change a number, left out of the derived seed.
_NOT_IN_SEED = ("seed", "num_threads", "reuse_measurements")
# Settings added after seeds were first derived: they count only when changed from these
# defaults, so a case's derived seed stays what it was.
_IN_SEED_WHEN_CHANGED = {"chat_templates": "model", "template_file": None, "dtype": "auto"}
# Settings that name a file: the seed takes the file's content hash, never its path, so the
# same evidence and settings give the same seed wherever the files lie.
_FILE_SETTINGS = ("identity_suite", "template_file")


def _file_digest(value: Any) -> Any:
    if not isinstance(value, str) or not value:
        return value
    path = Path(value)
    return sha256_file(path) if path.is_file() else path.name


SPECS = registry.SPECS  # the checks' specifications (a live view of the registry)


@dataclass
class CheckRunReport:
    """What a check run produced: its id, every check's result, the combined summary, findings."""

    run_id: int
    case_id: int
    results: dict[str, CheckResult]
    combined: CombinedResult
    finding_ids: list[int]
    parameters: dict[str, Any]
    inputs: dict[str, Any]
    excluded: dict[str, str] = field(default_factory=dict)
    specs: dict[str, CheckSpec] = field(default_factory=lambda: dict(registry.SPECS))

    def to_json(self) -> dict[str, Any]:
        """The OUT.json document: per check name, question, statistic, effect size, CI, p, N,
        verdict and reason, plus the combined result, run id, parameters and inputs."""
        return out_json(
            self.specs,
            self.results,
            self.combined,
            excluded=self.excluded,
            order=list(self.results),  # already in report order
            extra={
                "run_id": self.run_id,
                "case_id": self.case_id,
                "findings": self.finding_ids,
                "parameters": self.parameters,
                "inputs": self.inputs,
            },
        )


def derive_seed(evidence: Mapping[str, Any], settings: CheckSettings) -> int:
    """The run's seed from the evidence hashes and the settings (rule: :data:`SEED_DERIVED`).

    ``evidence`` is what :meth:`core.checks.evidence.CaseEvidence.describe` holds; only the
    content hashes count (not the case file's ids or labels), so the same evidence and
    settings give the same seed in any case file.
    """

    def digest(item: Any) -> Any:
        if not isinstance(item, Mapping):
            return None
        return item.get("manifest_sha256") or item.get("file_sha256")

    doc = {
        "suspect": digest(evidence.get("suspect")),
        "references": [digest(r) for r in evidence.get("references") or []],
        "protected_model": digest(evidence.get("protected_model")),
        "base_model": digest(evidence.get("base_model")),
        "protected_answers": digest(evidence.get("protected_answers")),
        "control_answers": digest(evidence.get("control_answers")),
        "settings": {
            k: _file_digest(v) if k in _FILE_SETTINGS else v
            for k, v in jsonable(asdict(settings)).items()
            if k not in _NOT_IN_SEED
            and not (k in _IN_SEED_WHEN_CHANGED and v == _IN_SEED_WHEN_CHANGED[k])
        },
    }
    text = json.dumps(doc, sort_keys=True, ensure_ascii=True, separators=(",", ":"))
    return int(hashlib.sha256(text.encode("utf-8")).hexdigest()[:8], 16)


@dataclass
class Procedure:
    """Everything that fixes a run's numbers before any model is run (see :func:`plan`).

    The calibration sweep (core.distill.calibration_procedure) builds one per student with
    the case's own settings, so it runs exactly the procedure of the case's check run.
    """

    evidence: CaseEvidence
    settings: CheckSettings  # with the seed resolved
    seed_rule: str
    chosen: list[Check]
    ctx: RunContext
    data: dict[str, CheckData]
    parameters: dict[str, Any]
    inputs: dict[str, Any]
    probe_warnings: tuple[str, ...]

    @property
    def specs(self) -> dict[str, CheckSpec]:
        return {c.key: c.spec for c in self.chosen}


def plan(ev: CaseEvidence, settings: CheckSettings, state: JobState | None = None) -> Procedure:
    """The run's checks, seed (by its rule), probes, learned markers, Holm n and parameters;
    the models' files and memory are checked here, before any run exists."""
    state = state or JobState()
    chosen = registry.select(settings.checks)
    seed_rule = SEED_GIVEN
    if settings.seed is None:
        settings, seed_rule = (
            replace(settings, seed=derive_seed(ev.describe(), settings)),
            (SEED_DERIVED),
        )
    seed = settings.seed
    assert seed is not None
    probes = match_probes(
        ev.protected_items, ev.control_items, max_probes=settings.max_probes, seed=seed
    )
    prot_answers = [p.protected for p in probes.probes]
    ctrl_answers = [p.control for p in probes.probes if p.control is not None]
    phrases = (
        learn_phrases(prot_answers, ctrl_answers, exclude=settings.protected_names)
        if settings.learn_phrases and ctrl_answers
        else []
    )
    style = learn_style(prot_answers, ctrl_answers) if ctrl_answers else []
    ctx = RunContext(
        ev,
        probes.probes,
        ChatTemplate(settings.template, settings.response_prefix),
        settings,
        phrases=tuple(m.marker for m in phrases),
        style=tuple(m.marker for m in style),
    )
    data = {c.key: CheckData(c.key) for c in chosen}
    recorded: dict[str, Any] = {}  # what the checks fixed before the run (e.g. a question suite)
    for c in chosen:
        if c.prepare is not None:
            prepared = c.prepare(ctx)
            data[c.key].prepared = prepared.value
            recorded.update(prepared.record)
    parameters = jsonable(
        {
            **asdict(settings),
            "checks": [c.key for c in chosen],
            "seed_rule": seed_rule,
            "probe_ids": list(probes.ids),
            "probe_subset": dict(probes.subset) if probes.subset else None,
            "probe_clusters": (
                {p.probe_id: p.cluster for p in probes.probes} if ctx.clusters else None
            ),
            "probes_matched_by": probes.matched_by,
            "probe_warnings": list(probes.warnings),
            "learned_phrases": [m.to_dict() for m in phrases],
            "learned_style_markers": [m.to_dict() for m in style],
            **recorded,
            "settings": asdict(settings),  # as given (``recorded`` may reuse a setting's name)
        }
    )
    state.set_status("Checking the models' files and the memory they need")
    loading = model_loading.preflight(_loaded_models(ev, chosen), settings, ctx.probes)
    parameters["model_loading"] = jsonable(loading)
    run_inputs = {**ev.describe(), **jsonable(recorded)}
    return Procedure(
        ev,
        settings,
        seed_rule,
        chosen,
        ctx,
        data,
        parameters,
        run_inputs,
        tuple(probes.warnings),
    )


def evaluate(
    proc: Procedure, save: Callable[..., None], state: JobState
) -> tuple[dict[str, CheckResult], CombinedResult, dict[str, str]]:
    """Run the planned checks (one pass per model), combine the Hp checks by Holm and read
    each Hp check's verbal level from its family-wise p; returns (results, combined, excluded)."""
    specs = proc.specs
    work = _Work(proc.ctx, proc.chosen, proc.data, save, state)
    results = {
        k: replace(r, warnings=(*proc.probe_warnings, *r.warnings)) if specs[k].uses_probes else r
        for k, r in work.run().items()
    }
    excluded = {k: specs[k].not_hp_reason for k in results if not specs[k].addresses_hp}
    combined = combine_holm(
        {k: r.p_value for k, r in results.items() if specs[k].addresses_hp},
        alpha=proc.settings.alpha,
        signals={k: registry.signals(k) for k in results},
    )
    results = {  # the verbal level of each Hp check is read from its family-wise p
        k: with_family_p(r, combined.adjusted.get(k), specs[k]) if specs[k].addresses_hp else r
        for k, r in results.items()
    }
    # The Holm family: the Hp checks that produced a p-value (the checks' own n_tests).
    proc.parameters["n_tests"] = work.ctx.n_tests
    save(reused_measurements=work.reused, n_tests=work.ctx.n_tests)
    return results, combined, excluded


def run_checks(
    cf: CaseFile,
    case_key: int | str,
    inputs: CheckInputs,
    settings: CheckSettings | None = None,
    state: JobState | None = None,
    *,
    actor: str | None = None,
) -> CheckRunReport:
    """Run the selected checks on a case's evidence and store everything (see the module docstring).

    Raises DistillAuditError for unusable inputs (unknown ids, unknown checks), Cancelled
    when ``state`` is cancelled (the Run is then marked cancelled and keeps the per-probe
    values computed so far in its summary). A check whose inputs do not fit does not raise:
    it is reported as declined, with its reason.
    """
    settings = settings or CheckSettings()
    state = state or JobState()
    registry.select(settings.checks)  # unknown checks are refused before the evidence is read
    state.set_status("Reading the evidence")
    ev = load_case_evidence(cf, case_key, inputs, state)  # verified before use
    proc = plan(ev, settings, state)
    settings, parameters, run_inputs, specs = (
        proc.settings,
        proc.parameters,
        proc.inputs,
        proc.specs,
    )
    run_id = runs.create_run(cf, ev.case_id, "check", parameters, run_inputs, settings.seed)
    with runs.running(cf, run_id) as handle:
        results, combined, excluded = evaluate(proc, handle.save_summary, state)
        state.set_status("Storing results and proposing draft findings")
        finding_ids = store_results(
            cf,
            run_id,
            ev.case_id,
            specs,
            results,
            combined,
            suspect=ev.suspect.label,
            base=ev.base.label if ev.base else None,
            reference_ids={r.label: r.artifact_id for r in ev.references if not r.answers_only},
            excluded=excluded,
            actor=actor,
        )
        handle.save_summary(
            verdicts={k: r.verdict for k, r in results.items()},
            p_values={k: r.p_value for k, r in results.items()},
            combined=combined.to_dict(),
            findings=finding_ids,
        )
        state.set_progress(100)
    return CheckRunReport(
        run_id, ev.case_id, results, combined, finding_ids, parameters, run_inputs, excluded, specs
    )


def _loaded_models(ev: Any, chosen: list[Check]) -> list[ModelRef]:
    """The models a run with these checks opens through a backend (protected, panel)."""
    refs: list[ModelRef] = []
    if ev.protected_model is not None and any(PROTECTED_PASS in c.spec.passes for c in chosen):
        refs.append(ev.protected_model)
    if any(PANEL_PASS in c.spec.passes for c in chosen):
        refs += [ev.suspect, *ev.references]
    return [r for r in refs if not r.answers_only]  # answers-only models open no files


def available_inputs(ctx: RunContext) -> AvailableInputs:
    """What the run has, for each check's ``fits`` (the wizard fills the same record)."""
    ev, names = ctx.evidence, [n for n in ctx.settings.protected_names if n.strip()]
    return AvailableInputs(
        references=sum(not r.answers_only for r in ev.references),
        reference_answers=sum(r.answers_only for r in ev.references),
        suspect_answers_only=ev.suspect.answers_only,
        protected_answers=ev.protected_set is not None,
        control_answers=ev.control_set is not None,
        protected_model=ev.protected_model is not None,
        base_model=ev.base is not None,
        names=bool(names),
        probes=len(ctx.probes),
        phrases=bool(ctx.phrases),
        harvested=ev.harvested_set is not None,
        regenerations=ev.regenerations_set is not None,
    )


class _Work:
    """One pass per model (load, measure what the checks need, release), then the statistics."""

    def __init__(
        self,
        ctx: RunContext,
        checks: list[Check],
        data: dict[str, CheckData],
        save: Callable[..., None],
        state: JobState,
    ) -> None:
        self.ctx, self.checks, self.data, self.save, self.state = ctx, checks, data, save, state
        self.results: dict[str, CheckResult] = {}
        self.partial: dict[str, dict[str, Any]] = {}
        self.reused: list[str] = []  # measurements taken from the process cache
        self.models: dict[str, Any] = {}  # per model: how it was loaded, its chat template
        self.model_ctx = ctx  # the context of the model in its pass (its own chat template)

    # --- planning -------------------------------------------------------------------
    def _decline(self, check: Check, reason: str) -> None:
        self.results[check.key] = declined(
            check.spec,
            reason,
            seed=self.ctx.settings.seed,
            n_probes=len(self.ctx.probes),
            n_references=len(self.ctx.evidence.references),
            alpha=self.ctx.settings.alpha,
        )

    def _plan(self) -> None:
        available = available_inputs(self.ctx)
        for check in self.checks:
            problem = check.problem(available)
            if problem is None and check.preflight is not None:
                problem = check.preflight(self.ctx, self.data[check.key])
            if problem:
                self._decline(check, problem)

    def _active(self, needs: str | None = None) -> list[Check]:
        """The checks not declined so far (that need pass ``needs``, when given)."""
        return [
            c
            for c in self.checks
            if c.key not in self.results and (needs is None or needs in c.spec.passes)
        ]

    # --- model passes ---------------------------------------------------------------
    def run(self) -> dict[str, CheckResult]:
        self._plan()
        ev = self.ctx.evidence
        passes: list[tuple[ModelRef, str]] = []
        if self._active(PROTECTED_PASS):
            assert ev.protected_model is not None  # the checks' fits() declined otherwise
            passes.append((ev.protected_model, "protected"))
        if self._active(PANEL_PASS):
            passes.append((ev.suspect, "suspect"))
            passes += [(r, "reference") for r in ev.references]
        weights = self._active(WEIGHTS_PASS)
        span = 90.0 if weights else 97.0
        for n, (ref, role) in enumerate(passes):
            self._model_pass(
                ref, role, self.state.sub(span * n / len(passes), span * (n + 1) / len(passes))
            )
        self._statistics(weights, span)
        return {c.key: self.results[c.key] for c in self.checks if c.key in self.results}

    def _hp_ran(self) -> int:
        """The Hp checks that produced a p-value: the Holm family, the one ``n_tests``."""
        return sum(
            1
            for c in self.checks
            if c.spec.addresses_hp
            and c.key in self.results
            and self.results[c.key].p_value is not None
        )

    def _statistics(self, weights: list[Check], span: float) -> None:
        """Each active check's statistics with ``n_tests`` the Hp checks that ran.

        First with the Hp checks still active (those not declined while planning or on the
        suspect's pass); when some then decline (too few references, no usable probe) the
        ones that ran are evaluated again with the smaller family, so the rank test's
        panel size, the panel advice and Holm all count the same checks.
        """
        active = self._active()
        hp = [c for c in active if c.spec.addresses_hp]
        self.ctx = replace(self.ctx, n_tests=max(1, len(hp)))
        self._evaluate(active, weights, span)
        ran = self._hp_ran()
        if ran and ran != self.ctx.n_tests:
            self.ctx = replace(self.ctx, n_tests=ran)
            again = [c for c in hp if self.results[c.key].p_value is not None]
            self._evaluate(again, [], 97.0)

    def _evaluate(self, checks: list[Check], weights: list[Check], span: float) -> None:
        for check in checks:  # the statistics (a weights check reads weights here)
            if check in weights:
                i = weights.index(check)
                sub = self.state.sub(
                    span + (97 - span) * i / len(weights),
                    span + (97 - span) * (i + 1) / len(weights),
                )
            else:
                sub = self.state.sub(span, span)
            self._guarded(check, sub)

    def _keep(self, key: str, label: str, value: Any) -> None:
        self.partial.setdefault(key, {})[label] = jsonable(value)
        self.save(partial=self.partial)

    def _model_pass(self, ref: ModelRef, role: str, state: JobState) -> None:
        self.state.check_cancelled()
        if ref.answers_only:
            self._answers_pass(ref, role, state)
            return
        state.set_status(f"Loading {ref.label}")
        model = model_loading.open_model(ref, self.ctx.settings)
        try:
            template = template_for(model, self.ctx.settings)
            self.model_ctx = ctx = replace(self.ctx, template=template)
            self.models[ref.label] = {
                "role": role,
                "chat_template": rendered_example(template, self.ctx.probes),
            }
            self.save(models=jsonable(self.models))
            if role == "protected":
                checks = self._active(PROTECTED_PASS)
                for t, check in enumerate(checks):
                    sub = state.sub(100 * t / len(checks), 100 * (t + 1) / len(checks))
                    data = self.data[check.key]
                    assert check.measure_protected is not None  # Check() makes sure
                    data.protected = check.measure_protected(ctx, data, model, ref, sub)
                return
            for check in self._active(PANEL_PASS):  # e.g. a tokenizer that cannot be compared
                if check.admit is None:
                    continue
                problem = check.admit(ctx, self.data[check.key], model, ref, role)
                if problem and role == "suspect":
                    self._decline(check, problem)
                elif problem:
                    self.data[check.key].dropped[ref.label] = problem
            tasks = [
                c for c in self._active(PANEL_PASS) if ref.label not in self.data[c.key].dropped
            ]
            for t, check in enumerate(tasks):
                self.state.check_cancelled()
                sub = state.sub(100 * t / len(tasks), 100 * (t + 1) / len(tasks))
                self._measure(check, model, ref, sub)
                self.state.set_partial_result(
                    {"check": check.key, "model": ref.label, "role": role}
                )
        finally:
            record = getattr(model, "load_record", None)
            if callable(record) and ref.label in self.models:
                self.models[ref.label]["loaded"] = record()
                self.save(models=jsonable(self.models))
            model.release()

    def _answers_pass(self, ref: ModelRef, role: str, state: JobState) -> None:
        """A model known only by its answers: the text-only checks read them, no model loads.

        A check that needs the model leaves such a reference out (the suspect's case was
        declined while planning); a text-only check whose questions the answers do not cover
        declines for the suspect and leaves the reference out, saying what is missing.
        """
        tasks: list[Check] = []
        for check in self._active(PANEL_PASS):
            if check.measure_answers is None:
                self.data[check.key].dropped[ref.label] = (
                    "given only as its answers to the probe prompts; this check needs the "
                    "model's token probabilities"
                )
            else:
                tasks.append(check)
        for t, check in enumerate(tasks):
            self.state.check_cancelled()
            sub = state.sub(100 * t / len(tasks), 100 * (t + 1) / len(tasks))
            data = self.data[check.key]
            assert check.measure_answers is not None
            try:
                value = check.measure_answers(self.ctx, data, ref, sub)
            except DeclinedError as exc:
                if role == "suspect":
                    self._decline(check, str(exc))
                else:
                    data.dropped[ref.label] = str(exc)
                continue
            data.measured[ref.label] = value
            self._keep(check.key, ref.label, value.to_dict())
            self.state.set_partial_result({"check": check.key, "model": ref.label, "role": role})
        state.set_progress(100)

    def _measure(self, check: Check, model: Any, ref: ModelRef, state: JobState) -> None:
        """One check's measurement of one model, from the process cache when it is there."""
        key, data = check.key, self.data[check.key]
        ckey = self._cache_key(check, ref)
        hit = MEASUREMENTS.get(ckey) if ckey else None
        if hit is not None:
            self.reused.append(f"{key}: {ref.label}")
            state.set_progress(100)
            value = hit
        else:
            assert check.measure is not None  # Check() makes sure
            value = check.measure(
                self.model_ctx, data, model, ref, state, lambda v: self._keep(key, ref.label, v)
            )
            if ckey:
                MEASUREMENTS.put(ckey, value)
        data.measured[ref.label] = value
        self._keep(key, ref.label, value.to_dict())

    def _cache_key(self, check: Check, ref: ModelRef) -> str | None:
        """What determines a model's measurement for a check (None: not reusable)."""
        s = self.ctx.settings
        if not s.reuse_measurements or check.cache_parts is None:
            return None
        parts = check.cache_parts(self.ctx, self.data[check.key])
        if parts is None:
            return None
        return cache_key(
            {
                "task": check.key,
                "model": [ref.path, ref.format, ref.manifest_sha256],
                "template": self.model_ctx.template.describe(),
                "dtype": s.dtype,
                **parts,
            }
        )

    # --- statistics -----------------------------------------------------------------
    def _guarded(self, check: Check, state: JobState) -> None:
        try:
            self.results[check.key] = check.evaluate(self.ctx, self.data[check.key], state)
        except DeclinedError as exc:
            self._decline(check, str(exc))
