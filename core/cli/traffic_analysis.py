"""``traffic campaigns|export-harvest``: candidate campaigns in the request logs, and export.

The commands join the ``traffic`` group (whose ``import`` and ``show`` live in
:mod:`core.cli.traffic`): :func:`add_commands` adds them to that group's sub-parsers, and
:func:`add_parser` registers them on its own, creating the ``traffic`` group only when no
other module has created it yet. The log store is a DuckDB file: ``--logs PATH``, by
default ``<case>.logs.duckdb`` beside the case file of ``--db``.
"""

from __future__ import annotations

import argparse
from datetime import date
from pathlib import Path
from typing import Any

from core.errors import DeclinedError, NotFoundError
from core.store.vocabulary import CASE_FILE_SUFFIX
from core.traffic.campaigns import Campaign, analyse
from core.traffic.engine import ENGINES, open_engine
from core.traffic.export import export_harvest
from core.traffic.thresholds import AnalysisParams

from .common import emit, progress, table


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2025-06-17") from exc


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--logs", metavar="PATH", help="the log store (default: <case>.logs.duckdb)")
    p.add_argument("--engine", choices=ENGINES, default="duckdb")
    p.add_argument("--spark-master", metavar="URL", help="Spark master (default local[2])")
    p.add_argument(
        "--release",
        type=_date,
        action="append",
        default=[],
        metavar="DATE",
        help="a model release date (repeat for several)",
    )
    p.add_argument(
        "--served",
        default="",
        metavar="CC,CC",
        help="ISO country codes the service is offered in (empty: no region indicator)",
    )
    p.add_argument("--rate-limit", type=int, default=60, help="requests per hour per account")
    p.add_argument("--price", default="openai-gpt-4o", help="price key in api_prices.yaml")


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    """Add ``campaigns`` and ``export-harvest`` to the ``traffic`` group's sub-parsers."""
    c = subparsers.add_parser("campaigns", help="candidate distillation campaigns in the logs")
    _common(c)
    c.add_argument("--all", action="store_true", help="also the candidates not flagged")
    c.add_argument(
        "--json",
        dest="json_output",
        action="store_true",
        default=argparse.SUPPRESS,
        help="machine-readable JSON on stdout",
    )
    c.set_defaults(func=cmd_campaigns)
    e = subparsers.add_parser(
        "export-harvest", help="a campaign's exchanges as a harvested-exchanges JSONL"
    )
    e.add_argument("campaign", metavar="CAMPAIGN", help="the campaign id (TC-...)")
    e.add_argument("--out", required=True, metavar="FILE")
    e.add_argument("--overwrite", action="store_true")
    _common(e)
    e.set_defaults(func=cmd_export)


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register the commands, joining an existing ``traffic`` group or creating one."""
    group = sub.choices.get("traffic")
    if group is None:
        group = sub.add_parser("traffic", help="API request logs: campaigns and export")
        actions = group.add_subparsers(dest="traffic_command", required=True, metavar="ACTION")
    else:
        found = [a for a in group._actions if isinstance(a, argparse._SubParsersAction)]
        actions = found[0]
    add_commands(actions)


def logs_path(args: argparse.Namespace) -> Path:
    """``--logs``, or ``<case>.logs.duckdb`` beside the case file of ``--db``."""
    if args.logs:
        return Path(args.logs)
    if args.db:
        case = Path(args.db)
        stem = (
            case.name[: -len(CASE_FILE_SUFFIX)]
            if case.name.endswith(CASE_FILE_SUFFIX)
            else case.stem
        )
        return case.with_name(f"{stem}.logs.duckdb")
    raise DeclinedError("name the log store with --logs PATH (or the case file with --db).")


def _params(args: argparse.Namespace) -> AnalysisParams:
    served = tuple(c.strip().upper() for c in args.served.split(",") if c.strip())
    return AnalysisParams(
        release_dates=tuple(args.release),
        served_regions=served,
        rate_limit_per_hour=args.rate_limit,
        price_key=args.price,
    )


def _analysis(args: argparse.Namespace) -> tuple[Any, list[Campaign]]:
    engine = open_engine(logs_path(args), args.engine, spark_master=args.spark_master)
    with progress(args, "traffic analysis") as state:
        result = analyse(engine, _params(args), state)
    return engine, result.campaigns


def cmd_campaigns(args: argparse.Namespace) -> int:
    engine, campaigns = _analysis(args)
    engine.close()
    shown = campaigns if args.all else [c for c in campaigns if c.flagged]
    rows = [
        [
            c.id,
            "yes" if c.flagged else "no",
            len(c.accounts),
            c.requests,
            c.first_seen,
            c.last_seen,
            f"{c.cost:,.2f} {c.price.currency}",
            ", ".join(
                f"{i.name} {i.value:.3g} (>= {i.threshold:g})"
                for i in c.indicators
                if i.counts and i.fired
            ),
        ]
        for c in shown
    ]
    text = (
        table(
            rows,
            [
                "campaign",
                "flagged",
                "accounts",
                "requests",
                "first seen",
                "last seen",
                "est. cost",
                "indicators fired (threshold)",
            ],
        )
        if rows
        else "No campaign flagged."
    )
    emit(args, [c.to_dict() for c in shown], text)
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    engine, campaigns = _analysis(args)
    try:
        chosen = [c for c in campaigns if c.id == args.campaign]
        if not chosen:
            known = ", ".join(c.id for c in campaigns) or "none"
            raise NotFoundError(f"no campaign {args.campaign} in these logs (campaigns: {known}).")
        done = export_harvest(engine, chosen[0], args.out, overwrite=args.overwrite)
    finally:
        engine.close()
    data = {
        "campaign": args.campaign,
        "file": str(done.path),
        "manifest": str(done.manifest_path),
        "rows": done.rows,
        "sha256": done.sha256,
        "excluded": done.excluded,
    }
    left = ", ".join(f"{n} {why}" for why, n in sorted(done.excluded.items())) or "none"
    emit(
        args,
        data,
        f"Exported {done.rows} exchanges of {args.campaign} to {done.path} "
        f"(sha256 {done.sha256}; left out: {left}).",
    )
    return 0
