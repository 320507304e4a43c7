"""The report's conduct evidence: the case's latest recorded traffic analysis, each flagged
campaign linked to the clauses in force on its first and last day of activity.

The analysis is read from its audit event (:mod:`core.traffic.conduct`), so the figures
printed are the ones recorded; the clause categories a campaign concerns are decided there
too, and the versions in force come from the policy engine's lookup
(:func:`core.policy.versions.in_force`), as for the terms section.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from core.policy.persist import series_key
from core.policy.versions import VersionInfo, in_force
from core.reports import wording
from core.reports.data import Conduct, ConductCampaign, ConductClause
from core.store.models import Policy
from core.traffic.conduct import UNMAPPED, categories, latest_analysis


def _clauses(pols: Sequence[Policy], camp: dict[str, Any]) -> list[ConductClause]:
    """Clauses in force on the campaign's first and last day tagged with its categories."""
    wanted = {c.category: c.reasons for c in categories(camp)}
    days = sorted({str(camp["first_seen"])[:10], str(camp["last_seen"])[:10]})
    series: dict[tuple[str, str], list[Policy]] = {}
    for p in pols:
        series.setdefault((p.provider, series_key(p.title)), []).append(p)
    out: list[ConductClause] = []
    seen: set[tuple[str, str, str]] = set()
    for day in days:
        when = date.fromisoformat(day)
        for versions in series.values():
            infos = [
                VersionInfo(
                    p.version, p.effective_from, p.effective_to, p.title, p.source_sha256, p.id
                )
                for p in versions
            ]
            hit = in_force(infos, when)
            pol = next((p for p in versions if hit is not None and p.id == hit.policy_id), None)
            if pol is None:
                continue
            for cl in pol.clauses:
                cats = sorted({t.category for t in cl.tags if t.status != "removed"} & set(wanted))
                for cat in cats:
                    key = (pol.version, cl.number, cat)
                    if key in seen:
                        continue
                    seen.add(key)
                    out.append(
                        ConductClause(
                            day,
                            pol.version,
                            cl.number,
                            cl.heading or "",
                            " ".join(cl.text.split()),
                            cat,
                            wording.category_label(cat),
                            list(wanted[cat]),
                        )
                    )
    return out


def _campaign(pols: Sequence[Policy], c: dict[str, Any]) -> ConductCampaign:
    price = c.get("price") or {}
    return ConductCampaign(
        id=str(c["id"]),
        accounts=[str(a) for a in c.get("accounts", [])],
        requests=int(c["requests"]),
        first_seen=str(c["first_seen"]),
        last_seen=str(c["last_seen"]),
        input_tokens=int(c.get("input_tokens", 0)),
        output_tokens=int(c.get("output_tokens", 0)),
        estimated_cost=float(c.get("estimated_cost", 0.0)),
        currency=str(price.get("currency", "")),
        price_key=str(price.get("key", "")),
        price_as_of=str(price.get("as_of", "")),
        links={str(k): int(v) for k, v in (c.get("links") or {}).items()},
        indicators=list(c.get("indicators", [])),
        fired=[str(f) for f in c.get("fired", [])],
        daily_requests={str(k): int(v) for k, v in (c.get("daily_requests") or {}).items()},
        clauses=_clauses(pols, c),
        unmapped=[
            f"{name}: {why}"
            for name, why in UNMAPPED.items()
            if any(i.get("name") == name and i.get("fired") for i in c.get("indicators", []))
        ],
    )


def gather_conduct(session: Any, case_id: int, pols: Sequence[Policy]) -> Conduct | None:
    """The conduct section's data, or None when the case has no recorded traffic analysis."""
    rec = latest_analysis(session, case_id)
    if rec is None:
        return None
    return Conduct(
        event_id=int(rec["event_id"]),
        recorded_at=str(rec["recorded_at"]),
        engine=str(rec.get("engine", "")),
        parameters=dict(rec.get("parameters") or {}),
        candidates=int(rec.get("candidates", 0)),
        campaigns=[_campaign(pols, c) for c in rec.get("campaigns", [])],
        validation=rec.get("validation"),
    )
