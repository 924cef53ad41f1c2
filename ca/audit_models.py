"""Tables of the audit log: the hash-chained entries, the chain head that serialises
appends, and the time-stamped checkpoints. Rows are only ever added (the head row is
the one row that moves: it names the newest entry).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, LargeBinary, Text
from sqlmodel import Field, SQLModel

from ca.models import _utc


class AuditEntry(SQLModel, table=True):
    """Who did what, when, from where; ``entry_hash`` covers every field and the
    previous entry's hash (ca.audit.entry_hash)."""

    __tablename__ = "ca_audit_entry"

    sequence: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    at: datetime = Field(sa_column=_utc())
    actor: str = Field(max_length=160)
    action: str = Field(index=True, max_length=64)
    subject: str | None = Field(default=None, index=True, max_length=160)
    source: str | None = Field(default=None, max_length=160)
    details: str = Field(sa_column=Column(Text, nullable=False))  # canonical JSON object
    prev_hash: str = Field(max_length=64)  # lower-case hex SHA-256
    entry_hash: str = Field(max_length=64, unique=True)


class AuditChainHead(SQLModel, table=True):
    """One row (id 1): the newest entry. Every append locks and moves it, so two
    transactions can never both extend the same entry (no fork of the chain)."""

    __tablename__ = "ca_audit_head"

    id: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    sequence: int
    entry_hash: str = Field(max_length=64)


class AuditCheckpoint(SQLModel, table=True):
    """The head hash at ``sequence`` time-stamped by our RFC 3161 TSA (key in the HSM):
    a forger who rewrites entries up to here cannot make a matching token."""

    __tablename__ = "ca_audit_checkpoint"

    id: int | None = Field(default=None, primary_key=True)
    sequence: int = Field(index=True)
    head_hash: str = Field(max_length=64)
    token: bytes = Field(sa_column=Column(LargeBinary, nullable=False))  # DER TimeStampResp
    created_at: datetime = Field(sa_column=_utc())
