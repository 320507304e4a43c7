"""Reading Run and Result rows into report records: checks, calibration, experiments.

This is the one place that knows how core.checks and core.distill store their outputs:

* A check run (``Run.kind == "check"``, written by :func:`core.checks.runner.run_checks`
  through :func:`core.checks.findings.store_results`) holds several checks. For each
  check ``key`` it has one ``"<key>.summary"`` Result (details: the whole
  ``CheckResult.to_dict()`` plus question and access; ``p_adjusted``: Holm across the
  run's checks) and one ``"<key>.vs_reference"`` Result per reference model (value,
  CI, raw p, Holm p within the check, n; details: reference, effect_size, method,
  n_resamples). One ``"combined.holm"`` Result holds the combined statement.
  ``Run.parameters`` are the check settings (seed, alpha, checks, probe_ids, identity
  suite, ...); ``Run.inputs`` describe the models and transcript sets with their hashes.
* A calibration run: see :func:`calibration_rows`.

Missing items are reported as not recorded, never guessed.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from core.checks.stats import clopper_pearson
from core.reports.data import (
    CalibrationRow,
    CheckRecord,
    CombinedInfo,
    EvidenceRecord,
    InputRef,
    ProbeSeries,
    ProbeSuite,
    ProbeValue,
    ResultRow,
    RunBrief,
)
from core.store.models import Run
from core.store.stored import integer as _int
from core.store.stored import interval as _pair
from core.store.stored import number as _num
from core.store.types import iso

NOT_RECORDED = "not recorded by the run"
_INPUT_ROLES = (
    "suspect",
    "references",
    "protected_model",
    "base_model",
    "protected_answers",
    "control_answers",
)
Resolver = Callable[[str, Any], EvidenceRecord | None]  # (kind, id) -> case evidence


def _specs() -> dict[str, Any]:
    """The checks' specifications (title, alternative, min_effect), where core.checks has them."""
    try:
        from core.checks.registry import SPECS
    except ImportError:  # pragma: no cover - the checks package is part of the product
        return {}
    return dict(SPECS)


def run_category(run: Run) -> str:
    """'check', 'calibration' or 'experiment' (anything else is listed with the experiments)."""
    from core.store.runs import run_category as category_of_kind

    return category_of_kind(run.kind)


def _first(*values: Any) -> Any:
    for v in values:
        if v not in (None, "", [], {}):
            return v
    return None


def brief(run: Run, command: str | None = None) -> RunBrief:
    cli = (run.parameters or {}).get("cli")
    recorded = shlex.join(map(str, cli)) if isinstance(cli, list) else (str(cli) if cli else None)
    return RunBrief(
        run.id,
        run.kind,
        run.status,
        run.seed,
        dict(run.parameters or {}),
        dict(run.software or {}),
        recorded or command,
        iso(run.started_at),
        iso(run.finished_at),
    )


# --- check runs ------------------------------------------------------------------------


def _input_refs(inputs: Mapping[str, Any], resolve: Resolver) -> list[InputRef]:
    out: list[InputRef] = []
    for role in _INPUT_ROLES:
        value = inputs.get(role)
        for item in value if isinstance(value, list) else [value]:
            if not isinstance(item, Mapping):
                continue
            if "transcript_set_id" in item:
                ev = resolve("transcripts", item["transcript_set_id"])
                sha = item.get("file_sha256")
            else:
                ev = resolve("model", item.get("artifact_id"))
                sha = item.get("manifest_sha256")
            out.append(
                InputRef(
                    role.removesuffix("s") if role == "references" else role,
                    ev.label if ev else "",
                    str(item.get("label") or item.get("name") or (ev.name if ev else "")),
                    str(sha or (ev.sha256 if ev else "")),
                )
            )
    return out


