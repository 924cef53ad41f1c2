"""Certificate profiles: what each certificate of a trust domain looks like.

A profile is an immutable description (frozen dataclass, checked when made); `issue_certificate`
turns one into a signed certificate with any `cryptography` private key, software or
HSM-backed, without caring which. Bad input fails at once with TypeError/ValueError, before
any key is touched.

Hierarchy: root CA -> the region's issuing CA -> TSA, OCSP signer, trust-list signer and the
departments' e-seal certificates. The root signs only the issuing CA (and its own CRL).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import ClassVar, Protocol

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import (
    CertificateIssuerPrivateKeyTypes,
    CertificateIssuerPublicKeyTypes,
)
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID

from ca.errors import SigningKeyMismatch
from ca.models import ISSUING, ROOT, CertificateRole
from ca.names import (
    check_region_code,
    check_region_name,
    eseal_subject_name,
    region_service_name,
    root_ca_name,
)
from ca.policies import EXAMPLE_POLICY_ARC, checked_arc, eseal_policy_oid

# ETSI TS 119 612 §5.7.1 / annex: id-tsl-kp-tslSigning, the EKU of a trust-list signer.
TSL_SIGNING_EKU = x509.ObjectIdentifier("0.4.0.2231.3.0")

ROOT_CA_VALIDITY = timedelta(days=20 * 365 + 5)
ISSUING_CA_VALIDITY = timedelta(days=10 * 365 + 2)
TSA_VALIDITY = timedelta(days=5 * 365 + 1)
OCSP_SIGNER_VALIDITY = timedelta(days=365)
TRUST_LIST_SIGNER_VALIDITY = timedelta(days=3 * 365 + 1)
ESEAL_VALIDITY = timedelta(days=3 * 365 + 1)
# Clock skew between us and relying parties: certificates start a minute in the past.
BACKDATE = timedelta(minutes=1)


def signature_hash(key: CertificateIssuerPrivateKeyTypes) -> hashes.HashAlgorithm:
    """SHA-256 for P-256 and RSA, SHA-384 for P-384, SHA-512 for P-521."""
    if isinstance(key, ec.EllipticCurvePrivateKey):
        by_curve = {"secp256r1": hashes.SHA256, "secp384r1": hashes.SHA384,
                    "secp521r1": hashes.SHA512}
        if key.curve.name not in by_curve:
            raise ValueError(f"unsupported EC curve for signing: {key.curve.name}")
        return by_curve[key.curve.name]()
    if isinstance(key, rsa.RSAPrivateKey):
        if key.key_size < 2048:
            raise ValueError(f"RSA key of {key.key_size} bits is too small (2048 at least)")
        return hashes.SHA256()
    raise TypeError(f"unsupported signing key type: {type(key).__name__}")


def same_public_key(a: CertificateIssuerPublicKeyTypes,
                    b: CertificateIssuerPublicKeyTypes) -> bool:
    ski = x509.SubjectKeyIdentifier.from_public_key
    return ski(a) == ski(b)


def authority_key_identifier(issuer: x509.Certificate) -> x509.AuthorityKeyIdentifier:
    """AKI pointing at the issuer's own SKI (so the two always match), else at its key."""
    try:
        ski = issuer.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    except x509.ExtensionNotFound:
        return x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.public_key())
    return x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski)


def _check_validity(validity: object) -> None:
    if not isinstance(validity, timedelta):
        raise TypeError(f"validity must be a timedelta, not {type(validity).__name__}")
    if validity <= timedelta(0):
        raise ValueError("validity must be positive")


@dataclass(frozen=True)
class PkiUrls:
    """The public /pki endpoints of a trust domain, built from its configured base URL."""

    base_url: str

    def __post_init__(self) -> None:
        if not isinstance(self.base_url, str):
            raise TypeError(f"base_url must be a str, not {type(self.base_url).__name__}")
        if not self.base_url.startswith(("http://", "https://")) or any(
            ch.isspace() for ch in self.base_url
        ):
            raise ValueError(f"base_url must be an http(s) URL without spaces: {self.base_url!r}")
        object.__setattr__(self, "base_url", self.base_url.rstrip("/"))

    def ca_certificate(self, ca_name: str) -> str:
        return f"{self.base_url}/pki/ca/{ca_name}.crt"

    def crl(self, ca_name: str) -> str:
        return f"{self.base_url}/pki/crl/{ca_name}.crl"

    @property
    def ocsp(self) -> str:
        return f"{self.base_url}/pki/ocsp"


class CertificateProfile(Protocol):
    role: ClassVar[CertificateRole]
    issuer_ca: ClassVar[str | None]  # None: self-signed
    validity: timedelta

    def subject_name(self) -> x509.Name: ...

    def extensions(self) -> list[tuple[x509.ExtensionType, bool]]: ...


