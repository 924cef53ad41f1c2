"""The trust domain's CA hierarchy: create it once, issue e-seal certificates, load it back.

Every signature is made before anything is written, and rows are only added to the caller's
session (never committed here), so a failure at any step leaves nothing half-made.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import (
    CertificateIssuerPrivateKeyTypes,
    CertificateIssuerPublicKeyTypes,
)
from sqlmodel import Session

from ca import store
from ca.errors import CaNotFound, HierarchyExists
from ca.models import (
    ISSUING,
    ROOT,
    CertificateAuthority,
    CertificateRole,
    CertificateStatus,
    serial_text,
)
from ca.names import check_region_code, check_region_name
from ca.policies import EXAMPLE_POLICY_ARC
from ca.profiles import (
    ESEAL_VALIDITY,
    CertificateProfile,
    EsealProfile,
    IssuingCaProfile,
    OcspSignerProfile,
    PkiUrls,
    RootCaProfile,
    TrustListSignerProfile,
    TsaProfile,
    issue_certificate,
)


def _utc_now(now: datetime | None) -> datetime:
    if now is not None and now.tzinfo is None:
        raise ValueError("now must be an aware datetime")
    return (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)


def _check_public_key(public_key: object) -> None:
    if not isinstance(public_key, ec.EllipticCurvePublicKey | rsa.RSAPublicKey):
        raise TypeError(f"public key must be an EC or RSA public key, not "
                        f"{type(public_key).__name__}")


def _check_label(label: object) -> str:
    if not isinstance(label, str):
        raise TypeError(f"key label must be a str, not {type(label).__name__}")
    if not label or len(label) > 128:
        raise ValueError("key label must be 1 to 128 characters")
    return label


@dataclass(frozen=True)
class LabelledKey:
    """A private key (software or HSM-backed) and the label it has in the token."""

    key: CertificateIssuerPrivateKeyTypes
    label: str

    def __post_init__(self) -> None:
        if not isinstance(self.key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
            raise TypeError(f"key must be an EC or RSA private key, not {type(self.key).__name__}")
        _check_label(self.label)


@dataclass(frozen=True)
class HierarchyKeys:
    root: LabelledKey
    issuing: LabelledKey
    tsa: LabelledKey
    ocsp: LabelledKey
    trust_list: LabelledKey

    def __post_init__(self) -> None:
        for name in ("root", "issuing", "tsa", "ocsp", "trust_list"):
            value = getattr(self, name)
            # A plain (key, label) pair is accepted and checked the same way.
            if isinstance(value, tuple) and len(value) == 2:
                object.__setattr__(self, name, LabelledKey(*value))
            elif not isinstance(value, LabelledKey):
                raise TypeError(f"keys.{name} must be a LabelledKey or a (key, label) pair")


@dataclass(frozen=True)
class TrustDomainCertificates:
    root: x509.Certificate
    issuing: x509.Certificate
    tsa: x509.Certificate
    ocsp: x509.Certificate
    trust_list: x509.Certificate  # the trust-list signer's certificate


def create_hierarchy(
    session: Session,
    *,
    region_code: str,
    region_name: str,
    base_url: str,
    keys: HierarchyKeys,
    now: datetime | None = None,
    actor: str = "certseal init",
) -> TrustDomainCertificates:
    """Issue and record root, issuing CA, TSA, OCSP signer and trust-list signer certificates.

    Refuses with HierarchyExists when the database already holds a hierarchy.
    """
    check_region_code(region_code)
    check_region_name(region_name)
    if not isinstance(keys, HierarchyKeys):
        raise TypeError(f"keys must be HierarchyKeys, not {type(keys).__name__}")
    urls = PkiUrls(base_url)
    now = _utc_now(now)
    if store.hierarchy_exists(session):
        raise HierarchyExists("this trust domain already has a CA hierarchy; it is never "
                              "overwritten (use a new home for a new domain)")

    region = {"region_code": region_code, "region_name": region_name}
    root = issue_certificate(RootCaProfile(**region), subject_public_key=keys.root.key.public_key(),
                             signing_key=keys.root.key, issuer_certificate=None, now=now)
    issuing = issue_certificate(IssuingCaProfile(**region, urls=urls),
                                subject_public_key=keys.issuing.key.public_key(),
                                signing_key=keys.root.key, issuer_certificate=root, now=now)
    services: list[tuple[CertificateProfile, LabelledKey]] = [
        (TsaProfile(**region, urls=urls), keys.tsa),
        (OcspSignerProfile(**region, urls=urls), keys.ocsp),
        (TrustListSignerProfile(**region, urls=urls), keys.trust_list),
    ]
    tsa, ocsp, trust_list = (
        issue_certificate(profile, subject_public_key=key.key.public_key(),
                          signing_key=keys.issuing.key, issuer_certificate=issuing, now=now)
        for profile, key in services
    )

    # Everything is signed: only now does anything go into the session.
    session.add(CertificateAuthority(name=ROOT, region_code=region_code, key_label=keys.root.label,
                                     certificate_serial=_serial(root), created_at=now))
    session.add(CertificateAuthority(name=ISSUING, region_code=region_code,
                                     key_label=keys.issuing.label,
                                     certificate_serial=_serial(issuing), created_at=now))
    session.flush()  # CA rows first: the certificate rows point at them
    _record(session, root, ROOT, CertificateRole.ROOT_CA, keys.root.label, root.public_key(), now,
            actor)
    _record(session, issuing, ROOT, CertificateRole.ISSUING_CA, keys.issuing.label,
            root.public_key(), now, actor)
    for cert, role, key in ((tsa, CertificateRole.TSA, keys.tsa),
                            (ocsp, CertificateRole.OCSP, keys.ocsp),
                            (trust_list, CertificateRole.TRUST_LIST_SIGNER, keys.trust_list)):
        _record(session, cert, ISSUING, role, key.label, issuing.public_key(), now, actor)
    session.flush()
    return TrustDomainCertificates(root=root, issuing=issuing, tsa=tsa, ocsp=ocsp,
                                   trust_list=trust_list)


def issue_eseal_certificate(
    session: Session,
    *,
    public_key: CertificateIssuerPublicKeyTypes,
    department_name: str,
    uscc: str,
    region_name: str,
    key_label: str,
    base_url: str,
    issuing_key: CertificateIssuerPrivateKeyTypes,
    validity_days: int = ESEAL_VALIDITY.days,
    policy_arc: str = EXAMPLE_POLICY_ARC,
    now: datetime | None = None,
    actor: str = "ca",
) -> x509.Certificate:
    """Issue a department's e-seal certificate under the issuing CA and record it."""
    _check_public_key(public_key)
    _check_label(key_label)
    if not isinstance(validity_days, int) or isinstance(validity_days, bool):
        raise TypeError("validity_days must be an int")
    profile = EsealProfile(department_name, uscc, region_name, urls=PkiUrls(base_url),
                           validity=timedelta(days=validity_days), policy_arc=policy_arc)
    now = _utc_now(now)
    issuing, _ = load_ca(session, ISSUING)
    certificate = issue_certificate(profile, subject_public_key=public_key,
                                    signing_key=issuing_key, issuer_certificate=issuing, now=now)
    _record(session, certificate, ISSUING, CertificateRole.ESEAL, key_label,
            issuing.public_key(), now, actor)
    session.flush()
    return certificate


