"""A traffic analysis as conduct evidence of a case: recorded, read back, mapped to clauses.

The analysis is not a case-file table (no schema change): it is recorded as one audit event
``traffic.analysis`` (hash-chained, so the figures a report quotes are the ones recorded)
holding the parameters, the candidate campaigns with their indicators, volume, cost and
requests per day, and, when the logs carry ground truth (the demo, a simulation), the
account-level precision and recall. The report and the GUI read the latest such event.

Which clause categories (``resources/taxonomy/clause_taxonomy.yaml``) a campaign's
conduct concerns is decided here, once, from what the analysis measured.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from core.jobs import JobState
from core.store import audit
from core.store.models import AuditEvent
from core.traffic.campaigns import Campaign, TrafficAnalysis
from core.traffic.engine import Engine
from core.traffic.thresholds import AnalysisParams
from core.traffic.validation import Validation

if TYPE_CHECKING:
    from core.store.db import CaseFile

ACTION = "traffic.analysis"

#: Taxonomy categories a flagged campaign's conduct concerns, with why. A campaign is a
#: group of accounts linked by shared infrastructure, payment or templates.
CAMPAIGN_CATEGORIES: dict[str, str] = {
    "accounts-keys": "several accounts operated together (shared payment, network or templates)",
    "competing-model-ban": "outputs collected at scale as a training set (a distillation campaign)",
}
#: Taxonomy categories a fired indicator adds.
INDICATOR_CATEGORIES: dict[str, tuple[str, str]] = {
    "under_rate_limit": ("rate-limits", "hourly volume held just under the rate limit"),
    "template_reuse": ("automated-access", "templated prompts sent by a script"),
    "capability_coverage": ("automated-access", "a systematic sweep of capability areas"),
    "reasoning_share": ("competing-model-ban", "reasoning traces requested as training targets"),
    "tool_trace_share": ("competing-model-ban", "tool-use traces requested as training targets"),
}
#: Indicators the taxonomy has no category for (said in the report, never silently dropped).
UNMAPPED = {"region_mismatch": "requests from regions the service does not serve"}


@dataclass(frozen=True)
class ConductCategory:
    """A clause category a campaign's conduct concerns, and the measurement behind it."""

    category: str
    reasons: tuple[str, ...]


def categories(campaign: dict[str, Any]) -> list[ConductCategory]:
    """The clause categories of a recorded campaign (``Campaign.to_dict`` form)."""
    if not campaign.get("flagged"):
        return []
    found: dict[str, list[str]] = {c: [why] for c, why in CAMPAIGN_CATEGORIES.items()}
    for name in campaign.get("fired", []):
        if name in INDICATOR_CATEGORIES:
            cat, why = INDICATOR_CATEGORIES[name]
            found.setdefault(cat, []).append(why)
    return [ConductCategory(c, tuple(dict.fromkeys(w))) for c, w in sorted(found.items())]


def daily_requests(engine: Engine, campaigns: list[Campaign]) -> dict[str, dict[str, int]]:
    """Requests per UTC day of each campaign (the report's timeline)."""
    if not campaigns:
        return {}
    t = engine.table
    out: dict[str, dict[str, int]] = {}
    for c in campaigns:
        frame = engine.execute(
            t.filter(t.account_id.isin(list(c.accounts)))
            .mutate(day=t.timestamp.date().cast("string"))
            .group_by("day")
            .aggregate(n=t.request_id.count())
            .order_by("day")
        )
        out[c.id] = {str(d)[:10]: int(n) for d, n in zip(frame["day"], frame["n"], strict=True)}
    return out


def record_analysis(
    cf: CaseFile,
    case_id: int,
    analysis: TrafficAnalysis,
    engine: Engine,
    *,
    validation: Validation | None = None,
    validation_source: str = "",
) -> int:
    """Record ``analysis`` (its flagged campaigns in full) as a ``traffic.analysis`` event."""
    flagged = analysis.flagged
    daily = daily_requests(engine, flagged)
    p = analysis.params
    details: dict[str, Any] = {
        "engine": analysis.engine,
        "parameters": {
            "release_dates": [d.isoformat() for d in p.release_dates],
            "served_regions": list(p.served_regions),
            "rate_limit_per_hour": p.rate_limit_per_hour,
            "price_key": p.price_key,
            "min_fired": p.thresholds.min_fired,
        },
        "candidates": len(analysis.campaigns),
        "campaigns": [{**c.to_dict(), "daily_requests": daily.get(c.id, {})} for c in flagged],
    }
    if validation is not None:
        details["validation"] = {**validation.to_dict(), "source": validation_source}
    with cf.session() as s:
        ev = audit.record(s, ACTION, "case", case_id, case_id=case_id, details=details)
        return int(ev.id)


def latest_analysis(session: Any, case_id: int) -> dict[str, Any] | None:
    """The details of the case's latest recorded traffic analysis (None if none)."""
    ev = session.execute(
        select(AuditEvent)
        .where(AuditEvent.case_id == case_id, AuditEvent.action == ACTION)
        .order_by(AuditEvent.id.desc())
        .limit(1)
    ).scalar_one_or_none()
    if ev is None:
        return None
    return {**(ev.details or {}), "event_id": ev.id, "recorded_at": str(ev.at)}


def analyse_case_logs(
    cf: CaseFile,
    case_id: int,
    params: AnalysisParams | None = None,
    state: JobState | None = None,
) -> dict[str, Any]:
    """Analyse the case's log store (beside the case file), record it; the recorded details."""
    from core.traffic.campaigns import analyse
    from core.traffic.engine import open_engine
    from core.traffic.store import store_path_for

    state = state or JobState()
    engine = open_engine(store_path_for(cf.path))
    try:
        analysis = analyse(engine, params or AnalysisParams(), state)
        state.check_cancelled()
        record_analysis(cf, case_id, analysis, engine)
    finally:
        engine.close()
    found = recorded_analysis(cf, case_id)
    assert found is not None
    return found


def recorded_analysis(cf: CaseFile, case_id: int) -> dict[str, Any] | None:
    """The case's latest recorded traffic analysis, read through its own session."""
    with cf.read_session() as s:
        return latest_analysis(s, case_id)


def params_from_text(served: str, releases: str, rate_limit: int) -> AnalysisParams:
    """Analysis parameters from what a user typed: country codes and ISO dates, comma-separated.

    Raises DeclinedError with a one-line message on a date that is not YYYY-MM-DD.
    """
    from datetime import date

    from core.errors import DeclinedError

    days = []
    for part in (p.strip() for p in releases.split(",")):
        if not part:
            continue
        try:
            days.append(date.fromisoformat(part))
        except ValueError as exc:
            raise DeclinedError(f"{part!r} is not a release date like 2025-07-14.") from exc
    regions = tuple(c.strip().upper() for c in served.split(",") if c.strip())
    return AnalysisParams(
        release_dates=tuple(days), served_regions=regions, rate_limit_per_hour=rate_limit
    )
