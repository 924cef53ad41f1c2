"""The region's own trust services and the lists it publishes: queries and records on the
tables of ``ca.trust_models``. Functions take the session and flush; the caller commits.

A service's history only grows, in time order: a withdrawal is effective from a given
instant (possibly in the past, e.g. from when a key was found compromised), and a verifier
judges a signature by the status at its time-stamp (``TrustService.status_at``).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding
from sqlmodel import Session, col, select

from ca.errors import CaError
from ca.trust_models import TrustListPublication, TrustServiceRecord, TrustServiceStatusRecord
from ca.trustlist import (
    SERVICE_TYPES,
    STATUSES,
    StatusChange,
    TrustList,
    TrustService,
    sign_trust_list,
)
from ca.tsl_xml import sign_trust_list_xml

DEFAULT_LIST_VALIDITY = timedelta(days=30)


class TrustServiceError(CaError):
    """A change to the region's trust services that its state refuses."""

    code = "trust_service_refused"


class TrustServiceNotFound(TrustServiceError):
    code = "trust_service_not_found"


class StatusChangeRefused(TrustServiceError):
    """Out of time order, or the service already has that status."""

    code = "status_change_refused"


def _aware(when: datetime, what: str) -> datetime:
    if when.tzinfo is None:
        raise ValueError(f"{what} must be timezone-aware")
    return when


def list_service(session: Session, service_type: str, name: str,
                 certificate: x509.Certificate, *, granted_since: datetime, actor: str,
                 now: datetime) -> TrustServiceRecord:
    """Add a service to the region's list, granted from ``granted_since``."""
    if service_type not in SERVICE_TYPES:
        raise ValueError(f"service type must be one of {SERVICE_TYPES}, not {service_type!r}")
    _aware(granted_since, "granted_since")
    fp = certificate.fingerprint(hashes.SHA256()).hex()
    if session.exec(select(TrustServiceRecord)
                    .where(TrustServiceRecord.sha256_fingerprint == fp)).first():
        raise TrustServiceError(f"certificate {fp} is already listed as a trust service")
    record = TrustServiceRecord(service_type=service_type, name=name,
                                certificate_der=certificate.public_bytes(Encoding.DER),
                                sha256_fingerprint=fp, listed_at=_aware(now, "now"))
    session.add(record)
    session.flush()
    session.add(TrustServiceStatusRecord(service_id=record.id, status="granted",
                                         since=granted_since, reason="listed", actor=actor,
                                         recorded_at=now))
    session.flush()
    return record


def service_records(session: Session, service_type: str | None = None
                    ) -> list[TrustServiceRecord]:
    query = select(TrustServiceRecord).order_by(col(TrustServiceRecord.id))
    if service_type is not None:
        query = query.where(TrustServiceRecord.service_type == service_type)
    return list(session.exec(query))


def history_of(session: Session, service_id: int) -> list[TrustServiceStatusRecord]:
    return list(session.exec(
        select(TrustServiceStatusRecord)
        .where(TrustServiceStatusRecord.service_id == service_id)
        .order_by(col(TrustServiceStatusRecord.since), col(TrustServiceStatusRecord.id))))


def find_service(session: Session, service_type: str, fingerprint: str | None = None
                 ) -> TrustServiceRecord:
    """The one service of ``service_type`` (or the one with that certificate fingerprint)."""
    records = service_records(session, service_type)
    if fingerprint is not None:
        wanted = fingerprint.replace(":", "").lower()
        records = [r for r in records if r.sha256_fingerprint == wanted]
    if not records:
        raise TrustServiceNotFound(f"no {service_type} service is listed"
                                   + (f" with certificate {fingerprint}" if fingerprint else ""))
    if len(records) > 1:
        raise TrustServiceError(f"{len(records)} {service_type} services are listed; name one "
                                "by its certificate's SHA-256 fingerprint")
    return records[0]


def change_status(session: Session, record: TrustServiceRecord, status: str, *,
                  since: datetime, reason: str, actor: str, now: datetime
                  ) -> TrustServiceStatusRecord:
    """Append a status change effective from ``since`` (history stays in time order)."""
    if status not in STATUSES:
        raise ValueError(f"status must be one of {STATUSES}, not {status!r}")
    _aware(since, "since")
    if not reason.strip():
        raise ValueError("a status change needs a reason")
    history = history_of(session, record.id)
    last = history[-1]
    if last.status == status:
        raise StatusChangeRefused(f"the {record.service_type} service {record.name!r} is "
                                  f"already {status} (since {last.since.isoformat()})")
    if since < last.since:
        raise StatusChangeRefused(
            f"--at {since.isoformat()} is before the service's last status change "
            f"({last.status} since {last.since.isoformat()}); history only grows forward")
    change = TrustServiceStatusRecord(service_id=record.id, status=status, since=since,
                                      reason=reason.strip(), actor=actor, recorded_at=now)
    session.add(change)
    session.flush()
    return change


def trust_services(session: Session) -> tuple[TrustService, ...]:
    """Every listed service with its whole status history, as the list carries them."""
    return tuple(
        TrustService(
            service_type=r.service_type, name=r.name,
            certificate=x509.load_der_x509_certificate(r.certificate_der),
            history=tuple(StatusChange(h.status, h.since) for h in history_of(session, r.id)),
        )
        for r in service_records(session)
    )


def latest_publication(session: Session) -> TrustListPublication | None:
    return session.exec(select(TrustListPublication)
                        .order_by(col(TrustListPublication.sequence_number).desc())).first()


def publish(session: Session, *, region_code: str, region_name: str, base_url: str | None,
            key, signer_certificate: x509.Certificate, chain: list[x509.Certificate],
            now: datetime, validity: timedelta = DEFAULT_LIST_VALIDITY
            ) -> TrustListPublication:
    """Sign the next list (sequence + 1) from the recorded services and record it, as a JWS
    and as ETSI TS 119 612 XML: one publication, two serialisations of the same list.

    Two publishers racing for the same sequence number collide on the primary key; the
    loser's transaction fails rather than publishing a second list under one number."""
    _aware(now, "now")
    latest = latest_publication(session)
    sequence = 1 if latest is None else latest.sequence_number + 1
    # Issue times must never go backwards either: a verifier orders lists by them too.
    if latest is not None and now < latest.issued_at:
        now = latest.issued_at
    trust_list = TrustList(region_code=region_code, region_name=region_name, base_url=base_url,
                           sequence_number=sequence, issued_at=now, next_update=now + validity,
                           services=trust_services(session))
    jws = sign_trust_list(trust_list, key, signer_certificate, chain=chain)
    # The XML form carries the signer's certificate alone (TS 119 612 clause 5.7.1).
    xml = sign_trust_list_xml(trust_list, key, signer_certificate).decode("utf-8")
    publication = TrustListPublication(sequence_number=sequence, issued_at=now,
                                       next_update=trust_list.next_update, jws=jws, xml=xml)
    session.add(publication)
    session.flush()
    return publication