def load_ca(session: Session, name: str) -> tuple[x509.Certificate, str]:
    """The CA's current certificate and the label of its key in the token."""
    authority = store.get_authority(session, name)
    record = store.get_certificate(session, authority.certificate_serial)
    return x509.load_der_x509_certificate(record.der), authority.key_label


def current_certificate(session: Session, role: CertificateRole) -> x509.Certificate:
    """The newest certificate of a role that is not revoked or on hold."""
    for record in store.records_with_role(session, role):
        if record.status == CertificateStatus.GOOD.value:
            return x509.load_der_x509_certificate(record.der)
    raise CaNotFound(f"no usable {role.value} certificate: is the hierarchy set up?")


def trust_domain_certificates(session: Session) -> TrustDomainCertificates:
    return TrustDomainCertificates(
        root=load_ca(session, ROOT)[0],
        issuing=load_ca(session, ISSUING)[0],
        tsa=current_certificate(session, CertificateRole.TSA),
        ocsp=current_certificate(session, CertificateRole.OCSP),
        trust_list=current_certificate(session, CertificateRole.TRUST_LIST_SIGNER),
    )


def _serial(certificate: x509.Certificate) -> str:
    return serial_text(certificate.serial_number)


def _record(session: Session, certificate: x509.Certificate, issuer_ca: str,
            role: CertificateRole, key_label: str,
            issuer_public_key: CertificateIssuerPublicKeyTypes, now: datetime, actor: str) -> None:
    record = store.certificate_record(certificate, issuer_ca=issuer_ca, role=role,
                                      key_label=key_label, issuer_public_key=issuer_public_key,
                                      now=now)
    session.add(record)
    session.flush()  # no ORM relationships, so the row must exist before its event
    store.add_status_event(session, record.serial, CertificateStatus.GOOD, at=now, actor=actor,
                           note=f"issued ({role.value})")