def _probe_suite(
    key: str,
    params: Mapping[str, Any],
    inputs: Mapping[str, Any],
    n_probes: int | None,
    resolve: Resolver,
) -> ProbeSuite | None:
    if key == "identity":
        suite = params.get("identity_suite") or inputs.get("identity_suite")
        if isinstance(suite, Mapping):
            name = Path(str(suite.get("path") or "identity suite")).stem
            return ProbeSuite(
                f"{name} (identity questions)",
                str(suite.get("version") or ""),
                _int(suite.get("questions")),
                str(suite.get("sha256") or ""),
            )
        return None
    if key == "lineage":
        return None
    answers = inputs.get("protected_answers")
    if not isinstance(answers, Mapping):
        return None
    ev = resolve("transcripts", answers.get("transcript_set_id"))
    matched = params.get("probes_matched_by")
    name = (
        f"{ev.label + ' ' if ev else ''}{answers.get('name', '')}: prompts and captured "
        "protected answers"
        + (f", matched with control answers by {matched}" if matched and matched != "none" else "")
    )
    count = len(params["probe_ids"]) if isinstance(params.get("probe_ids"), list) else n_probes
    return ProbeSuite(name, "transcript set", count, str(answers.get("file_sha256") or ""))


def _comparison_row(r: Any) -> ResultRow:
    d = r.details or {}
    return ResultRow(
        id=r.id,
        metric=r.metric,
        comparison=str(d.get("reference") or ""),
        value=_num(r.value),
        ci_low=_num(r.ci_low),
        ci_high=_num(r.ci_high),
        p_value=_num(r.p_value),
        p_adjusted=_num(r.p_adjusted),
        n=r.n,
        effect_size=_num(d.get("effect_size")),
        effect_name=str(d.get("effect_name") or ""),
        n_resamples=d.get("n_resamples"),
        method=str(d.get("method") or ""),
    )


def _probes(
    summary: Mapping[str, Any],
    suspect: str,
) -> tuple[list[ProbeSeries], list[ProbeValue], str]:
    """Series of the primary per-probe measure, every per-probe value, and the measure's name."""
    details = summary.get("details") or {}
    items = [p for p in summary.get("probe_details") or [] if isinstance(p, Mapping)]
    values: list[ProbeValue] = []
    for p in items:
        for measure, v in (p.get("values") or {}).items():
            if isinstance(v, Mapping):
                values += [
                    ProbeValue(str(p.get("probe_id")), str(measure), str(m), x)
                    for m, x in v.items()
                ]
            else:
                values.append(ProbeValue(str(p.get("probe_id")), str(measure), "", v))
    nested = [
        m for p in items for m, v in (p.get("values") or {}).items() if isinstance(v, Mapping)
    ]
    primary = str(details.get("value_name") or (nested[0] if nested else ""))
    series: dict[str, ProbeSeries] = {}
    for v in values:
        x = _num(v.value)
        if v.measure != primary or not v.model or x is None:
            continue
        role = "suspect" if v.model == "suspect" else "reference"
        name = suspect if role == "suspect" and suspect else v.model
        s = series.setdefault(name, ProbeSeries(name, role, [], []))
        s.probe_ids.append(v.probe_id)
        s.values.append(x)
    ordered = sorted(series.values(), key=lambda s: (s.role != "suspect", s.name))
    return ordered, values, primary


