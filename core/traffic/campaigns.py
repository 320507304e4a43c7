"""Candidate campaigns: linked accounts grouped, with their pooled figures and indicators.

Accounts are the nodes of a networkx graph whose edges are the links of
:mod:`core.traffic.linkage`; a candidate campaign is a connected component of at least
``min_accounts`` accounts. Its figures pool its accounts' counts (requests, tokens, hours
near the rate limit, ...), its indicators are computed on those pooled counts, and it is
*flagged* when at least ``min_fired`` of the counted indicators fire: there is no score
beyond that count, and each fired indicator carries its numerator and denominator. The
request ids of each campaign are kept, so every figure can be traced to rows.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import ibis
import networkx as nx
import pandas as pd
import pyarrow as pa
import yaml

from core.errors import DistillAuditError
from core.jobs import JobState
from core.resources import resource_path
from core.traffic.engine import Engine
from core.traffic.indicators import (
    COUNT_FIELDS,
    Indicator,
    account_expressions,
    fired_counted,
    indicators,
    prepared,
)
from core.traffic.linkage import Link, build_links, link_expressions
from core.traffic.thresholds import AnalysisParams


@dataclass(frozen=True)
class Price:
    """A list price per million tokens (from resources/pricing/api_prices.yaml)."""

    key: str
    label: str
    input: float
    output: float
    as_of: str
    currency: str = "USD"


def load_price(key: str) -> Price:
    """The price preset ``key`` of the shipped price list."""
    path = resource_path("pricing", "api_prices.yaml")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        for e in data["presets"]:
            if str(e["key"]) == key:
                return Price(
                    key,
                    str(e.get("label", key)),
                    float(e["input"]),
                    float(e["output"]),
                    str(e.get("as_of", "")),
                    str(data.get("currency", "USD")),
                )
    except (OSError, yaml.YAMLError, KeyError, TypeError, ValueError) as exc:
        raise DistillAuditError(f"{path} is not a usable price list: {exc}") from exc
    raise DistillAuditError(f"no price {key!r} in {path.name}; name one of its presets.")


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(int(epoch), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Campaign:
    """A candidate campaign: its accounts, span, totals, cost, links and indicators."""

    id: str
    accounts: tuple[str, ...]
    first_seen: str
    last_seen: str
    requests: int
    input_tokens: int
    output_tokens: int
    cost: float
    price: Price
    indicators: list[Indicator]
    links: dict[str, int]
    flagged: bool
    request_ids: tuple[str, ...] = ()

    @property
    def fired(self) -> list[str]:
        return [i.name for i in fired_counted(self.indicators)]

    def to_dict(self, with_request_ids: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "accounts": list(self.accounts),
            "requests": self.requests,
            "first_seen": self.first_seen,
            "last_seen": self.last_seen,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "estimated_cost": round(self.cost, 2),
            "price": {
                "key": self.price.key,
                "input_per_million": self.price.input,
                "output_per_million": self.price.output,
                "as_of": self.price.as_of,
                "currency": self.price.currency,
            },
            "flagged": self.flagged,
            "fired": self.fired,
            "links": dict(self.links),
            "indicators": [i.to_dict() for i in self.indicators],
        }
        if with_request_ids:
            out["request_ids"] = list(self.request_ids)
        return out


@dataclass
class TrafficAnalysis:
    """Everything one analysis found: per-account counts, links and candidate campaigns."""

    engine: str
    params: AnalysisParams
    account_counts: dict[str, dict[str, float]]
    links: list[Link]
    campaigns: list[Campaign] = field(default_factory=list)

    @property
    def flagged(self) -> list[Campaign]:
        return [c for c in self.campaigns if c.flagged]

    def campaign(self, campaign_id: str) -> Campaign:
        for c in self.campaigns:
            if c.id == campaign_id:
                return c
        from core.errors import NotFoundError

        known = ", ".join(c.id for c in self.campaigns) or "none"
        raise NotFoundError(f"no campaign {campaign_id!r} in these logs (campaigns: {known}).")


def campaign_id(accounts: tuple[str, ...]) -> str:
    """A stable id: the same accounts give the same id on every engine and every run."""
    return "TC-" + hashlib.sha256("\n".join(accounts).encode()).hexdigest()[:10]


def _merge_counts(frames: dict[str, pd.DataFrame]) -> dict[str, dict[str, float]]:
    merged = frames["requests"]
    for name in ("hourly volume", "template reuse"):
        merged = merged.merge(frames[name], on="account_id", how="left")
    merged = merged.fillna(0)
    out: dict[str, dict[str, float]] = {}
    for row in merged.to_dict("records"):
        out[str(row["account_id"])] = {
            k: float(row[k]) for k in (*COUNT_FIELDS, "first_seen", "last_seen")
        }
    return out


def pooled(counts: dict[str, dict[str, float]], accounts: tuple[str, ...]) -> dict[str, float]:
    """The campaign's counts: the sums of its accounts' counts (first/last seen: min/max)."""
    total = {k: sum(counts[a][k] for a in accounts) for k in COUNT_FIELDS}
    total["first_seen"] = min(counts[a]["first_seen"] for a in accounts)
    total["last_seen"] = max(counts[a]["last_seen"] for a in accounts)
    return total


def group_campaigns(
    counts: dict[str, dict[str, float]], links: list[Link], params: AnalysisParams
) -> list[Campaign]:
    """Connected components over the links, each made a :class:`Campaign`."""
    th = params.thresholds
    price = load_price(params.price_key)
    graph = nx.Graph()
    for link in links:
        if link.a in counts and link.b in counts:
            graph.add_edge(link.a, link.b)
            graph.edges[link.a, link.b].setdefault("kinds", set()).add(link.kind)
    out: list[Campaign] = []
    for component in nx.connected_components(graph):
        accounts = tuple(sorted(component))
        if len(accounts) < th.min_accounts:
            continue
        sub = graph.subgraph(accounts)
        kinds = Counter(k for _, _, d in sub.edges(data=True) for k in d["kinds"])
        c = pooled(counts, accounts)
        found = indicators(c, params)
        cost = c["input_tokens"] / 1e6 * price.input + c["output_tokens"] / 1e6 * price.output
        out.append(
            Campaign(
                id=campaign_id(accounts),
                accounts=accounts,
                first_seen=_iso(c["first_seen"]),
                last_seen=_iso(c["last_seen"]),
                requests=int(c["n"]),
                input_tokens=int(c["input_tokens"]),
                output_tokens=int(c["output_tokens"]),
                cost=cost,
                price=price,
                indicators=found,
                links=dict(sorted(kinds.items())),
                flagged=len(fired_counted(found)) >= th.min_fired,
            )
        )
    out.sort(key=lambda camp: (not camp.flagged, -camp.requests, camp.id))
    return out


def analyse(
    engine: Engine, params: AnalysisParams, state: JobState | None = None
) -> TrafficAnalysis:
    """Indicators, links and campaigns of the logs on ``engine`` (progress per step)."""
    state = state or JobState()
    th = params.thresholds
    state.set_status("traffic analysis: preparing the requests")
    # Computed once (normalised skeletons, keyword flags) and kept by the engine: a
    # temporary table on DuckDB, a cached DataFrame on Spark.
    p = engine.materialise(prepared(engine.table, params), "prepared_requests")
    steps = {**account_expressions(p, params), **link_expressions(p, th)}
    frames: dict[str, pd.DataFrame] = {}
    total = len(steps) + 2
    for done, (name, expr) in enumerate(steps.items()):
        state.check_cancelled()
        state.set_status(f"traffic analysis: {name}")
        frames[name] = engine.execute(expr)
        state.set_progress(done + 1, total)
    counts = _merge_counts(frames)
    state.check_cancelled()
    state.set_status("traffic analysis: linking accounts")
    links = build_links(frames, th)
    campaigns = group_campaigns(counts, links, params)
    state.set_progress(total - 1, total)
    state.check_cancelled()
    state.set_status("traffic analysis: request ids of each campaign")
    members = {a: c.id for c in campaigns for a in c.accounts}
    if members:
        # From Arrow: ibis builds a memtable from a dict through pandas, which warns.
        wanted = ibis.memtable(
            pa.table({"account_id": list(members), "campaign_id": list(members.values())})
        )
        t = engine.table
        ids = engine.execute(t.join(wanted, "account_id").select(t.request_id, wanted.campaign_id))
        by_campaign = ids.groupby("campaign_id")["request_id"].agg(lambda s: sorted(map(str, s)))
        for c in campaigns:
            c.request_ids = tuple(by_campaign.get(c.id, []))
    state.set_progress(total, total)
    return TrafficAnalysis(engine.name, params, counts, links, campaigns)
