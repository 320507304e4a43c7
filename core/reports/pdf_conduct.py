"""The report's Conduct section: what the provider's API logs show the accounts did.

Per flagged campaign of the case's latest recorded traffic analysis: a timeline of requests
per day, its accounts, its indicators with their thresholds, its volume and estimated cost,
and the clauses in force on its first and last day that its conduct concerns; then the
method and its validation (account-level precision and recall on labelled logs).
"""

from __future__ import annotations

from reportlab.platypus import Flowable

from core.reports import charts, wording
from core.reports.data import ConductCampaign, ConductClause, ReportData
from core.reports.pdf_analysis import FigureCounter
from core.reports.pdf_layout import box, data_table, gap, heading, kv_table, para


def _accounts(c: ConductCampaign) -> list[Flowable]:
    """The campaign's accounts, as one wrapped list (every one is in the JSON bundle too)."""
    return [para(", ".join(c.accounts), "small")]


def _count(numerator: object, denominator: object) -> str:
    """``k/N`` of an indicator (whole numbers printed without a decimal point)."""

    def whole(x: object) -> str:
        return f"{x:g}" if isinstance(x, int | float) else str(x or "")

    return f"{whole(numerator)}/{whole(denominator)}"


def _indicators(c: ConductCampaign) -> list[Flowable]:
    rows = [
        [
            i.get("name", ""),
            f"{float(i.get('value', 0.0)):.3g}",
            f"{i.get('threshold', '')}",
            _count(i.get("numerator"), i.get("denominator")),
            "yes" if i.get("fired") else "no",
            "counted" if i.get("counts_towards_flag") else "descriptive",
            para(str(i.get("meaning", "")), "cell_small"),
        ]
        for i in c.indicators
    ]
    return [
        data_table(
            ["Indicator", "Value", "Limit", "Rows", "Fired", "Role", "Meaning"],
            rows,
            [19, 8, 7, 12, 7, 12, 35],
        )
    ]


def _clauses(c: ConductCampaign) -> list[Flowable]:
    if not c.clauses:
        return [box("No clause in force on the campaign's dates is tagged with its categories.")]
    grouped: dict[tuple[str, str], list[ConductClause]] = {}
    for k in c.clauses:  # one row per clause, its categories together
        grouped.setdefault((k.version, k.number), []).append(k)
    rows = [
        [
            f"{ks[0].number} ({ks[0].version}, in force {ks[0].conduct_date})",
            para(f"“{ks[0].text}”", "cell"),
            "; ".join(k.category_label for k in ks),
            para("; ".join(dict.fromkeys(r for k in ks for r in k.reasons)), "cell_small"),
        ]
        for ks in grouped.values()
    ]
    out: list[Flowable] = [
        data_table(
            ["Clause (version, date)", "Verbatim text", "Category", "What the logs show"],
            rows,
            [16, 50, 14, 20],
        )
    ]
    if c.unmapped:
        out.append(
            para(
                "Fired but covered by no clause category of the taxonomy: "
                + "; ".join(c.unmapped)
                + ".",
                "small",
            )
        )
    return out


def conduct(data: ReportData, figures: FigureCounter, number: str = "9") -> list[Flowable]:
    """Section ``number``: the conduct in the API logs (nothing when none was analysed)."""
    cd = data.conduct
    if cd is None:
        return []
    out = heading(number, "Conduct: the provider's API request logs", 0)
    out.append(
        para(
            f"The request logs were analysed for candidate distillation campaigns (engine "
            f"{cd.engine}; {cd.candidates} candidate groups of linked accounts, "
            f"{len(cd.campaigns)} flagged). The figures below are those recorded in audit "
            f"event {cd.event_id} ({cd.recorded_at}). A flagged campaign is a pattern of use "
            "that the terms may forbid; whether it breaches them is for the court."
        )
    )
    if not cd.campaigns:
        out.append(box("No campaign was flagged in the request logs."))
    else:
        fig = charts.campaign_timeline_figure({c.id: c.daily_requests for c in cd.campaigns})
        out += figures.figure(fig, "Requests per day (UTC) of each flagged campaign.")
    for c in cd.campaigns:
        out += heading("", f"Campaign {c.id}", 1)
        out.append(
            kv_table(
                [
                    ("Accounts", f"{len(c.accounts)}"),
                    ("Active", f"{c.first_seen} to {c.last_seen}"),
                    ("Requests", f"{c.requests:,}"),
                    ("Tokens", f"{c.input_tokens:,} in, {c.output_tokens:,} out"),
                    (
                        "Estimated cost",
                        f"{c.estimated_cost:,.2f} {c.currency} at list price {c.price_key} "
                        f"(as of {c.price_as_of})",
                    ),
                    ("Links between accounts", ", ".join(f"{k} {v}" for k, v in c.links.items())),
                    ("Counted indicators fired", ", ".join(c.fired) or "none"),
                ]
            )
        )
        out.append(gap(2))
        out.append(para("Indicators", "h3_flow"))
        out += _indicators(c)
        out.append(para("Accounts", "h3_flow"))
        out += _accounts(c)
        out.append(para("Clauses in force on the campaign's dates", "h3_flow"))
        out += _clauses(c)
    out += _method(data)
    out.append(para(wording.LEGAL_CONCLUSIONS, "small"))
    return out


def _method(data: ReportData) -> list[Flowable]:
    cd = data.conduct
    assert cd is not None
    p = cd.parameters
    out = heading("", "Method and its validation", 1)
    out.append(
        para(
            "Each account's requests are measured against fixed thresholds (set once on a "
            "simulated log, never tuned per case); accounts linked by shared payment, network "
            "and user agent, templates or synchronised timing form a candidate campaign, flagged "
            f"when at least {p.get('min_fired', '?')} counted indicators fire. Rate limit "
            f"{p.get('rate_limit_per_hour', '?')} requests per hour; releases "
            f"{', '.join(p.get('release_dates', [])) or 'none given'}; served regions "
            f"{', '.join(p.get('served_regions', [])) or 'none given'}."
        )
    )
    v = cd.validation
    if not v:
        out.append(box("The analysis was not validated on labelled logs in this case."))
        return out
    rows = []
    for key, label in (("precision", "Precision"), ("recall", "Recall")):
        r = v.get(key) or {}
        lo, hi = (r.get("ci95") or [None, None])[:2]
        rows.append(
            [
                label,
                f"{r.get('k')}/{r.get('n')}",
                f"{float(r.get('value', 0.0)):.3f}",
                f"{lo:.3f}–{hi:.3f}" if lo is not None and hi is not None else "",
            ]
        )
    out.append(
        data_table(
            ["Account level", "k/N", "Rate", "95% CI (Clopper–Pearson)"], rows, [25, 20, 20, 35]
        )
    )
    hard = v.get("hard_negatives_flagged") or {}
    out.append(
        para(
            f"Labels: {v.get('source', 'not stated')}. Hard negatives flagged: "
            + (", ".join(g for g, hit in hard.items() if hit) or "none")
            + f" of {len(hard)} ({', '.join(hard)}).",
            "small",
        )
    )
    return out