def _check(
    run: Run,
    key: str,
    summary_row: Any,
    comparisons: list[Any],
    resolve: Resolver,
    spec: Any,
    command: str | None,
) -> CheckRecord:
    params: dict[str, Any] = dict(run.parameters or {})
    inputs: dict[str, Any] = dict(run.inputs or {})
    s: dict[str, Any] = dict(summary_row.details or {}) if summary_row is not None else {}
    refs = [i for i in _input_refs(inputs, resolve) if i.role == "reference"]
    suspect = next((i.name for i in _input_refs(inputs, resolve) if i.role == "suspect"), "")
    series, values, primary = _probes(s, suspect)
    unit = str((s.get("details") or {}).get("unit") or "")
    label = primary.replace("_", " ") if primary else "per-probe value"
    lo, hi = _pair(s.get("ci"))
    done = run.status == "done" and summary_row is not None
    ml: dict[str, Any] = dict(s.get("model_level") or {})

    def text(name: str) -> str:
        return str(_first(s.get(name), getattr(spec, name, None)) or NOT_RECORDED)

    return CheckRecord(
        run_id=run.id,
        kind=run.kind,
        key=key,
        title=str(getattr(spec, "title", "") or key),
        question=text("question"),
        access=text("access"),
        null_hypothesis=text("null_hypothesis"),
        alternative=text("alternative"),
        test=text("test"),
        min_effect=_num(getattr(spec, "min_effect", None)),
        status=run.status if summary_row is None or run.status != "done" else "done",
        verdict=str(s.get("verdict") or ("not run" if not done else NOT_RECORDED)),
        reason=str(s.get("reason") or (run.error or "" if not done else "")),
        strength=str(s.get("strength") or "not assessed"),
        statistic=_num(s.get("statistic")),
        effect_size=_num(s.get("effect_size")),
        ci_low=lo,
        ci_high=hi,
        p_value=_num(s.get("p_value")),
        p_family=_num(summary_row.p_adjusted) if summary_row is not None else None,
        n_probes=_int(s.get("n_probes")),
        n_references=_int(s.get("n_references")),
        alpha=_num(_first(s.get("alpha"), params.get("alpha"))) or 0.05,
        seed=run.seed if run.seed is not None else _int(s.get("seed")),
        probe_suite=_probe_suite(key, params, inputs, _int(s.get("n_probes")), resolve),
        references=[f"{i.label} {i.name}".strip() for i in refs],
        inputs=_input_refs(inputs, resolve),
        software=dict(run.software or {}),
        parameters={
            k: v
            for k, v in params.items()
            if k not in ("probe_ids", "learned_phrases", "learned_style_markers", "cli")
        },
        started_at=iso(run.started_at),
        finished_at=iso(run.finished_at),
        error=run.error,
        command=command,
        score_label=label
        + (f" ({unit})" if unit and len(unit) < 40 and unit.split()[0] not in label else ""),
        unit=unit,
        warnings=[str(w) for w in s.get("warnings") or []],
        results=[_comparison_row(r) for r in comparisons],
        series=series,
        probe_values=values,
        details=dict(s.get("details") or {}),
        p_floor=_num(s.get("p_floor")),
        p_per_probe=_num(s.get("p_per_probe")),
        test_used=str(ml.get("test_used") or ""),
        panel_needed=_int(ml.get("panel_needed")),
    )


def check_records(run: Run, resolve: Resolver, command: str | None = None) -> list[CheckRecord]:
    """One record per check of a check run (planned checks of a run that did not finish)."""
    specs = _specs()
    groups: dict[str, dict[str, Any]] = {}
    for r in run.results:
        key = str((r.details or {}).get("check") or r.metric.split(".", 1)[0])
        if key == "combined":
            continue
        g = groups.setdefault(key, {"summary": None, "comparisons": []})
        if r.metric.endswith(".summary"):
            g["summary"] = r
        else:
            g["comparisons"].append(r)
    planned = (run.parameters or {}).get("checks") or []
    from core.checks.registry import order_key

    keys = sorted(set(groups) | {str(k) for k in planned}, key=order_key)
    return [
        _check(
            run,
            k,
            groups.get(k, {}).get("summary"),
            groups.get(k, {}).get("comparisons", []),
            resolve,
            specs.get(k),
            command,
        )
        for k in keys
    ]


def combined_info(run: Run) -> CombinedInfo | None:
    """The run's combined Holm result ("combined.holm" Result), if it recorded one."""
    for r in run.results:
        if r.metric == "combined.holm":
            d = r.details or {}
            return CombinedInfo(
                run.id,
                str(d.get("statement") or ""),
                str(d.get("method") or ""),
                str(d.get("limit") or ""),
                _num(d.get("alpha")) or 0.05,
                len(d.get("raw") or {}),
                [str(x) for x in d.get("supporting") or []],
                [str(x) for x in d.get("not_tested") or []],
                {str(k): str(v) for k, v in (d.get("excluded") or {}).items()},
                str(d.get("signal_note") or ""),
            )
    return None


