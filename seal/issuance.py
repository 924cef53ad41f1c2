"""Issue a licence: validate → allocate its identifier → sign its QR payload → render →
seal (PAdES B-LTA through the HSM, or B-LT when so set) → store record, PDF and audit
entry in one transaction.

Idempotent under retry: a request that carries an idempotency key already used by the
same department with the same body returns the licence issued the first time; with a
different body it is refused. Nothing is stored unless every step succeeded.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from pyhanko.sign.timestamps.api import TimeStamper
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from ca.audit import append_entry, qualified_actor
from ca.store import get_certificate
from certs.canonical import data_digest
from certs.catalogue import Catalogue, LicenceType
from certs.errors import IdempotencyConflict, InvalidLicenceData, IssuingAuthorityMismatch
from certs.identifiers import mask_identifier
from certs.issuing_authority import with_issuing_authority
from certs.licence_id import LicenceId
from certs.models import Licence
from certs.qr import QrClaims, encode_qr_payload, kid_of_certificate
from certs.registry import (
    allocate_licence_id,
    allocate_status_index,
    find_idempotent,
    get_licence_pdf,
    record_licence,
    request_digest,
)
from certs.render import render_licence_pdf
from certs.rules import FieldProblem
from certs.text import normalise_identifier
from certs.validation import holder_of, validate_licence_data, validity_of
from hsm.token import Token
from seal.errors import DepartmentInactive, LicenceTypeNotGranted, SealUnusable
from seal.pades import SealMaterial, SealPlacement, seal_pdf
from seal.registry import issuing_parties
from seal.validation_data import PathValidationCache, gather_validation_material

MAX_IDEMPOTENCY_KEY = 128


@dataclass(frozen=True)
class SealingServices:
    """What sealing needs from the trust domain besides the database session."""

    token: Token
    timestamper: TimeStamper
    ocsp_respond: Callable[[bytes], bytes]
    current_crls: Callable[[], Sequence[bytes]]
    chain: tuple[x509.Certificate, ...]  # issuing CA first, root last
    service_certificates: tuple[x509.Certificate, ...]  # TSA and OCSP signer
    region_name: str
    verify_url: str | None = None
    archive_timestamp: bool = False  # PAdES B-LTA: a document time-stamp after the seal
    # Path validation results reused across licences while the same certificates, OCSP
    # answers and CRLs are embedded (see seal.validation_data.PathValidationCache).
    path_cache: PathValidationCache = field(default_factory=PathValidationCache)


def usable_idempotency_key(key: str) -> bool:
    return 0 < len(key) <= MAX_IDEMPOTENCY_KEY and key.isprintable()


class IdempotencyGate:
    """Lets requests of one process that carry the same department and idempotency key
    through one at a time: a burst of identical retries seals one licence and the others
    replay it, instead of all sealing and all but one throwing their work (and serials)
    away. Across processes the database's unique key decides (``_store``)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._held: dict[tuple[str, str], list] = {}  # key -> [lock, holders and waiters]

    @contextmanager
    def hold(self, department_id: str, key: str | None) -> Iterator[None]:
        if key is None:
            yield
            return
        name = (department_id, key)
        with self._lock:
            entry = self._held.setdefault(name, [threading.Lock(), 0])
            entry[1] += 1
        try:
            with entry[0]:
                yield
        finally:
            with self._lock:
                entry[1] -= 1
                if entry[1] == 0:
                    del self._held[name]


@dataclass(frozen=True)
class IssuanceRequest:
    department_id: str
    type_code: str
    data: dict[str, Any]
    idempotency_key: str | None = None
    actor: str | None = None

    def __post_init__(self) -> None:
        # A department is named by its USCC, written one way (certs/text.py).
        object.__setattr__(self, "department_id", normalise_identifier(self.department_id))
        if self.idempotency_key is not None and not usable_idempotency_key(
                self.idempotency_key):
            raise ValueError(f"idempotency key must be 1-{MAX_IDEMPOTENCY_KEY} printable "
                             "characters")
        if not isinstance(self.data, dict):
            raise TypeError("licence data must be a JSON object")


@dataclass(frozen=True)
class IssuedLicence:
    licence: Licence
    pdf: bytes
    replayed: bool  # True when an earlier request with the same key issued it

    @property
    def licence_id(self) -> str:
        return self.licence.licence_id


