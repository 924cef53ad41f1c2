"""Tables of the CA room. Nothing here is ever deleted: status changes are new events.

Serials are stored as text: upper-case hex, zero-padded to whole bytes, the way openssl
prints them (a 159-bit serial does not fit any SQL integer type).
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy import Column, DateTime, LargeBinary, TypeDecorator
from sqlmodel import Field, SQLModel


class UtcDateTime(TypeDecorator):
    """Aware UTC datetimes in and out, also on SQLite (which drops the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given for a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _utc(nullable: bool = False) -> Column:
    return Column(UtcDateTime(), nullable=nullable)


class CertificateRole(StrEnum):
    ROOT_CA = "root-ca"
    ISSUING_CA = "issuing-ca"
    TSA = "tsa"
    OCSP = "ocsp"
    ESEAL = "eseal"
    TRUST_LIST_SIGNER = "trust-list-signer"


class CertificateStatus(StrEnum):
    GOOD = "good"
    REVOKED = "revoked"
    ON_HOLD = "on_hold"


ROOT = "root"
ISSUING = "issuing"
CA_NAMES = (ROOT, ISSUING)


def serial_text(serial: int | str) -> str:
    """The stored form of a serial: upper-case hex of whole bytes (accepts int or hex text)."""
    if isinstance(serial, str):
        serial = int(serial, 16)
    if not isinstance(serial, int) or isinstance(serial, bool):
        raise TypeError(f"serial must be an int or hex str, not {type(serial).__name__}")
    if serial <= 0:
        raise ValueError("serial must be positive")
    digits = f"{serial:X}"
    return digits.zfill(len(digits) + len(digits) % 2)


class CertificateAuthority(SQLModel, table=True):
    __tablename__ = "ca_authority"

    name: str = Field(primary_key=True, max_length=16)  # "root" | "issuing"
    region_code: str = Field(max_length=6)
    # No foreign key to ca_issued_certificate: that table points back here (issuer_ca).
    certificate_serial: str = Field(max_length=64)
    key_label: str = Field(max_length=128)
    next_crl_number: int = Field(default=1)
    crl_last_issued_at: datetime | None = Field(default=None, sa_column=_utc(nullable=True))
    created_at: datetime = Field(sa_column=_utc())


class IssuedCertificate(SQLModel, table=True):
    __tablename__ = "ca_issued_certificate"

    serial: str = Field(primary_key=True, max_length=64)
    issuer_ca: str = Field(foreign_key="ca_authority.name", index=True, max_length=16)
    role: str = Field(index=True, max_length=32)  # CertificateRole value
    subject: str = Field(max_length=1024)  # RFC 4514 string
    der: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    not_before: datetime = Field(sa_column=_utc())
    not_after: datetime = Field(sa_column=_utc())
    key_label: str = Field(max_length=128)
    sha256_fingerprint: str = Field(max_length=64, index=True)  # lower-case hex
    # SHA-1 of the issuer's subjectPublicKey, hex: the OCSP CertID issuerKeyHash.
    issuer_key_hash: str = Field(max_length=40, index=True)
    status: str = Field(default=CertificateStatus.GOOD.value, index=True, max_length=16)
    revoked_at: datetime | None = Field(default=None, sa_column=_utc(nullable=True))
    revocation_reason: str | None = Field(default=None, max_length=32)  # RFC 5280 reason name
    invalidity_date: datetime | None = Field(default=None, sa_column=_utc(nullable=True))
    created_at: datetime = Field(sa_column=_utc())


class CertificateStatusEvent(SQLModel, table=True):
    __tablename__ = "ca_certificate_status_event"

    id: int | None = Field(default=None, primary_key=True)
    serial: str = Field(foreign_key="ca_issued_certificate.serial", index=True, max_length=64)
    status: str = Field(max_length=16)
    reason: str | None = Field(default=None, max_length=32)
    at: datetime = Field(sa_column=_utc())
    actor: str = Field(max_length=128)
    note: str | None = Field(default=None, max_length=1024)


class IssuedCrl(SQLModel, table=True):
    """Every CRL signed, kept: the latest is what /pki/crl/{name}.crl serves."""

    __tablename__ = "ca_crl"

    ca_name: str = Field(foreign_key="ca_authority.name", primary_key=True, max_length=16)
    crl_number: int = Field(primary_key=True)
    this_update: datetime = Field(sa_column=_utc())
    next_update: datetime = Field(sa_column=_utc())
    der: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
