"""Queries over departments and seals (functions that take the session)."""

from __future__ import annotations

from sqlmodel import Session, select

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


def granted_types(session: Session, department_id: str) -> list[str]:
    rows = session.exec(
        select(LicenceTypeGrant.type_code).where(LicenceTypeGrant.department_id == department_id)
    ).all()
    return sorted(rows)


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
