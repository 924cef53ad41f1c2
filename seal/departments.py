"""Departments as an operator manages them: list, show, suspend and reinstate.

A suspended department keeps its seals, keys and licences, but its API keys stop
authenticating and issuance refuses it (``seal.credentials``, ``seal.issuance``) until it
is reinstated. Every change is in the audit log with who, when and why.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

from sqlalchemy import func
from sqlmodel import Session, select

from ca.audit import append_entry
from ca.audit_models import AuditEntry
from certs.models import Licence
from seal.errors import SealError
from seal.models import Department, DepartmentApiKey, LicenceTypeGrant, Seal
from seal.registry import get_department

STATUSES = ("active", "suspended")
_CHANGES = {"suspend": ("active", "suspended", "department.suspended"),
            "reinstate": ("suspended", "active", "department.reinstated")}


class DepartmentStatusConflict(SealError):
    """The department is not in the state the change starts from."""

    code = "department_status_conflict"


@dataclass(frozen=True)
class DepartmentSummary:
    department_id: str
    name: str
    region_code: str
    status: str
    created_at: dt.datetime
    licence_types: tuple[str, ...]
    licences_issued: int

    def to_json(self) -> dict:
        return {"department_id": self.department_id, "name": self.name,
                "region_code": self.region_code, "status": self.status,
                "created_at": self.created_at.isoformat(),
                "licence_types": list(self.licence_types),
                "licences_issued": self.licences_issued}


@dataclass(frozen=True)
class DepartmentDetails:
    summary: DepartmentSummary
    seals: tuple[dict, ...]
    active_api_keys: int
    history: tuple[dict, ...]  # status changes, oldest first

    def to_json(self) -> dict:
        return {**self.summary.to_json(), "seals": list(self.seals),
                "active_api_keys": self.active_api_keys, "history": list(self.history)}


def _summaries(session: Session, departments: list[Department]) -> list[DepartmentSummary]:
    ids = [d.department_id for d in departments]
    grants: dict[str, list[str]] = {}
    for grant in session.exec(select(LicenceTypeGrant).where(
            LicenceTypeGrant.department_id.in_(ids))):  # type: ignore[attr-defined]
        grants.setdefault(grant.department_id, []).append(grant.type_code)
    counts = dict(session.exec(
        select(Licence.department_id, func.count()).where(
            Licence.department_id.in_(ids)).group_by(Licence.department_id)  # type: ignore
    ).all())
    return [DepartmentSummary(d.department_id, d.name, d.region_code, d.status, d.created_at,
                              tuple(sorted(grants.get(d.department_id, ()))),
                              int(counts.get(d.department_id, 0))) for d in departments]


def list_departments(session: Session) -> list[DepartmentSummary]:
    departments = list(session.exec(select(Department).order_by(Department.created_at)))
    return _summaries(session, departments)


def department_details(session: Session, department_id: str) -> DepartmentDetails:
    department = get_department(session, department_id)
    seals = tuple(
        {"seal_id": s.seal_id, "status": s.status, "certificate_serial": s.certificate_serial,
         "valid_from": s.valid_from.isoformat(), "valid_until": s.valid_until.isoformat()}
        for s in session.exec(select(Seal).where(Seal.department_id == department_id)
                              .order_by(Seal.created_at)))
    keys = session.exec(select(func.count()).select_from(DepartmentApiKey).where(
        DepartmentApiKey.department_id == department_id,
        DepartmentApiKey.revoked_at.is_(None))).one()  # type: ignore[union-attr]
    history = tuple(
        {"action": e.action.split(".", 1)[1], "at": e.at.isoformat(), "actor": e.actor,
         "reason": json.loads(e.details).get("reason")}
        for e in session.exec(select(AuditEntry).where(
            AuditEntry.subject == department_id,
            AuditEntry.action.in_([c[2] for c in _CHANGES.values()]))  # type: ignore
            .order_by(AuditEntry.sequence)))
    return DepartmentDetails(_summaries(session, [department])[0], seals, int(keys), history)


def change_department_status(session: Session, department_id: str, action: str, *,
                             reason: str, actor: str) -> DepartmentSummary:
    """Suspend or reinstate a department in the caller's transaction, with an audit entry."""
    if action not in _CHANGES:
        raise ValueError(f"action must be one of {', '.join(_CHANGES)}")
    reason = reason.strip()
    if not reason:
        raise ValueError("--reason: say why (it is kept in the audit log)")
    before, after, audit_action = _CHANGES[action]
    department = get_department(session, department_id)
    if department.status != before:
        raise DepartmentStatusConflict(
            f"department {department_id} is {department.status}; only a {before} "
            f"department can be {'suspended' if action == 'suspend' else 'reinstated'}")
    department.status = after
    session.add(department)
    append_entry(session, audit_action, subject=department_id, actor=actor,
                 details={"reason": reason})
    session.flush()
    return _summaries(session, [department])[0]
