"""The demonstration case: built from the shipped world in resources/demo through the
same import, check and report functions a reviewer uses on real evidence.

The world is fictional (see resources/demo/README.md): Halcyon Labs' protected model
Lumen, Quillmark AI's suspect Osprey (distilled from Lumen's answers), its clean twin
(same base, human answers), three independent reference models, captured transcripts
and two versions of Halcyon's terms. Nothing here special-cases the demo's content: it
only reads lineage.json for which file plays which role.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from core.errors import CaseFileError, DistillAuditError, EvidenceError
from core.evidence.importer import import_model, import_transcripts
from core.jobs import JobState
from core.resources import resource_path
from core.store.cases import create_case, list_cases
from core.store.db import CASE_FILE_SUFFIX, CaseFile, open_case_file

DEMO_REFERENCE = "DEMO-2025-001"
CONDUCT_DATE = date(2025, 8, 1)  # the harvesting alleged in the demo story
# lineage.json role → case-file artifact role (the clean twin is a model under test too)
_ROLE = {
    "protected": "protected",
    "suspect": "suspect",
    "clean-control": "suspect",
    "reference": "reference",
    "base": "base",
}
_TRANSCRIPT_ROLES = {
    "protected_probe_answers": ("protected-answers", "Lumen answers captured from the API"),
    "human_probe_answers": ("control-answers", "Human-written answers to the same probes"),
    "identity_probes": ("probes", "Identity and persona probe questions"),
    "harvested_exchanges": (
        "harvested-exchanges",
        "Halcyon's API log: the exchanges its API sent to Quillmark's accounts",
    ),
    "regenerations": (
        "regenerations",
        "Lumen's fresh answers to the logged prompts, same model version and settings",
    ),
}
Log = Callable[[str], None]


def demo_dir() -> Path:
    return resource_path("demo")


@dataclass
class DemoCase:
    """What building the demo case produced, for the CLI summary and the GUI."""

    case_id: int
    artifacts: dict[str, int] = field(default_factory=dict)  # model folder name → artifact id
    transcripts: dict[str, int] = field(default_factory=dict)
    policies: dict[str, int] = field(default_factory=dict)
    lineage: dict[str, Any] = field(default_factory=dict)
    traffic: DemoTraffic | None = None


# --- the demo case file ----------------------------------------------------------------------


def default_demo_db() -> Path:
    """Where ``distill-audit demo`` and Help → Open demo case keep the demo case file."""
    from platformdirs import user_data_dir

    return Path(user_data_dir("DistillAudit", appauthor=False)) / f"demo{CASE_FILE_SUFFIX}"


def _traffic_files(path: Path) -> list[Path]:
    """The demo's request log, its log store and the campaign's export beside the case file."""
    from core.traffic.store import store_path_for

    store = store_path_for(path)
    return [
        store,
        Path(f"{store}.wal"),
        path.with_name(f"{path.name}.request-log.jsonl"),
        path.with_name(f"{path.name}.campaign-harvest.jsonl"),
        path.with_name(f"{path.name}.campaign-harvest.jsonl.manifest.json"),
    ]


def _remove_case_file(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    for extra in _traffic_files(path):
        extra.unlink(missing_ok=True)


def discard_demo_case_file(path: Path) -> None:
    """Remove an earlier demo case file; refuse to touch a file holding anything else.

    The file is read through the store like any case file; one that is not a case file
    (not SQLite, empty, foreign, from a newer version) or holds another case is refused.
    """
    if not path.exists():
        return
    try:
        with open_case_file(path, create=False) as cf:
            refs = [c.reference for c in list_cases(cf)]
            backup = cf.backup_path  # opening upgraded an older demo file: drop its copy too
    except CaseFileError:
        refs, backup = None, None
    if refs is None or any(r != DEMO_REFERENCE for r in refs):
        raise DistillAuditError(
            f"{path} exists and holds more than the demo case; choose another --db for the demo."
        )
    _remove_case_file(path)
    if backup is not None:
        backup.unlink(missing_ok=True)


def build_demo_case_file(
    path: Path,
    root: Path | None = None,
    state: JobState | None = None,
    log: Log = lambda _m: None,
) -> DemoCase:
    """Build the demo case into a new case file at ``path``.

    A build that fails or is cancelled leaves no file behind, so the next attempt starts
    clean.
    """
    try:
        with open_case_file(path) as cf:
            return build_demo_case(cf, root, state=state, log=log)
    except BaseException:
        _remove_case_file(path)
        raise


def ensure_demo_case_file(
    path: Path | None = None, root: Path | None = None, state: JobState | None = None
) -> Path:
    """The demo case file (default: :func:`default_demo_db`), built first if it is missing."""
    state = state or JobState()
    target = Path(path) if path is not None else default_demo_db()
    if target.is_file() and target.stat().st_size > 0:
        state.set_progress(100)
        return target
    state.set_status("Building the demonstration case (about eight models)")
    build_demo_case_file(target, root, state=state)
    return target


def verify_manifest(root: Path) -> int:
    """Check every shipped file against MANIFEST.sha256; returns the number of files."""
    manifest = root / "MANIFEST.sha256"
    if not manifest.is_file():
        raise EvidenceError(
            f"The demo world is missing from {root} (no MANIFEST.sha256); "
            "run `make demo-assets` to build it."
        )
    count = 0
    for line in manifest.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        digest, rel = line.split(maxsplit=1)
        path = root / rel
        if not path.is_file() or hashlib.sha256(path.read_bytes()).hexdigest() != digest:
            raise EvidenceError(
                f"Demo file {rel} differs from the shipped manifest; "
                "restore it (git checkout resources/demo) or rebuild it."
            )
        count += 1
    return count


def build_demo_case(
    cf: CaseFile,
    root: Path | None = None,
    state: JobState | None = None,
    log: Log = lambda _m: None,
) -> DemoCase:
    """Create the demo case in ``cf`` and import all of the world's evidence into it."""
    root = root or demo_dir()
    state = state or JobState()
    n_files = verify_manifest(root)
    log(f"Verified {n_files} shipped demo files against MANIFEST.sha256.")
    lineage = json.loads((root / "lineage.json").read_text(encoding="utf-8"))
    case_id = create_case(
        cf,
        "Halcyon Labs v Quillmark AI (demonstration)",
        DEMO_REFERENCE,
        parties=["Halcyon Labs (fictional)", "Quillmark AI (fictional)"],
        commissioned_by="Halcyon Labs, Legal Department (fictional)",
        conduct_date=CONDUCT_DATE,
    )
    demo = DemoCase(case_id, lineage=lineage)
    log(f"Created case {case_id} ({DEMO_REFERENCE}).")
    models = lineage["models"]
    jobs: list[tuple[str, Path, str]] = []
    for name, info in models.items():
        jobs.append((name, root / info["path"], _ROLE.get(info["role"], "reference")))
        if info.get("onnx_export"):
            jobs.append(
                (
                    f"{name} (ONNX export)",
                    root / info["onnx_export"],
                    _ROLE.get(info["role"], "reference"),
                )
            )
    steps = len(jobs) + len(lineage["transcripts"]) + 1
    for i, (name, path, role) in enumerate(jobs):
        state.check_cancelled()
        state.set_status(f"Importing model {name}")
        prov = {
            "source": "Distill Audit demonstration world (fictional)",
            "collector": "make demo-assets",
            "notes": models.get(name, {}).get("note") or "",
        }
        demo.artifacts[name] = import_model(
            cf,
            case_id,
            path,
            role,
            name=name,
            provenance=prov,
            state=state.sub(100 * i / steps, 100 * (i + 1) / steps),
        )
        log(f"Imported {role:9} model {name}")
    for j, (key, rel) in enumerate(lineage["transcripts"].items()):
        if key not in _TRANSCRIPT_ROLES:
            continue
        role, description = _TRANSCRIPT_ROLES[key]
        state.set_status(f"Importing transcripts {key}")
        demo.transcripts[key] = import_transcripts(
            cf,
            case_id,
            root / rel,
            role,
            name=key,
            source=description,
            state=state.sub(100 * (len(jobs) + j) / steps, 100 * (len(jobs) + j + 1) / steps),
        )
        log(f"Imported {role} transcripts {key}")
    demo.policies = _import_policies(cf, case_id, root, lineage, log)
    state.check_cancelled()
    state.set_status("Importing and analysing the API request log")
    harvest_log = lineage["transcripts"].get("harvested_exchanges")
    if harvest_log:
        demo.traffic = demo_traffic(cf, case_id, root / harvest_log, log)
    state.set_progress(100)
    return demo


