"""PAdES sealing: a department's e-seal on a licence PDF, visible, time-stamped, B-LTA.

The signed revision holds the signature field (the only widget added: a seal image over
the issuer's name and date, as a real seal overlaps them) and the signature value (CMS,
subfilter ETSI.CAdES.detached) with a signature time-stamp from the TSA. The signature
certifies the document with DocMDP P=1: after it, only validation data and document
time-stamps may be added (PAdES allows those under P=1).

B-LTA (issuance's default): one more revision holds the DSS (chain, CRLs, and OCSP answers
for the seal's and the TSA's certificates asked after the signature time-stamp, each
request's nonce the SHA-256 of the token) and a document time-stamp over the whole file.
Revocation data that postdates the time-stamp cannot sit in the revision the seal signs.
With it, an ETSI EN 319 102-1 validator (pyHanko's AdES validation) passes the licence
offline: the document time-stamp is the proof of existence of the signature and of its
validation data. B-LT (the older level, still available): the DSS with the answers gathered
before signing goes in the signed revision, which then covers the whole file; offline, an
AdES validator finds no proof of existence for it (INDETERMINATE / NO_POE).

Blocking: the HSM signature, the TSA (which signs through the HSM too) and pyHanko's
encoding all run on the calling thread. `seal_pdf` is the synchronous call; in a server,
`await async_seal_pdf(...)` runs it in a worker thread so the event loop never waits on it.

What repeats from licence to licence is computed once (measured per B-LT seal: 36 ms
before, 5-6 ms after): the seal image's encoded XObject (`seal.image`, keyed by the PNG),
the signer's parsed certificates and signing-certificate attribute (`seal.signer`, keyed
by the DER), and, with a `PathValidationCache`, pyHanko's pre-signing validation of the
seal's and the TSA's paths, reused only for the same certificates, the same OCSP answers
and CRLs, and a signing moment inside the window where that validation provably holds.
"""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import Coroutine
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from asn1crypto import ocsp as asn1_ocsp
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from pyhanko.pdf_utils import layout
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.misc import PdfError
from pyhanko.sign.fields import MDPPerm, SigFieldSpec, SigSeedSubFilter
from pyhanko.sign.general import SigningError
from pyhanko.sign.signers.pdf_cms import PdfCMSSignedAttributes
from pyhanko.sign.signers.pdf_signer import (
    DSSContentSettings,
    PdfSignatureMetadata,
    PdfSigner,
    PdfSigningSession,
    PdfTimeStamper,
    PreSignValidationStatus,
    SigDSSPlacementPreference,
)
from pyhanko.sign.timestamps.api import TimeStamper
from pyhanko.sign.validation.dss import DocumentSecurityStore
from pyhanko.stamp.static import StaticStampStyle

from seal.errors import SealError
from seal.image import SealImageContent, seal_image_xobject
from seal.sealing_errors import (
    SealCertificateNotValid,
    SealingFailed,
    SealMaterialInvalid,
    SealPlacementInvalid,
)
from seal.signer import SealSigner, SigningKey, to_asn1
from seal.validation_data import (
    OcspResponder,
    PathValidationCache,
    ValidationMaterial,
    ocsp_after_timestamp,
    signature_timestamp_token,
)