def evidence_root(paths: Iterable[str]) -> str | None:
    """The folder all evidence paths share (the reproduction commands are relative to it)."""
    found = [str(Path(p).parent) for p in paths if p]
    if not found:
        return None
    try:
        return os.path.commonpath(found)
    except ValueError:  # paths on different drives
        return None


def check_command(
    run: Run, resolve: Resolver, case_file: str, case_ref: str, root: str | None = None
) -> str | None:
    """The ``distill-audit check`` call that repeats a check run with its seed and settings;
    evidence paths relative to ``root`` (the evidence folder), so the call travels."""
    p, i = run.parameters or {}, run.inputs or {}

    def path(kind: str, item: Any, id_key: str) -> str | None:
        ev = resolve(kind, item.get(id_key)) if isinstance(item, Mapping) else None
        if ev is None:
            return None
        return os.path.relpath(ev.path, root) if root else ev.path

    def known_by_answers(item: Any) -> bool:  # an API-only model: its answers' transcript set
        return isinstance(item, Mapping) and item.get("format") == "answers"

    def model_args(item: Any, flag: str) -> list[str]:
        if known_by_answers(item):
            return [f"{flag}-answers", path("transcripts", item, "transcript_set_id") or "MISSING"]
        return [flag, path("model", item, "artifact_id") or "MISSING"]

    suspect_item = i.get("suspect")
    answers = path("transcripts", i.get("protected_answers"), "transcript_set_id")
    suspect = model_args(suspect_item, "--suspect")
    if suspect[1] == "MISSING" or not answers:
        return None
    argv = ["distill-audit", "check", "--db", case_file, "--case", case_ref, *suspect]
    for ref in i.get("references") or []:
        argv += model_args(ref, "--reference")
    argv += ["--protected-transcripts", answers]
    for flag, kind, key, id_key in (
        ("--control-answers", "transcripts", "control_answers", "transcript_set_id"),
        ("--protected-model", "model", "protected_model", "artifact_id"),
        ("--base-model", "model", "base_model", "artifact_id"),
    ):
        found = path(kind, i.get(key), id_key)
        if found:
            argv += [flag, found]
    if p.get("checks"):
        argv += ["--checks", ",".join(map(str, p["checks"]))]
    if p.get("protected_names"):
        argv += ["--protected-names", ",".join(map(str, p["protected_names"]))]
    argv += ["--seed", str(run.seed if run.seed is not None else p.get("seed", 0))]
    for flag, key in (
        ("--alpha", "alpha"),
        ("--resamples", "n_resamples"),
        ("--max-probes", "max_probes"),
    ):
        if p.get(key) is not None:
            argv += [flag, str(p[key])]
    for flag, key, default in (
        ("--dtype", "dtype", "auto"),
        ("--chat-templates", "chat_templates", "model"),
        ("--template-file", "template_file", None),
    ):
        if p.get(key) not in (None, default):
            argv += [flag, str(p[key])]
    if p.get("template") and p["template"] != "User: {prompt}\nAssistant:":
        argv += ["--template", str(p["template"]).replace("\n", "\\n")]
    suite = p.get("identity_suite")
    if isinstance(suite, Mapping) and suite.get("path"):
        spath = str(suite["path"])
        argv += ["--identity-suite", os.path.relpath(spath, root) if root else spath]
    argv += ["--json", f"run-{run.id}-repeat.json"]
    return shlex.join(argv)


# --- calibration runs --------------------------------------------------------------------

_DETECTION_WORDS = ("detection", "tpr", "power", "true_positive", "sensitivity")
_FALSE_WORDS = ("false_positive", "false-positive", "fpr", "false positive")


def _quantity(name: str) -> str | None:
    n = name.lower()
    if any(w in n for w in _FALSE_WORDS):
        return "false_positive"
    if any(w in n for w in _DETECTION_WORDS):
        return "detection"
    return None


