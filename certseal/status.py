"""Status flows at the composition level: seal revocation, suspension and reinstatement;
licence status changes by their issuing department; the per-department signed status
lists (they follow changes with the newest licence history id, as ``ca.status_feed``
does OCSP answers with the newest certificate status event).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import threading
import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING

from cryptography import x509
from sqlmodel import select

from ca.audit import append_entry
from ca.status_feed import certificate_status_generation
from ca.store import get_certificate
from certs.errors import InvalidTransition, LicenceNotFound
from certs.models import Licence, LicenceStatus
from certs.registry import (
    change_status,
    department_status_entries,
    get_licence,
    licence_status_generation,
)
from certs.status_list import DEFAULT_TTL, DEFAULT_VALIDITY, sign_status_list
from certs.text import clean_text
from certseal.db import transaction
from seal import revocation as seal_revocation
from seal.errors import SealUnusable
from seal.models import Department
from seal.registry import active_seal_of, get_department

if TYPE_CHECKING:
    from certseal.domain import TrustDomain

MAX_REASON_CHARS = 500


# -- seals ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class SealStatusOutcome:
    change: seal_revocation.SealStatusChange
    crl_number: int  # the issuing CA's CRL signed right after the change

    def to_json(self) -> dict:
        c = self.change
        return {"seal_id": c.seal_id, "status": c.status,
                "certificate_serial": f"{c.certificate_serial:X}",
                "reason": c.reason.value if c.reason else None, "at": c.at.isoformat(),
                "actor": c.actor, "crl_number": self.crl_number}


def _after_certificate_change(domain: TrustDomain, change: seal_revocation.SealStatusChange
                              ) -> SealStatusOutcome:
    # Committed: this process's responder forgets its answer now, other processes follow
    # the event feed; the CRL is re-signed and published at once.
    domain.ocsp_responder().invalidate(change.certificate_serial)
    path = domain.issue_crls()["issuing"]
    crl = x509.load_der_x509_crl(path.read_bytes())
    number = crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
    return SealStatusOutcome(change, number)


def revoke_seal(domain: TrustDomain, seal_id: str, reason: str | x509.ReasonFlags, *,
                actor: str = "operator", note: str | None = None) -> SealStatusOutcome:
    flag = (reason if isinstance(reason, x509.ReasonFlags)
            else seal_revocation.parse_revocation_reason(reason))
    with transaction(domain.engine) as session:
        change = seal_revocation.revoke_seal(session, seal_id, flag, actor=actor, note=note)
    return _after_certificate_change(domain, change)


def suspend_seal(domain: TrustDomain, seal_id: str, *, actor: str = "operator",
                 note: str | None = None) -> SealStatusOutcome:
    with transaction(domain.engine) as session:
        change = seal_revocation.suspend_seal(session, seal_id, actor=actor, note=note)
    return _after_certificate_change(domain, change)


def reinstate_seal(domain: TrustDomain, seal_id: str, *, actor: str = "operator",
                   note: str | None = None) -> SealStatusOutcome:
    with transaction(domain.engine) as session:
        change = seal_revocation.reinstate_seal(session, seal_id, actor=actor, note=note)
    return _after_certificate_change(domain, change)


# -- licences ------------------------------------------------------------------------------
AUDIT_ACTIONS = {"revoke": "licence.revoked", "suspend": "licence.suspended",
                 "reinstate": "licence.reinstated"}
LICENCE_ACTIONS: dict[str, LicenceStatus] = {
    "revoke": LicenceStatus.REVOKED,
    "suspend": LicenceStatus.SUSPENDED,
    "reinstate": LicenceStatus.VALID,
}


def change_licence_status(domain: TrustDomain, licence_id: str, action: str, *, reason: str,
                          actor: str, department_id: str | None = None) -> Licence:
    """Revoke, suspend or reinstate a licence, recording who, when and why.

    With ``department_id`` (the API: the authenticated department) a licence of another
    department is answered as not found, so identifiers cannot be probed.
    """
    if action not in LICENCE_ACTIONS:
        raise ValueError(f"action: {action!r} is not one of {', '.join(LICENCE_ACTIONS)}")
    if not isinstance(reason, str) or not reason.strip():
        raise ValueError("reason: say why the status changes")
    reason = clean_text(reason, "reason")  # shown to clerks and in the audit trail
    if len(reason) > MAX_REASON_CHARS:
        raise ValueError(f"reason: at most {MAX_REASON_CHARS} characters")
    target = LICENCE_ACTIONS[action]
    with transaction(domain.engine) as session:
        licence = get_licence(session, licence_id)
        if department_id is not None and licence.department_id != department_id:
            raise LicenceNotFound(licence.licence_id)
        if action == "reinstate" and licence.status != LicenceStatus.SUSPENDED:
            raise InvalidTransition(f"licence {licence.licence_id} is {licence.status}; only "
                                    "a suspended licence can be reinstated")
        licence = change_status(session, licence.licence_id, target, reason, actor)
        append_entry(session, AUDIT_ACTIONS[action], subject=licence.licence_id, actor=actor,
                     details={"reason": reason})
    return licence


# -- status lists ----------------------------------------------------------------------------
@dataclass(frozen=True)
class SignedStatusList:
    department_id: str
    jwt: str
    generation: tuple[int, int]  # (licence history, certificate events) when signed
    issued_at: dt.datetime
    refresh_at: dt.datetime  # re-signed after this even if nothing changed
    ttl: dt.timedelta

    @property
    def etag(self) -> str:
        return '"' + hashlib.sha256(self.jwt.encode()).hexdigest()[:32] + '"'


class _StatusListCache:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.lists: dict[str, SignedStatusList] = {}


_status_lists_lock = threading.Lock()
_status_lists: weakref.WeakKeyDictionary[TrustDomain, _StatusListCache] = (
    weakref.WeakKeyDictionary())


def status_list_url(domain: TrustDomain, department_id: str) -> str:
    return f"{domain.settings.base_url.rstrip('/')}/pki/status/{department_id}"


def current_status_list(domain: TrustDomain, department_id: str, *,
                        now: dt.datetime | None = None,
                        validity: dt.timedelta = DEFAULT_VALIDITY,
                        ttl: dt.timedelta = DEFAULT_TTL) -> SignedStatusList:
    """The department's signed status list, re-signed when any licence or certificate
    status moved since it was signed, or once half its validity has passed."""
    now = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    with _status_lists_lock:
        cache = _status_lists.setdefault(domain, _StatusListCache())
    with domain.session() as session:
        generation = (licence_status_generation(session),
                      certificate_status_generation(session))
        cached = cache.lists.get(department_id)
        if cached is not None and cached.generation == generation and now < cached.refresh_at:
            return cached
        with cache.lock:  # one signature per change, not one per concurrent reader
            cached = cache.lists.get(department_id)
            if (cached is not None and cached.generation == generation
                    and now < cached.refresh_at):
                return cached
            department = get_department(session, department_id)
            seal = active_seal_of(session, department.department_id)
            if seal is None:
                raise SealUnusable(f"department {department.department_id} has no active "
                                   "seal to sign its status list")
            certificate = x509.load_der_x509_certificate(
                get_certificate(session, seal.certificate_serial).der)
            entries = department_status_entries(session, department.department_id)
            jwt_text = sign_status_list(
                entries, subject_url=status_list_url(domain, department.department_id),
                signer_key=domain.token().private_key(seal.key_label),
                signer_certificate=certificate, chain=[domain.certificates().issuing],
                now=now, validity=validity, ttl=ttl)
            signed = SignedStatusList(department.department_id, jwt_text, generation, now,
                                      now + validity / 2, ttl)
            cache.lists[department.department_id] = signed
            return signed


def status_list_index(domain: TrustDomain) -> list[dict]:
    """Every department's status list URL (the counter's sync starting point)."""
    with domain.session() as session:
        departments = session.exec(select(Department).order_by(Department.department_id))
        return [{"department_id": d.department_id, "name": d.name, "status": d.status,
                 "url": status_list_url(domain, d.department_id)} for d in departments]
