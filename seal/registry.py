"""Queries over departments and seals (functions that take the session)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import and_
from sqlmodel import Session, select

from ca.models import IssuedCertificate
from seal.errors import DepartmentNotFound, SealNotFound
from seal.models import Department, LicenceTypeGrant, Seal


def get_department(session: Session, department_id: str) -> Department:
    department = session.get(Department, department_id)
    if department is None:
        raise DepartmentNotFound(f"no department {department_id!r}")
    return department


def get_seal(session: Session, seal_id: str) -> Seal:
    seal = session.get(Seal, seal_id)
    if seal is None:
        raise SealNotFound(f"no seal {seal_id!r}")
    return seal


def active_seal_of(session: Session, department_id: str) -> Seal | None:
    return session.exec(
        select(Seal)
        .where(Seal.department_id == department_id, Seal.status == "active")
        .order_by(Seal.created_at.desc())  # type: ignore[union-attr]
    ).first()


@dataclass(frozen=True)
class IssuingParties:
    """What issuance checks about a department before each licence, read at once."""

    department: Department
    granted: bool  # may issue the licence type asked for
    seal: Seal | None  # its newest active seal
    certificate: IssuedCertificate | None  # that seal's certificate record, if the CA has it


def issuing_parties(session: Session, department_id: str, type_code: str) -> IssuingParties:
    """The department, whether it is granted `type_code`, its newest active seal and that
    seal's certificate record, in one query (issuance asked four times per licence).
    DepartmentNotFound if there is no such department."""
    row = session.exec(
        select(Department, LicenceTypeGrant.id, Seal, IssuedCertificate)
        .select_from(Department)
        .outerjoin(LicenceTypeGrant, and_(
            LicenceTypeGrant.department_id == Department.department_id,
            LicenceTypeGrant.type_code == type_code))
        .outerjoin(Seal, and_(Seal.department_id == Department.department_id,
                              Seal.status == "active"))
        .outerjoin(IssuedCertificate, IssuedCertificate.serial == Seal.certificate_serial)
        .where(Department.department_id == department_id)
        .order_by(Seal.created_at.desc())  # type: ignore[union-attr]
        .limit(1)
    ).first()
    if row is None:
        raise DepartmentNotFound(f"no department {department_id!r}")
    department, grant_id, seal, certificate = row
    return IssuingParties(department, grant_id is not None, seal, certificate)


def next_seal_id(session: Session, region_code: str) -> str:
    """Next 13-digit seal code of a region: 6-digit region code + 7-digit sequence."""
    last = session.exec(
        select(Seal.seal_id)
        .where(Seal.seal_id.startswith(region_code))  # type: ignore[attr-defined]
        .order_by(Seal.seal_id.desc())  # type: ignore[attr-defined]
    ).first()
    sequence = int(last[6:]) + 1 if last else 1
    if sequence > 9_999_999:
        raise OverflowError(f"seal codes of region {region_code} are exhausted")
    return f"{region_code}{sequence:07d}"
