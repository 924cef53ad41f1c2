"""Certificate status changes: revoke, suspend (certificateHold) and reinstate.

Nothing is deleted: the certificate row carries its current status and every change is also
a CertificateStatusEvent with who, when and why. Revocation is final; a hold is a suspension
that `reinstate_certificate` lifts (the certificate then leaves the next full CRL, which is
what removeFromCRL means for a relying party).
"""

from __future__ import annotations

from datetime import UTC, datetime

from cryptography import x509
from sqlmodel import Session

from ca import store
from ca.errors import AlreadyRevoked, NotSuspended, RevocationRefused
from ca.models import CertificateRole, CertificateStatus, IssuedCertificate

HOLD = x509.ReasonFlags.certificate_hold


def _check_actor(actor: object) -> str:
    if not isinstance(actor, str):
        raise TypeError(f"actor must be a str, not {type(actor).__name__}")
    if not actor.strip():
        raise ValueError("actor must name who made the change")
    return actor


def _aware(value: datetime | None, field: str) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, datetime):
        raise TypeError(f"{field} must be a datetime")
    if value.tzinfo is None:
        raise ValueError(f"{field} must be an aware datetime")
    return value.astimezone(UTC).replace(microsecond=0)


def revoke_certificate(
    session: Session,
    serial: int | str,
    reason: x509.ReasonFlags,
    *,
    actor: str,
    when: datetime | None = None,
    invalidity_date: datetime | None = None,
    note: str | None = None,
) -> IssuedCertificate:
    """Revoke (or, with certificateHold, suspend) a certificate issued here.

    A certificate on hold may still be revoked for good; it keeps the time of its hold as its
    revocation time, since it has not been trusted since then.
    """
    if not isinstance(reason, x509.ReasonFlags):
        raise TypeError(f"reason must be a cryptography.x509.ReasonFlags, not "
                        f"{type(reason).__name__}")
    if reason is x509.ReasonFlags.remove_from_crl:
        raise ValueError("removeFromCRL is not a revocation reason: use reinstate_certificate")
    _check_actor(actor)
    when = _aware(when, "when") or datetime.now(UTC).replace(microsecond=0)
    invalidity_date = _aware(invalidity_date, "invalidity_date")

    record = store.get_certificate(session, serial)
    if record.role == CertificateRole.ROOT_CA.value:
        raise RevocationRefused("the self-signed root cannot be revoked by a CRL; withdraw it "
                                "from the trust list instead")
    if record.status == CertificateStatus.REVOKED.value:
        raise AlreadyRevoked(f"certificate {record.serial} is already revoked "
                             f"({record.revocation_reason})")
    if record.status == CertificateStatus.ON_HOLD.value:
        if reason is HOLD:
            raise AlreadyRevoked(f"certificate {record.serial} is already on hold")
    else:
        record.revoked_at = when
    status = CertificateStatus.ON_HOLD if reason is HOLD else CertificateStatus.REVOKED
    record.status = status.value
    record.revocation_reason = reason.value
    if invalidity_date is not None:
        record.invalidity_date = invalidity_date
    session.add(record)
    store.add_status_event(session, record.serial, status, at=when, actor=actor,
                           reason=reason.value, note=note)
    session.flush()
    return record


def reinstate_certificate(
    session: Session,
    serial: int | str,
    *,
    actor: str,
    when: datetime | None = None,
    note: str | None = None,
) -> IssuedCertificate:
    """Lift a hold: the certificate is good again and leaves the next CRL."""
    _check_actor(actor)
    when = _aware(when, "when") or datetime.now(UTC).replace(microsecond=0)
    record = store.get_certificate(session, serial)
    if record.status != CertificateStatus.ON_HOLD.value:
        raise NotSuspended(f"certificate {record.serial} is {record.status}, not on hold; "
                           "only a hold can be lifted")
    record.status = CertificateStatus.GOOD.value
    record.revoked_at = None
    record.revocation_reason = None
    record.invalidity_date = None
    session.add(record)
    store.add_status_event(session, record.serial, CertificateStatus.GOOD, at=when, actor=actor,
                           reason=x509.ReasonFlags.remove_from_crl.value, note=note)
    session.flush()
    return record
