"""The PDF container around a drawn licence: a PDF 2.0 file meant to conform to PDF/A-4f
(ISO 19005-4:2020, conformance F for its attachment), with the machine-readable
``licence.json`` (an associated file, /AFRelationship /Data), XMP metadata and an sRGB
output intent; and reading the attachment back.

Why PDF/A-4 and not PDF/A-3: the seal is a PAdES signature made by pyHanko with a P-256
key, and pyHanko as shipped declares ISO/TS 32002 for such keys, which sets the document
to PDF 2.0 (a PDF/A-3 file must stay ISO 32000-1, PDF 1.x). PDF/A-4 is the part for PDF
2.0, where ETSI.CAdES.detached, document time-stamps and the DSS are core features.

PDF/A-4 allows no document information dictionary (6.1.3-4), so there is none: the XMP
packet is the one record of title, author, subject, keywords, producer and dates, and
pyHanko's incremental writer, finding no /Info, keeps only the XMP current when the seal
and its validation data are added. Written with pyHanko's writer (the seal room signs
with pyHanko, so its reader is the one that must accept the file). No validator
(veraPDF) runs here; tests check the clauses that apply to what we write.
"""

from __future__ import annotations

import datetime as dt
import io
import json
from functools import cache
from typing import Any

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.embed import EmbeddedFileObject, EmbeddedFileParams, FileSpec
from pyhanko.pdf_utils.generic import pdf_name, pdf_string
from pyhanko.pdf_utils.metadata.model import (
    ExpandedName,
    XmpStructure,
    XmpValue,
)
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.pdf_utils.writer import copy_into_new_writer

from certs.canonical import canonical_json, data_digest
from certs.errors import AttachmentError

ATTACHMENT_NAME = "licence.json"
ATTACHMENT_FORMAT = "certseal-licence/1"
MAX_ATTACHMENT_BYTES = 1_000_000
_PDFAID = "http://www.aiim.org/pdfa/ns/id/"
_PDF = "http://ns.adobe.com/pdf/1.3/"
PDFA_PART, PDFA_REVISION, PDFA_CONFORMANCE = "4", "2020", "F"


def attachment_envelope(type_code: str, type_name: str, licence_id: str, issuer_name: str,
                        issued_at: dt.datetime, data: dict[str, Any]) -> dict[str, Any]:
    """What ``licence.json`` holds: the data plus enough context to file it elsewhere."""
    return {
        "format": ATTACHMENT_FORMAT,
        "licence_id": licence_id,
        "type_code": type_code,
        "type_name": type_name,
        "issuer_name": issuer_name,
        "issued_at": issued_at.isoformat(),
        "data": data,
        "data_sha256": data_digest(data).hex(),
    }


@cache
def srgb_icc_profile() -> bytes:
    """An sRGB ICC profile from Pillow's bundled LittleCMS: no system file needed."""
    from PIL import ImageCms

    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def finish_document(pdf: bytes, envelope: dict[str, Any], *, title: str, author: str,
                    subject: str, keywords: tuple[str, ...], created: dt.datetime) -> bytes:
    # The drawing library's /Info is left behind (PDF/A-4 6.1.3-4): metadata is XMP only.
    writer = copy_into_new_writer(PdfFileReader(io.BytesIO(pdf)), writer_kwargs={"info": None})
    writer.ensure_output_version((2, 0))  # the %PDF-2.0 header PDF/A-4 requires (6.1.2)
    _attach(writer, canonical_json(envelope), created)
    _output_intent(writer)
    meta = writer.document_meta
    meta.title = title
    meta.author = author
    meta.subject = subject
    meta.creator = "certseal"
    meta.created = created
    meta.xmp_extra = [XmpStructure.of(
        (ExpandedName(_PDFAID, "part"), XmpValue(PDFA_PART)),
        (ExpandedName(_PDFAID, "rev"), XmpValue(PDFA_REVISION)),
        (ExpandedName(_PDFAID, "conformance"), XmpValue(PDFA_CONFORMANCE)),
        # pyHanko's own keywords field is written as pdf:keywords; the Adobe PDF schema
        # names it pdf:Keywords.
        (ExpandedName(_PDF, "Keywords"), XmpValue("; ".join(keywords))),
        (ExpandedName(_PDF, "Trapped"), XmpValue("False")),
    )]
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _attach(writer, payload: bytes, created: dt.datetime) -> None:
    stream = EmbeddedFileObject.from_file_data(
        writer, payload, mime_type="application/json",
        params=EmbeddedFileParams(creation_date=created, modification_date=created),
    )
    spec = FileSpec(file_spec_string=ATTACHMENT_NAME, file_name=ATTACHMENT_NAME,
                    embedded_data=stream, description="电子证照数据 / licence data (JSON)")
    spec_obj = spec.as_pdf_object()
    spec_obj["/AFRelationship"] = pdf_name("/Data")
    spec_ref = writer.add_object(spec_obj)
    root = writer.root
    names = generic.DictionaryObject({
        pdf_name("/EmbeddedFiles"): writer.add_object(generic.DictionaryObject({
            pdf_name("/Names"): generic.ArrayObject([pdf_string(ATTACHMENT_NAME), spec_ref]),
        })),
    })
    root["/Names"] = writer.add_object(names)
    root["/AF"] = writer.add_object(generic.ArrayObject([spec_ref]))
    writer.update_root()


