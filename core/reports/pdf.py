"""The PDF report: assembles the sections into one ReportLab platypus document.

Rendering is deterministic: ReportLab's invariant mode fixes the document's ids, the
creation and modification dates are the export time recorded in the data
(``meta.generated_at``, see :mod:`core.reports.pdfa`), fonts are embedded subsets of fixed
files and figures are metadata-free PNGs, so the same :class:`ReportData` always gives the
same bytes. The signer post-processes the bytes :func:`build_pdf` returns.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager

from reportlab import rl_config
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import CondPageBreak, Flowable, PageBreak

from core.reports import pdf_analysis, pdf_back, pdf_conduct, pdf_front, pdf_opinion, pdfa
from core.reports.bundle import content_sha256
from core.reports.data import ReportData
from core.reports.pdf_layout import ReportTemplate, numbered_canvas, register_fonts
from core.reports.wording import REPORT_TITLE


def story(data: ReportData, content_hash: str) -> list[Flowable]:
    """Every flowable of the report, in order: the opinion on page one, then the body,
    then the appendices (each appendix starts on a new page; body sections flow on)."""
    figures = pdf_analysis.FigureCounter()
    body: list[list[Flowable]] = [
        pdf_opinion.declarations(data),
        pdf_opinion.terms(data),
        pdf_analysis.checks_section(data, figures, "4"),
        pdf_analysis.validation(data, figures, "5"),
        pdf_analysis.interpretation(data, "6"),
        pdf_back.findings(data, "7"),
        pdf_front.evidence(data, "8"),
        pdf_conduct.conduct(data, figures, "9"),
    ]
    appendices: list[list[Flowable]] = [
        pdf_back.evidence_items(data, content_hash),
        pdf_back.run_parameters(data) + pdf_analysis.comparisons_appendix(data, "B.2"),
        pdf_back.audit_log(data),
        pdf_back.reproduction(data),
        pdf_back.glossary(data) + pdf_back.not_adopted(data),
    ]
    out = pdf_opinion.opinion(data) + [CondPageBreak(90 * mm)] + pdf_front.contents()
    for section in body:
        out += section
    for section in appendices:
        out.append(PageBreak())
        out += section
    return out


def build_pdf(data: ReportData, content_hash: str | None = None) -> tuple[bytes, int]:
    """The report as PDF bytes and its page count; ``content_hash`` defaults to the data's."""
    register_fonts()
    content_hash = content_hash or content_sha256(data)
    buf = io.BytesIO()
    title = f"{REPORT_TITLE}: {data.case.reference} ({data.meta.report_id})"
    author = data.examiner.name or data.meta.prepared_by or "Distill Audit"
    subject = f"{data.case.title}; report content SHA-256 {content_hash}"
    doc = ReportTemplate(buf, title=title, author=author, subject=subject)
    when = data.meta.generated_at

    def archival(canvas: Canvas) -> None:
        pdfa.apply(canvas, title=title, author=author, subject=subject, when=when)

    canvas = numbered_canvas(
        f"{data.case.reference}  ·  {data.case.title}"[:95],
        f"Report {data.meta.report_id}  ·  {data.meta.generated_at[:10]}",
        content_hash,
        archival,
    )
    with _binary_streams():
        doc.multiBuild(story(data, content_hash), canvasmaker=canvas)
    return buf.getvalue(), doc.page


@contextmanager
def _binary_streams() -> Iterator[None]:
    """Compressed streams without ASCII85 armour: smaller files, faster export."""
    old = rl_config.useA85
    rl_config.useA85 = 0
    try:
        yield
    finally:
        rl_config.useA85 = old


def render_pdf(data: ReportData, content_hash: str | None = None) -> bytes:
    """The report as PDF bytes (see :func:`build_pdf`)."""
    return build_pdf(data, content_hash)[0]
