"""The PDF report: assembles the sections into one ReportLab platypus document.

Rendering is deterministic: ReportLab's invariant mode fixes the document's dates and
ids, fonts are embedded subsets of fixed files, and figures are metadata-free PNGs, so
the same :class:`ReportData` always gives the same bytes.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager

from reportlab import rl_config
from reportlab.platypus import Flowable, PageBreak

from core.reports import pdf_analysis, pdf_back, pdf_front
from core.reports.bundle import content_sha256
from core.reports.data import ReportData
from core.reports.pdf_layout import ReportTemplate, numbered_canvas, register_fonts
from core.reports.wording import REPORT_TITLE


def story(data: ReportData, content_hash: str) -> list[Flowable]:
    """Every flowable of the report, in order (sections start on a new page)."""
    figures = pdf_analysis.FigureCounter()
    sections: list[list[Flowable]] = [
        pdf_front.executive_summary(data),
        pdf_front.evidence(data),
        pdf_analysis.methods(data),
        pdf_analysis.validation(data, figures),
        pdf_analysis.results(data, figures),
        pdf_analysis.interpretation(data),
        pdf_back.contract_mapping(data),
        pdf_back.findings(data),
        pdf_back.hash_list(data, content_hash),
        pdf_back.audit_log(data),
        pdf_back.reproduction(data),
        pdf_back.glossary(data),
        pdf_back.not_adopted(data),
        pdf_back.certification(data, content_hash),
    ]
    out = pdf_front.cover(data, content_hash) + pdf_front.contents()
    for i, section in enumerate(sections):
        if i:
            out.append(PageBreak())
        out += section
    return out


def build_pdf(data: ReportData, content_hash: str | None = None) -> tuple[bytes, int]:
    """The report as PDF bytes and its page count; ``content_hash`` defaults to the data's."""
    register_fonts()
    content_hash = content_hash or content_sha256(data)
    buf = io.BytesIO()
    doc = ReportTemplate(
        buf,
        title=f"{REPORT_TITLE}: {data.case.reference} ({data.meta.report_id})",
        author=data.meta.prepared_by or "Distill Audit",
        subject=f"{data.case.title}; report content SHA-256 {content_hash}",
    )
    canvas = numbered_canvas(
        f"{data.case.reference}  ·  {data.case.title}"[:95],
        f"Report {data.meta.report_id}  ·  {data.meta.generated_at[:10]}",
        content_hash,
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
