"""Queries and records of the CA tables: plain functions that take the session.

They add and flush but never commit: the caller owns the transaction
(`certseal.db.transaction`), so a multi-step operation is all or nothing.
"""

from __future__ import annotations

from datetime import datetime

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPublicKeyTypes
from cryptography.hazmat.primitives.serialization import Encoding
from sqlmodel import Session, col, select

from ca.errors import CaNotFound, CertificateNotFound
from ca.models import (
    CertificateAuthority,
    CertificateRole,
    CertificateStatus,
    CertificateStatusEvent,
    IssuedCertificate,
    IssuedCrl,
    serial_text,
)


def issuer_key_hash(issuer_public_key: CertificateIssuerPublicKeyTypes) -> str:
    """SHA-1 of the issuer's subjectPublicKey bits, hex: the OCSP CertID issuerKeyHash."""
    # RFC 5280 §4.2.1.2 method (1) hashes exactly the same bits.
    return x509.SubjectKeyIdentifier.from_public_key(issuer_public_key).digest.hex()


def certificate_record(
    certificate: x509.Certificate,
    *,
    issuer_ca: str,
    role: CertificateRole,
    key_label: str,
    issuer_public_key: CertificateIssuerPublicKeyTypes,
    now: datetime,
) -> IssuedCertificate:
    return IssuedCertificate(
        serial=serial_text(certificate.serial_number),
        issuer_ca=issuer_ca,
        role=role.value,
        subject=certificate.subject.rfc4514_string(),
        der=certificate.public_bytes(Encoding.DER),
        not_before=certificate.not_valid_before_utc,
        not_after=certificate.not_valid_after_utc,
        key_label=key_label,
        sha256_fingerprint=certificate.fingerprint(hashes.SHA256()).hex(),
        issuer_key_hash=issuer_key_hash(issuer_public_key),
        status=CertificateStatus.GOOD.value,
        created_at=now,
    )


def add_status_event(session: Session, serial: str, status: CertificateStatus, *, at: datetime,
                     actor: str, reason: str | None = None, note: str | None = None) -> None:
    session.add(CertificateStatusEvent(serial=serial, status=status.value, reason=reason, at=at,
                                       actor=actor, note=note))


def hierarchy_exists(session: Session) -> bool:
    return session.exec(select(CertificateAuthority.name).limit(1)).first() is not None


def get_authority(session: Session, name: str, *, for_update: bool = False
                  ) -> CertificateAuthority:
    statement = select(CertificateAuthority).where(CertificateAuthority.name == name)
    if for_update:
        statement = statement.with_for_update()  # serialises CRL numbering on PostgreSQL
    authority = session.exec(statement).first()
    if authority is None:
        raise CaNotFound(f"no certificate authority named {name!r}: is the hierarchy set up?")
    return authority


def find_certificate(session: Session, serial: int | str) -> IssuedCertificate | None:
    # A serial from a request (OCSP) may be zero or negative: simply not one of ours.
    if isinstance(serial, int) and serial <= 0:
        return None
    return session.get(IssuedCertificate, serial_text(serial))


def get_certificate(session: Session, serial: int | str) -> IssuedCertificate:
    record = find_certificate(session, serial)
    if record is None:
        raise CertificateNotFound(f"no certificate with serial {serial_text(serial)} issued here")
    return record


def find_by_issuer_key_hash(session: Session, key_hash: bytes | str, serial: int
                            ) -> IssuedCertificate | None:
    """The certificate an OCSP CertID (SHA-1 issuerKeyHash + serial) names, if ours."""
    key_hash = key_hash.hex() if isinstance(key_hash, bytes) else key_hash.lower()
    record = find_certificate(session, serial)
    if record is None or record.issuer_key_hash != key_hash:
        return None
    return record


def records_with_role(session: Session, role: CertificateRole | str) -> list[IssuedCertificate]:
    """Rows of every certificate of a role, whatever its status, newest first."""
    role = CertificateRole(role)
    statement = (select(IssuedCertificate).where(IssuedCertificate.role == role.value)
                 .order_by(col(IssuedCertificate.created_at).desc(),
                           col(IssuedCertificate.not_before).desc()))
    return list(session.exec(statement))


def certificates_by_role(session: Session, role: CertificateRole | str) -> list[x509.Certificate]:
    """Every certificate of a role, whatever its status, oldest first (the newest is last)."""
    return [x509.load_der_x509_certificate(record.der)
            for record in reversed(records_with_role(session, role))]


def revoked_certificates(session: Session, issuer_ca: str) -> list[IssuedCertificate]:
    """Revoked or on-hold certificates of one CA, oldest revocation first.

    Expired ones stay listed too: a relying party validating an old signature (PAdES LTV)
    still needs to learn that the certificate was revoked.
    """
    statement = (
        select(IssuedCertificate)
        .where(IssuedCertificate.issuer_ca == issuer_ca)
        .where(col(IssuedCertificate.status).in_(
            [CertificateStatus.REVOKED.value, CertificateStatus.ON_HOLD.value]))
        .order_by(col(IssuedCertificate.revoked_at), col(IssuedCertificate.serial))
    )
    return list(session.exec(statement))


def status_history(session: Session, serial: int | str) -> list[CertificateStatusEvent]:
    statement = (select(CertificateStatusEvent)
                 .where(CertificateStatusEvent.serial == serial_text(serial))
                 .order_by(col(CertificateStatusEvent.id)))
    return list(session.exec(statement))


def latest_crl(session: Session, ca_name: str) -> IssuedCrl | None:
    statement = (select(IssuedCrl).where(IssuedCrl.ca_name == ca_name)
                 .order_by(col(IssuedCrl.crl_number).desc()).limit(1))
    return session.exec(statement).first()
