"""CRL issuance (RFC 5280 §5): one full CRL per CA, numbered, kept.

The issuing CA's CRL lists its revoked and held end-entity certificates; the root's lists
revoked issuing CAs. Each CRL signed is stored (IssuedCrl), so the distribution point can
serve the latest without touching the HSM.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPrivateKeyTypes
from cryptography.hazmat.primitives.serialization import Encoding
from sqlmodel import Session

from ca import store
from ca.errors import SigningKeyMismatch
from ca.models import IssuedCertificate, IssuedCrl
from ca.profiles import authority_key_identifier, same_public_key, signature_hash

DEFAULT_CRL_VALIDITY = timedelta(days=7)


def _entry(record: IssuedCertificate) -> x509.RevokedCertificate:
    assert record.revoked_at is not None, "a revoked row always has its revocation time"
    builder = (x509.RevokedCertificateBuilder()
               .serial_number(int(record.serial, 16))
               .revocation_date(record.revoked_at))
    reason = x509.ReasonFlags(record.revocation_reason)
    # RFC 5280 §5.3.1: the reason code 'unspecified' SHOULD be absent rather than written.
    if reason is not x509.ReasonFlags.unspecified:
        builder = builder.add_extension(x509.CRLReason(reason), critical=False)
    if record.invalidity_date is not None:
        builder = builder.add_extension(x509.InvalidityDate(record.invalidity_date),
                                        critical=False)
    return builder.build()


def build_crl(
    session: Session,
    ca_name: str,
    signing_key: CertificateIssuerPrivateKeyTypes,
    *,
    now: datetime | None = None,
    validity: timedelta = DEFAULT_CRL_VALIDITY,
) -> x509.CertificateRevocationList:
    """Sign the CA's next CRL, record it and advance its CRL number."""
    if not isinstance(validity, timedelta):
        raise TypeError(f"validity must be a timedelta, not {type(validity).__name__}")
    if validity <= timedelta(0):
        raise ValueError("CRL validity must be positive")
    if now is not None and now.tzinfo is None:
        raise ValueError("now must be an aware datetime")
    now = (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    hash_algorithm = signature_hash(signing_key)

    authority = store.get_authority(session, ca_name, for_update=True)
    ca_record = store.get_certificate(session, authority.certificate_serial)
    ca_certificate = x509.load_der_x509_certificate(ca_record.der)
    if not same_public_key(signing_key.public_key(), ca_certificate.public_key()):
        raise SigningKeyMismatch(f"signing key is not the key of CA {ca_name!r}")

    number = authority.next_crl_number
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca_certificate.subject)
        .last_update(now)
        .next_update(now + validity)
        .add_extension(x509.CRLNumber(number), critical=False)
        .add_extension(authority_key_identifier(ca_certificate), critical=False)
    )
    for record in store.revoked_certificates(session, ca_name):
        builder = builder.add_revoked_certificate(_entry(record))
    crl = builder.sign(signing_key, hash_algorithm)

    # Signed: now record it. The (ca_name, crl_number) key refuses a concurrent duplicate.
    session.add(IssuedCrl(ca_name=ca_name, crl_number=number, this_update=now,
                          next_update=now + validity, der=crl.public_bytes(Encoding.DER)))
    authority.next_crl_number = number + 1
    authority.crl_last_issued_at = now
    session.add(authority)
    session.flush()
    return crl
