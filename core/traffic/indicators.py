"""Per-account indicators of distillation traffic, written once in Ibis.

The same expressions run on DuckDB or Spark (:mod:`core.traffic.engine`). Each account's
figures are *counts* (requests, requests asking for reasoning, active hours near the rate
limit, ...), so that a campaign's figures are the sums of its accounts' counts and every
share is a number of rows over a number of rows. :func:`indicators` turns counts into the
named indicators, each with its value, the fixed threshold of
:mod:`core.traffic.thresholds`, and whether it fired.

Normalised skeleton: the prompt with every run of digits replaced by ``#`` and every
capitalised word (names, places) by ``N``, lower-cased, white space collapsed, cut at 80
characters, so "Solve 3x + 4 = 10 for Alice" and "Solve 7x + 1 = 99 for Bram" are one
template.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import ibis
import ibis.expr.types as ir

from core.traffic.thresholds import (
    CATEGORIES,
    IDENTITY_PATTERN,
    REASONING_PATTERN,
    TOOL_PATTERN,
    AnalysisParams,
)

SKELETON_CHARS = 80
COUNT_FIELDS = (
    "n",
    "input_tokens",
    "output_tokens",
    "n_reasoning",
    "n_tool",
    "n_identity",
    "n_after_release",
    "n_unserved",
    *(f"cat_{c}" for c in CATEGORIES),
    "hours_active",
    "hours_near",
    "hourly_sum",
    "hourly_sumsq",
    "n_templated",
)


def _epoch(day: Any) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp())


def prepared(t: ir.Table, params: AnalysisParams) -> ir.Table:
    """The requests with the derived columns every indicator and link reads."""
    raw = ibis.coalesce(t.prompt, t.messages, ibis.literal(""))
    text = raw.lower()
    skeleton = (
        raw.re_replace(r"[0-9]+", "#")
        .re_replace(r"[A-Z][a-z]+", "N")
        .lower()
        .re_replace(r"\s+", " ")
        .substr(0, SKELETON_CHARS)
    )
    # Whole seconds, rounded down on both engines (a plain cast rounds on DuckDB, truncates
    # on Spark).
    epoch = t.timestamp.epoch_seconds().floor().cast("int64")
    window = params.thresholds.release_window_days * 86400
    after = ibis.literal(False)
    for day in params.release_dates:
        start = _epoch(day)
        after = after | ((epoch >= start) & (epoch < start + window))
    if params.served_regions:
        unserved = t.country.notnull() & ~t.country.upper().isin(list(params.served_regions))
    else:
        unserved = ibis.literal(False)
    flags = {
        "is_reasoning": text.re_search(REASONING_PATTERN),
        "is_tool": text.re_search(TOOL_PATTERN),
        "is_identity": text.re_search(IDENTITY_PATTERN),
        "is_after_release": after,
        "is_unserved": unserved.fill_null(False),
        **{f"is_cat_{c}": text.re_search(p) for c, p in CATEGORIES.items()},
    }
    return t.mutate(
        skeleton=skeleton,
        epoch=epoch,
        hour=epoch // 3600,
        ip_prefix=t.ip.re_extract(r"^([0-9]+\.[0-9]+\.[0-9]+)\.", 1),
        in_tok=t.input_tokens.fill_null(0),
        out_tok=t.output_tokens.fill_null(0),
        **{k: v.ifelse(1, 0) for k, v in flags.items()},
    )


def _flag_sums(p: ir.Table) -> dict[str, ir.Value]:
    return {
        "n": p.count(),
        "input_tokens": p.in_tok.sum(),
        "output_tokens": p.out_tok.sum(),
        "n_reasoning": p.is_reasoning.sum(),
        "n_tool": p.is_tool.sum(),
        "n_identity": p.is_identity.sum(),
        "n_after_release": p.is_after_release.sum(),
        "n_unserved": p.is_unserved.sum(),
        "first_seen": p.epoch.min(),
        "last_seen": p.epoch.max(),
        **{f"cat_{c}": p[f"is_cat_{c}"].sum() for c in CATEGORIES},
    }


def account_expressions(p: ir.Table, params: AnalysisParams) -> dict[str, ir.Table]:
    """The three per-account aggregations: request flags, hourly volume, template reuse."""
    th = params.thresholds
    limit = params.rate_limit_per_hour
    low = th.near_limit_low * limit
    per_hour = p.group_by(["account_id", "hour"]).aggregate(c=p.count())
    near = ((per_hour.c >= low) & (per_hour.c <= limit)).ifelse(1, 0)
    hourly = per_hour.group_by("account_id").aggregate(
        hours_active=per_hour.count(),
        hours_near=near.sum(),
        hourly_sum=per_hour.c.sum(),
        hourly_sumsq=(per_hour.c * per_hour.c).sum(),
    )
    per_skeleton = p.group_by(["account_id", "skeleton"]).aggregate(c=p.count())
    reused = per_skeleton.filter(per_skeleton.c >= th.template_min_repeat)
    templates = reused.group_by("account_id").aggregate(n_templated=reused.c.sum())
    flags = p.group_by("account_id").aggregate(**_flag_sums(p))
    return {"requests": flags, "hourly volume": hourly, "template reuse": templates}


@dataclass(frozen=True)
class Indicator:
    """One indicator's figure: value = numerator / denominator, against a fixed threshold."""

    name: str
    value: float
    threshold: float
    fired: bool
    counts: bool
    numerator: float
    denominator: float
    meaning: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "value": round(self.value, 6),
            "threshold": self.threshold,
            "fired": self.fired,
            "counts_towards_flag": self.counts,
            "numerator": self.numerator,
            "denominator": self.denominator,
            "meaning": self.meaning,
        }