def _calibration_row(
    run: Run,
    quantity: str,
    rate: float | None,
    ci: tuple[Any, Any],
    k: Any,
    n: Any,
    info: Mapping[str, Any],
    default_check: str,
) -> CalibrationRow | None:
    k_i, n_i = _int(k), _int(n)
    if rate is None and k_i is not None and n_i:
        rate = k_i / n_i
    if rate is None:
        return None
    lo, hi = _num(ci[0]), _num(ci[1])
    method = str(info.get("ci_method") or ("as recorded" if lo is not None else ""))
    if lo is None and k_i is not None and n_i and 0 <= k_i <= n_i:
        lo, hi = clopper_pearson(k_i, n_i)
        method = "exact (Clopper-Pearson), computed from k/n at export"
    samples = _int(_first(info.get("samples"), info.get("n_samples")))
    condition = str(
        info.get("condition")
        or (
            (f"students distilled with {samples:,} samples" if samples else "distilled students")
            if quantity == "detection"
            else "independent control models"
        )
    )
    return CalibrationRow(
        run.id,
        str(info.get("check") or default_check),
        quantity,
        condition,
        samples,
        k_i,
        n_i,
        rate,
        lo,
        hi,
        method or "not recorded",
    )


def _sweep_rates(summary: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The shape core.distill.calibration writes (read through its CalibrationSummary):
    ``points`` (detection per sample count) and ``false_positive`` (control twins), read
    as ``rates`` items."""
    from core.distill.summaries import CalibrationSummary

    sweep = CalibrationSummary.from_dict(summary)
    out: list[dict[str, Any]] = []
    check = sweep.check or "combined checks (Holm)"
    for p in sweep.points:
        if p.trials:
            out.append(
                {
                    "quantity": "detection",
                    "rate": p.rate,
                    "ci": list(p.ci),
                    "k": p.detected,
                    "n": p.trials,
                    "samples": p.n,
                    "check": check,
                    "ci_method": "exact (Clopper-Pearson)",
                }
            )
    fp = sweep.false_positive
    if fp is not None and fp.m:
        out.append(
            {
                "quantity": "false_positive",
                "rate": fp.rate,
                "ci": list(fp.ci),
                "k": fp.k,
                "n": fp.m,
                "check": check,
                "condition": "control twins trained on control answers",
                "ci_method": "exact (Clopper-Pearson)",
            }
        )
    return out


def calibration_rows(run: Run) -> list[CalibrationRow]:
    """Measured error rates of a calibration run (``Run.kind`` containing "calibration").

    Expected: ``Result`` rows with metric ``"detection_rate"`` or ``"false_positive_rate"``
    (a "<check>." prefix is allowed), value = the rate, ci_low/ci_high = its 95% interval,
    n = students or control models; details ``{"check", "k", "samples", "condition",
    "ci_method"}``. Also read: ``Run.summary['rates']``, a list of dicts with the keys
    quantity (or metric), rate (or value), ci, k, n, check, samples, condition. A missing
    interval is computed (Clopper-Pearson) from k and n and labelled as such.
    """
    summary: dict[str, Any] = dict(run.summary or {})
    params: dict[str, Any] = dict(run.parameters or {})
    default_check = str(_first(summary.get("check"), params.get("check")) or "all checks")
    rows: list[CalibrationRow] = []
    for r in run.results:
        q = _quantity(r.metric)
        d = {**params, **(r.details or {})}
        if "." in r.metric and not d.get("check"):
            d["check"] = r.metric.split(".", 1)[0]
        row = q and _calibration_row(
            run,
            q,
            _num(r.value),
            (r.ci_low, r.ci_high),
            d.get("k"),
            r.n if r.n is not None else d.get("n"),
            d,
            default_check,
        )
        if row:
            rows.append(row)
    listed: Iterable[Any] = [] if rows else summary.get("rates") or _sweep_rates(summary)
    for item in listed:
        if isinstance(item, Mapping):
            q = _quantity(str(item.get("quantity") or item.get("metric") or ""))
            row = q and _calibration_row(
                run,
                q,
                _num(_first(item.get("rate"), item.get("value"))),
                _pair(item.get("ci")),
                item.get("k"),
                item.get("n"),
                {**params, **item},
                default_check,
            )
            if row:
                rows.append(row)
    return rows
