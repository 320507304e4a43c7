"""``capture``: collect a model's answers to a prompt set from an OpenAI-compatible API.

Offline by default: the command contacts nothing unless ``--endpoint URL`` is given, and
then only that address (no redirects). It writes the transcript (one line per prompt with
the request's and the response's SHA-256, timestamps, settings, endpoint and collector)
and its manifest, all or nothing. With ``--case`` the capture is recorded in that case's
audit log (event ``capture``), and with ``--import-as`` the transcript is imported as the
suspect's or a reference's answers, checked against its manifest first.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from core.errors import DistillAuditError, OutputExistsError

from .common import emit, open_db, progress


def add_parser(sub: argparse._SubParsersAction) -> None:
    from core.store.vocabulary import ANSWERS_ROLES

    p = sub.add_parser(
        "capture",
        help="collect a model's answers to a prompt set from an OpenAI-compatible chat API "
        "(contacts the API only when --endpoint is given)",
    )
    p.add_argument(
        "--endpoint",
        metavar="URL",
        help="the API's base address, e.g. http://127.0.0.1:8000 (POSTs to URL/v1/chat/"
        "completions); nothing is contacted without it",
    )
    p.add_argument("--model", required=True, metavar="NAME", help="the model to ask (sent)")
    p.add_argument(
        "--prompts",
        required=True,
        metavar="FILE",
        help="the prompts: .txt (one per line), .jsonl or .csv (a prompt field; ids kept)",
    )
    p.add_argument("--out", required=True, metavar="FILE", help="the transcript to write (.jsonl)")
    p.add_argument("--system", metavar="TEXT", help="a system message sent with every prompt")
    p.add_argument("--temperature", type=float, default=0.0)
    p.add_argument("--max-tokens", type=int, default=256)
    p.add_argument("--seed", type=int, default=None)
    p.add_argument(
        "--timeout", type=float, default=60.0, metavar="S", help="hard limit of one request"
    )
    p.add_argument(
        "--retries", type=int, default=4, help="further tries on HTTP 429/5xx or network errors"
    )
    p.add_argument("--collector", default="", help="who collects (default: your user name)")
    p.add_argument(
        "--api-key-env",
        metavar="VAR",
        help="the environment variable that holds the API key (sent, never recorded)",
    )
    p.add_argument("--case", help="record the capture in this case's audit log (with --db)")
    p.add_argument(
        "--import-as",
        choices=ANSWERS_ROLES,
        help="then import the transcript into --case in this role",
    )
    p.add_argument("--name", help="the imported set's name (default: the file's name)")
    p.set_defaults(func=cmd_capture)


def cmd_capture(args: argparse.Namespace) -> int:
    from core.evidence.capture import (
        CaptureSettings,
        capture,
        import_capture,
        parse_endpoint,
        record_capture,
    )
    from core.evidence.hashing import sha256_file
    from core.evidence.transcripts import read_prompts
    from core.store.audit import current_actor

    parse_endpoint(args.endpoint)  # offline by default: refuse before reading anything
    if args.import_as and not args.case:
        raise DistillAuditError("--import-as needs --case (the case to import the answers into).")
    out = Path(args.out)
    if out.exists():
        raise OutputExistsError(f"{out} already exists; choose another --out or remove it.")
    api_key = None
    if args.api_key_env:
        api_key = os.environ.get(args.api_key_env)
        if not api_key:
            raise DistillAuditError(f"The environment variable {args.api_key_env} is not set.")
    prompts = list(read_prompts(args.prompts))
    settings = CaptureSettings(
        model=args.model,
        system=args.system,
        temperature=args.temperature,
        max_tokens=args.max_tokens,
        seed=args.seed,
        timeout_s=args.timeout,
        retries=max(0, args.retries),
    )
    collector = args.collector or current_actor()
    with progress(args, f"Capturing answers of {args.model}") as state:
        result = capture(
            args.endpoint,
            prompts,
            out,
            settings,
            collector=collector,
            prompts_sha256=sha256_file(Path(args.prompts)),
            api_key=api_key,
            state=state.sub(0, 90),
        )
        set_id = None
        if args.case:
            with open_db(args) as cf:
                if args.import_as:
                    set_id = import_capture(
                        cf, args.case, out, args.import_as, name=args.name, state=state.sub(90, 100)
                    )
                record_capture(cf, args.case, result, imported_set=set_id)
    data = {
        "transcript": str(out),
        "manifest": str(result.manifest),
        "endpoint": result.endpoint,
        "model": result.model,
        "prompts": result.n_prompts,
        "retries": result.n_retries,
        "sha256": result.file_sha256,
        "transcript_set_id": set_id,
    }
    text = (
        f"Captured {result.n_prompts} answers of {result.model} from {result.endpoint} "
        f"({result.n_retries} retries) into {out} (SHA-256 {result.file_sha256[:16]}…); "
        f"manifest {result.manifest.name}."
        + (f" Imported as transcript set {set_id} ({args.import_as})." if set_id else "")
    )
    emit(args, data, text)
    return 0
