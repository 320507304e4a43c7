"""``check``: run the similarity checks on a suspect model against a reference panel.

Without ``--db`` the evidence is imported into a temporary case file that is deleted at
the end (the OUT.json keeps the results); with ``--db`` (and optionally ``--case``) the
evidence, the run, its results and the draft findings stay in that case file. The exit
status is 0 whatever the verdicts; non-zero only on errors.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

from core.errors import DistillAuditError
from core.evidence.importer import find_or_import_model, import_transcripts
from core.jobs import JobState
from core.store.cases import create_case, get_case
from core.store.db import CaseFile, open_case_file

from .common import emit, progress, table


class _AllChecks:
    """The default of ``--checks``: every registered check (core.checks.registry).

    Read only when it is used or the help is shown: importing the checks takes seconds.
    """

    def __str__(self) -> str:
        from core.checks.registry import check_names

        return ",".join(check_names())


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "check",
        help="test whether a suspect model was trained on a protected "
        "model's outputs, against a panel of independent reference models",
    )
    p.add_argument(
        "--suspect", required=True, metavar="PATH", help="the suspect model (folder or .onnx)"
    )
    p.add_argument(
        "--reference",
        action="append",
        required=True,
        metavar="PATH",
        help="an independent reference model (repeat for each)",
    )
    p.add_argument(
        "--protected-transcripts",
        required=True,
        metavar="FILE",
        help="JSONL/CSV of prompts and the protected model's captured answers",
    )
    p.add_argument(
        "--control-answers",
        metavar="FILE",
        help="JSONL/CSV of control answers (human-written) to the same prompts",
    )
    p.add_argument(
        "--protected-names",
        default="",
        metavar="NAMES",
        help="the protected model's names, vendor and aliases, comma-separated",
    )
    p.add_argument(
        "--protected-model", metavar="PATH", help="the protected model itself (white-box)"
    )
    p.add_argument(
        "--base-model", metavar="PATH", help="a base model the suspect may be derived from"
    )
    p.add_argument(
        "--checks",
        default=_AllChecks(),
        help="comma-separated subset of %(default)s (default: all)",
    )
    p.add_argument(
        "--seed",
        type=_seed,
        default=None,
        metavar="N|derived",
        help="random seed of the resampling tests (default: derived from the evidence hashes "
        "and the settings, recorded with the run)",
    )
    p.add_argument("--alpha", type=float, default=0.05)
    p.add_argument(
        "--template",
        default=None,
        help="chat template with {prompt} (default 'User: {prompt}\\nAssistant:')",
    )
    p.add_argument("--max-probes", type=int, default=None)
    p.add_argument("--resamples", type=int, default=10_000, help="permutation/bootstrap resamples")
    p.add_argument(
        "--identity-suite", metavar="FILE", help="identity question suite (YAML or JSONL)"
    )
    p.add_argument(
        "--db",
        dest="check_db",
        metavar="CASEFILE",
        help="keep everything in this case file (default: a temporary one)",
    )
    p.add_argument("--case", help="case id or reference in --db (default: a new case)")
    p.add_argument(
        "--json",
        dest="json_out",
        required=True,
        metavar="OUT.json",
        help="where to write the machine-readable results",
    )
    p.set_defaults(func=cmd_check)


def _settings(args: argparse.Namespace) -> Any:
    from core.checks.runner import CheckSettings

    checks = tuple(c.strip() for c in str(args.checks).split(",") if c.strip())
    names = tuple(n.strip() for n in args.protected_names.split(",") if n.strip())
    s = CheckSettings(
        checks=checks,
        seed=args.seed,
        alpha=args.alpha,
        protected_names=names,
        max_probes=args.max_probes,
        n_resamples=args.resamples,
        identity_suite=args.identity_suite,
    )
    return replace(s, template=args.template) if args.template else s


def _run(
    cf: CaseFile, case_key: str | int, args: argparse.Namespace, state: JobState
) -> dict[str, Any]:
    from core.checks.runner import CheckInputs, run_checks

    with cf.read_session() as s:
        case_id = get_case(s, case_key).id
    state.set_status("Importing evidence")
    sub = state.sub(0, 10)
    suspect = find_or_import_model(cf, case_id, args.suspect, "suspect", sub)
    refs = tuple(find_or_import_model(cf, case_id, r, "reference", sub) for r in args.reference)
    protected = (
        find_or_import_model(cf, case_id, args.protected_model, "protected", sub)
        if args.protected_model
        else None
    )
    base = (
        find_or_import_model(cf, case_id, args.base_model, "base", sub) if args.base_model else None
    )
    prot_set = import_transcripts(
        cf, case_id, args.protected_transcripts, "protected-answers", state=sub
    )
    ctrl_set = (
        import_transcripts(cf, case_id, args.control_answers, "control-answers", state=sub)
        if args.control_answers
        else None
    )
    report = run_checks(
        cf,
        case_id,
        CheckInputs(suspect, refs, prot_set, ctrl_set, protected, base),
        _settings(args),
        state.sub(10, 100),
    )
    return report.to_json()


def cmd_check(args: argparse.Namespace) -> int:
    from core.store.records import next_reference

    db = args.check_db or getattr(args, "db", None)
    out_path = Path(args.json_out)
    with progress(args, "Running checks") as state:
        if db:
            with open_case_file(db) as cf:
                case = args.case or create_case(
                    cf, f"Check of {Path(args.suspect).name}", next_reference(cf, "CHECK")
                )
                data = _run(cf, case, args, state)
                data["case_file"] = str(Path(db).resolve())
        else:
            if args.case:
                raise DistillAuditError("--case needs --db (the case file that holds the case).")
            with tempfile.TemporaryDirectory(prefix="distill-audit-check-") as tmp:
                with open_case_file(Path(tmp) / "check.dacase") as cf:
                    case = create_case(cf, f"Check of {Path(args.suspect).name}", "CHECK-1")
                    data = _run(cf, case, args, state)
                data["case_file"] = None
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(
        json.dumps(data, indent=2, ensure_ascii=False, allow_nan=False) + "\n", encoding="utf-8"
    )
    rows = [
        [
            k,
            v["verdict"],
            v.get("p_text") or _fmt(v["p_value"]),
            _fmt(v["effect_size"]),
            v["n_probes"],
            v["n_references"],
        ]
        for k, v in data["checks"].items()
    ]
    text = (
        table(rows, ["check", "verdict", "p", "effect", "probes", "refs"])
        + f"\n\nCombined: {data['combined']['statement']}.\n{data['combined']['limit']}"
        + (f"\n{data['combined']['signal_note']}" if data["combined"].get("signal_note") else "")
        + f"\nResults written to {out_path}."
    )
    emit(args, data, text)
    return 0


def _seed(text: str) -> int | None:
    """``--seed``: a whole number, or "derived" (from the evidence hashes; the default)."""
    if text.strip().lower() == "derived":
        return None
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--seed must be a whole number or 'derived', not {text!r}"
        ) from None


def _fmt(x: float | None) -> str:
    return "-" if x is None else f"{x:.3g}"