def _share(num: float, den: float) -> float:
    return float(num) / float(den) if den else 0.0


def indicators(c: Mapping[str, float], params: AnalysisParams) -> list[Indicator]:
    """The named indicators of one account's (or one campaign's pooled) counts."""
    th = params.thresholds
    n = float(c["n"])
    out: list[Indicator] = []

    def add(
        name: str, num: float, den: float, thr: float, counts: bool, meaning: str, ge: bool = True
    ) -> None:
        value = _share(num, den) if den != 1 else float(num)
        fired = (value >= thr) if ge else (value <= thr)
        out.append(Indicator(name, value, thr, bool(den) and fired, counts, num, den, meaning))

    add(
        "template_reuse",
        c["n_templated"],
        n,
        th.template_reuse,
        True,
        f"share of requests whose skeleton was sent >= {th.template_min_repeat} times",
    )
    add(
        "reasoning_share",
        c["n_reasoning"],
        n,
        th.reasoning_share,
        True,
        "share of requests asking for step-by-step reasoning",
    )
    add(
        "tool_trace_share",
        c["n_tool"],
        n,
        th.tool_trace_share,
        True,
        "share of requests asking for tool-use or function-call traces",
    )
    add(
        "identity_share",
        c["n_identity"],
        n,
        th.identity_share,
        True,
        "share of requests asking about the model's identity or system prompt",
    )
    covered = sum(1 for cat in CATEGORIES if _share(c[f"cat_{cat}"], n) >= th.category_min_share)
    add(
        "capability_coverage",
        covered,
        1,
        th.capability_coverage,
        True,
        f"capability categories each covered by >= {th.category_min_share:.0%} of requests "
        f"(of {len(CATEGORIES)})",
    )
    add(
        "under_rate_limit",
        c["hours_near"],
        c["hours_active"],
        th.under_rate_limit,
        True,
        f"share of active hours with {th.near_limit_low:.0%}-100% of the "
        f"{params.rate_limit_per_hour}/hour limit",
    )
    if params.release_dates:
        add(
            "after_release",
            c["n_after_release"],
            n,
            th.after_release,
            True,
            f"share of requests within {th.release_window_days} days after a release",
        )
    if params.served_regions:
        add(
            "region_mismatch",
            c["n_unserved"],
            n,
            th.region_mismatch,
            True,
            "share of requests from a country the service does not serve",
        )
    add("volume", n, 1, th.volume, False, "requests in the period")
    hours = float(c["hours_active"])
    mean = _share(c["hourly_sum"], hours)
    var = max(0.0, _share(c["hourly_sumsq"], hours) - mean * mean)
    cv = (var**0.5) / mean if mean else 0.0
    enough = hours >= th.regularity_min_hours and mean >= 3.0
    out.append(
        Indicator(
            "regularity",
            cv,
            th.regularity_cv,
            enough and cv <= th.regularity_cv,
            False,
            c["hourly_sum"],
            hours,
            "coefficient of variation of requests per active hour (low = steady; needs >= 3/hour)",
        )
    )
    add(
        "tokens_out_per_in",
        c["output_tokens"],
        c["input_tokens"],
        th.tokens_out_per_in,
        False,
        "output tokens per input token",
    )
    return out


def fired_counted(found: list[Indicator], without: str | None = None) -> list[Indicator]:
    """The counted indicators that fired (leaving out ``without``, for the ablation)."""
    return [i for i in found if i.counts and i.fired and i.name != without]
