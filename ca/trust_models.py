"""Tables behind the region's own trust list: its services, their status history and every
list it has published. Nothing is deleted; a withdrawal is a new status row.

The published JWS is derived from these rows (``ca.trust_services.current_trust_list``), so
a lost ``published/trust-list.jws`` is re-made, and the sequence number can never go back.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, LargeBinary, Text
from sqlmodel import Field, SQLModel

from ca.models import _utc


class TrustServiceRecord(SQLModel, table=True):
    """One service the region lists (root CA, issuing CA, TSA, OCSP signer)."""

    __tablename__ = "ca_trust_service"

    id: int | None = Field(default=None, primary_key=True)
    service_type: str = Field(index=True, max_length=32)  # ca.trustlist.SERVICE_TYPES
    name: str = Field(max_length=128)
    certificate_der: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    # A certificate is listed once: the same key under two entries would be ambiguous.
    sha256_fingerprint: str = Field(max_length=64, unique=True)  # lower-case hex
    listed_at: datetime = Field(sa_column=_utc())


class TrustServiceStatusRecord(SQLModel, table=True):
    """A status change of a service (granted / withdrawn), effective from ``since``."""

    __tablename__ = "ca_trust_service_status"

    id: int | None = Field(default=None, primary_key=True)
    service_id: int = Field(foreign_key="ca_trust_service.id", index=True)
    status: str = Field(max_length=16)
    since: datetime = Field(sa_column=_utc())
    reason: str | None = Field(default=None, max_length=1024)
    actor: str = Field(max_length=128)
    recorded_at: datetime = Field(sa_column=_utc())


class TrustListPublication(SQLModel, table=True):
    """Every list signed, kept: the highest sequence number is the current one."""

    __tablename__ = "ca_trust_list_publication"

    sequence_number: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    issued_at: datetime = Field(sa_column=_utc())
    next_update: datetime = Field(sa_column=_utc())
    jws: str = Field(sa_column=Column(Text, nullable=False))
    # The same list as ETSI TS 119 612 XML, signed in the same transaction (absent on
    # publications made before the XML form existed).
    xml: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


class TslPointerRecord(SQLModel, table=True):
    """A national operator's pointer to a region's list (its list of lists names it): where
    the list is served and the certificate that signs it. A withdrawal ends the pointer;
    a region named again gets a new row."""

    __tablename__ = "ca_tsl_pointer"

    id: int | None = Field(default=None, primary_key=True)
    region_code: str = Field(index=True, max_length=6)
    region_name: str = Field(max_length=128)
    location: str = Field(max_length=1024)
    signer_der: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    added_at: datetime = Field(sa_column=_utc())
    added_by: str = Field(max_length=128)
    withdrawn_at: datetime | None = Field(default=None, sa_column=_utc(nullable=True))
    withdrawal_reason: str | None = Field(default=None, max_length=1024)


class ListOfListsPublication(SQLModel, table=True):
    """Every list of lists signed, kept: the highest sequence number is the current one."""

    __tablename__ = "ca_lotl_publication"

    sequence_number: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    issued_at: datetime = Field(sa_column=_utc())
    next_update: datetime = Field(sa_column=_utc())
    xml: str = Field(sa_column=Column(Text, nullable=False))