def _output_intent(writer) -> None:
    icc = generic.StreamObject(
        dict_data={pdf_name("/N"): generic.NumberObject(3)}, stream_data=srgb_icc_profile()
    )
    icc.compress()
    intent = generic.DictionaryObject({
        pdf_name("/Type"): pdf_name("/OutputIntent"),
        pdf_name("/S"): pdf_name("/GTS_PDFA1"),
        pdf_name("/OutputConditionIdentifier"): pdf_string("sRGB IEC61966-2.1"),
        pdf_name("/Info"): pdf_string("sRGB IEC61966-2.1"),
        pdf_name("/DestOutputProfile"): writer.add_object(icc),
    })
    writer.root["/OutputIntents"] = generic.ArrayObject([writer.add_object(intent)])
    writer.update_root()


def extract_licence_data(pdf: bytes | PdfFileReader) -> dict[str, Any]:
    """The ``licence.json`` envelope embedded in a licence PDF (signed or not), given as
    bytes or as a pyHanko reader of them (a verifier has one open already: building
    another costs about a millisecond).

    Raises ``AttachmentError`` when the file is not a PDF, has no such attachment, or the
    attachment is not the JSON this room writes. The ``data_sha256`` is checked against
    the data so a caller can compare it with the QR digest.
    """
    try:
        reader = (pdf if isinstance(pdf, PdfFileReader)
                  else PdfFileReader(io.BytesIO(pdf), strict=False))
        names = reader.root["/Names"]["/EmbeddedFiles"]["/Names"]
        pairs = list(names)
    except Exception:  # pyHanko raises many types on malformed input
        raise AttachmentError("no embedded files in this PDF") from None
    for name, spec in zip(pairs[::2], pairs[1::2], strict=False):
        if str(name) != ATTACHMENT_NAME:
            continue
        try:
            stream = spec.get_object()["/EF"]["/F"].get_object()
            raw = stream.data
        except Exception:
            raise AttachmentError(f"{ATTACHMENT_NAME} cannot be read") from None
        if len(raw) > MAX_ATTACHMENT_BYTES:
            raise AttachmentError(f"{ATTACHMENT_NAME} is too large")
        try:
            envelope = json.loads(raw.decode("utf-8"))
        except ValueError:
            raise AttachmentError(f"{ATTACHMENT_NAME} is not UTF-8 JSON") from None
        if not isinstance(envelope, dict) or envelope.get("format") != ATTACHMENT_FORMAT:
            raise AttachmentError(f"{ATTACHMENT_NAME} is not a {ATTACHMENT_FORMAT} document")
        if data_digest(envelope.get("data")).hex() != envelope.get("data_sha256"):
            raise AttachmentError(f"{ATTACHMENT_NAME}: data does not match its data_sha256")
        return envelope
    raise AttachmentError(f"no {ATTACHMENT_NAME} attachment in this PDF")
