"""Status changes of a seal: revoke (for good), suspend (certificateHold) and reinstate.

The seal row and its certificate change together in the caller's transaction: the
certificate's status (and its event with who, when, why) is what OCSP and the CRL tell
relying parties; the seal's status is what issuance checks. Nothing is deleted. The
caller commits, then tells the OCSP responder and re-signs the CRL (certseal/status.py).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from cryptography import x509
from sqlmodel import Session

from ca.audit import append_entry
from ca.revocation import reinstate_certificate, revoke_certificate
from seal.models import Seal
from seal.registry import get_seal

ACTIVE, SUSPENDED, REVOKED = "active", "suspended", "revoked"
HOLD = x509.ReasonFlags.certificate_hold


@dataclass(frozen=True)
class SealStatusChange:
    seal_id: str
    certificate_serial: int
    status: str  # the seal's status after the change
    reason: x509.ReasonFlags | None  # None for a reinstatement
    at: dt.datetime
    actor: str


def parse_revocation_reason(text: str) -> x509.ReasonFlags:
    """An RFC 5280 reason as openssl and cryptography spell it (keyCompromise, ...), or its
    Python name (key_compromise). certificateHold and removeFromCRL are not revocations."""
    if not isinstance(text, str):
        raise TypeError("reason must be text")
    by_name = {flag.name: flag for flag in x509.ReasonFlags}
    reason = by_name.get(text) or next((f for f in x509.ReasonFlags if f.value == text), None)
    if reason is None:
        allowed = ", ".join(f.value for f in revocation_reasons())
        raise ValueError(f"reason: {text!r} is not an RFC 5280 reason ({allowed})")
    if reason is HOLD:
        raise ValueError("reason: certificateHold is a suspension: use 'seal suspend'")
    if reason is x509.ReasonFlags.remove_from_crl:
        raise ValueError("reason: removeFromCRL is not a revocation: use 'seal reinstate'")
    return reason


def revocation_reasons() -> list[x509.ReasonFlags]:
    return [f for f in x509.ReasonFlags if f not in (HOLD, x509.ReasonFlags.remove_from_crl)]


def _now(when: dt.datetime | None) -> dt.datetime:
    if when is not None and when.tzinfo is None:
        raise ValueError("when must be an aware datetime")
    return (when or dt.datetime.now(dt.UTC)).astimezone(dt.UTC).replace(microsecond=0)


def _changed(seal: Seal, reason: x509.ReasonFlags | None, at: dt.datetime,
             actor: str) -> SealStatusChange:
    return SealStatusChange(seal_id=seal.seal_id, certificate_serial=int(
        seal.certificate_serial, 16), status=seal.status, reason=reason, at=at, actor=actor)


def revoke_seal(session: Session, seal_id: str, reason: x509.ReasonFlags, *, actor: str,
                note: str | None = None, when: dt.datetime | None = None) -> SealStatusChange:
    """Revoke the seal's certificate for good (a suspended seal may be revoked too)."""
    if not isinstance(reason, x509.ReasonFlags):
        raise TypeError("reason must be a cryptography.x509.ReasonFlags")
    if reason in (HOLD, x509.ReasonFlags.remove_from_crl):
        raise ValueError(f"reason: {reason.value} is not a revocation reason")
    at = _now(when)
    seal = get_seal(session, seal_id)
    revoke_certificate(session, seal.certificate_serial, reason, actor=actor, when=at,
                       note=note)
    seal.status = REVOKED
    session.add(seal)
    session.flush()
    append_entry(session, "seal.revoked", subject=seal_id, actor=actor,
                 details={"reason": reason.value, "note": note})
    return _changed(seal, reason, at, actor)


def suspend_seal(session: Session, seal_id: str, *, actor: str, note: str | None = None,
                 when: dt.datetime | None = None) -> SealStatusChange:
    """Put the seal's certificate on hold: it cannot seal until reinstated."""
    at = _now(when)
    seal = get_seal(session, seal_id)
    revoke_certificate(session, seal.certificate_serial, HOLD, actor=actor, when=at,
                       note=note)
    seal.status = SUSPENDED
    session.add(seal)
    session.flush()
    append_entry(session, "seal.suspended", subject=seal_id, actor=actor,
                 details={"note": note})
    return _changed(seal, HOLD, at, actor)


def reinstate_seal(session: Session, seal_id: str, *, actor: str, note: str | None = None,
                   when: dt.datetime | None = None) -> SealStatusChange:
    """Lift a suspension; a revoked seal stays revoked (ca.errors.NotSuspended)."""
    at = _now(when)
    seal = get_seal(session, seal_id)
    reinstate_certificate(session, seal.certificate_serial, actor=actor, when=at, note=note)
    seal.status = ACTIVE
    session.add(seal)
    session.flush()
    append_entry(session, "seal.reinstated", subject=seal_id, actor=actor,
                 details={"note": note})
    return _changed(seal, None, at, actor)
