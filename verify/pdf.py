"""Verify a sealed licence PDF (PAdES B-LT, one certification signature named "Seal").

Order of work: bound the input → read it (unreadable: UnusableInput) → exactly one
signature → pyHanko's async validation at the signature time-stamp's time with trust roots
from the trust lists and revocation data from the DSS only (no fetching: "at signing
time") → changes after signing denied unless pyHanko's difference analysis finds nothing
but validation data and document time-stamps → the chain's place in the trust lists at the
signing time → the seal certificate's status now → the licence data and the QR code of the
signed revision, checked against each other and the signature.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import logging
import re
import zlib
from typing import Any

from asn1crypto import x509 as asn1_x509
from pyhanko.pdf_utils import filters as _pyhanko_decoders
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.diff_analysis import ModificationLevel
from pyhanko.sign.fields import enumerate_sig_fields
from pyhanko.sign.validation import async_validate_pdf_signature, async_validate_pdf_timestamp
from pyhanko.sign.validation.dss import DocumentSecurityStore
from pyhanko.sign.validation.settings import KeyUsageConstraints
from pyhanko.sign.validation.status import PdfSignatureStatus, SignatureCoverageLevel
from pyhanko_certvalidator import ValidationContext

from certs.canonical import data_digest
from certs.document import extract_licence_data
from certs.errors import AttachmentError, InvalidIdentifier, QrPayloadError
from certs.identifiers import mask_identifier, validate_resident_id
from certs.licence_id import parse_licence_id
from certs.qr import decode_qr_payload
from verify.certificates import CertificateFacts
from verify.chain import place, trust_list_check, trust_list_freshness
from verify.context import VerificationContext
from verify.errors import InputTooLarge, NotSigned, UnusableInput
from verify.licence import licence_status_check, revocation_now_check, validity_check
from verify.pdf_layout import (
    LayoutViolation,
    SignedRevision,
    check_trailing_bytes,
    signed_revision_of,
)
from verify.pdf_parsers import ParsersDisagree, compare_parsers
from verify.pdf_qr import qr_texts_of_first_page
from verify.qr import signature_check
from verify.report import (
    Check,
    InputKind,
    VerificationReport,
    failed,
    passed,
    undecided,
)

log = logging.getLogger("verify.pdf")
SEAL_FIELD_NAME = "Seal"
_ALLOWED_LATER = (ModificationLevel.NONE, ModificationLevel.LTA_UPDATES)
# pyHanko sub-indications that mean "revocation data missing or out of bounds", i.e.
# cannot decide, as opposed to a chain that is wrong.
_REVINFO_PROBLEMS = {"TRY_LATER", "REVOCATION_OUT_OF_BOUNDS_NO_POE", "OUT_OF_BOUNDS_NO_POE",
                     "NO_POE", "OUT_OF_BOUNDS_NOT_REVOKED"}
_DEFLATE_MAX_RATIO = 1100  # deflate's worst case is ~1032:1
_SEAL_KEY_USAGE = KeyUsageConstraints(key_usage={"non_repudiation", "digital_signature"},
                                      match_all_key_usages=False)


# A signature dictionary's traces: its ByteRange, or a long hex /Contents (a CMS value).
_SIGNATURE_MARK = re.compile(rb"/ByteRange\s*\[\s*\d+\s+\d+\s+\d+\s+\d+\s*\]"
                             rb"|/Contents\s*<[0-9A-Fa-f]{512}")


class DamagedSignedPdf(UnusableInput):
    """A file that was a signed PDF (it carries a signature's traces) but no longer
    parses: truncated or cut about. ``verify_pdf`` judges it a forgery, not garbage."""

    code = "damaged_signed_pdf"


def open_pdf(data: bytes, context: VerificationContext) -> PdfFileReader:
    """A bounded, readable PDF with at least one signature field; UnusableInput otherwise."""
    limits = context.limits
    if not data:
        raise UnusableInput("the file is empty")
    if len(data) > limits.max_pdf_bytes:
        raise InputTooLarge(f"PDF larger than {limits.max_pdf_bytes} bytes")
    if b"%PDF-" not in data[:1024]:
        raise UnusableInput("not a PDF (no %PDF- header)")
    try:
        reader = PdfFileReader(io.BytesIO(data), strict=False)
        revisions = reader.xrefs.total_revisions
        objects = sum(1 for _ in reader.xrefs.explicit_refs_in_revision(revisions - 1))
    except Exception as exc:  # pyHanko raises many types on malformed files
        log.info("unreadable PDF: %s: %s", type(exc).__name__, exc)
        if _SIGNATURE_MARK.search(data):
            raise DamagedSignedPdf(f"a signed PDF that cannot be read ({type(exc).__name__})"
                                   ) from None
        raise UnusableInput(f"the PDF cannot be read ({type(exc).__name__})") from None
    if revisions > limits.max_revisions:
        raise InputTooLarge(f"PDF has {revisions} revisions (limit {limits.max_revisions})")
    if objects > limits.max_objects:
        raise InputTooLarge(f"PDF has {objects} objects (limit {limits.max_objects})")
    _refuse_decompression_bombs(reader, context)
    if not _signature_fields(reader):
        if _SIGNATURE_MARK.search(data):
            # A signature's traces without a readable signature field: the field or form
            # dictionaries were damaged, which is tampering, not an unsigned document.
            raise DamagedSignedPdf("a signed PDF whose signature field cannot be read")
        raise NotSigned("the PDF carries no signature: it is not a sealed licence")
    return reader


def _refuse_decompression_bombs(reader: PdfFileReader, context: VerificationContext) -> None:
    """Before pyHanko decodes any stream in full, find what every stream could decode to
    and refuse the file when one stream (or all together) would pass the limits. Every
    revision's bodies count, also those a later revision replaced.

    A stream whose filters cannot expand it past the per-stream limit (deflate at most
    ~1032:1, ASCII85 4:1) needs no look while the worst cases of all such streams
    together stay within the total; the others are decoded stage by stage as pyHanko would,
    inflating with a bounded output and, for a final inflate, counting bytes without
    keeping them. The size a stream decodes to is a fact of its encoded bytes and
    filters, so the context's cache keeps it by their digest: a seal image repeats on every
    licence of a department."""
    limits = context.limits
    total = 0  # what the streams looked at decode to
    unlooked = 0  # what the others could decode to at worst
    skipped: list[tuple[bytes, tuple[str, ...]]] = []
    xrefs = reader.xrefs
    last = xrefs.total_revisions - 1
    for revision in range(xrefs.total_revisions):
        for ref in xrefs.explicit_refs_in_revision(revision):
            try:
                if revision != last and xrefs.get_historical_ref(ref, revision) != xrefs[ref]:
                    # A body a later revision replaced (or freed): the difference analysis
                    # and the signed revision's own reader still read it.
                    obj = reader.get_object(ref, revision=revision)
                else:
                    obj = reader.get_object(ref)
            except Exception:  # noqa: S112 - unreadable objects are judged later, by validation
                continue
            if not isinstance(obj, generic.StreamObject):
                continue
            filters = obj.get("/Filter")
            if filters is None:
                continue
            names = tuple(str(f) for f in filters) if isinstance(filters, list) else (
                str(filters),)
            decodable = _decodable_prefix(names)
            encoded = obj.encoded_data
            worst = len(encoded)
            for name in decodable:
                worst *= _WORST_RATIO[name]
            if (worst <= limits.max_stream_bytes
                    and total + unlooked + worst <= limits.max_decoded_bytes):
                unlooked += worst  # cannot pass a limit: not worth decoding here
                skipped.append((encoded, decodable))
                continue
            total += _decoded_size(encoded, decodable, context)
            if total + unlooked > limits.max_decoded_bytes:
                # The worst cases no longer fit beside it: look at the skipped ones too.
                total += sum(_decoded_size(e, d, context) for e, d in skipped)
                unlooked, skipped = 0, []
            if total > limits.max_decoded_bytes:
                raise InputTooLarge(f"streams inflate past {limits.max_decoded_bytes} bytes")


# What pyHanko decodes (pyhanko.pdf_utils.filters.DECODERS) and how far each can expand
# its input at worst: deflate ~1032:1, ASCII85's "z" four zero bytes for one character.
_WORST_RATIO = {"/FlateDecode": _DEFLATE_MAX_RATIO, "/Fl": _DEFLATE_MAX_RATIO,
                "/ASCII85Decode": 4, "/A85": 4, "/ASCIIHexDecode": 1, "/AHx": 1}
_COUNT_CHUNK = 256 * 1024


def _decodable_prefix(names: tuple[str, ...]) -> tuple[str, ...]:
    """The filters pyHanko applies before it stops at one it does not know."""
    known = []
    for name in names:
        if name not in _WORST_RATIO:
            break
        known.append(name)
    return tuple(known)


def _decoded_size(encoded: bytes, names: tuple[str, ...], context: VerificationContext) -> int:
    """What ``encoded`` decodes to through ``names`` (bytes), or InputTooLarge once any
    stage passes ``limits.max_stream_bytes``; 0 for data no filter can decode (broken
    data is the signature's business, not a bomb)."""
    limits = context.limits
    # The limit is part of the key: a size found under one limit ("past it") says nothing
    # under a larger one.
    size = context.cached(
        ("decoded-size", hashlib.sha256(encoded).digest(), names, limits.max_stream_bytes),
        lambda: _decode_bounded(encoded, names, limits.max_stream_bytes))
    if size > limits.max_stream_bytes:
        raise InputTooLarge(f"a stream inflates past {limits.max_stream_bytes} bytes")
    return size


def _decode_bounded(data: bytes, names: tuple[str, ...], limit: int) -> int:
    """The decoded size, or ``limit + 1`` as soon as a stage would pass ``limit``."""
    for position, name in enumerate(names):
        if _WORST_RATIO[name] == _DEFLATE_MAX_RATIO:
            keep = position < len(names) - 1  # a later filter needs the bytes
            try:
                size, data = _inflate_bounded(data, limit, keep=keep)
            except zlib.error:
                return 0
            if size > limit or not keep:
                return size
        else:
            if len(data) * _WORST_RATIO[name] > limit:
                return limit + 1
            try:
                data = _pyhanko_decoders.DECODERS[name]().decode(data, None)
            except Exception:  # pyHanko cannot decode it either: nothing to inflate
                return 0
    return len(data)


def _inflate_bounded(data: bytes, limit: int, *, keep: bool) -> tuple[int, bytes]:
    """The size ``data`` inflates to (``limit + 1`` once past ``limit``), inflated in
    chunks; the bytes too when ``keep``, else nothing is held beyond one chunk."""
    inflater = zlib.decompressobj()
    kept: list[bytes] = []
    size, pending = 0, data
    while True:
        out = inflater.decompress(pending, _COUNT_CHUNK)
        size += len(out)
        if size > limit:
            return limit + 1, b""
        if keep:
            kept.append(out)
        pending = inflater.unconsumed_tail
        if inflater.eof or (not pending and not out):
            return size, b"".join(kept)


def _signature_fields(reader: PdfFileReader) -> list[str]:
    """Names of the signature fields that hold a value (read without parsing the CMS, so
    a document whose signature was gutted still counts as signed, and so as forged)."""
    try:
        fields = reader.root["/AcroForm"]["/Fields"]
        found = []
        for ref in list(fields)[:64]:
            field = ref.get_object()
            if field.get("/FT") == "/Sig" and field.get("/V") is not None:
                found.append(str(field.get("/T", "")))
        return found
    except Exception:  # no AcroForm or a malformed one: no signature fields
        return []


async def verify_pdf(data: bytes, context: VerificationContext) -> VerificationReport:
    now = context.now()
    checks: list[Check] = [trust_list_freshness(context, now)]
    try:
        reader = open_pdf(data, context)
    except DamagedSignedPdf as exc:
        checks.append(failed("signature.integrity", "已签名文件被截断或损坏",
                             f"the signed document was truncated or damaged: {exc}"))
        return _report(checks, context, now)
    try:
        signatures = reader.embedded_signatures
    except Exception as exc:  # a signature field whose value pyHanko cannot parse
        log.info("signature unreadable: %s: %s", type(exc).__name__, exc)
        signatures = []
    regular = [s for s in signatures if s.sig_object_type == "/Sig"]
    if not regular or len(signatures) > context.limits.max_signatures:
        checks.append(failed("signature.integrity", "签名已损坏或被替换，无法解析",
                             "the signature is damaged or was replaced: it cannot be parsed",
                             fields=_signature_fields(reader)))
        return _report(checks, context, now)
    try:
        layouts = _layouts(data, reader, signatures)
    except LayoutViolation as exc:
        checks.append(failed("signature.layout", "签名的字节布局不符合规范：文件在签署后被改动",
                             f"the signed bytes are not laid out as a genuine signature's: "
                             f"{exc}", rule=exc.rule))
        return _report(checks, context, now)
    checks.append(passed("signature.layout",
                         "每个签名覆盖其完整的签署版本，签署后仅有可识别的增量更新",
                         "each signature covers exactly its signed revision; later bytes are "
                         "whole revisions"))
    seal = regular[0]
    signed = layouts[id(seal)]
    try:
        compare_parsers(data, reader)
        if signed.end != len(data):
            compare_parsers(data[:signed.end], signed.reader)
    except ParsersDisagree as exc:
        checks.append(failed("document.parsers_agree",
                             "不同的PDF解析器读出不同的内容：文件经过篡改",
                             f"two independent PDF parsers read different documents: {exc}"))
        return _report(checks, context, now)
    checks.append(passed("document.parsers_agree", "两种独立的PDF解析器读出相同的文件内容",
                         "two independent PDF parsers read the same document"))
    filled = sum(1 for _ in enumerate_sig_fields(reader, filled_status=True))
    if len(regular) == 1 and seal.field_name == SEAL_FIELD_NAME and filled == len(signatures):
        checks.append(passed("signature.count", "文件含一个电子印章签名",
                             "the document carries exactly one seal signature"))
    else:
        checks.append(failed("signature.count", "签名数量或名称不符（应仅有一个电子印章签名）",
                             "the document must carry exactly one signature, the seal, and "
                             "nothing but document time-stamps besides "
                             f"(found {[s.field_name for s in regular]}, {filled} filled "
                             f"signature fields, {len(signatures)} readable)"))
    signing_time = _timestamp_time(seal)
    moment = signing_time or now
    dss = _read_dss(reader)
    status = await _validate(seal, dss, context, moment)
    if status is None:
        checks.append(failed("signature.integrity", "签名结构损坏，无法验证",
                             "the signature is malformed and cannot be validated"))
        return _report(checks, context, now)

    certificate = context.certificate(status.signing_cert.dump())
    placement = place(certificate, context)
    checks += _integrity_checks(status, seal, signed, len(data))
    checks += _trust_checks(status, certificate, context, placement, moment)
    for timestamp in signatures:
        if timestamp.sig_object_type == "/DocTimeStamp":
            checks.append(await _document_timestamp_check(timestamp, dss, context, now))
    checks.append(await revocation_now_check(certificate, placement.issuer, context,
                                             embedded_ocsp=_embedded_ocsp(dss)))
    licence, more = await _content_checks(reader, signed.reader, certificate, context, now)
    checks += more
    return _report(checks, context, now, licence=licence, signer=certificate.signer,
                   trust=placement.trust,
                   signing_time=signing_time if status.timestamp_validity else None)


def _layouts(data: bytes, reader: PdfFileReader, signatures) -> dict[int, SignedRevision]:
    """Each signature's signed revision, by the rules of verify.pdf_layout, and the bytes
    after the earliest of them; LayoutViolation when any rule fails."""
    found: dict[int, SignedRevision] = {}
    for signature in signatures:
        value = signature.sig_field.raw_get("/V")
        if not isinstance(value, generic.IndirectObject):
            raise LayoutViolation("dictionary", "a signature dictionary is not an indirect "
                                  "object")
        found[id(signature)] = signed_revision_of(data, reader, value.reference,
                                                  signature.sig_object,
                                                  signature.pkcs7_content)
    check_trailing_bytes(data, reader, min(layout.end for layout in found.values()))
    return found


def _report(checks, context, now, **facts) -> VerificationReport:
    return VerificationReport(kind=InputKind.PDF, checks=tuple(checks), verified_at=now,
                              offline=context.offline, **facts)


def _timestamp_time(seal) -> dt.datetime | None:
    """genTime of the signature time-stamp token (checked later by pyHanko)."""
    try:
        for attr in seal.signer_info["unsigned_attrs"]:
            if attr["type"].native == "signature_time_stamp_token":
                token = attr["values"][0]
                tst = token["content"]["encap_content_info"]["content"].parsed
                return tst["gen_time"].native
    except Exception:  # malformed attributes: no time, and the timestamp check fails
        return None
    return None


def _read_dss(reader: PdfFileReader) -> DocumentSecurityStore | None:
    try:
        return DocumentSecurityStore.read_dss(reader)
    except Exception:  # no DSS, or a malformed one: validation then lacks revocation data
        return None


def _embedded_ocsp(dss: DocumentSecurityStore | None) -> tuple[bytes, ...]:
    if dss is None:
        return ()
    found = []
    for ref in list(dss.ocsps)[:16]:
        try:
            found.append(ref.get_object().data)
        except Exception as exc:  # an unreadable entry is simply not used
            log.info("unreadable DSS OCSP entry: %s", type(exc).__name__)
    return tuple(found)


def _validation_context(dss: DocumentSecurityStore | None, context: VerificationContext,
                        moment: dt.datetime) -> ValidationContext:
    # The roots as pyHanko takes them: a fact of the trust lists alone, so built once per
    # context's lists (pyHanko only reads them; a fresh ValidationContext every time).
    roots = list(context.cached("asn1-roots", lambda: tuple(
        asn1_x509.Certificate.load(c.der) for c in context.root_certificates())))
    kwargs: dict[str, Any] = {"trust_roots": roots, "allow_fetching": False,
                              "revocation_mode": "hard-fail", "moment": moment,
                              "ocsps": [], "crls": []}
    return dss.as_validation_context(kwargs) if dss is not None else ValidationContext(
        **kwargs)


async def _validate(seal, dss: DocumentSecurityStore | None, context: VerificationContext,
                    moment: dt.datetime) -> PdfSignatureStatus | None:
    try:
        vc = _validation_context(dss, context, moment)
        return await async_validate_pdf_signature(
            seal, signer_validation_context=vc, ts_validation_context=vc,
            key_usage_settings=_SEAL_KEY_USAGE)
    except Exception as exc:  # malformed CMS, ByteRange, DSS: a forged or broken file
        log.info("signature validation failed: %s: %s", type(exc).__name__, exc)
        return None


def _integrity_checks(status: PdfSignatureStatus, seal, signed: SignedRevision,
                      size: int) -> list[Check]:
    checks = []
    if status.intact and status.valid:
        checks.append(passed("signature.integrity", "签名完整，文件签名后内容未被改动",
                             "the signature is cryptographically sound over the signed bytes",
                             md_algorithm=status.md_algorithm))
    else:
        checks.append(failed("signature.integrity", "签名校验失败：文件内容已被篡改",
                             "the signature does not match the signed bytes: the document "
                             "was altered", intact=status.intact, valid=status.valid))
    coverage = status.coverage
    # pyHanko judges "entire file" by the file's size alone; the layout rules say where
    # the signed revision ends, and the two must agree.
    expected = (SignatureCoverageLevel.ENTIRE_FILE if signed.end == size
                else SignatureCoverageLevel.ENTIRE_REVISION)
    if coverage is not expected:
        checks.append(failed("signature.coverage", "签名未覆盖完整的文件版本",
                             "the signature does not cover a whole revision of the file",
                             coverage=coverage.name if coverage else None))
    elif coverage is SignatureCoverageLevel.ENTIRE_FILE:
        checks.append(passed("signature.coverage", "签名覆盖整个文件",
                             "the signature covers the entire file"))
    elif coverage is SignatureCoverageLevel.ENTIRE_REVISION:
        checks.append(passed("signature.coverage", "签名覆盖其签署的版本，其后有增量更新",
                             "the signature covers its revision; later updates follow",
                             coverage=coverage.name))
    else:
        checks.append(failed("signature.coverage", "签名未覆盖完整的文件版本",
                             "the signature does not cover a whole revision of the file",
                             coverage=coverage.name if coverage else None))
    level = status.modification_level
    certified = seal.docmdp_level is not None
    if coverage is SignatureCoverageLevel.ENTIRE_FILE and level is ModificationLevel.NONE:
        checks.append(passed("signature.modifications", "签名后无任何修改",
                             "nothing was changed after signing", certified=certified))
    elif level in _ALLOWED_LATER and status.docmdp_ok:
        checks.append(passed("signature.modifications", "签名后仅添加了验证数据或文档时间戳",
                             "after signing only validation data or document time-stamps "
                             "were added", level=level.name))
    else:
        checks.append(failed("signature.modifications", "签名后文件被修改（内容、注释或表单）",
                             "the document was modified after signing (content, annotations "
                             "or form fields)", level=level.name if level else None,
                             docmdp_ok=status.docmdp_ok))
    return checks


def _trust_checks(status: PdfSignatureStatus, certificate: CertificateFacts,
                  context: VerificationContext, placement, moment: dt.datetime) -> list[Check]:
    checks = []
    indic = status.trust_problem_indic.name if status.trust_problem_indic else None
    if status.trusted or status.revoked:
        checks.append(passed("chain.trusted", "签章证书链接到信任列表中的根证书",
                             "the seal certificate chains to a root of an accepted trust list",
                             at=moment))
    elif indic in _REVINFO_PROBLEMS:
        checks.append(undecided("chain.trusted", "缺少签署时的吊销信息，无法判定证书链",
                                "revocation data for the signing time is missing, so the chain "
                                "cannot be judged", indication=indic))
    else:
        checks.append(failed("chain.trusted", "签章证书无法链接到信任列表中的根证书",
                             "the seal certificate does not chain to a root of an accepted "
                             "trust list", indication=indic))
    checks.append(trust_list_check(placement, context, moment))
    checks.append(_key_usage_check(certificate))
    if status.revoked:
        checks.append(failed("revocation.at_signing", "签署时签章证书已被吊销",
                             "the seal certificate was revoked at the signing time"))
    elif status.trusted:
        checks.append(passed("revocation.at_signing", "签署时签章证书未被吊销（文件内嵌验证数据）",
                             "the seal certificate was not revoked at the signing time "
                             "(validation data embedded in the document)", at=moment))
    elif indic in _REVINFO_PROBLEMS:
        checks.append(undecided("revocation.at_signing", "文件未内嵌签署时的吊销信息",
                                "the document lacks revocation data for the signing time"))
    checks.append(_timestamp_check(status, context))
    return checks


async def _document_timestamp_check(timestamp, dss: DocumentSecurityStore | None,
                                    context: VerificationContext, now: dt.datetime) -> Check:
    """A document time-stamp (B-LTA) is judged like the signature's own: it must verify,
    chain to a trust-list root and come from a TSA granted at its time."""
    code = "timestamp.document"
    try:
        tst = timestamp.signed_data["encap_content_info"]["content"].parsed
        at = tst["gen_time"].native
        status = await async_validate_pdf_timestamp(
            timestamp, validation_context=_validation_context(dss, context, at),
            skip_diff=True)
    except Exception as exc:  # malformed token or CMS: a forged time-stamp
        log.info("document time-stamp unreadable: %s: %s", type(exc).__name__, exc)
        return failed(code, "文档时间戳无法解析", "a document time-stamp cannot be parsed",
                      field=timestamp.field_name)
    if not (status.intact and status.valid):
        return failed(code, "文档时间戳无效", "a document time-stamp does not verify",
                      field=timestamp.field_name)
    if not status.trusted:
        return failed(code, "文档时间戳机构不受信任",
                      "a document time-stamp's authority is not trusted",
                      field=timestamp.field_name)
    tsa = context.certificate(status.signing_cert.dump())
    if context.granted_at(tsa, "tsa", status.timestamp) is None:
        return failed(code, "文档时间戳机构未列于信任列表", "a document time-stamp's authority "
                      "is not granted in an accepted trust list at its time",
                      field=timestamp.field_name, tsa=tsa.subject_text)
    return passed(code, f"文档时间戳：{status.timestamp.isoformat()}",
                  f"document time-stamp at {status.timestamp.isoformat()}",
                  field=timestamp.field_name, time=status.timestamp)


def _key_usage_check(certificate: CertificateFacts) -> Check:
    if certificate.may_sign:
        return passed("certificate.key_usage", "证书密钥用途允许签名",
                      "the certificate's key usage allows signing")
    return failed("certificate.key_usage", "证书密钥用途不允许签名",
                  "the certificate's key usage does not allow signing")


def _timestamp_check(status: PdfSignatureStatus, context: VerificationContext) -> Check:
    code = "timestamp.signature"
    ts = status.timestamp_validity
    if ts is None:
        return failed(code, "缺少签名时间戳", "the signature has no signature time-stamp")
    if not (ts.intact and ts.valid):
        return failed(code, "签名时间戳无效", "the signature time-stamp does not verify")
    if not ts.trusted:
        return failed(code, "时间戳机构不受信任", "the time-stamp authority is not trusted")
    tsa = context.certificate(ts.signing_cert.dump())
    listed = context.granted_at(tsa, "tsa", ts.timestamp)
    if listed is None:
        return failed(code, "时间戳机构未列于信任列表", "the time-stamp authority is not granted "
                      "in an accepted trust list at the time-stamp's time",
                      tsa=tsa.subject_text)
    return passed(code, f"签名时间（可信时间戳）：{ts.timestamp.isoformat()}",
                  f"signed at {ts.timestamp.isoformat()} (trusted time-stamp)",
                  time=ts.timestamp, tsa=tsa.subject_text)


def _identity_numbers_masked(value):
    if isinstance(value, dict):
        return {k: _identity_numbers_masked(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_identity_numbers_masked(v) for v in value]
    if isinstance(value, str) and len(value) == 18:
        try:
            return mask_identifier(validate_resident_id(value))
        except InvalidIdentifier:
            return value
    return value


async def _content_checks(reader: PdfFileReader, signed: PdfFileReader,
                          certificate: CertificateFacts, context: VerificationContext,
                          now: dt.datetime) -> tuple[dict | None, list[Check]]:
    """licence.json and the QR code of the signed revision, against each other.

    The signed revision is read from its own bytes (what the signature covers, ending
    where its byte range ends), by one reader for both; the current attachment from the
    whole file's reader, ``reader``."""
    checks: list[Check] = []
    try:
        envelope = extract_licence_data(signed)
        licence_id = parse_licence_id(envelope["licence_id"])
        if licence_id.type_code != envelope.get("type_code"):
            raise AttachmentError("licence id and type code disagree")
        current = extract_licence_data(reader)
    except (AttachmentError, InvalidIdentifier, KeyError, TypeError) as exc:
        checks.append(failed("licence.data_matches", "签署版本中的证照数据缺失或无效",
                             f"the licence data of the signed revision is missing or invalid: "
                             f"{exc}"))
        return None, checks
    if current != envelope:
        checks.append(failed("licence.data_matches", "签署后证照数据被替换",
                             "the licence data attachment was replaced after signing"))
        return None, checks
    checks.append(passed("licence.data_matches", "内嵌证照数据属于签署内容且完整",
                         "the embedded licence data is part of the signed content and intact",
                         licence_id=envelope["licence_id"]))
    licence = {k: envelope.get(k) for k in
               ("licence_id", "type_code", "type_name", "issuer_name", "issued_at")}
    # Every field as sealed (the signed revision's data, checked above), for the clerk to
    # compare with the paper; a QR carries only the few fields above. A person's resident
    # identity number is masked, as everywhere the service shows one.
    if isinstance(envelope.get("data"), dict):
        licence["data"] = _identity_numbers_masked(envelope["data"])

    texts = qr_texts_of_first_page(signed, context.limits)
    if len(texts) != 1:
        checks.append(failed("qr.signature", "签署内容中找不到唯一的证照二维码",
                             f"the signed page must carry exactly one licence QR code "
                             f"(found {len(texts)})"))
        return licence, checks
    try:
        decoded = decode_qr_payload(texts[0])
    except QrPayloadError as exc:
        checks.append(failed("qr.signature", "二维码内容无效", f"the QR code is invalid: {exc}"))
        return licence, checks
    if decoded.kid != certificate.kid:
        checks.append(failed("qr.signature", "二维码不是由该文件的签章证书签名",
                             "the QR is not signed by the document's seal certificate"))
    else:
        checks.append(signature_check(decoded, certificate))
    claims = decoded.claims
    mismatches = [name for name, ok in (
        ("licence_id", claims.licence_id == envelope["licence_id"]),
        ("type_code", claims.type_code == envelope.get("type_code")),
        ("data_digest", claims.data_digest == data_digest(envelope.get("data"))),
        ("issuer_uscc", claims.issuer_uscc == certificate.signer.uscc),
    ) if not ok]
    if mismatches:
        checks.append(failed("qr.matches_document", "二维码与文件内容不一致",
                             "the QR code does not match the document", fields=mismatches))
    else:
        checks.append(passed("qr.matches_document", "二维码与文件内容一致",
                             "the QR code matches the document's licence data"))
    licence.update(holder_id_masked=claims.holder_id_masked, valid_from=claims.valid_from,
                   valid_until=claims.valid_until, holder_name=claims.holder_name,
                   issuer_uscc=claims.issuer_uscc)
    checks.append(validity_check(claims, now))
    checks.append(await licence_status_check(claims, context))
    return licence, checks
