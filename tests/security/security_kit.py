"""Shared pieces of the security tests: the cast of the authorisation matrix (two
departments with different grants, a holder and a non-holder, the anonymous caller), and
well-formed OCSP and TSA requests. Import as `import security_kit`."""

from __future__ import annotations

import base64
import hashlib
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from asn1crypto import tsp
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp

from certs.identifiers import make_resident_id, make_uscc
from certs.licence_id import LicenceId

# The identity provider of the API tests (tests/api/api_kit.py), reused, not copied.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "api"))
import api_kit

DEPARTMENT_A_USCC = make_uscc("11440100MB0009101")
DEPARTMENT_B_USCC = make_uscc("11440100MB0009102")
TYPES_OF = {"A": ("zyzgzs", "spjyxkz"), "B": ("yyzz",)}
CITIZEN_1 = make_resident_id("44010119850101123")  # holds one licence of A
CITIZEN_2 = make_resident_id("44010119850202456")  # holds none
# Well formed, check character right, never issued.
MISSING_LICENCE = str(LicenceId("yyzz", DEPARTMENT_B_USCC, 9_999_999_990, 1))


@dataclass
class Cast:
    """Who calls: their bearer tokens (None: anonymous), and what they own."""

    base_url: str
    tokens: dict[str, str | None]
    department_ids: dict[str, str]
    # licences by name: "A:zyzgzs" (held by C1), "A:spjyxkz", "B:yyzz"
    licences: dict[str, str] = field(default_factory=dict)
    owner_of: dict[str, str] = field(default_factory=dict)
    holder_of: dict[str, str | None] = field(default_factory=dict)
    extra_key_ids: dict[str, str] = field(default_factory=dict)
    ocsp_request: bytes = b""
    tsa_request: bytes = b""
    pdf: bytes = b""
    issue: Callable[..., str] | None = None  # (department, type[, data]) -> licence id
    app: object = None


def oidc_settings(trust_domain, idp):
    """The shared domain's settings with citizens' sign-in through `idp`."""
    return trust_domain.domain.settings.model_copy(update={
        "oidc_issuer": api_kit.ISSUER, "oidc_audience": api_kit.AUDIENCE,
        "oidc_jwks": str(idp.jwks_path)})


def ocsp_request_der(certificate: x509.Certificate, issuer: x509.Certificate) -> bytes:
    request = ocsp.OCSPRequestBuilder().add_certificate(certificate, issuer, hashes.SHA1())  # noqa: S303 (OCSP CertID)
    return request.build().public_bytes(serialization.Encoding.DER)


def ocsp_get_path(request_der: bytes) -> str:
    return "/pki/ocsp/" + quote(base64.b64encode(request_der).decode(), safe="")


def tsa_request_der(data: bytes = b"certseal security tests") -> bytes:
    return tsp.TimeStampReq({
        "version": 1,
        "message_imprint": {"hash_algorithm": {"algorithm": "sha256"},
                            "hashed_message": hashlib.sha256(data).digest()},
        "cert_req": True,
    }).dump()


__all__ = ["CITIZEN_1", "CITIZEN_2", "MISSING_LICENCE", "TYPES_OF", "Cast", "api_kit",
           "ocsp_get_path", "ocsp_request_der", "tsa_request_der"]
