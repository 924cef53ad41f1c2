"""Tables of the seal room: departments, their seals, credentials and licence-type grants."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, UniqueConstraint
from sqlmodel import Field, LargeBinary, SQLModel

from ca.models import UtcDateTime


def _utc(nullable: bool = False) -> Column:
    return Column(UtcDateTime(), nullable=nullable)


class Department(SQLModel, table=True):
    __tablename__ = "department"

    # The unified social credit code is the department's natural, national identifier.
    department_id: str = Field(primary_key=True, max_length=18)
    name: str = Field(max_length=200)
    region_code: str = Field(max_length=6)
    status: str = Field(default="active", max_length=16)
    created_at: datetime = Field(sa_column=_utc())


class Seal(SQLModel, table=True):
    __tablename__ = "seal"

    # 13-digit seal code in the GA 241 style: 6-digit region code + 7-digit sequence.
    seal_id: str = Field(primary_key=True, max_length=13)
    department_id: str = Field(foreign_key="department.department_id", index=True)
    name: str = Field(max_length=200)
    key_label: str = Field(max_length=64, unique=True)
    certificate_serial: str = Field(max_length=64, index=True)
    status: str = Field(default="active", max_length=16)
    valid_from: datetime = Field(sa_column=_utc())
    valid_until: datetime = Field(sa_column=_utc())
    image_png: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    created_at: datetime = Field(sa_column=_utc())


class DepartmentApiKey(SQLModel, table=True):
    __tablename__ = "department_api_key"

    key_id: str = Field(primary_key=True, max_length=32)
    department_id: str = Field(foreign_key="department.department_id", index=True)
    # SHA-256 of the secret part: keys are 256-bit random, so a slow hash adds nothing.
    secret_sha256: str = Field(max_length=64)
    created_at: datetime = Field(sa_column=_utc())
    revoked_at: datetime | None = Field(default=None, sa_column=_utc(nullable=True))


class LicenceTypeGrant(SQLModel, table=True):
    __tablename__ = "licence_type_grant"
    __table_args__ = (UniqueConstraint("department_id", "type_code"),)

    id: int | None = Field(default=None, primary_key=True)
    department_id: str = Field(foreign_key="department.department_id", index=True)
    type_code: str = Field(max_length=32)
    granted_at: datetime = Field(sa_column=_utc())