@dataclass
class DemoTraffic:
    """What the demo's request-log step found: the campaign, its export and the figures."""

    campaign_id: str
    accounts: int
    requests: int
    precision: str
    recall: str
    hard_negatives_flagged: list[str]
    export: Path
    harvest_rows_found: int


def demo_traffic(cf: CaseFile, case_id: int, harvest_log: Path, log: Log) -> DemoTraffic:
    """Draw the demo's request log (seeded), import it, find the campaign, export it.

    The campaign's accounts are those of the shipped harvest log; the export is compared
    with that log exchange by exchange (request id, account, prompt, response), so the
    harvest test's input is shown to be what the provider's log holds for the campaign.
    """
    from core.traffic.campaigns import analyse
    from core.traffic.conduct import record_analysis
    from core.traffic.demo_logs import read_harvest_log, write_demo_log
    from core.traffic.engine import open_engine
    from core.traffic.export import export_harvest
    from core.traffic.import_logs import import_logs
    from core.traffic.store import store_path_for
    from core.traffic.validation import validate

    case_path = Path(cf.path)
    files = _traffic_files(case_path)
    drawn = write_demo_log(harvest_log, files[2])
    report = import_logs(cf, [drawn.path], case=case_id)
    log(
        f"Imported the API request log ({report.rows_accepted} requests, "
        f"{len(drawn.truth.accounts)} accounts, seed {drawn.config.seed})"
    )
    engine = open_engine(store_path_for(case_path))
    try:
        analysis = analyse(engine, drawn.params())
        flagged = analysis.flagged
        if not flagged:
            raise DistillAuditError("The demo's request log shows no campaign; rebuild the demo.")
        campaign = max(flagged, key=lambda c: c.requests)
        fired = ", ".join(i.name for i in campaign.indicators if i.counts and i.fired)
        log(
            f"Campaign {campaign.id}: {len(campaign.accounts)} accounts, {campaign.requests} "
            f"requests {campaign.first_seen} to {campaign.last_seen}; indicators fired: {fired}"
        )
        done = export_harvest(engine, campaign, files[3], overwrite=True)
        checked = validate(analysis, drawn.truth)
        record_analysis(
            cf,
            case_id,
            analysis,
            engine,
            validation=checked,
            validation_source=f"the demo log's simulator labels (seed {drawn.config.seed})",
        )
    finally:
        engine.close()
    exported = {}
    for line in done.path.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        exported[row["request_id"]] = row
    keys = ("account_id", "prompt", "response")
    shipped = read_harvest_log(harvest_log)
    found = sum(
        1
        for h in shipped
        if h["request_id"] in exported
        and all(exported[h["request_id"]].get(k) == h.get(k) for k in keys)
    )
    if found != len(shipped):
        raise DistillAuditError(
            f"The campaign's export holds {found} of the harvest log's {len(shipped)} "
            "exchanges; rebuild the demo."
        )
    hard = [g for g, hit in checked.hard_negatives.items() if hit]
    log(
        f"Exported {done.rows} exchanges of {campaign.id}; all {found} exchanges of the "
        f"harvest log are among them (same request id, account, prompt and response)"
    )
    log(
        f"Account-level precision {checked.precision.describe()}, recall "
        f"{checked.recall.describe()} against the simulator's labels; hard negatives "
        f"flagged: {', '.join(hard) or 'none'} of {len(checked.hard_negatives)}"
    )
    return DemoTraffic(
        campaign.id,
        len(campaign.accounts),
        campaign.requests,
        checked.precision.describe(),
        checked.recall.describe(),
        hard,
        done.path,
        found,
    )


