"""``check``: run the similarity checks on a suspect model against a reference panel.

Without ``--db`` the evidence is imported into a temporary case file that is deleted at
the end (the OUT.json keeps the results); with ``--db`` (and optionally ``--case``) the
evidence, the run, its results and the draft findings stay in that case file. The exit
status is 0 whatever the verdicts; non-zero only on errors.

An API-only suspect is given by its answers (``--suspect-answers FILE``) and references
can be given by theirs (``--reference-answers FILE``, repeated): the text-only checks
(identity, similarity) run on them, the others decline for an answers-only suspect or
leave such references out.

The harvest test (``--checks harvest``) needs no reference panel and no probes: give
``--harvested FILE`` with ``--regenerations FILE``, or ``--protected-model PATH
--regenerate K`` to draw the regenerations from a local copy of the protected model.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

from core.errors import DistillAuditError
from core.evidence.custody import hash_cache
from core.evidence.importer import find_or_import_model, find_or_import_transcripts
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
    who = p.add_mutually_exclusive_group(required=True)
    who.add_argument("--suspect", metavar="PATH", help="the suspect model (folder or .onnx)")
    who.add_argument(
        "--suspect-answers",
        metavar="FILE",
        help="JSONL/CSV of an API-only suspect's answers to the probe prompts (and identity "
        "questions), e.g. from 'distill-audit capture': only the text-only checks run",
    )
    p.add_argument(
        "--reference",
        action="append",
        default=[],
        metavar="PATH",
        help="an independent reference model (repeat for each; the harvest test needs none)",
    )
    p.add_argument(
        "--reference-answers",
        action="append",
        default=[],
        metavar="FILE",
        help="JSONL/CSV of one reference model's answers to the probe prompts (repeat for each: "
        "a panel of 20-50 models without their weights; used by the text-only checks)",
    )
    p.add_argument(
        "--answers-model",
        action="append",
        default=[],
        metavar="NAME",
        help="the model names of --suspect-answers then each --reference-answers, in order, "
        "where the files carry no 'model' field",
    )
    p.add_argument(
        "--protected-transcripts",
        metavar="FILE",
        help="JSONL/CSV of prompts and the protected model's captured answers (the panel "
        "checks need them; the harvest test needs --harvested instead)",
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
    h = p.add_argument_group("harvest test (the logged answers among their regenerations)")
    h.add_argument(
        "--harvested",
        metavar="FILE",
        help="JSONL/CSV of the logged exchanges the API sent to the suspected accounts",
    )
    h.add_argument(
        "--regenerations",
        metavar="FILE",
        help="JSONL/CSV of K fresh answers per logged prompt (same model version and settings)",
    )
    h.add_argument(
        "--regenerate",
        type=int,
        metavar="K",
        help="draw K regenerations per logged prompt from --protected-model instead",
    )
    h.add_argument(
        "--model-version",
        metavar="VERSION",
        help="with --regenerate: the logged model version the protected model folder is",
    )
    h.add_argument(
        "--min-regenerations",
        type=int,
        metavar="K",
        help="prompts with fewer regenerations are excluded (default 19, or --regenerate's K)",
    )
    h.add_argument(
        "--harvest-reference",
        metavar="PATH",
        help="a model that never saw the logs: its score is subtracted from the suspect's",
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
        help="the plain template with {prompt}, for models without a chat template of their "
        "own (default 'User: {prompt}\\nAssistant:'; \\n is a newline)",
    )
    p.add_argument(
        "--chat-templates",
        choices=("model", "fixed"),
        default="model",
        help="model: score each model through its own chat template (default); fixed: "
        "the plain --template for every model",
    )
    p.add_argument(
        "--template-file",
        metavar="FILE.jinja",
        default=None,
        help="a Jinja chat template for models that ship none",
    )
    p.add_argument(
        "--dtype",
        choices=("auto", "float32", "bfloat16", "float16", "int8"),
        default="auto",
        help="precision the models run at (default auto: the checkpoint's bfloat16/float16 "
        "where this CPU runs it well, else float32); checked against free memory first",
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
    k = args.min_regenerations or args.regenerate
    if k:
        s = replace(s, harvest_min_regenerations=k)
    s = replace(
        s, chat_templates=args.chat_templates, template_file=args.template_file, dtype=args.dtype
    )
    return replace(s, template=plain_template(args.template)) if args.template else s


def plain_template(text: str) -> str:
    """A template typed on a command line: ``\\n`` and ``\\t`` become a newline and a tab."""
    return text.replace("\\n", "\n").replace("\\t", "\t")


def _check_args(args: argparse.Namespace) -> None:
    """Options that cannot go together, said before anything is imported."""
    if not args.protected_transcripts and not args.harvested:
        raise DistillAuditError(
            "Give --protected-transcripts (the panel checks) or --harvested (the harvest test)."
        )
    if args.regenerate is not None:
        if args.regenerations:
            raise DistillAuditError("Give --regenerations or --regenerate K, not both.")
        if not args.protected_model or not args.harvested:
            raise DistillAuditError(
                "--regenerate K draws from --protected-model for the prompts of --harvested: "
                "give both."
            )
        if args.regenerate < 1:
            raise DistillAuditError("--regenerate needs K of at least 1 (19 or more for p 0.05).")
    if args.regenerations and not args.harvested:
        raise DistillAuditError("--regenerations needs the --harvested exchanges they regenerate.")


def _harvest_sets(
    cf: CaseFile,
    case_id: int,
    args: argparse.Namespace,
    protected: int | None,
    state: JobState,
) -> tuple[int | None, int | None]:
    """Import the logged exchanges and their regenerations (or draw them)."""
    from core.checks.probes import ChatTemplate
    from core.checks.regenerate import generate_regenerations
    from core.evidence.formats import HARVESTED_ROLE, REGENERATIONS_ROLE

    if not args.harvested:
        return None, None
    harvested = find_or_import_transcripts(cf, case_id, args.harvested, HARVESTED_ROLE, state=state)
    if args.regenerations:
        regen = find_or_import_transcripts(
            cf, case_id, args.regenerations, REGENERATIONS_ROLE, state=state
        )
        return harvested, regen
    if args.regenerate is None:
        return harvested, None
    assert protected is not None  # _check_args made sure
    template = ChatTemplate(plain_template(args.template)) if args.template else ChatTemplate()
    regen = generate_regenerations(
        cf,
        case_id,
        harvested,
        protected,
        args.regenerate,
        args.seed,
        state,
        template=template,
        model_version=args.model_version,
    )
    return harvested, regen


def _answer_sets(
    cf: CaseFile, case_id: int, args: argparse.Namespace, state: JobState
) -> tuple[int | None, tuple[int, ...]]:
    """Import the suspect's and the references' recorded answers (one set per model)."""
    from core.store.vocabulary import REFERENCE_ANSWERS_ROLE, SUSPECT_ANSWERS_ROLE

    files = ([args.suspect_answers] if args.suspect_answers else []) + list(args.reference_answers)
    names = list(args.answers_model)
    if len(names) > len(files):
        raise DistillAuditError(
            f"{len(names)} --answers-model names for {len(files)} answer files: give one name "
            "per --suspect-answers / --reference-answers file, in order."
        )
    names += [""] * (len(files) - len(names))
    ids = [
        find_or_import_transcripts(
            cf,
            case_id,
            f,
            SUSPECT_ANSWERS_ROLE if i == 0 and args.suspect_answers else REFERENCE_ANSWERS_ROLE,
            model_name=n,
            state=state,
        )
        for i, (f, n) in enumerate(zip(files, names, strict=True))
    ]
    if args.suspect_answers:
        return ids[0], tuple(ids[1:])
    return None, tuple(ids)


def _run(
    cf: CaseFile, case_key: str | int, args: argparse.Namespace, state: JobState
) -> dict[str, Any]:
    from core.checks.runner import CheckInputs, run_checks

    with cf.read_session() as s:
        case_id = get_case(s, case_key).id
    state.set_status("Importing evidence")
    sub = state.sub(0, 10)
    suspect = (
        find_or_import_model(cf, case_id, args.suspect, "suspect", sub) if args.suspect else None
    )
    suspect_answers, reference_answers = _answer_sets(cf, case_id, args, sub)
    refs = tuple(find_or_import_model(cf, case_id, r, "reference", sub) for r in args.reference)
    protected = (
        find_or_import_model(cf, case_id, args.protected_model, "protected", sub)
        if args.protected_model
        else None
    )
    base = (
        find_or_import_model(cf, case_id, args.base_model, "base", sub) if args.base_model else None
    )
    prot_set = (
        find_or_import_transcripts(
            cf, case_id, args.protected_transcripts, "protected-answers", state=sub
        )
        if args.protected_transcripts
        else None
    )
    ctrl_set = (
        find_or_import_transcripts(cf, case_id, args.control_answers, "control-answers", state=sub)
        if args.control_answers
        else None
    )
    settings = _settings(args)
    if args.harvest_reference:
        harvest_ref = find_or_import_model(cf, case_id, args.harvest_reference, "reference", sub)
        if harvest_ref not in refs:
            refs = (*refs, harvest_ref)
        settings = replace(settings, harvest_reference=str(harvest_ref))
    harvested, regen = _harvest_sets(cf, case_id, args, protected, state.sub(10, 30))
    report = run_checks(
        cf,
        case_id,
        CheckInputs(
            suspect,
            refs,
            prot_set,
            ctrl_set,
            protected,
            base,
            harvested_id=harvested,
            regenerations_id=regen,
            suspect_answers_id=suspect_answers,
            reference_answers_ids=reference_answers,
        ),
        settings,
        state.sub(30, 100),
    )
    return report.to_json()


def cmd_check(args: argparse.Namespace) -> int:
    from core.records import next_reference

    _check_args(args)
    db = args.check_db or getattr(args, "db", None)
    out_path = Path(args.json_out)
    # One hash cache for the run: a model reused by --db and verified again is hashed once.
    with progress(args, "Running checks") as state, hash_cache():
        if db:
            with open_case_file(db) as cf:
                case = args.case or create_case(
                    cf, f"Check of {_suspect_name(args)}", next_reference(cf, "CHECK")
                )
                data = _run(cf, case, args, state)
                data["case_file"] = str(Path(db).resolve())
        else:
            if args.case:
                raise DistillAuditError("--case needs --db (the case file that holds the case).")
            with tempfile.TemporaryDirectory(prefix="distill-audit-check-") as tmp:
                with open_case_file(Path(tmp) / "check.dacase") as cf:
                    case = create_case(cf, f"Check of {_suspect_name(args)}", "CHECK-1")
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


def _suspect_name(args: argparse.Namespace) -> str:
    return Path(args.suspect or args.suspect_answers).name


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
