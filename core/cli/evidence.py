"""``import model|transcripts`` and ``evidence list|verify``."""

from __future__ import annotations

import argparse

from core.evidence.formats import ARTIFACT_ROLES, TRANSCRIPT_ROLES
from core.evidence.importer import import_model, import_transcripts
from core.evidence.inventory import list_evidence
from core.evidence.verify import verify_case_evidence

from .common import emit, open_db, progress, table
from .custody import add_custody_args, add_custody_command, custody_from_args


def add_parser(sub: argparse._SubParsersAction) -> None:
    imp = sub.add_parser("import", help="import evidence into a case")
    isub = imp.add_subparsers(dest="import_command", required=True, metavar="KIND")
    m = isub.add_parser("model", help="a Hugging Face model folder or an ONNX model")
    m.add_argument("path")
    m.add_argument("--case", required=True, help="case id or reference")
    m.add_argument("--role", required=True, choices=ARTIFACT_ROLES)
    m.add_argument("--name")
    _provenance_args(m)
    add_custody_args(m)
    m.set_defaults(func=cmd_import_model)
    t = isub.add_parser("transcripts", help="a JSONL or CSV file of prompt/response pairs")
    t.add_argument("path")
    t.add_argument("--case", required=True)
    t.add_argument("--role", required=True, choices=TRANSCRIPT_ROLES)
    t.add_argument("--name")
    t.add_argument("--provider", default="")
    t.add_argument("--model", dest="model_name", default="")
    _provenance_args(t)
    add_custody_args(t)
    t.set_defaults(func=cmd_import_transcripts)

    ev = sub.add_parser("evidence", help="list or re-verify a case's evidence")
    esub = ev.add_subparsers(dest="evidence_command", required=True, metavar="ACTION")
    ls = esub.add_parser("list")
    ls.add_argument("--case", required=True)
    ls.set_defaults(func=cmd_list)
    vf = esub.add_parser("verify", help="re-hash every evidence file")
    vf.add_argument("--case", required=True)
    vf.set_defaults(func=cmd_verify)
    add_custody_command(esub)


def _provenance_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--collector", default="", help="who collected the evidence")
    p.add_argument("--source", default="", help="where it came from (e.g. seized laptop, API)")
    p.add_argument("--notes", default="")


def cmd_import_model(args: argparse.Namespace) -> int:
    with open_db(args) as cf, progress(args, "Importing model") as state:
        prov = {"collector": args.collector, "source": args.source, "notes": args.notes}
        art_id = import_model(
            cf,
            args.case,
            args.path,
            args.role,
            name=args.name,
            provenance=prov,
            state=state,
            custody=custody_from_args(args),
        )
    emit(args, {"artifact_id": art_id}, f"Imported model as artifact {art_id}.")
    return 0


def cmd_import_transcripts(args: argparse.Namespace) -> int:
    with open_db(args) as cf, progress(args, "Importing transcripts") as state:
        set_id = import_transcripts(
            cf,
            args.case,
            args.path,
            args.role,
            name=args.name,
            provider=args.provider,
            model_name=args.model_name,
            collector=args.collector,
            source=args.source,
            state=state,
            custody=custody_from_args(args),
        )
        items = [
            e for e in list_evidence(cf, args.case) if e.kind == "transcripts" and e.id == set_id
        ]
    desc = items[0].description if items else ""
    emit(
        args,
        {"transcript_set_id": set_id, "description": desc},
        f"Imported transcript set {set_id}: {desc}.",
    )
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    from core.records import evidence_items

    with open_db(args) as cf:
        items = evidence_items(cf, args.case)
    emit(
        args,
        [i.to_dict() for i in items],
        table(
            [[i.kind, i.id, i.role, i.name, i.sha256[:16] + "…", i.description] for i in items],
            ["kind", "id", "role", "name", "sha256", "description"],
        )
        if items
        else "No evidence in this case yet.",
    )
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    with open_db(args) as cf, progress(args, "Verifying evidence") as state:
        checks = verify_case_evidence(cf, args.case, state)
    bad = [(c, f) for c in checks for f in c.files if f.status != "ok"]
    hashed = sum(1 for c in checks for f in c.files if f.status != "altered")
    lines = [f"{len(checks)} evidence item(s), {hashed} file(s) re-hashed."]
    lines += [
        f"  {f.status.upper()}: {c.kind} {c.id} {c.name}: {f.path}"
        + (f": {f.what}" if f.what else "")
        for c, f in bad
    ]
    lines += [f"  NOTE: {n}" for c in checks for n in c.notes]
    altered = sum(1 for _, f in bad if f.status == "altered")
    lines.append(
        "All evidence matches its import hashes and its records match their import events."
        if not bad
        else f"{len(bad) - altered} file(s) differ from the hashes the case file records; "
        f"{altered} record(s) in the case file differ from their import events."
    )
    emit(args, {"ok": not bad, "items": [c.to_dict() for c in checks]}, "\n".join(lines))
    return 0 if not bad else 1