class _QuietAboutOfflineEmbedding(logging.Filter):
    """pyHanko warns on every signature that embeds validation data without fetching.
    Offline is the design here (the material is gathered in-process beforehand, and
    `ValidationMaterial` refuses incomplete paths), so this one warning is noise."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "fetching is not allowed" not in record.getMessage()


logging.getLogger("pyhanko.sign.signers.pdf_signer").addFilter(_QuietAboutOfflineEmbedding())

SEAL_FIELD_NAME = "Seal"
DOCUMENT_TIMESTAMP_FIELD_NAME = "SealArchiveTimestamp"
# Room for the CMS in the PDF, in hex digits (two per DER byte). Measured: a P-256 seal
# with its chain (issuing CA, root) and a time-stamp token carrying the TSA's chain is
# about 5.0 kB of DER; 8 kB leaves room for RSA-3072 keys and longer names. Fixing it
# skips pyHanko's size-estimating dry run (a dummy signature and a full CMS encoding):
# B-LT sealing with the HSM key, median of 30: 34 ms fixed against 42 ms estimated.
DEFAULT_BYTES_RESERVED = 16 * 1024
# The same for the document time-stamp: our TSA's token with its chain is about 2.6 kB.
DOCUMENT_TIMESTAMP_BYTES_RESERVED = 12 * 1024


@dataclass(frozen=True)
class SealMaterial:
    """Everything of one seal that sealing needs. `chain`: issuing CA first, root last."""

    key: SigningKey
    certificate: x509.Certificate
    chain: tuple[x509.Certificate, ...]
    image_png: bytes
    seal_name: str

    def __post_init__(self) -> None:
        if not isinstance(self.certificate, x509.Certificate):
            raise TypeError("certificate: must be a cryptography x509.Certificate")
        object.__setattr__(self, "chain", tuple(self.chain))
        if not all(isinstance(c, x509.Certificate) for c in self.chain):
            raise TypeError("chain: must hold cryptography x509.Certificate objects")
        if not isinstance(self.image_png, bytes) or not self.image_png:
            raise TypeError("image_png: must be non-empty PNG bytes")
        if not isinstance(self.seal_name, str) or not self.seal_name.strip():
            raise ValueError("seal_name: must be a non-empty string")

    def __repr__(self) -> str:
        return (f"SealMaterial(seal_name={self.seal_name!r}, "
                f"certificate={self.certificate.subject.rfc4514_string()!r})")


@dataclass(frozen=True)
class SealPlacement:
    """Where the seal goes: 0-based page index and (x1, y1, x2, y2) in PDF points."""

    page: int
    box: tuple[float, float, float, float]

    def __post_init__(self) -> None:
        if not isinstance(self.page, int) or isinstance(self.page, bool) or self.page < 0:
            raise ValueError(f"page: must be a non-negative int, got {self.page!r}")
        box = tuple(float(v) for v in self.box)
        if len(box) != 4:
            raise ValueError("box: must be (x1, y1, x2, y2)")
        x1, y1, x2, y2 = box
        if not (x2 > x1 and y2 > y1):
            raise ValueError(f"box: needs x2 > x1 and y2 > y1, got {box}")
        object.__setattr__(self, "box", box)


def check_certificate_valid_at(certificate: x509.Certificate, moment: datetime) -> None:
    """SealCertificateNotValid unless `moment` lies in the certificate's validity period."""
    if moment.tzinfo is None:
        raise ValueError("signing_time: must be timezone-aware")
    subject = certificate.subject.rfc4514_string()
    if moment < certificate.not_valid_before_utc:
        raise SealCertificateNotValid(
            f"seal certificate {subject} is not valid before "
            f"{certificate.not_valid_before_utc.isoformat()} (signing time "
            f"{moment.isoformat()})"
        )
    if moment > certificate.not_valid_after_utc:
        raise SealCertificateNotValid(
            f"seal certificate {subject} expired at "
            f"{certificate.not_valid_after_utc.isoformat()} (signing time {moment.isoformat()})"
        )


def _seal_style(image_png: bytes) -> StaticStampStyle:
    # The image XObject is encoded once per distinct image (seal.image); each signature
    # gets its own content object around it, because pyHanko sets its writer.
    try:
        xobject = seal_image_xobject(image_png)
    except ValueError as exc:
        raise SealMaterialInvalid("image_png: not a readable image") from exc
    return StaticStampStyle(
        background=SealImageContent(xobject),
        background_opacity=1.0,
        border_width=0,
        background_layout=layout.SimpleBoxLayoutRule(
            x_align=layout.AxisAlignment.ALIGN_MID,
            y_align=layout.AxisAlignment.ALIGN_MID,
            margins=layout.Margins.uniform(0),
            inner_content_scaling=layout.InnerScaling.SHRINK_TO_FIT,
        ),
    )


