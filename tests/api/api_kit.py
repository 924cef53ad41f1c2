"""Shared pieces of the API tests: our own identity provider (keys, JWKS, signed tokens),
identifiers, and a client for the served app. Import as `import api_kit`."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from certs.identifiers import make_resident_id, make_uscc

ISSUER = "https://id.example.test/realms/citizens"
AUDIENCE = "certseal-api"
# A resident identity number that holds no licence in any test domain.
NOBODY_ID = make_resident_id("11010519491231002")
OTHER_DEPARTMENT_USCC = make_uscc("11440100MB0000042")


@dataclass
class IdentityProvider:
    """Signs tokens as the configured provider would (RSA key 'rsa-1', EC key 'ec-1')."""

    jwks_path: Path
    rsa_key: rsa.RSAPrivateKey
    ec_key: ec.EllipticCurvePrivateKey

    def token(self, sub: str, *, key: Any = None, alg: str = "RS256", kid: str | None = "rsa-1",
              issuer: str = ISSUER, audience: str = AUDIENCE, lifetime: int = 300,
              now: float | None = None, **claims: Any) -> str:
        now = time.time() if now is None else now
        payload = {"iss": issuer, "aud": audience, "sub": sub, "iat": int(now),
                   "exp": int(now + lifetime), **claims}
        if key is None:
            key = self.ec_key if alg == "ES256" else self.rsa_key
        headers = {"kid": kid} if kid is not None else {}
        return jwt.encode(payload, key, algorithm=alg, headers=headers)


def _jwk(public_key: Any, kid: str, alg: str) -> dict[str, Any]:
    algorithm = jwt.algorithms.RSAAlgorithm if alg == "RS256" else jwt.algorithms.ECAlgorithm
    return {**json.loads(algorithm.to_jwk(public_key)), "kid": kid, "use": "sig", "alg": alg}


def make_identity_provider(directory: Path, rsa_kid: str = "rsa-1", ec_kid: str = "ec-1"
                           ) -> IdentityProvider:
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ec_key = ec.generate_private_key(ec.SECP256R1())
    jwks_path = directory / "jwks.json"
    jwks_path.write_text(json.dumps({"keys": [
        _jwk(rsa_key.public_key(), rsa_kid, "RS256"),
        _jwk(ec_key.public_key(), ec_kid, "ES256"),
    ]}))
    return IdentityProvider(jwks_path, rsa_key, ec_key)


@dataclass
class ApiUnderTest:
    base_url: str
    under_test: Any  # domain_kit.DomainUnderTest
    idp: IdentityProvider

    def client(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.base_url, headers=headers, timeout=60)

    @property
    def department(self) -> httpx.Client:
        return self.client(self.under_test.api_key)

    def citizen(self, identifier: str) -> httpx.Client:
        return self.client(self.idp.token(identifier))


@dataclass
class OtherDepartment:
    department_id: str
    api_key: str