def _key_usage(*, digital_signature: bool = False, content_commitment: bool = False,
               key_cert_sign: bool = False, crl_sign: bool = False) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=digital_signature, content_commitment=content_commitment,
        key_encipherment=False, data_encipherment=False, key_agreement=False,
        key_cert_sign=key_cert_sign, crl_sign=crl_sign, encipher_only=False,
        decipher_only=False,
    )


def _aia(urls: PkiUrls, ca_name: str, *, ocsp: bool) -> x509.AuthorityInformationAccess:
    descriptions = []
    if ocsp:
        descriptions.append(x509.AccessDescription(
            AuthorityInformationAccessOID.OCSP, x509.UniformResourceIdentifier(urls.ocsp)))
    descriptions.append(x509.AccessDescription(
        AuthorityInformationAccessOID.CA_ISSUERS,
        x509.UniformResourceIdentifier(urls.ca_certificate(ca_name))))
    return x509.AuthorityInformationAccess(descriptions)


def _crl_dp(urls: PkiUrls, ca_name: str) -> x509.CRLDistributionPoints:
    return x509.CRLDistributionPoints([x509.DistributionPoint(
        full_name=[x509.UniformResourceIdentifier(urls.crl(ca_name))],
        relative_name=None, reasons=None, crl_issuer=None)])


def _end_entity(urls: PkiUrls, *, key_usage: x509.KeyUsage, ocsp: bool = True
                ) -> list[tuple[x509.ExtensionType, bool]]:
    return [
        (x509.BasicConstraints(ca=False, path_length=None), True),
        (key_usage, True),
        (_aia(urls, ISSUING, ocsp=ocsp), False),
        (_crl_dp(urls, ISSUING), False),
    ]


@dataclass(frozen=True)
class _RegionProfile:
    region_code: str
    region_name: str

    def __post_init__(self) -> None:
        check_region_code(self.region_code)
        check_region_name(self.region_name)
        _check_validity(self.validity)  # type: ignore[attr-defined]
        urls = getattr(self, "urls", None)
        if urls is not None and not isinstance(urls, PkiUrls):
            raise TypeError(f"urls must be PkiUrls, not {type(urls).__name__}")


@dataclass(frozen=True)
class RootCaProfile(_RegionProfile):
    role: ClassVar[CertificateRole] = CertificateRole.ROOT_CA
    issuer_ca: ClassVar[str | None] = None
    validity: timedelta = ROOT_CA_VALIDITY

    def subject_name(self) -> x509.Name:
        return root_ca_name(self.region_code, self.region_name)

    def extensions(self) -> list[tuple[x509.ExtensionType, bool]]:
        return [
            (x509.BasicConstraints(ca=True, path_length=None), True),
            (_key_usage(key_cert_sign=True, crl_sign=True), True),
        ]


@dataclass(frozen=True)
class IssuingCaProfile(_RegionProfile):
    urls: PkiUrls = field(kw_only=True)
    role: ClassVar[CertificateRole] = CertificateRole.ISSUING_CA
    issuer_ca: ClassVar[str | None] = ROOT
    validity: timedelta = ISSUING_CA_VALIDITY

    def subject_name(self) -> x509.Name:
        return region_service_name(self.region_code, self.region_name, "Issuing CA")

    def extensions(self) -> list[tuple[x509.ExtensionType, bool]]:
        return [
            (x509.BasicConstraints(ca=True, path_length=0), True),
            (_key_usage(key_cert_sign=True, crl_sign=True), True),
            (_aia(self.urls, ROOT, ocsp=False), False),
            (_crl_dp(self.urls, ROOT), False),
        ]


@dataclass(frozen=True)
class TsaProfile(_RegionProfile):
    urls: PkiUrls = field(kw_only=True)
    role: ClassVar[CertificateRole] = CertificateRole.TSA
    issuer_ca: ClassVar[str | None] = ISSUING
    validity: timedelta = TSA_VALIDITY

    def subject_name(self) -> x509.Name:
        return region_service_name(self.region_code, self.region_name, "Time-Stamping Authority")

    def extensions(self) -> list[tuple[x509.ExtensionType, bool]]:
        # RFC 3161 §2.3: the only EKU is timeStamping and it must be critical.
        return [*_end_entity(self.urls, key_usage=_key_usage(
                    digital_signature=True, content_commitment=True)),
                (x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), True)]


