"""Licence records and lifecycle: functions that take the caller's Session, so issuing
(serial, record, PDF, history) commits or rolls back as one transaction."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any

from sqlalchemy import func, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from certs.canonical import canonical_json
from certs.errors import IdempotencyConflict, InvalidTransition, LicenceNotFound
from certs.licence_id import MAX_SERIAL, LicenceId, parse_licence_id
from certs.models import (
    Licence,
    LicenceDocument,
    LicenceSerial,
    LicenceStatus,
    LicenceStatusChange,
    LicenceStatusIndexCounter,
)

S = LicenceStatus
# expired is reached by time (see effective_status) and may be recorded by a sweep;
# revoked, superseded and expired are final.
ALLOWED_TRANSITIONS: dict[str, frozenset[str]] = {
    S.VALID: frozenset({S.SUSPENDED, S.REVOKED, S.SUPERSEDED, S.EXPIRED}),
    S.SUSPENDED: frozenset({S.VALID, S.REVOKED, S.SUPERSEDED, S.EXPIRED}),
    S.REVOKED: frozenset(),
    S.SUPERSEDED: frozenset(),
    S.EXPIRED: frozenset(),
}


def request_digest(body: Any) -> str:
    """SHA-256 hex of an issuing request body (canonical JSON), for idempotency checks."""
    return hashlib.sha256(canonical_json(body)).hexdigest()


def allocate_licence_id(session: Session, type_code: str, issuer_uscc: str) -> LicenceId:
    """The next serial for (type, issuer). The row update takes the write lock first, so
    concurrent issuers serialise here; a rolled-back issue leaves no licence behind."""
    key = {"type_code": type_code, "issuer_uscc": issuer_uscc}
    bump = (update(LicenceSerial)
            .where(LicenceSerial.type_code == type_code,
                   LicenceSerial.issuer_uscc == issuer_uscc)
            .values(last_serial=LicenceSerial.last_serial + 1))
    if session.exec(bump).rowcount == 0:  # type: ignore[call-overload]
        try:
            with session.begin_nested():
                session.add(LicenceSerial(**key, last_serial=1))
        except IntegrityError:  # another issuer created the row first
            session.exec(bump)  # type: ignore[call-overload]
    row = session.get(LicenceSerial, (type_code, issuer_uscc), populate_existing=True)
    assert row is not None
    if row.last_serial > MAX_SERIAL:
        raise InvalidTransition(f"serials exhausted for {type_code}/{issuer_uscc}")
    return LicenceId(type_code, issuer_uscc, row.last_serial, 1)


def allocate_status_index(session: Session, department_id: str) -> int:
    """The next index in the department's status list (0, 1, 2, ...), never reused.
    Same locking recipe as ``allocate_licence_id``: the row update takes the write lock."""
    bump = (update(LicenceStatusIndexCounter)
            .where(LicenceStatusIndexCounter.department_id == department_id)
            .values(next_index=LicenceStatusIndexCounter.next_index + 1))
    if session.exec(bump).rowcount == 0:  # type: ignore[call-overload]
        try:
            with session.begin_nested():
                session.add(LicenceStatusIndexCounter(department_id=department_id,
                                                      next_index=1))
        except IntegrityError:  # another issuer created the row first
            session.exec(bump)  # type: ignore[call-overload]
    row = session.get(LicenceStatusIndexCounter, department_id, populate_existing=True)
    assert row is not None
    return row.next_index - 1


def find_idempotent(session: Session, department_id: str, idempotency_key: str,
                    digest: str) -> Licence | None:
    """The licence a previous request with this key issued, if any; the same key with a
    different body is refused."""
    licence = session.exec(select(Licence).where(
        Licence.department_id == department_id,
        Licence.idempotency_key == idempotency_key)).first()
    if licence is not None and licence.request_digest != digest:
        raise IdempotencyConflict("idempotency key reused with a different request body")
    return licence


def record_licence(
    session: Session,
    *,
    licence_id: LicenceId,
    department_id: str,
    holder_identifier: str,
    holder_name: str,
    data: dict[str, Any],
    issued_at: dt.datetime,
    valid_from: dt.date,
    valid_until: dt.date | None,
    pdf: bytes,
    actor: str,
    seal_id: str | None = None,
    idempotency_key: str | None = None,
    request_digest: str | None = None,
    supersedes: str | None = None,
    status_index: int | None = None,
) -> Licence:
    """Store the licence, its signed PDF and its first history entry (flushed, not
    committed: the caller's transaction decides). A superseded predecessor is marked."""
    licence = Licence(
        licence_id=str(licence_id), type_code=licence_id.type_code,
        department_id=department_id, holder_identifier=holder_identifier,
        holder_name=holder_name, data=canonical_json(data).decode("utf-8"),
        status=S.VALID, issued_at=issued_at, valid_from=valid_from, valid_until=valid_until,
        version=licence_id.version, supersedes=supersedes, seal_id=seal_id,
        idempotency_key=idempotency_key, request_digest=request_digest,
        status_index=status_index,
    )
    if supersedes is not None:
        change_status(session, supersedes, S.SUPERSEDED,
                      reason=f"superseded by {licence_id}", actor=actor)
    session.add(licence)
    session.add(LicenceDocument(licence_id=str(licence_id), pdf=pdf,
                                sha256=hashlib.sha256(pdf).hexdigest()))
    session.add(LicenceStatusChange(licence_id=str(licence_id), from_status=None,
                                    to_status=S.VALID, reason="issued", actor=actor,
                                    at=issued_at))
    try:
        session.flush()
    except IntegrityError:
        raise IdempotencyConflict(
            f"licence {licence_id} or its idempotency key is already recorded") from None
    return licence


def get_licence(session: Session, licence_id: str) -> Licence:
    key = str(parse_licence_id(licence_id))
    licence = session.get(Licence, key)
    if licence is None:
        raise LicenceNotFound(key)
    return licence


def get_licence_pdf(session: Session, licence_id: str) -> bytes:
    document = session.get(LicenceDocument, str(parse_licence_id(licence_id)))
    if document is None:
        raise LicenceNotFound(licence_id)
    return document.pdf


def licence_data(licence: Licence) -> dict[str, Any]:
    return json.loads(licence.data)


def list_licences_for_holder(session: Session, holder_identifier: str) -> list[Licence]:
    return list(session.exec(select(Licence)
                             .where(Licence.holder_identifier == holder_identifier)
                             .order_by(Licence.issued_at, Licence.licence_id)))


def licence_history(session: Session, licence_id: str) -> list[LicenceStatusChange]:
    return list(session.exec(select(LicenceStatusChange)
                             .where(LicenceStatusChange.licence_id == licence_id)
                             .order_by(LicenceStatusChange.id)))


def effective_status(licence: Licence, today: dt.date | None = None) -> LicenceStatus:
    """The stored status, or expired once valid_until has passed for a live licence."""
    status = LicenceStatus(licence.status)
    today = today or dt.date.today()
    if (status in (S.VALID, S.SUSPENDED) and licence.valid_until is not None
            and licence.valid_until < today):
        return S.EXPIRED
    return status


def change_status(session: Session, licence_id: str, to: str, reason: str, actor: str,
                  *, at: dt.datetime | None = None) -> Licence:
    licence = get_licence(session, licence_id)
    target = LicenceStatus(to)
    current = LicenceStatus(licence.status)
    if target not in ALLOWED_TRANSITIONS[current]:
        raise InvalidTransition(f"licence {licence_id}: {current} -> {target} is not allowed")
    when = at or dt.datetime.now(dt.UTC)
    if target == S.EXPIRED and (licence.valid_until is None
                                or licence.valid_until >= when.date()):
        raise InvalidTransition(f"licence {licence_id} has not reached its end of validity")
    licence.status = target
    session.add(licence)
    session.add(LicenceStatusChange(licence_id=licence.licence_id, from_status=current,
                                    to_status=target, reason=reason, actor=actor, at=when))
    session.flush()
    return licence


def department_status_entries(session: Session, department_id: str
                              ) -> list[tuple[int, LicenceStatus]]:
    """(status index, recorded status) of every licence of a department that has an index."""
    rows = session.exec(select(Licence.status_index, Licence.status)
                        .where(Licence.department_id == department_id,
                               Licence.status_index.is_not(None))  # type: ignore[union-attr]
                        .order_by(Licence.status_index))
    return [(index, LicenceStatus(status)) for index, status in rows]


def licence_status_generation(session: Session) -> int:
    """Moves whenever any licence is issued or changes status (the newest history row):
    one primary-key lookup, cheap enough to ask before serving a cached status list."""
    return session.exec(select(func.max(LicenceStatusChange.id))).one() or 0