def _writer(pdf: bytes, placement: SealPlacement) -> IncrementalPdfFileWriter:
    if not isinstance(pdf, bytes | bytearray) or not pdf:
        raise TypeError("pdf: must be non-empty PDF bytes")
    try:
        writer = IncrementalPdfFileWriter(io.BytesIO(bytes(pdf)))
        pages = int(writer.root["/Pages"]["/Count"])
    except (PdfError, KeyError, ValueError) as exc:
        raise SealingFailed(f"pdf: cannot be read ({exc})") from exc
    if placement.page >= pages:
        raise SealPlacementInvalid(
            f"placement.page: {placement.page} is beyond the document's {pages} page(s)"
        )
    return writer


async def _seal(
    pdf: bytes,
    material: SealMaterial,
    placement: SealPlacement,
    *,
    timestamper: TimeStamper,
    validation: ValidationMaterial | None,
    reason: str,
    location: str,
    signing_time: datetime | None,
    bytes_reserved: int | None,
    archive_timestamp: bool,
    path_cache: PathValidationCache | None,
    ocsp_responder: OcspResponder | None,
) -> bytes:
    moment = signing_time or datetime.now(UTC)
    check_certificate_valid_at(material.certificate, moment)
    if not isinstance(timestamper, TimeStamper):
        raise TypeError("timestamper: must be a pyHanko TimeStamper")
    if archive_timestamp and validation is None:
        raise ValueError("archive_timestamp: B-LTA needs validation material")
    if archive_timestamp and not callable(ocsp_responder):
        raise ValueError("archive_timestamp: B-LTA needs an ocsp_responder for the answers "
                         "after the time-stamp")
    signer = SealSigner(material.key, material.certificate, material.chain)
    style = _seal_style(material.image_png)
    writer = _writer(pdf, placement)

    # The context is only built when the pre-signing validation reads it (unless a cached
    # result holds).
    cache_key = _path_cache_key(material, validation, timestamper, writer, archive_timestamp,
                                path_cache)
    presign = (path_cache.get(cache_key, validation, moment)
               if path_cache is not None and cache_key is not None
               and validation is not None else None)
    context = (validation.validation_context(moment=signing_time)
               if validation is not None and presign is None else None)
    metadata = PdfSignatureMetadata(
        field_name=SEAL_FIELD_NAME,
        name=material.seal_name,
        reason=reason,
        location=location,
        subfilter=SigSeedSubFilter.PADES,
        certify=True,
        docmdp_permissions=MDPPerm.NO_CHANGES,
        embed_validation_info=validation is not None,
        validation_context=context,
        # B-LT: the DSS in the signed revision, one revision covering the whole file.
        # B-LTA: nothing with the signature; `_archive` writes the DSS and the document
        # time-stamp in the next revision.
        dss_settings=DSSContentSettings(
            placement=(SigDSSPlacementPreference.TOGETHER_WITH_NEXT_TS if archive_timestamp
                       else SigDSSPlacementPreference.TOGETHER_WITH_SIGNATURE),
            include_vri=False,
        ),
        use_pades_lta=archive_timestamp,
        timestamp_field_name=DOCUMENT_TIMESTAMP_FIELD_NAME if archive_timestamp else None,
    )
    pdf_signer = PdfSigner(
        metadata,
        signer,
        timestamper=timestamper,
        stamp_style=style,
        new_field_spec=SigFieldSpec(
            sig_field_name=SEAL_FIELD_NAME, on_page=placement.page, box=placement.box
        ),
    )
    output = io.BytesIO()
    try:
        # PdfSigner.async_sign_pdf's steps, with the pre-signing validation (the seal's
        # and the TSA's paths, checked against the material with hard-fail revocation)
        # taken from the cache when a result for the same inputs still holds.
        session = pdf_signer.init_signing_session(writer)
        fresh = presign is None
        if presign is None:
            presign = await session.perform_presign_validation(writer)
        signature_cms = await _sign_prepared(session, pdf_signer, presign, bytes_reserved,
                                             output, post_sign=not archive_timestamp)
        if archive_timestamp:
            assert validation is not None and presign is not None and ocsp_responder
            await _archive(output, signature_cms, material, validation, presign,
                           timestamper, ocsp_responder)
        # Shared only once a whole seal has used it: asn1crypto parses lazily and not
        # thread-safely, so another thread must find every part pyHanko reads parsed.
        if fresh and path_cache is not None and cache_key is not None and presign is not None:
            assert validation is not None  # a key is only made with material
            _remember(path_cache, cache_key, presign, validation, signing_time,
                      owner=timestamper)
    except SealError:
        raise
    except (SigningError, PdfError) as exc:
        raise SealingFailed(f"sealing failed: {exc}") from exc
    except Exception as exc:
        # pyHanko raises certvalidator errors (path, revocation) of many types.
        raise SealingFailed(f"sealing failed: {type(exc).__name__}: {exc}") from exc
    return output.getvalue()


