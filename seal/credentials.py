"""Department API keys: shown once at creation, stored only as a hash, rotatable, revocable."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from sqlmodel import Session, select

from seal.models import Department, DepartmentApiKey

PREFIX = "csk"


@dataclass(frozen=True)
class NewApiKey:
    key_id: str
    secret: str = ""  # never logged; shown to the operator once

    @property
    def token(self) -> str:
        return f"{PREFIX}_{self.key_id}_{self.secret}"

    def __repr__(self) -> str:
        return f"NewApiKey(key_id={self.key_id!r})"


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_api_key(session: Session, department_id: str, *, now: datetime | None = None
                   ) -> NewApiKey:
    key = NewApiKey(key_id=secrets.token_hex(8), secret=secrets.token_urlsafe(32))
    session.add(DepartmentApiKey(key_id=key.key_id, department_id=department_id,
                                 secret_sha256=_digest(key.secret),
                                 created_at=now or datetime.now(UTC)))
    return key


def revoke_api_key(session: Session, key_id: str, *, now: datetime | None = None) -> bool:
    row = session.get(DepartmentApiKey, key_id)
    if row is None or row.revoked_at is not None:
        return False
    row.revoked_at = now or datetime.now(UTC)
    session.add(row)
    return True


class KeyRevocation(StrEnum):
    """What became of a department's request to revoke one of its keys."""

    REVOKED = "revoked"
    NOT_FOUND = "not_found"  # unknown, or another department's: the same answer
    ALREADY_REVOKED = "already_revoked"
    LAST_ACTIVE = "last_active"  # refused: the department would lock itself out


def list_api_keys(session: Session, department_id: str) -> list[DepartmentApiKey]:
    """Every key of a department, oldest first (hashes included: callers show ids only)."""
    return list(session.exec(select(DepartmentApiKey)
                             .where(DepartmentApiKey.department_id == department_id)
                             .order_by(DepartmentApiKey.created_at, DepartmentApiKey.key_id)))


def revoke_department_api_key(session: Session, department_id: str, key_id: str, *,
                              now: datetime | None = None) -> KeyRevocation:
    """Revoke one of the department's own keys, unless it is its last active one (rotate
    by creating the new key first). Flushed, not committed: the caller commits."""
    row = session.get(DepartmentApiKey, key_id, with_for_update=True)
    if row is None or row.department_id != department_id:
        return KeyRevocation.NOT_FOUND
    if row.revoked_at is not None:
        return KeyRevocation.ALREADY_REVOKED
    active = [k for k in list_api_keys(session, department_id) if k.revoked_at is None]
    if len(active) <= 1:
        return KeyRevocation.LAST_ACTIVE
    revoke_api_key(session, key_id, now=now)
    session.flush()
    return KeyRevocation.REVOKED


def authenticate_api_key(session: Session, presented: str) -> Department | None:
    """The active department a presented key belongs to, or None (never says why)."""
    parts = presented.split("_", 2)
    if len(parts) != 3 or parts[0] != PREFIX or not parts[1] or not parts[2]:
        return None
    row = session.get(DepartmentApiKey, parts[1])
    if row is None or row.revoked_at is not None:
        return None
    if not hmac.compare_digest(row.secret_sha256, _digest(parts[2])):
        return None
    department = session.exec(
        select(Department).where(Department.department_id == row.department_id)
    ).first()
    if department is None or department.status != "active":
        return None
    return department
