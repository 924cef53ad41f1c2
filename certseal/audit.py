"""The audit log at the edge: where the CLI and the API say who acts and from where, and
the trust domain's wiring of checkpoints (its TSA) and verification (its certificates).
"""

from __future__ import annotations

import socket
from typing import TYPE_CHECKING, Any

from ca.audit import (
    AuditVerification,
    acting_as,
    append_entry,
    entry_json,
    recent_entries,
    seal_checkpoint,
    verify_audit_log,
)
from ca.audit_models import AuditCheckpoint, AuditEntry
from certs.identifiers import mask_identifier
from certseal.db import transaction

if TYPE_CHECKING:
    from certseal.domain import TrustDomain

__all__ = ["acting_as", "checkpoint", "citizen_actor", "cli_source", "http_source", "record",
           "show", "verify"]


def cli_source() -> str:
    return f"cli@{socket.gethostname()}"


def http_source(client_ip: str | None) -> str:
    return f"http:{client_ip or 'unknown'}"


def citizen_actor(holder_identifier: str) -> str:
    """A citizen as the log names them: never the full resident identity number."""
    return f"citizen:{mask_identifier(holder_identifier)}"


def record(domain: TrustDomain, action: str, *, subject: str | None = None,
           details: dict[str, Any] | None = None, actor: str | None = None,
           source: str | None = None) -> AuditEntry:
    """Append one entry in a transaction of its own (for events that change no other
    row, such as a download). Events that do change rows append in their transaction."""
    with transaction(domain.engine) as session:
        return append_entry(session, action, subject=subject, details=details, actor=actor,
                            source=source)


def checkpoint(domain: TrustDomain) -> AuditCheckpoint:
    """Seal the current head with the domain's TSA (needs the HSM)."""
    respond = domain.time_stamp_authority().respond
    with transaction(domain.engine) as session:
        return seal_checkpoint(session, respond)


def verify(domain: TrustDomain) -> AuditVerification:
    """Check the whole log against the domain's TSA certificate chain (no HSM needed)."""
    certificates = domain.certificates()
    with domain.session() as session:
        return verify_audit_log(session, [certificates.tsa, certificates.issuing,
                                          certificates.root])


def show(domain: TrustDomain, limit: int = 20) -> list[dict]:
    with domain.session() as session:
        return [entry_json(e) for e in recent_entries(session, limit)]
