"""The plain records a report is made of: everything the PDF, JSON and CSV outputs show.

:func:`core.reports.gather.gather_report_data` fills a :class:`ReportData` from the case
file once; the PDF, the JSON bundle and the CSV tables are all rendered from it, so the
three can never disagree. Nothing here touches the database or holds an ORM object.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from core.checks.stats import jsonable

REPORT_FORMAT_VERSION = "1.0"


@dataclass
class ReportMeta:
    """Identification of this report (cover page)."""

    report_id: str
    report_version: int  # 1 for the first report exported for the case, 2 for the next, ...
    format_version: str
    generated_at: str  # ISO-8601 UTC, 'Z'
    tool_version: str
    prepared_by: str
    case_file: str  # file name of the case file (not its folder: reports travel)
    software: dict[str, str]


@dataclass
class CaseInfo:
    id: int
    reference: str
    title: str
    parties: list[str]
    commissioned_by: str
    status: str
    hypothesis_p: str
    hypothesis_d: str
    conduct_date: str | None
    created_at: str


@dataclass
class FileRecord:
    """One evidence file: the hash recorded at import and the fresh re-verification."""

    path: str  # relative to the artifact folder for models; the file path otherwise
    sha256: str
    size: int | None
    status: str  # ok | changed | missing
    actual_sha256: str | None


@dataclass
class EvidenceRecord:
    """One item of evidence (a model, a transcript set or a terms-of-service document)."""

    kind: str  # model | transcripts | policy
    id: int
    label: str  # short cross-reference used throughout the report: M1, T1, P1
    name: str
    role: str
    format: str
    source: str
    collector: str
    collected_at: str | None
    imported_by: str
    imported_at: str
    sha256: str  # manifest digest for models, file hash otherwise
    size: int | None
    path: str
    description: str
    files: list[FileRecord] = field(default_factory=list)
    verification: str = "ok"  # ok | changed | missing
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class VerificationInfo:
    """The fresh re-hash of every evidence file made while the report was produced."""

    performed_at: str
    files_checked: int
    ok: bool
    problems: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class ChainInfo:
    """The audit chain as verified at export (before this export's own event)."""

    ok: bool
    events: int
    head_hash: str
    head_event_id: int | None
    first_broken_id: int | None
    problem: str


@dataclass
class ProbeSuite:
    name: str
    version: str
    count: int | None
    sha256: str


@dataclass
class InputRef:
    """A model or transcript set a run used, as recorded in ``Run.inputs``."""

    role: str
    label: str  # M1/T1 where resolved to case evidence, else ""
    name: str
    sha256: str


@dataclass
class ResultRow:
    """One ``Result`` row (or one reference comparison of a check summary)."""

    id: int | None
    metric: str
    comparison: str
    value: float | None
    ci_low: float | None
    ci_high: float | None
    p_value: float | None
    p_adjusted: float | None
    n: int | None
    effect_size: float | None
    effect_name: str
    n_resamples: Any
    method: str


@dataclass
class ProbeSeries:
    """Per-probe values of one model (the suspect or a reference) for the charts."""

    name: str
    role: str  # suspect | reference
    probe_ids: list[str]
    values: list[float]


@dataclass
class ProbeValue:
    """One per-probe value in long form (the per-probe CSV): probe, measure, model, value."""

    probe_id: str
    measure: str  # e.g. affinity_bits_per_byte, similarity, hits
    model: str  # "suspect" or a reference model's label ("" for per-probe facts)
    value: Any


@dataclass
class CheckRecord:
    """A check run: its specification, its inputs, its statistics and its per-probe data."""

    run_id: int
    kind: str
    key: str
    title: str
    question: str
    access: str
    null_hypothesis: str
    alternative: str
    test: str
    min_effect: float | None
    status: str
    verdict: str
    reason: str
    strength: str
    statistic: float | None
    effect_size: float | None
    ci_low: float | None
    ci_high: float | None
    p_value: float | None
    p_family: float | None  # Holm-adjusted over the checks in this report
    n_probes: int | None
    n_references: int | None
    alpha: float
    seed: int | None
    probe_suite: ProbeSuite | None
    references: list[str]
    inputs: list[InputRef]
    software: dict[str, Any]
    parameters: dict[str, Any]
    started_at: str | None
    finished_at: str | None
    error: str | None
    command: str | None  # the CLI call recorded by the run, if any
    score_label: str  # what the per-probe values measure (axis label of the figure)
    unit: str
    warnings: list[str]
    results: list[ResultRow] = field(default_factory=list)
    series: list[ProbeSeries] = field(default_factory=list)
    probe_values: list[ProbeValue] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)  # the check's own extras (as stored)
    p_floor: float | None = None  # smallest p the verdict's test can give (printed as "≤")
    p_per_probe: float | None = None  # largest per-reference per-probe p (descriptive)
    test_used: str = ""  # the model-level test that decided: "predictive" or "rank"
    panel_needed: int | None = None  # references the rank test needs (the one panel number)

    @property
    def completed(self) -> bool:
        return self.status == "done"


