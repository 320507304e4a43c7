"""``policy import|list|clauses|diff|in-force|tag|link``: terms of service as evidence."""

from __future__ import annotations

import argparse
from datetime import date

from core.policy.persist import (
    correct_tag,
    diff_policies,
    import_policy,
    link_finding_to_clause,
    list_clauses,
    policy_in_force,
    why_not_in_force,
)
from core.records import policy_rows
from core.store.models import Policy

from .common import emit, open_db, progress, table
from .custody import add_custody_args, custody_from_args


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2025-06-17") from exc


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("policy", help="terms-of-service documents, clauses and versions")
    ps = p.add_subparsers(dest="policy_command", required=True, metavar="ACTION")
    imp = ps.add_parser("import", help="import a .txt/.md/.html/.pdf/.docx terms document")
    imp.add_argument("path")
    imp.add_argument("--case", required=True)
    imp.add_argument("--provider", required=True)
    imp.add_argument("--title")
    imp.add_argument("--version", dest="doc_version", help="default: detected from the text")
    imp.add_argument("--effective", type=_date, help="effective-from date (default: detected)")
    imp.add_argument("--effective-to", type=_date)
    add_custody_args(imp)
    imp.set_defaults(func=cmd_import)
    ls = ps.add_parser("list", help="the policies of a case")
    ls.add_argument("--case", required=True)
    ls.set_defaults(func=cmd_list)
    cl = ps.add_parser("clauses", help="clauses of one policy with their categories")
    cl.add_argument("policy_id", type=int)
    cl.add_argument("--category", help="only clauses tagged with this category")
    cl.set_defaults(func=cmd_clauses)
    df = ps.add_parser("diff", help="clause-level changes between two versions")
    df.add_argument("old_id", type=int)
    df.add_argument("new_id", type=int)
    df.add_argument("--all", action="store_true", help="include unchanged clauses")
    df.set_defaults(func=cmd_diff)
    inf = ps.add_parser("in-force", help="which version was in force on a date")
    inf.add_argument("--case", required=True)
    inf.add_argument("--provider", required=True)
    inf.add_argument("--title")
    inf.add_argument("--date", type=_date, required=True)
    inf.set_defaults(func=cmd_in_force)
    tg = ps.add_parser("tag", help="correct a clause's categories (audited)")
    tg.add_argument("clause_id", type=int)
    group = tg.add_mutually_exclusive_group(required=True)
    group.add_argument("--add", metavar="CATEGORY")
    group.add_argument("--remove", metavar="CATEGORY")
    tg.add_argument("--note", default="")
    tg.set_defaults(func=cmd_tag)
    lk = ps.add_parser("link", help="link a finding to a clause as in force on the conduct date")
    lk.add_argument("--finding", type=int, required=True)
    lk.add_argument("--clause", type=int, required=True)
    lk.add_argument("--conduct-date", type=_date, required=True)
    lk.add_argument("--note", default="")
    lk.set_defaults(func=cmd_link)


def cmd_import(args: argparse.Namespace) -> int:
    with open_db(args) as cf, progress(args, "Importing policy") as state:
        pid = import_policy(
            cf,
            args.case,
            args.path,
            provider=args.provider,
            title=args.title,
            version=args.doc_version,
            effective_from=args.effective,
            effective_to=args.effective_to,
            state=state,
            custody=custody_from_args(args),
        )
        with cf.read_session() as s:
            pol = s.get(Policy, pid)
            assert pol is not None  # just imported in this case file
            data = {
                "policy_id": pid,
                "title": pol.title,
                "version": pol.version,
                "effective_from": pol.effective_from,
                "clauses": len(pol.clauses),
                "sha256": pol.source_sha256,
            }
    emit(
        args,
        data,
        f"Imported policy {pid}: {data['title']} version {data['version']} "
        f"(effective {data['effective_from'] or 'unknown'}), "
        f"{data['clauses']} clauses.",
    )
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    with open_db(args) as cf:
        policies = policy_rows(cf, args.case)
    # ``policy list`` keeps its order: by provider, then effective date (undated first).
    policies.sort(key=lambda p: (p.provider, p.effective_from or "", p.id))
    rows = [
        {
            "id": p.id,
            "provider": p.provider,
            "title": p.title,
            "version": p.version,
            "effective_from": p.effective_from,
            "effective_to": p.effective_to,
            "clauses": p.clauses,
            "sha256": p.sha256,
        }
        for p in policies
    ]
    emit(
        args,
        rows,
        table(
            [
                [
                    r["id"],
                    r["provider"],
                    r["title"],
                    r["version"],
                    r["effective_from"] or "-",
                    r["clauses"],
                ]
                for r in rows
            ],
            ["id", "provider", "title", "version", "effective", "clauses"],
        )
        if rows
        else "No policies in this case yet.",
    )
    return 0


def cmd_clauses(args: argparse.Namespace) -> int:
    with open_db(args) as cf:
        views = list_clauses(cf, args.policy_id, args.category)
    lines = []
    for v in views:
        cats = ", ".join(f"{t['category']} ({t['score']:.2f})" for t in v.tags) or "-"
        lines.append(
            f"{'  ' * v.depth}[{v.id}] {v.number} {v.heading}".rstrip() + f"   categories: {cats}"
        )
    emit(args, [v.to_dict() for v in views], "\n".join(lines) or "No matching clauses.")
    return 0


def cmd_diff(args: argparse.Namespace) -> int:
    with open_db(args) as cf:
        changes = diff_policies(cf, args.old_id, args.new_id)
    shown = [c for c in changes if args.all or c.kind != "unchanged"]
    lines = []
    for c in shown:
        where = c.new_number or c.old_number
        lines.append(f"{c.kind.upper():9} {where}: {c.word_diff}")
    emit(args, [c.__dict__ for c in shown], "\n".join(lines) or "No differences.")
    return 0


def cmd_in_force(args: argparse.Namespace) -> int:
    with open_db(args) as cf:
        pol = policy_in_force(cf, args.case, args.provider, args.date, args.title)
    if pol is None:
        with open_db(args) as cf:
            reason = why_not_in_force(cf, args.case, args.provider, args.date, args.title)
        emit(args, None, reason)
        return 0
    data = {
        "policy_id": pol.id,
        "title": pol.title,
        "version": pol.version,
        "effective_from": pol.effective_from,
        "effective_to": pol.effective_to,
    }
    emit(
        args,
        data,
        f"On {args.date.isoformat()}: {pol.title} version {pol.version} "
        f"(policy {pol.id}, effective {pol.effective_from}).",
    )
    return 0


def cmd_tag(args: argparse.Namespace) -> int:
    with open_db(args) as cf:
        category = args.add or args.remove
        correct_tag(cf, args.clause_id, category, add=bool(args.add), note=args.note)
    emit(
        args,
        {
            "clause_id": args.clause_id,
            "category": category,
            "action": "add" if args.add else "remove",
        },
        f"{'Added' if args.add else 'Removed'} {category} on clause {args.clause_id}.",
    )
    return 0


def cmd_link(args: argparse.Namespace) -> int:
    with open_db(args) as cf:
        link_id = link_finding_to_clause(
            cf, args.finding, args.clause, args.conduct_date, args.note
        )
    emit(args, {"link_id": link_id}, f"Linked finding {args.finding} (link {link_id}).")
    return 0