def issue_licence(session: Session, services: SealingServices, catalogue: Catalogue,
                  request: IssuanceRequest, *, now: dt.datetime | None = None) -> IssuedLicence:
    """Blocking (HSM, PDF work): call from a worker thread when on an event loop."""
    now = now or dt.datetime.now(dt.UTC)
    parties = issuing_parties(session, request.department_id, request.type_code)
    department = parties.department
    if department.status != "active":
        raise DepartmentInactive(f"department {department.department_id} is not active")
    licence_type = catalogue.get(request.type_code)
    if not parties.granted:
        raise LicenceTypeNotGranted(
            f"department {department.department_id} may not issue {request.type_code!r}")

    try:
        digest = request_digest({"type": request.type_code, "data": request.data})
    except ValueError:  # NaN, Infinity, a lone surrogate: validation names the field
        validate_licence_data(licence_type, request.data, today=now.date())
        raise InvalidLicenceData([FieldProblem("data", "invalid", {
            "message": "holds a value JSON cannot carry (NaN, Infinity, a lone surrogate)"})]
        ) from None
    if request.idempotency_key is not None:
        earlier = find_idempotent(session, department.department_id, request.idempotency_key,
                                  digest)
        if earlier is not None:
            return IssuedLicence(earlier, get_licence_pdf(session, earlier.licence_id), True)

    data = _validated(licence_type, request.data, department.name, now.date())
    holder_identifier, holder_name = holder_of(licence_type, data)
    valid_from, valid_until = validity_of(licence_type, data)

    seal, record = parties.seal, parties.certificate
    if seal is None:
        raise SealUnusable(f"department {department.department_id} has no active seal")
    if record is None:
        record = get_certificate(session, seal.certificate_serial)  # CertificateNotFound
    if record.status != "good":  # a revoked or held certificate must not seal, whatever
        raise SealUnusable(f"seal {seal.seal_id}: its certificate is {record.status} "
                           f"({record.revocation_reason})")
    certificate = x509.load_der_x509_certificate(record.der)
    seal_key = services.token.private_key(seal.key_label)

    # Identifiers come from a short transaction of their own, committed before the slow
    # work (render, seal): a write transaction held through ~100 ms of sealing would
    # serialise every issuance of the database. A licence that then fails leaves a gap
    # in the serials, never a reused one.
    try:
        licence_id = allocate_licence_id(session, licence_type.code, department.department_id)
        status_index = allocate_status_index(session, department.department_id)
        session.commit()
    except BaseException:
        session.rollback()
        raise
    qr_text = encode_qr_payload(
        QrClaims(
            kid=kid_of_certificate(certificate.public_bytes(serialization.Encoding.DER)),
            licence_id=str(licence_id), type_code=licence_type.code,
            holder_name=holder_name, holder_id_masked=mask_identifier(holder_identifier),
            valid_from=valid_from, valid_until=valid_until,
            issuer_name=department.name, issuer_uscc=department.department_id,
            issued_at=now, data_digest=data_digest(data), verify_url=services.verify_url,
            status_index=status_index,
        ),
        sign=lambda message: seal_key.sign(message, ec.ECDSA(hashes.SHA256())),
    )
    unsigned = render_licence_pdf(licence_type, licence_id, data, department.name, now, qr_text)
    material = SealMaterial(key=seal_key, certificate=certificate, chain=services.chain,
                            image_png=seal.image_png, seal_name=seal.name)
    validation = gather_validation_material(
        seal_certificate=certificate, chain=services.chain,
        ocsp_responder=services.ocsp_respond, crls=services.current_crls(),
        other_certificates=services.service_certificates,
    )
    sealed = seal_pdf(
        unsigned, material, SealPlacement(page=0, box=licence_type.layout.seal),
        timestamper=services.timestamper, validation=validation,
        reason=f"{licence_type.name} {licence_id}", location=services.region_name,
        signing_time=now, archive_timestamp=services.archive_timestamp,
        path_cache=services.path_cache, ocsp_responder=services.ocsp_respond,
    )
    return _store(session, request, department.department_id, licence_id, data,
                  holder_identifier, holder_name, valid_from, valid_until, now, sealed,
                  seal.seal_id, digest, status_index)


def _validated(licence_type: LicenceType, data: dict[str, Any], issuer_name: str,
               today: dt.date) -> dict[str, Any]:
    """The data validated, its issuer field naming the sealing department; a wrong
    issuing authority is told together with the data's other problems."""
    try:
        submitted = with_issuing_authority(licence_type, data, issuer_name)
    except IssuingAuthorityMismatch as mismatch:
        field = licence_type.issuer_field
        try:
            validate_licence_data(licence_type, {**data, field: issuer_name}, today=today)
        except InvalidLicenceData as exc:
            raise IssuingAuthorityMismatch(
                field, mismatch.given, issuer_name,
                also=[p for p in exc.problems if p.field != field]) from None
        raise
    return validate_licence_data(licence_type, submitted, today=today)


def _store(session: Session, request: IssuanceRequest, department_id: str,
           licence_id: LicenceId, data: dict, holder_identifier: str, holder_name: str,
           valid_from: dt.date, valid_until: dt.date | None, now: dt.datetime, pdf: bytes,
           seal_id: str, digest: str, status_index: int) -> IssuedLicence:
    try:
        licence = record_licence(
            session, licence_id=licence_id, department_id=department_id,
            holder_identifier=holder_identifier, holder_name=holder_name, data=data,
            issued_at=now, valid_from=valid_from, valid_until=valid_until, pdf=pdf,
            actor=request.actor or department_id, seal_id=seal_id,
            idempotency_key=request.idempotency_key, request_digest=digest,
            status_index=status_index,
        )
        append_entry(session, "licence.issued", subject=str(licence_id),
                     actor=qualified_actor(request.actor, f"department:{department_id}"),
                     details={"type": request.type_code, "department": department_id,
                              "seal": seal_id, "holder": mask_identifier(holder_identifier)})
        session.commit()
    except (IntegrityError, IdempotencyConflict):
        # A concurrent request with the same idempotency key (another process, or one
        # that got past the gate) committed first: answer with its licence, or refuse
        # if its body differed.
        session.rollback()
        if request.idempotency_key is None:
            raise
        earlier = find_idempotent(session, department_id, request.idempotency_key, digest)
        if earlier is None:
            raise
        return IssuedLicence(earlier, get_licence_pdf(session, earlier.licence_id), True)
    except BaseException:
        session.rollback()
        raise
    return IssuedLicence(licence, pdf, False)
