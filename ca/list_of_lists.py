"""A national operator's list of lists (the EU LOTL pattern, ETSI TS 119 612 clause 5.3.13):
the regions it names, each with where its list is served and the certificate that signs it,
and every list of lists it has signed. Queries and records on the tables of
``ca.trust_models``; functions take the session and flush, the caller commits.

Naming a region is the national operator vouching for that region's list signer; a counter
pinned to the national list then recognises the region without pinning it itself.
Withdrawing a region ends its pointer: the next list of lists no longer names it, and a
counter that takes that list stops recognising the region's list.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from sqlmodel import Session, col, select

from ca.errors import CaError
from ca.trust_models import ListOfListsPublication, TslPointerRecord
from ca.tsl_xml import ListOfLists, TslPointer, sign_list_of_lists

DEFAULT_VALIDITY = timedelta(days=30)


class ListOfListsRefused(CaError):
    """A change to the national list of lists that its state refuses."""

    code = "list_of_lists_refused"


def current_pointers(session: Session) -> list[TslPointerRecord]:
    return list(session.exec(select(TslPointerRecord)
                             .where(col(TslPointerRecord.withdrawn_at).is_(None))
                             .order_by(col(TslPointerRecord.region_code))))


def name_region(session: Session, *, region_code: str, region_name: str, location: str,
                signer: x509.Certificate, actor: str, now: datetime) -> TslPointerRecord:
    """Point at a region's list (or replace the pointer, e.g. after a signer change)."""
    TslPointer(region_code, region_name, location, (signer,))  # the same checks as the list's
    for existing in current_pointers(session):
        if existing.region_code == region_code:
            existing.withdrawn_at = now
            existing.withdrawal_reason = "replaced"
            session.add(existing)
    record = TslPointerRecord(region_code=region_code, region_name=region_name,
                              location=location, signer_der=signer.public_bytes(Encoding.DER),
                              added_at=now, added_by=actor)
    session.add(record)
    session.flush()
    return record


def withdraw_region(session: Session, region_code: str, *, reason: str, now: datetime
                    ) -> TslPointerRecord:
    if not reason.strip():
        raise ValueError("a withdrawal needs a reason")
    found = [p for p in current_pointers(session) if p.region_code == region_code]
    if not found:
        raise ListOfListsRefused(f"region {region_code} is not named by the list of lists")
    for record in found:
        record.withdrawn_at = now
        record.withdrawal_reason = reason.strip()
        session.add(record)
    session.flush()
    return found[0]


def latest_publication(session: Session) -> ListOfListsPublication | None:
    return session.exec(select(ListOfListsPublication)
                        .order_by(col(ListOfListsPublication.sequence_number).desc())).first()


def publish(session: Session, *, operator_code: str, operator_name: str, base_url: str | None,
            key, signer_certificate: x509.Certificate, now: datetime,
            validity: timedelta = DEFAULT_VALIDITY) -> ListOfListsPublication:
    """Sign the next list of lists (sequence + 1) from the current pointers and record it."""
    latest = latest_publication(session)
    sequence = 1 if latest is None else latest.sequence_number + 1
    if latest is not None and now < latest.issued_at:
        now = latest.issued_at
    lotl = ListOfLists(
        operator_code=operator_code, operator_name=operator_name, sequence_number=sequence,
        issued_at=now, next_update=now + validity, base_url=base_url,
        pointers=tuple(TslPointer(p.region_code, p.region_name, p.location,
                                  (x509.load_der_x509_certificate(p.signer_der),))
                       for p in current_pointers(session)))
    xml = sign_list_of_lists(lotl, key, signer_certificate).decode("utf-8")
    publication = ListOfListsPublication(sequence_number=sequence, issued_at=now,
                                         next_update=lotl.next_update, xml=xml)
    session.add(publication)
    session.flush()
    return publication