def _import_policies(
    cf: CaseFile, case_id: int, root: Path, lineage: dict[str, Any], log: Log
) -> dict[str, int]:
    """Each version once, preferring the PDF (the document as the provider published it)."""
    from core.policy.persist import import_policy

    out: dict[str, int] = {}
    pol = lineage.get("policies") or {}
    for v in pol.get("versions", []):
        files = sorted(v["files"], key=lambda f: {".pdf": 0, ".md": 1}.get(Path(f).suffix, 2))
        effective = date.fromisoformat(v["effective"]) if v.get("effective") else None
        out[v["version"]] = import_policy(
            cf,
            case_id,
            root / files[0],
            provider=pol.get("provider", "Provider"),
            version=v["version"],
            effective_from=effective,
        )
        log(f"Imported terms version {v['version']} from {files[0]}")
    if not out:
        raise DistillAuditError("The demo world lists no terms of service.")
    return out


def _verdict(check: str, verdict: str, base: str | None) -> str:
    """Weight lineage answers 'derived from the base?', not Hp: say so in the log."""
    if check == "lineage" and verdict == "consistent with derivation":
        return f"consistent with derivation from {base}"
    return verdict


@dataclass
class DemoReview:
    """The checks run on the demo's models under test and the report written."""

    check_runs: dict[str, Any] = field(default_factory=dict)  # model name → CheckRunReport
    report: Any = None  # core.reports.export.ExportResult