@dataclass
class CombinedInfo:
    """A check run's combined result: Holm over its checks' p-values (as the run stored it)."""

    run_id: int
    statement: str
    method: str
    limit: str
    alpha: float
    tested: int
    supporting: list[str]
    not_tested: list[str]
    excluded: dict[str, str]
    signal_note: str = ""  # which checks share a signal (not independent lines of evidence)


@dataclass
class CalibrationRow:
    """A measured error rate of a check: detection (power) or false-positive rate."""

    run_id: int
    check: str
    quantity: str  # detection | false_positive
    condition: str
    samples: int | None  # distillation samples the students saw (detection rows)
    k: int | None
    n: int | None
    rate: float
    ci_low: float | None
    ci_high: float | None
    ci_method: str


@dataclass
class RunBrief:
    """A calibration or experiment run as listed in the methods and validation sections."""

    run_id: int
    kind: str
    status: str
    seed: int | None
    parameters: dict[str, Any]
    software: dict[str, Any]
    command: str | None
    started_at: str | None
    finished_at: str | None


@dataclass
class FindingRecord:
    id: int
    statement: str
    strength: str
    status: str
    reviewer: str
    reviewer_notes: str
    run_ids: list[int]
    clause_link_ids: list[int]
    created_at: str
    updated_at: str


@dataclass
class ClauseLinkRecord:
    """A finding linked to a terms-of-service clause, with the version in force."""

    id: int
    finding_id: int
    finding_status: str
    provider: str
    document: str
    version: str
    effective_from: str | None
    effective_to: str | None
    policy_sha256: str
    policy_label: str
    conduct_date: str | None
    in_force_note: str
    clause_number: str
    clause_heading: str
    categories: list[str]
    quotation: str
    quotation_truncated: bool
    note: str


@dataclass
class AuditRow:
    id: int
    at: str
    actor: str
    action: str
    entity: str
    entity_id: str | None
    details: Any
    prev_hash: str
    hash: str


@dataclass
class ReproStep:
    label: str
    command: str
    source: str  # recorded (stored with the run) | reconstructed (from its parameters) | parameters


