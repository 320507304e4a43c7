"""Every fixed threshold and keyword list of the traffic analysis, in one place.

The thresholds were set once on the simulator's seed 0 and are not tuned per case; a
report quotes them next to each figure so a reader can see why an indicator fired. The
keyword patterns are matched, case-insensitively, against the prompt (or the messages when
the log has no prompt column) after lower-casing; they are plain alternations so that
DuckDB and Spark evaluate them identically.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

#: Prompts that ask for the model's reasoning, not just its answer.
REASONING_PATTERN = (
    "step by step|step-by-step|show your reasoning|chain of thought|explain your reasoning"
    "|reason through|think through"
)
#: Prompts that ask for tool-use or function-call traces.
TOOL_PATTERN = "tool call|call the tool|function call|tool_use|json trace"
#: Prompts that ask who the model is, who made it, or for its system prompt.
IDENTITY_PATTERN = (
    "who are you|what model are you|which company trained you|who created you"
    "|your system prompt|knowledge cutoff"
)
#: Capability categories of a sweep: a category is covered when its keywords appear.
CATEGORIES: dict[str, str] = {
    "math": "equation|derivative|integral|probability|prove that|solve the",
    "code": "python|function that|javascript|the bug|sql|code:",
    "science": "molecule|physics|chemistry|atoms|velocity",
    "law": "contract|enforceable|statute|lawsuit|legal",
    "medicine": "dosage|patient|symptom|diagnos",
    "history": "empire|century|dynasty|revolution",
    "finance": "interest on|loan|portfolio|index fund|tax",
    "writing": "story of|poem|essay|novel",
}


@dataclass(frozen=True)
class Thresholds:
    """The fixed thresholds (one per indicator) and the linkage rules.

    Shares are of requests unless said otherwise; a campaign's figure pools the requests of
    its accounts (numerators and denominators summed), so every figure is a count of rows.
    """

    # --- indicators that count towards flagging a campaign ----------------------------
    #: share of requests whose normalised skeleton the account sent at least
    #: ``template_min_repeat`` times
    template_reuse: float = 0.5
    template_min_repeat: int = 5
    #: share of requests asking for step-by-step reasoning
    reasoning_share: float = 0.2
    #: share of requests asking for tool-use / function-call traces
    tool_trace_share: float = 0.05
    #: share of requests asking about the model's identity
    identity_share: float = 0.02
    #: categories covered (each by at least ``category_min_share`` of requests)
    capability_coverage: int = 5
    category_min_share: float = 0.03
    #: share of active hours whose request count is in [near_limit_low x limit, limit]
    under_rate_limit: float = 0.3
    near_limit_low: float = 0.8
    #: share of requests in the ``release_window_days`` after a release date
    after_release: float = 0.5
    release_window_days: int = 5
    #: share of requests from a country the service does not serve
    region_mismatch: float = 0.2
    # --- descriptive indicators (reported with their threshold, never counted) --------
    #: requests in the period
    volume: int = 1000
    #: coefficient of variation of the hourly counts over active hours (low = machine-like)
    regularity_cv: float = 0.25
    regularity_min_hours: int = 5
    #: output tokens per input token
    tokens_out_per_in: float = 12.0
    # --- flagging and linkage --------------------------------------------------------
    #: a candidate campaign is flagged when at least this many counted indicators fire
    min_fired: int = 4
    #: a campaign has at least this many accounts (one account is not a hydra)
    min_accounts: int = 2
    #: two accounts share a template when both sent the same skeleton this many times ...
    link_template_repeat: int = 5
    #: ... and they share at least this many such skeletons
    link_min_shared_templates: int = 2
    #: groups larger than this (a skeleton, an IP/24 + agent, a payment) are too common
    #: to be evidence of a common operator and make no links
    link_max_group: int = 400
    #: an account's IP/24 + user agent counts when it sent this many requests through it
    link_min_infra_requests: int = 3
    #: synchronised timing: Jaccard similarity of active 10-minute buckets, with at least
    #: ``sync_min_buckets`` buckets on both sides (MinHash LSH, ``sync_num_perm`` hashes)
    sync_jaccard: float = 0.5
    sync_min_buckets: int = 12
    sync_bucket_seconds: int = 600
    sync_num_perm: int = 128


@dataclass(frozen=True)
class AnalysisParams:
    """What the analysis must be told about the service: releases, regions, rate limit."""

    release_dates: tuple[date, ...] = ()
    served_regions: tuple[str, ...] = ()
    rate_limit_per_hour: int = 60
    thresholds: Thresholds = field(default_factory=Thresholds)
    #: the list price used for the cost estimate (a key of resources/pricing/api_prices.yaml)
    price_key: str = "openai-gpt-4o"
