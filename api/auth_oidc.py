"""Citizens' sign-in: OpenID Connect bearer tokens (JWS) checked against the configured
issuer, audience and JSON Web Key Set.

Only asymmetric signatures are accepted (RS256 with an RSA key, ES256 with a P-256
key), and the token's ``alg`` must fit the key it names: ``none``, HS256 signed with a
public key as the HMAC secret, or an RSA key presented for ES256 are all refused.
``exp``, ``iat``, ``iss``, ``aud`` and ``sub`` are required; ``nbf`` is honoured when
present; clocks may differ by ``leeway`` seconds (at most ``MAX_LEEWAY``), and a token
may live at most ``max_lifetime`` seconds (``exp - iat``): one valid for a century is a
stolen credential that never dies. The subject carries the holder's identifier (resident
identity number or unified social credit code), in its one spelling (certs/text.py).
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import jwt
from jwt import PyJWK

from certs.errors import InvalidIdentifier
from certs.identifiers import validate_resident_id, validate_uscc

ALGORITHM_FOR_KEY = {("RSA", None): "RS256", ("EC", "P-256"): "ES256"}
ALLOWED_ALGORITHMS = frozenset(ALGORITHM_FOR_KEY.values())
DEFAULT_LEEWAY = 30  # seconds
MAX_LEEWAY = 300
DEFAULT_MAX_LIFETIME = 4 * 3600  # seconds; identity providers issue minutes to an hour
JWKS_MAX_AGE = 300.0  # re-read a JWKS URL at most this often ...
JWKS_MIN_REFRESH = 30.0  # ... or sooner for an unknown kid, but not more often than this


class InvalidToken(Exception):
    """The bearer token is not one of ours (reason is safe to show: no token content)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class NotAHolder(Exception):
    """A valid token whose subject is not a holder identifier."""


@dataclass(frozen=True)
class Holder:
    """A signed-in citizen or company: the identifier their licences are issued to."""

    identifier: str


class JwksSource:
    """The provider's keys from a URL or a file, cached and re-read on key rotation."""

    def __init__(self, location: str, *, max_age: float = JWKS_MAX_AGE,
                 min_refresh: float = JWKS_MIN_REFRESH) -> None:
        self.location = location
        self.max_age, self.min_refresh = max_age, min_refresh
        self._keys: dict[str | None, PyJWK] = {}
        self._loaded_at = float("-inf")
        self._lock = threading.Lock()

    def _read(self) -> dict[str, Any]:
        if self.location.startswith(("https://", "http://")):
            response = httpx.get(self.location, timeout=10, follow_redirects=False)
            response.raise_for_status()
            return response.json()
        return json.loads(Path(self.location).read_text(encoding="utf-8"))

    def _load(self) -> None:
        try:
            document = self._read()
        except (OSError, ValueError, httpx.HTTPError) as exc:
            raise InvalidToken("the identity provider's keys are unavailable") from exc
        keys: dict[str | None, PyJWK] = {}
        for entry in document.get("keys", []):
            if not isinstance(entry, dict) or entry.get("use", "sig") != "sig":
                continue
            if (entry.get("kty"), entry.get("crv")) not in ALGORITHM_FOR_KEY:
                continue  # symmetric and unexpected key types are never trusted
            try:
                keys[entry.get("kid")] = PyJWK.from_dict(
                    entry, ALGORITHM_FOR_KEY[(entry["kty"], entry.get("crv"))])
            except jwt.PyJWKError:
                continue
        self._keys = keys
        self._loaded_at = time.monotonic()

    def key(self, kid: str | None) -> PyJWK:
        with self._lock:
            age = time.monotonic() - self._loaded_at
            if age > self.max_age:
                self._load()
            found = self._pick(kid)
            if found is None and age > self.min_refresh:
                self._load()  # the provider may have rotated its keys
                found = self._pick(kid)
        if found is None:
            raise InvalidToken("the token's signing key is not the identity provider's")
        return found

    def _pick(self, kid: str | None) -> PyJWK | None:
        if kid is not None:
            return self._keys.get(kid)
        return next(iter(self._keys.values())) if len(self._keys) == 1 else None


class OidcVerifier:
    def __init__(self, *, issuer: str, audience: str, jwks: JwksSource,
                 leeway: int = DEFAULT_LEEWAY,
                 max_lifetime: int = DEFAULT_MAX_LIFETIME) -> None:
        if not 0 <= leeway <= MAX_LEEWAY:
            raise ValueError(f"clock skew must be 0-{MAX_LEEWAY} seconds")
        if max_lifetime <= 0:
            raise ValueError("the maximum token lifetime must be positive")
        self.issuer, self.audience, self.jwks, self.leeway = issuer, audience, jwks, leeway
        self.max_lifetime = max_lifetime

    @classmethod
    def from_settings(cls, settings: Any) -> OidcVerifier | None:
        """None when the deployment has no identity provider configured."""
        if not (settings.oidc_issuer and settings.oidc_audience and settings.oidc_jwks):
            return None
        return cls(issuer=settings.oidc_issuer, audience=settings.oidc_audience,
                   jwks=JwksSource(settings.oidc_jwks), leeway=settings.oidc_clock_skew,
                   max_lifetime=settings.oidc_max_token_lifetime)

    def holder(self, token: str) -> Holder:
        """Blocking (may fetch the JWKS): call from a worker thread."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise InvalidToken("the bearer token is not a signed JWT") from None
        algorithm = header.get("alg")
        if algorithm not in ALLOWED_ALGORITHMS:
            raise InvalidToken(f"algorithm {str(algorithm)[:10]!r} is not accepted")
        kid = header.get("kid")
        key = self.jwks.key(kid if isinstance(kid, str) else None)
        if key.algorithm_name != algorithm:
            raise InvalidToken("the token's algorithm does not fit its key")
        try:
            claims = jwt.decode(
                token, key.key, algorithms=[algorithm], audience=self.audience,
                issuer=self.issuer, leeway=self.leeway,
                options={"require": ["exp", "iat", "iss", "aud", "sub"]},
            )
        except jwt.ExpiredSignatureError:
            raise InvalidToken("the token has expired") from None
        except jwt.ImmatureSignatureError:
            raise InvalidToken("the token is not valid yet") from None
        except jwt.InvalidAudienceError:
            raise InvalidToken("the token is meant for another audience") from None
        except jwt.InvalidIssuerError:
            raise InvalidToken("the token comes from another issuer") from None
        except jwt.InvalidSignatureError:
            raise InvalidToken("the token's signature does not verify") from None
        except jwt.MissingRequiredClaimError as exc:
            raise InvalidToken(f"the token has no {exc.claim!r} claim") from None
        except jwt.PyJWTError:
            raise InvalidToken("the bearer token is not valid") from None
        lifetime = int(claims["exp"]) - int(claims["iat"])  # PyJWT read both as int
        if lifetime > self.max_lifetime:
            raise InvalidToken(f"the token lives {int(lifetime)} s, more than the "
                               f"{self.max_lifetime} s accepted")
        return Holder(holder_identifier(claims["sub"]))


def holder_identifier(subject: Any) -> str:
    """The normalised identifier a subject names, or ``NotAHolder``."""
    if isinstance(subject, str):
        for validate in (validate_resident_id, validate_uscc):
            try:
                return validate(subject)
            except InvalidIdentifier:
                continue
    raise NotAHolder("the token's subject is not a resident identity number or a "
                     "unified social credit code")
