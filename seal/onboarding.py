"""Onboard a department: validate it, create its e-seal key in the HSM, certify the key,
register the seal and its image, grant licence types and issue an API key.

All or nothing: the database work is one transaction, and the HSM key made for a failed
onboarding is deleted again, so a failure leaves no department, seal or key behind.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography import x509
from sqlmodel import Session

from ca.audit import append_entry
from ca.hierarchy import issue_eseal_certificate, load_ca
from ca.models import serial_text
from ca.policies import EXAMPLE_POLICY_ARC
from certs.catalogue import Catalogue
from certs.identifiers import validate_uscc
from certs.text import clean_text
from hsm.token import KeySpec, Token
from seal.credentials import create_api_key
from seal.errors import DepartmentExists, UnknownLicenceType
from seal.image import render_seal_image
from seal.models import Department, LicenceTypeGrant, Seal
from seal.registry import next_seal_id

ISSUING_CA_KEY_LABEL = "issuing-ca"
MAX_DEPARTMENT_NAME = 60  # as a licence's 发证机关 / 登记机关 field


@dataclass(frozen=True)
class TrustDomainFacts:
    """What onboarding needs to know of the trust domain (from settings)."""

    region_code: str
    region_name: str
    base_url: str
    policy_arc: str = EXAMPLE_POLICY_ARC  # the operator's arc (ca/policies.py)


@dataclass(frozen=True)
class OnboardedDepartment:
    department_id: str
    seal_id: str
    certificate: x509.Certificate
    api_key: str

    def __repr__(self) -> str:  # the API key is a secret
        return f"OnboardedDepartment({self.department_id!r}, seal={self.seal_id!r})"


def seal_key_label(seal_id: str) -> str:
    return f"seal-{seal_id}"


def onboard_department(
    session: Session,
    token: Token,
    domain: TrustDomainFacts,
    *,
    name: str,
    uscc: str,
    licence_types: Iterable[str] = (),
    catalogue: Catalogue,
    key_spec: KeySpec = KeySpec.EC_P256,
    now: datetime | None = None,
) -> OnboardedDepartment:
    now = now or datetime.now(UTC)
    name = clean_text(name, "department name")  # it is sealed into every licence
    if not name:
        raise ValueError("department name must not be empty")
    if len(name) > MAX_DEPARTMENT_NAME:
        raise ValueError(f"department name must be at most {MAX_DEPARTMENT_NAME} characters")
    uscc = validate_uscc(uscc, field="--uscc")
    types = sorted(set(licence_types))
    unknown = [code for code in types if code not in catalogue]
    if unknown:
        raise UnknownLicenceType(
            f"unknown licence type(s): {', '.join(unknown)}; known: {', '.join(catalogue.codes())}"
        )
    if session.get(Department, uscc) is not None:
        raise DepartmentExists(f"a department with unified social credit code {uscc} exists")

    seal_id = next_seal_id(session, domain.region_code)
    label = seal_key_label(seal_id)
    seal_key = token.generate_key(label, key_spec)
    try:
        _, issuing_label = load_ca(session, "issuing")
        certificate = issue_eseal_certificate(
            session,
            public_key=seal_key.public_key(),
            department_name=name,
            uscc=uscc,
            region_name=domain.region_name,
            key_label=label,
            base_url=domain.base_url,
            issuing_key=token.private_key(issuing_label),
            policy_arc=domain.policy_arc,
            now=now,
        )
        session.add(Department(department_id=uscc, name=name, region_code=domain.region_code,
                               created_at=now))
        session.add(Seal(
            seal_id=seal_id, department_id=uscc, name=f"{name}电子印章", key_label=label,
            certificate_serial=serial_text(certificate.serial_number),
            valid_from=certificate.not_valid_before_utc,
            valid_until=certificate.not_valid_after_utc,
            image_png=render_seal_image(name), created_at=now,
        ))
        for code in types:
            session.add(LicenceTypeGrant(department_id=uscc, type_code=code, granted_at=now))
        api_key = create_api_key(session, uscc, now=now)
        append_entry(session, "key.generated", subject=label, details={"seal": seal_id})
        append_entry(session, "department.created", subject=uscc, details={"types": types})
        append_entry(session, "seal.created", subject=seal_id, details={
            "department": uscc, "certificate_serial": serial_text(certificate.serial_number)})
        session.commit()
    except BaseException:
        session.rollback()
        token.delete_key(label)
        raise
    return OnboardedDepartment(department_id=uscc, seal_id=seal_id, certificate=certificate,
                               api_key=api_key.token)