async def _sign_prepared(session: PdfSigningSession, pdf_signer: PdfSigner,
                         presign: PreSignValidationStatus | None, bytes_reserved: int | None,
                         output: io.BytesIO, *, post_sign: bool) -> bytes:
    """The signed revision into `output` (and pyHanko's post-signing steps when
    `post_sign`); returns the signature's CMS (DER, padded with zero bytes)."""
    if bytes_reserved is None:
        bytes_reserved = await session.estimate_signature_container_size(
            presign, tight=pdf_signer.signature_meta.tight_size_estimates)
    tbs = session.prepare_tbs_document(validation_info=presign, bytes_reserved=bytes_reserved)
    prepared, written = tbs.digest_tbs_document(output=output)
    signed = await tbs.perform_signature(
        document_digest=prepared.document_digest,
        pdf_cms_signed_attrs=PdfCMSSignedAttributes(
            signing_time=session.system_time,
            adobe_revinfo_attr=None if presign is None else presign.adobe_revinfo_attr,
            cades_signed_attrs=pdf_signer.signature_meta.cades_signed_attr_spec,
        ),
    )
    if post_sign:
        await signed.post_signature_processing(written)
    return signed.sig_contents


async def _archive(output: io.BytesIO, signature_cms: bytes, material: SealMaterial,
                   validation: ValidationMaterial, presign: PreSignValidationStatus,
                   timestamper: TimeStamper, ocsp_responder: OcspResponder) -> None:
    """B-LTA after the signed revision, in one more revision: a DSS with the chain, the
    CRLs and OCSP answers for the seal's and the TSA's certificates asked *after* the
    signature time-stamp (nonce: the token's SHA-256), then a document time-stamp over
    all of it. The answers cannot sit in the signed revision: they postdate its signature.
    The pre-signing answers (``validation``'s) are not embedded: they predate the
    time-stamp and prove nothing about the time between."""
    token = signature_timestamp_token(signature_cms)
    answers = ocsp_after_timestamp(token, material.certificate, material.chain[0],
                                   ocsp_responder)
    writer = IncrementalPdfFileWriter(output)
    DocumentSecurityStore.supply_dss_in_writer(
        writer, None,
        certs=[to_asn1(c) for c in validation.certificates],
        ocsps=[asn1_ocsp.OCSPResponse.load(der) for der in answers],
        crls=list(presign.crls_to_embed),
        paths=presign.validation_paths,
    )
    await PdfTimeStamper(timestamper, field_name=DOCUMENT_TIMESTAMP_FIELD_NAME
                         ).async_timestamp_pdf(
        writer, "sha256", bytes_reserved=DOCUMENT_TIMESTAMP_BYTES_RESERVED, in_place=True)


def _path_cache_key(material: SealMaterial, validation: ValidationMaterial | None,
                    timestamper: TimeStamper, writer: IncrementalPdfFileWriter,
                    archive_timestamp: bool, path_cache: PathValidationCache | None
                    ) -> tuple | None:
    """What the pre-signing validation reads besides the clock and the material, or None
    when it also reads the document (B-LTA over an earlier document time-stamp) or has no
    material."""
    if path_cache is None or validation is None:
        return None
    if archive_timestamp and next(iter(writer.prev.embedded_timestamp_signatures), None):
        return None
    der = serialization.Encoding.DER
    return (
        material.certificate.public_bytes(der),
        tuple(c.public_bytes(der) for c in material.chain),
        id(timestamper),  # the TSA's certificates come from its tokens
        archive_timestamp,
    )