@dataclass
class ReportData:
    """Everything in a report; the single source for the PDF, the JSON bundle and the CSV."""

    meta: ReportMeta
    case: CaseInfo
    questions: list[str]
    evidence: list[EvidenceRecord]
    verification: VerificationInfo
    chain: ChainInfo
    checks: list[CheckRecord]
    combined: list[CombinedInfo]
    calibration: list[CalibrationRow]
    calibration_runs: list[RunBrief]
    experiments: list[RunBrief]
    findings: list[FindingRecord]
    clause_links: list[ClauseLinkRecord]
    audit: list[AuditRow]
    reproduction: list[ReproStep]
    limitations: list[str]
    main_limitation: str
    verbal_scale: list[dict[str, Any]]
    glossary: list[dict[str, str]]
    notes: dict[str, str]  # section key -> why the section has no data
    # calibrations of the case's own procedure: rates per group, FPR bound, measured LR
    # (core.reports.calibration_lr)
    calibration_lr: list[dict[str, Any]] = field(default_factory=list)
    examiner: ExaminerDetails = field(default_factory=lambda: ExaminerDetails())
    terms_in_force: list[TermsInForce] = field(default_factory=list)
    opinion: Opinion | None = None
    # the API-traffic conduct (core.reports.conduct); None when no analysis was recorded
    conduct: Conduct | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON data (NaN and infinities become null)."""
        return jsonable(self)

    # Convenience views used by several renderers -------------------------------
    def findings_with_status(self, status: str) -> list[FindingRecord]:
        return [f for f in self.findings if f.status == status]

    def evidence_label(self, kind: str, id_: int) -> str:
        for e in self.evidence:
            if e.kind == kind and e.id == id_:
                return e.label
        return ""


@dataclass
class ExaminerDetails:
    """Who gives the opinion and on what instructions (FRCP 26(a)(2)(B), CPR 35 / PD 35).

    The case file has no fields for these, so they come with the export (CLI flags, a YAML
    file or the GUI's export dialog); an empty field prints as a marked blank to complete.
    """

    name: str = ""
    qualifications: str = ""
    instructions: str = ""
    organisation: str = ""
    independence: str = ""  # empty: the standard statement of wording.INDEPENDENCE


@dataclass
class TermsClause:
    """One clause of the version in force that concerns the conduct examined, verbatim."""

    number: str
    heading: str
    text: str  # the clause's full text as stored (white space normalised), never cut
    categories: list[str]  # taxonomy category ids
    category_labels: list[str]
    finding_ids: list[int]  # accepted findings linked to this clause


@dataclass
class TermsInForce:
    """A provider's document as in force on the conduct date (core.policy's in-force lookup)."""

    provider: str
    document: str
    version: str
    effective_from: str | None
    effective_to: str | None
    conduct_date: str
    policy_label: str
    policy_sha256: str
    versions_considered: list[str]
    clauses: list[TermsClause] = field(default_factory=list)


@dataclass
class ModelOpinion:
    """What the checks of one run say about one model under test (page one of the report)."""

    run_id: int
    model: str
    label: str  # M3, ...
    role: str  # suspect | control | other party
    role_text: str
    checks: list[str]  # titles of the checks that produced a result
    supporting: list[str]  # titles of the checks at Holm-adjusted p <= alpha
    family_p: float | None
    family_p_text: str
    family_n: int  # checks in the Holm family
    harvest_p: float | None
    harvest_p_text: str
    harvest_n: int | None
    alpha: float
    shows: str
    does_not_show: str


@dataclass
class Opinion:
    """Page one: the opinion per model under test, and what was left out of it."""

    models: list[ModelOpinion]
    accepted_findings: int
    drafts_left_out: int
    rejected_left_out: int
    runs_included: list[int]
    runs_left_out: dict[str, str]  # run id -> why it is not in this report
    error_rates: str


@dataclass
class ConductClause:
    """A clause in force on a conduct date whose category the campaign's conduct concerns."""

    conduct_date: str
    version: str
    number: str
    heading: str
    text: str  # full text as stored (white space normalised)
    category: str
    category_label: str
    reasons: list[str]  # what the analysis measured that concerns this category


@dataclass
class ConductCampaign:
    """One flagged campaign of the recorded traffic analysis, as the report shows it."""

    id: str
    accounts: list[str]
    requests: int
    first_seen: str
    last_seen: str
    input_tokens: int
    output_tokens: int
    estimated_cost: float
    currency: str
    price_key: str
    price_as_of: str
    links: dict[str, int]
    indicators: list[dict[str, Any]]  # name, value, threshold, fired, counts, meaning
    fired: list[str]
    daily_requests: dict[str, int]
    clauses: list[ConductClause]
    unmapped: list[str]  # fired indicators no clause category covers


@dataclass
class Conduct:
    """The latest recorded traffic analysis of the case (audit event ``traffic.analysis``)."""

    event_id: int
    recorded_at: str
    engine: str
    parameters: dict[str, Any]
    candidates: int
    campaigns: list[ConductCampaign]
    validation: dict[str, Any] | None  # precision/recall on labelled logs, with its source