def review_demo_case(
    cf: CaseFile,
    demo: DemoCase,
    out_dir: Path,
    state: JobState | None = None,
    log: Log = lambda _m: None,
    seed: int = 20250902,
) -> DemoReview:
    """Run the checks on each model under test against the reference panel, then export
    the report (PDF, JSON bundle, CSV) into ``out_dir``. Findings stay drafts: the demo
    does not pretend a reviewer accepted anything."""
    from core.checks.runner import CheckInputs, CheckSettings, run_checks
    from core.reports.export import export_report

    state = state or JobState()
    lineage = demo.lineage
    models = lineage["models"]
    protected = lineage["ground_truth"]["protected"]
    names = (models[protected]["assistant_name"], models[protected]["vendor"])
    by_role = {
        role: [n for n, i in models.items() if i["role"] == role]
        for role in {i["role"] for i in models.values()}
    }
    refs = tuple(demo.artifacts[n] for n in by_role.get("reference", []))
    base = next(iter(by_role.get("base", [])), None)
    template = lineage["chat_template"]
    settings = CheckSettings(
        seed=seed,
        protected_names=names,
        template=template["prompt"],
        response_prefix=template.get("response_prefix", " "),
    )
    under_test = by_role.get("suspect", []) + by_role.get("clean-control", [])
    review = DemoReview()
    for i, name in enumerate(under_test):
        state.set_status(f"Checking {name}")
        inputs = CheckInputs(
            suspect_id=demo.artifacts[name],
            reference_ids=refs,
            protected_answers_id=demo.transcripts["protected_probe_answers"],
            control_answers_id=demo.transcripts.get("human_probe_answers"),
            protected_model_id=demo.artifacts.get(protected),
            base_model_id=demo.artifacts.get(base) if base else None,
            harvested_id=demo.transcripts.get("harvested_exchanges"),
            regenerations_id=demo.transcripts.get("regenerations"),
        )
        report = run_checks(
            cf,
            demo.case_id,
            inputs,
            settings,
            state.sub(100 * i / (len(under_test) + 1), 100 * (i + 1) / (len(under_test) + 1)),
        )
        review.check_runs[name] = report
        verdicts = ", ".join(
            f"{k}: {_verdict(k, r.verdict, base)}"
            + (
                f" (p {r.details['p_text']})"  # the weight check's floor is a bound
                if k == "lineage" and "p_text" in (r.details or {})
                else f" (p = {r.p_value:.2g})"
                if r.p_value is not None
                else ""
            )
            for k, r in report.results.items()
        )
        log(f"Checked {name} against {len(refs)} references (run {report.run_id}): {verdicts}")
        log(f"  combined: {report.combined.statement}")
    state.set_status("Writing the report")
    out_dir.mkdir(parents=True, exist_ok=True)
    review.report = export_report(
        cf,
        demo.case_id,
        out_dir / "demo-report.pdf",
        json_path=out_dir / "demo-report.json",
        csv_dir=out_dir / "demo-report-csv",
        prepared_by="Distill Audit demonstration",
        state=state.sub(100 * len(under_test) / (len(under_test) + 1), 100),
    )
    log(f"Report: {out_dir / 'demo-report.pdf'} (SHA-256 {review.report.pdf_sha256})")
    log(f"Bundle: {out_dir / 'demo-report.json'}; CSV tables: {out_dir / 'demo-report-csv'}")
    state.set_progress(100)
    return review
