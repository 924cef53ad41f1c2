"""Licence tables. Nothing here is ever deleted: status changes are appended to
``licence_status_change`` and superseded licences stay readable."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from sqlalchemy import Column, LargeBinary, Text, UniqueConstraint
from sqlmodel import Field, SQLModel


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class LicenceStatus(StrEnum):
    VALID = "valid"
    SUSPENDED = "suspended"
    REVOKED = "revoked"
    EXPIRED = "expired"
    SUPERSEDED = "superseded"


class Licence(SQLModel, table=True):
    __tablename__ = "licence"
    __table_args__ = (
        UniqueConstraint("department_id", "idempotency_key", name="uq_licence_idempotency"),
        UniqueConstraint("department_id", "status_index", name="uq_licence_status_index"),
    )

    licence_id: str = Field(primary_key=True, max_length=64)
    type_code: str = Field(index=True, max_length=12)
    department_id: str = Field(index=True, max_length=64)
    holder_identifier: str = Field(index=True, max_length=18)
    holder_name: str = Field(max_length=200)
    data: str = Field(sa_column=Column(Text, nullable=False))  # canonical JSON
    status: str = Field(default=LicenceStatus.VALID, max_length=12)
    issued_at: dt.datetime
    valid_from: dt.date
    valid_until: dt.date | None = None
    version: int = 1
    supersedes: str | None = Field(default=None, foreign_key="licence.licence_id", max_length=64)
    seal_id: str | None = Field(default=None, max_length=64)
    idempotency_key: str | None = Field(default=None, max_length=200)
    request_digest: str | None = Field(default=None, max_length=64)  # sha256 hex
    # Position in the issuing department's signed status list (certs/status_list.py),
    # allocated at issuance, never reused; None for licences recorded without one.
    status_index: int | None = Field(default=None)
    created_at: dt.datetime = Field(default_factory=_now)


class LicenceDocument(SQLModel, table=True):
    __tablename__ = "licence_document"

    licence_id: str = Field(primary_key=True, foreign_key="licence.licence_id", max_length=64)
    pdf: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    sha256: str = Field(max_length=64)


class LicenceStatusChange(SQLModel, table=True):
    __tablename__ = "licence_status_change"

    id: int | None = Field(default=None, primary_key=True)
    licence_id: str = Field(index=True, foreign_key="licence.licence_id", max_length=64)
    from_status: str | None = Field(default=None, max_length=12)  # None: issued
    to_status: str = Field(max_length=12)
    reason: str = Field(default="", max_length=500)
    actor: str = Field(max_length=200)
    at: dt.datetime = Field(default_factory=_now)


class LicenceSerial(SQLModel, table=True):
    """The last serial handed out per (type, issuer): only ever incremented."""

    __tablename__ = "licence_serial"

    type_code: str = Field(primary_key=True, max_length=12)
    issuer_uscc: str = Field(primary_key=True, max_length=18)
    last_serial: int = 0


class LicenceStatusIndexCounter(SQLModel, table=True):
    """The next status-list index per issuing department: only ever incremented, so an
    index once handed out (even by a rolled-back issue) names at most one licence."""

    __tablename__ = "licence_status_index_counter"

    department_id: str = Field(primary_key=True, max_length=64)
    next_index: int = 0
