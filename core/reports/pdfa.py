"""PDF/A-2b furniture for the report, as far as ReportLab allows.

ReportLab embeds the TrueType fonts (DejaVu, see :mod:`core.reports.pdf_layout`) and
writes a document ID; this module adds what PDF/A-2b asks for on top: an sRGB output
intent with its ICC profile, XMP metadata that repeats the document information and
declares ``pdfaid:part 2`` / ``conformance B``, and true creation and modification dates
(the export time recorded in the bundle as ``meta.generated_at``, so PDF and bundle agree).

Not done, because ReportLab cannot: a tagged structure tree (PDF/A level A, PDF/UA); the
report is therefore not marked as tagged. No veraPDF validation runs here; the tests check
what pypdf can read (fonts embedded, output intent, XMP identification, dates).
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from typing import Any
from xml.sax.saxutils import escape

from reportlab.pdfbase.pdfdoc import (
    XMP,
    PDFArray,
    PDFDictionary,
    PDFName,
    PDFStream,
    PDFString,
)

SRGB_ID = "sRGB IEC61966-2.1"
_ICC_DATE = bytes([0x07, 0xE6, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0])  # 2022-01-01 00:00:00


@lru_cache(maxsize=1)
def srgb_profile() -> bytes:
    """An sRGB ICC profile (LittleCMS via Pillow), with a fixed header date so that the
    PDF bytes stay reproducible."""
    from PIL import ImageCms

    icc = bytearray(ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes())
    icc[24:36] = _ICC_DATE  # creation date/time in the ICC header
    icc[84:100] = bytes(16)  # profile ID (an MD5 over the header) is optional: zero
    return bytes(icc)


def _parse(when: str) -> datetime:
    return datetime.fromisoformat(when.replace("Z", "+00:00"))


def pdf_date(when: str) -> str:
    """'2026-12-04T21:21:36.339Z' -> "D:20261204212136+00'00'" (UTC)."""
    return _parse(when).strftime("D:%Y%m%d%H%M%S+00'00'")


def xmp_date(when: str) -> str:
    return _parse(when).strftime("%Y-%m-%dT%H:%M:%SZ")


def xmp_packet(*, title: str, author: str, subject: str, producer: str, when: str) -> str:
    """The XMP metadata packet (dc, xmp, pdf and pdfaid schemas) matching the Info dict."""
    t, a, s, p = (escape(x) for x in (title, author, subject, producer))
    d = xmp_date(when)
    return f"""<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about=""
    xmlns:dc="http://purl.org/dc/elements/1.1/"
    xmlns:xmp="http://ns.adobe.com/xap/1.0/"
    xmlns:pdf="http://ns.adobe.com/pdf/1.3/"
    xmlns:pdfaid="http://www.aiim.org/pdfa/ns/id/">
   <dc:format>application/pdf</dc:format>
   <dc:title><rdf:Alt><rdf:li xml:lang="x-default">{t}</rdf:li></rdf:Alt></dc:title>
   <dc:creator><rdf:Seq><rdf:li>{a}</rdf:li></rdf:Seq></dc:creator>
   <dc:description><rdf:Alt><rdf:li xml:lang="x-default">{s}</rdf:li></rdf:Alt></dc:description>
   <xmp:CreateDate>{d}</xmp:CreateDate>
   <xmp:ModifyDate>{d}</xmp:ModifyDate>
   <xmp:MetadataDate>{d}</xmp:MetadataDate>
   <xmp:CreatorTool>Distill Audit</xmp:CreatorTool>
   <pdf:Producer>{p}</pdf:Producer>
   <pdf:Keywords></pdf:Keywords>
   <pdfaid:part>2</pdfaid:part>
   <pdfaid:conformance>B</pdfaid:conformance>
  </rdf:Description>
 </rdf:RDF>
</x:xmpmeta>
<?xpacket end="w"?>"""


def apply(canvas: Any, *, title: str, author: str, subject: str, when: str) -> None:
    """Add the output intent, XMP metadata, language and dates to a canvas before save."""
    doc = canvas._doc
    stamp = pdf_date(when)
    canvas.setDateFormatter(lambda *_: stamp)
    producer = str(doc.info.producer)
    packet = xmp_packet(title=title, author=author, subject=subject, producer=producer, when=when)
    catalog = doc.Catalog
    catalog.Metadata = XMP(creator=lambda _doc: packet.encode("utf-8"))
    icc = PDFStream(
        dictionary=PDFDictionary({"N": 3, "Alternate": PDFName("DeviceRGB")}),
        content=srgb_profile(),
    )
    intent = PDFDictionary(
        {
            "Type": PDFName("OutputIntent"),
            "S": PDFName("GTS_PDFA1"),
            "OutputConditionIdentifier": PDFString(SRGB_ID),
            "Info": PDFString(SRGB_ID),
            "RegistryName": PDFString("http://www.color.org"),
            "DestOutputProfile": doc.Reference(icc),
        }
    )
    catalog.OutputIntents = PDFArray([intent])
    catalog.Lang = PDFString("en")
    # PDFCatalog writes only the keys it lists; the output intents are one more.
    catalog.__NoDefault__ = [*type(catalog).__NoDefault__, "OutputIntents"]
