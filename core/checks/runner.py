"""A check run over a case's evidence: the one entry point the GUI, the CLI and the demo call.

:func:`run_checks` resolves the suspect, the reference panel, the protected model / base
model (optional) and the transcript sets from the case file by id; fixes the probes and
the learned markers from the evidence *before* any model is run; creates a Run (parameters,
seed, input ids and hashes, software versions); loads each model once (backend factory),
computes everything the selected checks need from it, releases it; saves per-probe values
into the run as it goes (they survive a cancel); runs the statistics; combines the checks
that address Hp by Holm; stores Results and draft Findings; and audits every step.
Same evidence, settings and seed give the same numbers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from core.checks import distribution, identity, likelihood, lineage, similarity
from core.checks.cache import MEASUREMENTS, cache_key
from core.checks.evidence import CaseEvidence, ModelRef, load_case_evidence
from core.checks.findings import out_json, store_results
from core.checks.framework import CheckResult, CheckSpec, declined
from core.checks.markers import learn_phrases, learn_style
from core.checks.paired import MIN_PROBES
from core.checks.probes import DEFAULT_RESPONSE_PREFIX, DEFAULT_TEMPLATE, ChatTemplate, match_probes
from core.checks.stats import CombinedResult, combine_holm, jsonable
from core.errors import DeclinedError, DistillAuditError
from core.jobs import JobState
from core.store import runs
from core.store.db import CaseFile

CHECK_ORDER = ("likelihood", "identity", "similarity", "distribution", "lineage")
HP_CHECKS = ("likelihood", "identity", "similarity", "distribution")
PROBE_CHECKS = (
    "likelihood",
    "similarity",
    "distribution",
)  # the checks that use the matched probes
SPECS: dict[str, CheckSpec] = {
    m.SPEC.key: m.SPEC for m in (likelihood, identity, similarity, distribution, lineage)
}
LINEAGE_EXCLUDED = (
    "The weight-lineage check answers a different question (is the suspect derived from "
    "the given base model?), so it takes no part in the combined Hp-vs-Hd summary."
)


@dataclass(frozen=True)
class CheckInputs:
    """What to compare, by case-file id (artifacts and transcript sets of one case)."""

    suspect_id: int
    reference_ids: tuple[int, ...]
    protected_answers_id: int
    control_answers_id: int | None = None
    protected_model_id: int | None = None
    base_model_id: int | None = None


@dataclass(frozen=True)
class CheckSettings:
    """Every setting that can change a number; all recorded in the Run's parameters."""

    checks: tuple[str, ...] = CHECK_ORDER
    seed: int = 0
    alpha: float = 0.05
    template: str = DEFAULT_TEMPLATE
    response_prefix: str = DEFAULT_RESPONSE_PREFIX
    protected_names: tuple[str, ...] = ()
    n_resamples: int = 10_000
    max_probes: int | None = None
    max_new_tokens: int = 96
    identity_suite: str | None = None  # path of a suite YAML; None: the shipped identity_v1
    identity_samples: int = 2
    identity_temperature: float = 0.8
    identity_top_p: float = 0.95
    identity_max_new_tokens: int = 32
    min_k: float = 0.2
    top_k: int = distribution.DEFAULT_TOP_K
    lineage_resamples: int = 999
    lineage_max_layers: int = 4
    learn_phrases: bool = True
    reuse_measurements: bool = (
        True  # reuse identical per-model measurements made earlier in this process
    )
    semantic: bool = True  # use the optional sentence-embedding model when it is installed
    num_threads: int | None = None


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

    def to_json(self) -> dict[str, Any]:
        """The OUT.json document: per check name, question, statistic, effect size, CI, p, N,
        verdict and reason, plus the combined result, run id, parameters and inputs."""
        return out_json(
            SPECS,
            self.results,
            self.combined,
            excluded=self.excluded,
            order=CHECK_ORDER,
            extra={
                "run_id": self.run_id,
                "case_id": self.case_id,
                "findings": self.finding_ids,
                "parameters": self.parameters,
                "inputs": self.inputs,
            },
        )


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
    unknown = [c for c in settings.checks if c not in CHECK_ORDER]
    if unknown or not settings.checks:
        raise DistillAuditError(
            f"Unknown check(s) {', '.join(unknown) or '(none chosen)'}; choose from "
            f"{', '.join(CHECK_ORDER)}."
        )
    checks = [c for c in CHECK_ORDER if c in settings.checks]
    template = ChatTemplate(settings.template, settings.response_prefix)
    state.set_status("Reading the evidence")
    ev = load_case_evidence(cf, case_key, inputs)
    probes = match_probes(ev.protected_items, ev.control_items, max_probes=settings.max_probes)
    prot_answers = [p.protected for p in probes.probes]
    ctrl_answers = [p.control for p in probes.probes if p.control is not None]
    phrases = (
        learn_phrases(prot_answers, ctrl_answers, exclude=settings.protected_names)
        if settings.learn_phrases and ctrl_answers
        else []
    )
    style = learn_style(prot_answers, ctrl_answers) if ctrl_answers else []
    suite = identity.load_suite(settings.identity_suite) if "identity" in checks else None
    markers = identity.IdentityMarkers(
        tuple(n.strip() for n in settings.protected_names if n.strip()),
        identity.phrases_from(phrases),
    )
    parameters = jsonable(
        {
            **asdict(settings),
            "checks": checks,
            "probe_ids": list(probes.ids),
            "probes_matched_by": probes.matched_by,
            "probe_warnings": list(probes.warnings),
            "learned_phrases": [m.to_dict() for m in phrases],
            "learned_style_markers": [m.to_dict() for m in style],
            "identity_suite": suite.to_dict() if suite else None,
        }
    )
    run_inputs = ev.describe()
    if suite is not None:
        run_inputs["identity_suite"] = suite.to_dict()
    run_id = runs.create_run(cf, ev.case_id, "check", parameters, run_inputs, settings.seed)
    with runs.running(cf, run_id) as handle:
        work = _Work(
            ev,
            probes.probes,
            template,
            settings,
            checks,
            markers,
            suite,
            [m.marker for m in style],
            handle.save_summary,
            state,
        )
        results = {
            k: replace(r, warnings=(*probes.warnings, *r.warnings)) if k in PROBE_CHECKS else r
            for k, r in work.run().items()
        }
        excluded = {"lineage": LINEAGE_EXCLUDED} if "lineage" in results else {}
        combined = combine_holm(
            {k: results[k].p_value for k in checks if k in HP_CHECKS}, alpha=settings.alpha
        )
        state.set_status("Storing results and proposing draft findings")
        finding_ids = store_results(
            cf,
            run_id,
            ev.case_id,
            SPECS,
            results,
            combined,
            suspect=ev.suspect.label,
            base=ev.base.label if ev.base else None,
            reference_ids={r.label: r.artifact_id for r in ev.references},
            excluded=excluded,
            actor=actor,
        )
        handle.save_summary(
            reused_measurements=work.reused,
            verdicts={k: r.verdict for k, r in results.items()},
            p_values={k: r.p_value for k, r in results.items()},
            combined=combined.to_dict(),
            findings=finding_ids,
        )
        state.set_progress(100)
    return CheckRunReport(
        run_id, ev.case_id, results, combined, finding_ids, parameters, run_inputs, excluded
    )