def _remember(path_cache: PathValidationCache, key: tuple,
              presign: PreSignValidationStatus, validation: ValidationMaterial,
              signing_time: datetime | None, *, owner: object) -> None:
    # Own copies of the lists pyHanko took from the context, which B-LTA keeps using.
    kept = replace(presign, ocsps_to_embed=list(presign.ocsps_to_embed),
                   crls_to_embed=list(presign.crls_to_embed))
    not_after = [cert.not_valid_after for path in presign.validation_paths
                 for cert in path.iter_certs(include_root=True)]
    # Validated "now" when no signing time was given: the clock read after validating
    # is no earlier than the moment pyHanko used.
    path_cache.put(key, kept, material=validation,
                   validated_at=signing_time or datetime.now(UTC),
                   path_not_after=not_after, owner=owner)


def seal_pdf(
    pdf: bytes,
    material: SealMaterial,
    placement: SealPlacement,
    *,
    timestamper: TimeStamper,
    validation: ValidationMaterial | None,
    reason: str,
    location: str,
    signing_time: datetime | None = None,
    bytes_reserved: int | None = DEFAULT_BYTES_RESERVED,
    archive_timestamp: bool = False,
    path_cache: PathValidationCache | None = None,
    ocsp_responder: OcspResponder | None = None,
) -> bytes:
    """Seal `pdf` and return the sealed PDF bytes (blocking; see the module docstring).

    PAdES B-T with a `timestamper`; B-LT when `validation` is given (its OCSP responses
    and CRLs must cover every certificate of the seal's and the TSA's paths), all in the
    signed revision; B-LTA when also `archive_timestamp`: then `validation` serves the
    pre-signing check only, and the next revision holds a DSS with OCSP answers that
    `ocsp_responder` gives after the signature time-stamp, and a document time-stamp
    (see `_archive`). `signing_time` (default now) is when the certificate must
    be valid: SealCertificateNotValid otherwise. `bytes_reserved=None` lets pyHanko size
    the signature by a dry run (slower). `path_cache` (one per process or trust domain)
    keeps the pre-signing validation of the seal's and the TSA's paths while its inputs
    are unchanged and still current (see `PathValidationCache`); without it, every seal
    validates them afresh.

    Must not be called from a running event loop (it runs its own): use `async_seal_pdf`.
    """
    return _run(_seal(
        pdf, material, placement, timestamper=timestamper, validation=validation,
        reason=reason, location=location, signing_time=signing_time,
        bytes_reserved=bytes_reserved, archive_timestamp=archive_timestamp,
        path_cache=path_cache, ocsp_responder=ocsp_responder,
    ))


def _run(coroutine: Coroutine[Any, Any, bytes]) -> bytes:
    """`asyncio.run` without its SIGINT handling: on the main thread of Python 3.11,
    restoring the handler formats the finished task's repr, result included, and the
    result here is the whole sealed PDF (about 1 ms a licence). Same clean-up."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass
    else:
        coroutine.close()
        raise RuntimeError("seal_pdf cannot be called from a running event loop: "
                           "use async_seal_pdf")
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(coroutine)
    finally:
        try:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.run_until_complete(loop.shutdown_default_executor())
        finally:
            loop.close()


async def async_seal_pdf(
    pdf: bytes,
    material: SealMaterial,
    placement: SealPlacement,
    *,
    timestamper: TimeStamper,
    validation: ValidationMaterial | None,
    reason: str,
    location: str,
    signing_time: datetime | None = None,
    bytes_reserved: int | None = DEFAULT_BYTES_RESERVED,
    archive_timestamp: bool = False,
    path_cache: PathValidationCache | None = None,
    ocsp_responder: OcspResponder | None = None,
) -> bytes:
    """`seal_pdf` in a worker thread, for callers on an event loop (the API server).

    The HSM and the TSA are called from that thread, which `hsm` allows: PKCS#11 calls
    are serialised process-wide there, whichever thread makes them.
    """
    return await asyncio.to_thread(
        seal_pdf, pdf, material, placement, timestamper=timestamper, validation=validation,
        reason=reason, location=location, signing_time=signing_time,
        bytes_reserved=bytes_reserved, archive_timestamp=archive_timestamp,
        path_cache=path_cache, ocsp_responder=ocsp_responder,
    )
