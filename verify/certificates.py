"""One certificate as verification reads it: the value a context keeps per DER encoding.

cryptography parses extensions anew on every access and hashes a certificate by its whole
DER, and the same few seal, CA and TSA certificates come back check after check. So every
fact verification reads from a certificate is an attribute here, worked out on first use
(a certificate is immutable, so each is a fact of the DER alone) and found again through
the one object a context hands out for that DER (``VerificationContext.certificate``).
An attribute whose parsing raises keeps nothing and raises again where it is read.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from functools import cached_property

from asn1crypto import keys
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID

from certs.qr import kid_of_certificate
from verify.report import SignerFacts

_ORG_ID_PREFIX = "NTRCN-"  # ETSI EN 319 412-1 semantics identifier for a Chinese USCC


class CertificateFacts:
    """A certificate (``certificate``, cryptography's object) and its ``der``."""

    def __init__(self, certificate: x509.Certificate, der: bytes | None = None) -> None:
        self.certificate = certificate
        self.der = der if der is not None else certificate.public_bytes(
            serialization.Encoding.DER)

    @classmethod
    def from_der(cls, der: bytes) -> CertificateFacts:
        """ValueError when ``der`` is not a certificate."""
        return cls(x509.load_der_x509_certificate(der), bytes(der))

    def __repr__(self) -> str:
        return f"CertificateFacts({self.subject_text!r})"

    @cached_property
    def subject_text(self) -> str:
        """The subject as RFC 4514 text."""
        return self.certificate.subject.rfc4514_string()

    @cached_property
    def signer(self) -> SignerFacts:
        """What the report says of a signer."""
        subject = self.certificate.subject

        def first(oid) -> str | None:
            values = subject.get_attributes_for_oid(oid)
            return str(values[0].value) if values else None

        org_id = first(NameOID.ORGANIZATION_IDENTIFIER)
        uscc = (org_id[len(_ORG_ID_PREFIX):] if org_id and org_id.startswith(_ORG_ID_PREFIX)
                else None)
        return SignerFacts(
            department_name=first(NameOID.ORGANIZATION_NAME) or first(NameOID.COMMON_NAME),
            uscc=uscc,
            certificate_subject=self.subject_text,
            certificate_sha256=self.sha256.hex(":").upper(),
            certificate_serial=format(self.certificate.serial_number, "x"),
        )

    @cached_property
    def sha256(self) -> bytes:
        return hashlib.sha256(self.der).digest()

    @cached_property
    def kid(self) -> bytes:
        """The COSE key id QR payloads name it by."""
        return kid_of_certificate(self.der)

    @cached_property
    def validity(self) -> tuple[dt.datetime, dt.datetime]:
        """notBefore and notAfter (UTC)."""
        return self.certificate.not_valid_before_utc, self.certificate.not_valid_after_utc

    @cached_property
    def may_sign(self) -> bool:
        """Whether its key usage allows signatures (digitalSignature or nonRepudiation);
        False without a key usage extension."""
        try:
            usage = self.certificate.extensions.get_extension_for_class(x509.KeyUsage).value
        except x509.ExtensionNotFound:
            return False
        return bool(usage.digital_signature or usage.content_commitment)

    @cached_property
    def public_key(self):
        return self.certificate.public_key()

    @cached_property
    def spki_key(self) -> bytes:
        """The BIT STRING contents of the subjectPublicKey (what OCSP's key hashes hash)."""
        return spki_key_of(self.certificate)

    def issued(self, child: CertificateFacts) -> bool:
        """Whether this certificate's key signed ``child`` (names matching)."""
        try:
            child.certificate.verify_directly_issued_by(self.certificate)
        except (ValueError, TypeError, InvalidSignature):
            return False
        return True


def spki_key_of(certificate: x509.Certificate) -> bytes:
    spki = certificate.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return keys.PublicKeyInfo.load(spki)["public_key"].contents[1:]