@dataclass(frozen=True)
class OcspSignerProfile(_RegionProfile):
    urls: PkiUrls = field(kw_only=True)
    role: ClassVar[CertificateRole] = CertificateRole.OCSP
    issuer_ca: ClassVar[str | None] = ISSUING
    validity: timedelta = OCSP_SIGNER_VALIDITY

    def subject_name(self) -> x509.Name:
        return region_service_name(self.region_code, self.region_name, "OCSP Responder")

    def extensions(self) -> list[tuple[x509.ExtensionType, bool]]:
        # RFC 6960 §4.2.2.2.1: id-pkix-ocsp-nocheck, so clients do not ask about the signer
        # itself; hence no OCSP URL in its AIA and a short validity instead.
        return [*_end_entity(self.urls, key_usage=_key_usage(digital_signature=True), ocsp=False),
                (x509.ExtendedKeyUsage([ExtendedKeyUsageOID.OCSP_SIGNING]), False),
                (x509.OCSPNoCheck(), False)]


@dataclass(frozen=True)
class TrustListSignerProfile(_RegionProfile):
    urls: PkiUrls = field(kw_only=True)
    role: ClassVar[CertificateRole] = CertificateRole.TRUST_LIST_SIGNER
    issuer_ca: ClassVar[str | None] = ISSUING
    validity: timedelta = TRUST_LIST_SIGNER_VALIDITY

    def subject_name(self) -> x509.Name:
        return region_service_name(self.region_code, self.region_name, "Trust List Signer")

    def extensions(self) -> list[tuple[x509.ExtensionType, bool]]:
        return [*_end_entity(self.urls, key_usage=_key_usage(digital_signature=True)),
                (x509.ExtendedKeyUsage([TSL_SIGNING_EKU]), False)]


@dataclass(frozen=True)
class EsealProfile:
    """A department's e-seal certificate (ETSI EN 319 412-3 style legal-person subject)."""

    department_name: str
    uscc: str
    region_name: str
    urls: PkiUrls = field(kw_only=True)
    validity: timedelta = field(default=ESEAL_VALIDITY, kw_only=True)
    policy_arc: str = field(default=EXAMPLE_POLICY_ARC, kw_only=True)
    role: ClassVar[CertificateRole] = CertificateRole.ESEAL
    issuer_ca: ClassVar[str | None] = ISSUING

    def __post_init__(self) -> None:
        eseal_subject_name(self.department_name, self.uscc, self.region_name)  # checks all
        _check_validity(self.validity)
        checked_arc(self.policy_arc)
        if not isinstance(self.urls, PkiUrls):
            raise TypeError(f"urls must be PkiUrls, not {type(self.urls).__name__}")

    def subject_name(self) -> x509.Name:
        return eseal_subject_name(self.department_name, self.uscc, self.region_name)

    def extensions(self) -> list[tuple[x509.ExtensionType, bool]]:
        policy = eseal_policy_oid(self.policy_arc)
        return [*_end_entity(self.urls, key_usage=_key_usage(
                    digital_signature=True, content_commitment=True)),
                (x509.CertificatePolicies([x509.PolicyInformation(policy, None)]), False)]


def issue_certificate(
    profile: CertificateProfile,
    *,
    subject_public_key: CertificateIssuerPublicKeyTypes,
    signing_key: CertificateIssuerPrivateKeyTypes,
    issuer_certificate: x509.Certificate | None,
    now: datetime | None = None,
) -> x509.Certificate:
    """Sign a certificate of `profile` for `subject_public_key`.

    `issuer_certificate` is None for the self-signed root, and then `signing_key` must be the
    subject's own key. The validity never runs past the issuer's.
    """
    if now is not None and now.tzinfo is None:
        raise ValueError("now must be an aware datetime")
    now = (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    hash_algorithm = signature_hash(signing_key)
    signer_public = signing_key.public_key()
    if issuer_certificate is None:
        if profile.issuer_ca is not None:
            raise ValueError(f"a {profile.role} certificate needs its issuer certificate")
        if not same_public_key(signer_public, subject_public_key):
            raise SigningKeyMismatch("a self-signed certificate must be signed by its own key")
        issuer_name = profile.subject_name()
        not_after = now + profile.validity
    else:
        if profile.issuer_ca is None:
            raise ValueError("a self-signed profile takes no issuer certificate")
        if not same_public_key(signer_public, issuer_certificate.public_key()):
            raise SigningKeyMismatch("signing key is not the key of issuer "
                                     f"{issuer_certificate.subject.rfc4514_string()}")
        issuer_name = issuer_certificate.subject
        not_after = min(now + profile.validity, issuer_certificate.not_valid_after_utc)

    builder = (
        x509.CertificateBuilder()
        .subject_name(profile.subject_name())
        .issuer_name(issuer_name)
        .public_key(subject_public_key)
        # 159 random bits (RFC 5280 allows 20 octets; CA/B asks for at least 64 random bits).
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(not_after)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(subject_public_key),
                       critical=False)
    )
    if issuer_certificate is not None:
        builder = builder.add_extension(authority_key_identifier(issuer_certificate),
                                        critical=False)
    for extension, critical in profile.extensions():
        builder = builder.add_extension(extension, critical=critical)
    return builder.sign(signing_key, hash_algorithm)