class _Work:
    """One pass per model (load, compute what the checks need, release), then the statistics."""

    def __init__(
        self,
        ev: CaseEvidence,
        probes: tuple,
        template: ChatTemplate,
        settings: CheckSettings,
        checks: list[str],
        markers: identity.IdentityMarkers,
        suite: identity.IdentitySuite | None,
        style: list[str],
        save: Callable[..., None],
        state: JobState,
    ) -> None:
        self.ev, self.probes, self.template, self.s = ev, probes, template, settings
        self.checks, self.markers, self.suite, self.style = checks, markers, suite, style
        self.save, self.state = save, state
        self.results: dict[str, CheckResult] = {}
        self.partial: dict[str, dict[str, Any]] = {}
        self.data: dict[str, dict[str, Any]] = {c: {} for c in checks}
        self.dropped: dict[str, str] = {}
        self.reused: list[str] = []  # measurements taken from the process cache

    # --- planning -------------------------------------------------------------------
    def _decline(self, key: str, reason: str) -> None:
        self.results[key] = declined(
            SPECS[key],
            reason,
            seed=self.s.seed,
            n_probes=len(self.probes),
            n_references=len(self.ev.references),
            alpha=self.s.alpha,
        )

    def _plan(self) -> None:
        ev = self.ev
        for key in ("likelihood", "similarity", "distribution"):
            if key in self.checks and len(self.probes) < MIN_PROBES:
                self._decline(
                    key,
                    f"Only {len(self.probes)} usable probes (protected answers matched with "
                    f"control answers); this check needs at least {MIN_PROBES}.",
                )
        for key in HP_CHECKS:
            if key in self.checks and key not in self.results and not ev.references:
                self._decline(
                    key,
                    "No reference models were given: every check compares the suspect "
                    "with a panel of independent reference models.",
                )
        if "identity" in self.checks and "identity" not in self.results:
            if not self.markers.names and not self.markers.phrases:
                self._decline(
                    "identity",
                    "Nothing to look for: no protected names, vendor or aliases "
                    "were given and no habitual phrases could be learned (that "
                    "needs control answers).",
                )
        if "distribution" in self.checks and "distribution" not in self.results:
            if ev.protected_model is None:
                self._decline(
                    "distribution",
                    "The distribution check needs the protected model itself "
                    "(white-box access): give --protected-model.",
                )
            else:  # compare tokenizers now (tokenizers only, no weights) rather than after the work
                from core.backends.factory import load_model

                prot, sus = load_model(ev.protected_model.path), load_model(ev.suspect.path)
                problem = distribution.tokenizer_problem(
                    prot.tokenizer_hash, ev.suspect.label, sus.tokenizer_hash
                )
                prot.release()
                sus.release()
                if problem:
                    self._decline("distribution", problem)
        if "lineage" in self.checks and ev.base is None:
            self._decline(
                "lineage",
                "The weight-lineage check needs the base model the suspect may be "
                "derived from: give --base-model.",
            )

    def _active(self, key: str) -> bool:
        return key in self.checks and key not in self.results

    # --- model passes ---------------------------------------------------------------
    def run(self) -> dict[str, CheckResult]:
        self._plan()
        passes: list[tuple[ModelRef, str]] = []
        if self._active("distribution"):
            passes.append((self.ev.protected_model, "protected"))  # type: ignore[arg-type]
        if any(self._active(k) for k in HP_CHECKS):
            passes.append((self.ev.suspect, "suspect"))
            passes += [(r, "reference") for r in self.ev.references]
        span = 90.0 if self._active("lineage") else 97.0
        for n, (ref, role) in enumerate(passes):
            self._model_pass(
                ref, role, self.state.sub(span * n / len(passes), span * (n + 1) / len(passes))
            )
        self._statistics()
        if self._active("lineage"):
            self._lineage(self.state.sub(span, 97))
        return {k: self.results[k] for k in CHECK_ORDER if k in self.results}

    def _keep(self, key: str, label: str, value: Any) -> None:
        self.partial.setdefault(key, {})[label] = jsonable(value)
        self.save(partial=self.partial)

    def _model_pass(self, ref: ModelRef, role: str, state: JobState) -> None:
        from core.backends.factory import load_model

        self.state.check_cancelled()
        state.set_status(f"Loading {ref.label}")
        model = load_model(ref.path, name=ref.label, num_threads=self.s.num_threads)
        try:
            if role == "protected":
                texts = distribution.probe_texts(self.probes, self.template)
                state.set_status(f"Next-token distributions of the protected model {ref.label}")
                self.protected_summary = distribution.summarise_protected(
                    model, texts, [p.probe_id for p in self.probes], top_k=self.s.top_k, state=state
                )
                return
            self._tokenizer_gate(ref, role, model)
            tasks = [
                k
                for k in ("likelihood", "similarity", "identity", "distribution")
                if self._active(k) and not (k == "distribution" and ref.label in self.dropped)
            ]
            for t, key in enumerate(tasks):
                self.state.check_cancelled()
                sub = state.sub(100 * t / len(tasks), 100 * (t + 1) / len(tasks))
                ckey = self._cache_key(key, ref)
                hit = MEASUREMENTS.get(ckey) if ckey else None
                if hit is not None:
                    self.data[key][ref.label] = hit
                    self._keep(key, ref.label, hit.to_dict())
                    self.reused.append(f"{key}: {ref.label}")
                    sub.set_progress(100)
                else:
                    getattr(self, f"_{key}_pass")(model, ref, sub)
                    if ckey:
                        MEASUREMENTS.put(ckey, self.data[key][ref.label])
                self.state.set_partial_result({"check": key, "model": ref.label, "role": role})
        finally:
            model.release()

    def _cache_key(self, key: str, ref: ModelRef) -> str | None:
        """What determines a model's measurement for a check (None: not reusable)."""
        s = self.s
        if not s.reuse_measurements or key not in ("likelihood", "similarity", "identity"):
            return None
        parts: dict[str, Any] = {
            "task": key,
            "model": [ref.path, ref.format, ref.manifest_sha256],
            "template": [s.template, s.response_prefix],
        }
        if key == "likelihood":
            parts.update(
                min_k=s.min_k,
                probes=[(p.probe_id, p.prompt, p.protected, p.control) for p in self.probes],
            )
        elif key == "similarity":
            parts.update(
                seed=s.seed,
                max_new_tokens=s.max_new_tokens,
                probes=[(p.probe_id, p.prompt) for p in self.probes],
            )
        else:
            parts.update(
                seed=s.seed,
                suite=self.suite.sha256 if self.suite else None,
                samples=s.identity_samples,
                temperature=s.identity_temperature,
                top_p=s.identity_top_p,
                max_new_tokens=s.identity_max_new_tokens,
            )
        return cache_key(parts)

    def _tokenizer_gate(self, ref: ModelRef, role: str, model: Any) -> None:
        if not self._active("distribution"):
            return
        problem = distribution.tokenizer_problem(
            self.protected_summary.tokenizer_hash, ref.label, model.tokenizer_hash
        )
        if problem is None:
            return
        if role == "suspect":
            self._decline("distribution", problem)
        else:
            self.dropped[ref.label] = problem.replace("The suspect", "This reference")

    def _likelihood_pass(self, model: Any, ref: ModelRef, state: JobState) -> None:
        state.set_status(f"Scoring protected and control answers with {ref.label}")
        self.data["likelihood"][ref.label] = likelihood.score_affinity(
            model,
            self.probes,
            self.template,
            min_k=self.s.min_k,
            state=state,
            on_chunk=lambda done, part: self._keep("likelihood", ref.label, part.to_dict()),
        )

    def _similarity_pass(self, model: Any, ref: ModelRef, state: JobState) -> None:
        state.set_status(f"Answering the probe prompts with {ref.label}")
        self.data["similarity"][ref.label] = similarity.generate_answers(
            model,
            self.probes,
            self.template,
            seed=self.s.seed,
            max_new_tokens=self.s.max_new_tokens,
            state=state,
            on_chunk=lambda done, part: self._keep("similarity", ref.label, part.to_dict()),
        )

    def _identity_pass(self, model: Any, ref: ModelRef, state: JobState) -> None:
        assert self.suite is not None
        answers = identity.collect_answers(
            model,
            self.suite,
            self.template,
            seed=self.s.seed,
            n_samples=self.s.identity_samples,
            temperature=self.s.identity_temperature,
            top_p=self.s.identity_top_p,
            max_new_tokens=self.s.identity_max_new_tokens,
            state=state,
        )
        self.data["identity"][ref.label] = answers
        self._keep("identity", ref.label, answers.to_dict())

    def _distribution_pass(self, model: Any, ref: ModelRef, state: JobState) -> None:
        state.set_status(
            f"Comparing next-token distributions of {ref.label} with the protected model"
        )
        texts = distribution.probe_texts(self.probes, self.template)
        scores = distribution.agreement_scores(model, self.protected_summary, texts, state=state)
        self.data["distribution"][ref.label] = scores
        self._keep("distribution", ref.label, scores.to_dict())

    # --- statistics -----------------------------------------------------------------
    def _statistics(self) -> None:
        s, sus = self.s, self.ev.suspect.label
        refs = [r.label for r in self.ev.references]
        common = {"seed": s.seed, "alpha": s.alpha, "n_resamples": s.n_resamples}
        if self._active("likelihood"):
            d = self.data["likelihood"]
            self._guarded(
                "likelihood",
                lambda: likelihood.likelihood_check(
                    d[sus], {r: d[r] for r in refs}, min_k=s.min_k, **common
                ),
            )
        if self._active("identity"):
            d = self.data["identity"]
            self._guarded(
                "identity",
                lambda: identity.identity_check(
                    d[sus], {r: d[r] for r in refs}, self.markers, **common
                ),
            )
        if self._active("similarity"):
            self._guarded("similarity", lambda: self._similarity_result(common))
        if self._active("distribution"):
            d = self.data["distribution"]
            self._guarded(
                "distribution",
                lambda: distribution.distribution_check(
                    d[sus],
                    {r: d[r] for r in refs if r not in self.dropped},
                    top_k=s.top_k,
                    dropped=self.dropped,
                    **common,
                ),
            )

    def _guarded(self, key: str, compute: Callable[[], CheckResult]) -> None:
        try:
            self.results[key] = compute()
        except DeclinedError as exc:
            self._decline(key, str(exc))

    def _similarity_result(self, common: dict[str, Any]) -> CheckResult:
        embedder = similarity.SentenceEmbedder.find() if self.s.semantic else None
        prot_emb = None
        if embedder is not None:
            try:
                prot_emb = embedder.embed([p.protected for p in self.probes])
            except Exception:
                embedder = None
        scores = {
            label: similarity.similarity_scores(
                a,
                self.probes,
                style_markers=self.style,
                embedder=embedder,
                protected_embeddings=prot_emb,
            )
            for label, a in self.data["similarity"].items()
        }
        sus = self.ev.suspect.label
        return similarity.similarity_check(
            scores[sus],
            {r.label: scores[r.label] for r in self.ev.references},
            style_markers=self.style,
            embedding_model=embedder.name if embedder else None,
            **common,
        )

    def _lineage(self, state: JobState) -> None:
        base, sus = self.ev.base, self.ev.suspect
        assert base is not None
        state.set_status(f"Reading the weights of {base.label} and {sus.label}")
        try:
            wb, ws = lineage.read_weights(base.path), lineage.read_weights(sus.path)
            cb, cs = lineage.read_config(base.path), lineage.read_config(sus.path)
        except DeclinedError as exc:
            self._decline("lineage", str(exc))
            return
        self.results["lineage"] = lineage.lineage_check(
            wb,
            ws,
            cb,
            cs,
            seed=self.s.seed,
            alpha=self.s.alpha,
            n_resamples=self.s.lineage_resamples,
            max_layers=self.s.lineage_max_layers,
            state=state,
        )
