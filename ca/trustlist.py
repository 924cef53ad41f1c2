"""The trust list a region publishes (ETSI TS 119 612 concepts, JSON + JWS).

A pure data module: the verifier imports it with no HSM, database or network. The list
names its scheme operator (the region), a sequence number, issue and next-update times,
the trust anchors and the services (issuing CA, TSA, OCSP signer, ...) with each one's
status history. It travels as a JWS (RFC 7515, compact) whose header carries the list
signer's certificate (x5c); whoever imports it pins that certificate.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

FORMAT = "certseal-trust-list/1"
MEDIA_TYPE = "application/vnd.certseal.trust-list+jws"
SERVICE_TYPES = ("root-ca", "issuing-ca", "tsa", "ocsp", "status-list")
STATUSES = ("granted", "withdrawn")
# Bounded so a hostile list cannot make an importer do unbounded work.
MAX_LIST_BYTES = 2 * 1024 * 1024
MAX_SERVICES = 1000


class TrustListError(Exception):
    """A trust list that cannot be read, or whose signature or content is unacceptable."""

    code = "trust_list_invalid"


@dataclass(frozen=True)
class StatusChange:
    status: str
    since: datetime

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"service status must be one of {STATUSES}, not {self.status!r}")
        if self.since.tzinfo is None:
            raise ValueError("status change time must be timezone-aware")


@dataclass(frozen=True)
class TrustService:
    service_type: str
    name: str
    certificate: x509.Certificate
    history: tuple[StatusChange, ...]

    def __post_init__(self) -> None:
        if self.service_type not in SERVICE_TYPES:
            raise ValueError(f"service type must be one of {SERVICE_TYPES}")
        if not self.history:
            raise ValueError("a service needs at least one status entry")
        times = [change.since for change in self.history]
        if times != sorted(times):
            raise ValueError("status history must be in time order")

    def status_at(self, when: datetime) -> str | None:
        """The service's status at ``when`` (None before it was first listed)."""
        current = None
        for change in self.history:
            if change.since <= when:
                current = change.status
        return current


@dataclass(frozen=True)
class TrustList:
    region_code: str
    region_name: str
    sequence_number: int
    issued_at: datetime
    next_update: datetime
    services: tuple[TrustService, ...]
    base_url: str | None = None
    extensions: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not (len(self.region_code) == 6 and self.region_code.isdigit()):
            raise ValueError("region code must be 6 digits")
        if self.sequence_number < 1:
            raise ValueError("sequence number starts at 1")
        if self.next_update <= self.issued_at:
            raise ValueError("next update must follow the issue time")

    def services_of(self, service_type: str) -> tuple[TrustService, ...]:
        return tuple(s for s in self.services if s.service_type == service_type)

    def to_json(self) -> dict:
        return {
            "format": FORMAT,
            "scheme_operator": {"region_code": self.region_code, "region_name": self.region_name,
                                "base_url": self.base_url},
            "sequence_number": self.sequence_number,
            "issued_at": _iso(self.issued_at),
            "next_update": _iso(self.next_update),
            "services": [
                {
                    "service_type": s.service_type,
                    "name": s.name,
                    "certificate": base64.b64encode(
                        s.certificate.public_bytes(serialization.Encoding.DER)).decode(),
                    "status_history": [{"status": c.status, "since": _iso(c.since)}
                                       for c in s.history],
                }
                for s in self.services
            ],
            "extensions": self.extensions,
        }

    @classmethod
    def from_json(cls, data: dict) -> TrustList:
        try:
            if data.get("format") != FORMAT:
                raise TrustListError(f"not a trust list of format {FORMAT}")
            services = data["services"]
            if not isinstance(services, list) or len(services) > MAX_SERVICES:
                raise TrustListError("trust list services must be a list of bounded size")
            operator = data["scheme_operator"]
            return cls(
                region_code=str(operator["region_code"]),
                region_name=str(operator["region_name"]),
                base_url=operator.get("base_url"),
                sequence_number=int(data["sequence_number"]),
                issued_at=_parse_time(data["issued_at"]),
                next_update=_parse_time(data["next_update"]),
                services=tuple(
                    TrustService(
                        service_type=s["service_type"],
                        name=str(s["name"]),
                        certificate=x509.load_der_x509_certificate(
                            base64.b64decode(s["certificate"], validate=True)),
                        history=tuple(StatusChange(c["status"], _parse_time(c["since"]))
                                      for c in s["status_history"]),
                    )
                    for s in services
                ),
                extensions=dict(data.get("extensions") or {}),
            )
        except TrustListError:
            raise
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise TrustListError(f"malformed trust list: {exc}") from exc


@dataclass(frozen=True)
class SignedTrustList:
    """A list verified against its pinned signer, with the signed document as received:
    a compact JWS, or ETSI TS 119 612 XML (``ca.tsl_xml``), the same facts either way."""

    trust_list: TrustList
    signer_certificate: x509.Certificate
    document: str
    format: str = "jws"  # "jws" | "xml"

    @property
    def jws(self) -> str:
        if self.format != "jws":
            raise AttributeError("this trust list was read from XML; see .document")
        return self.document


def _iso(when: datetime) -> str:
    # Microseconds kept when present: a withdrawal effective at 12:00:00.700 must not read
    # back as 12:00:00 and take a signature time-stamped at 12:00:00.300 with it.
    return when.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _parse_time(text: str) -> datetime:
    when = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    if when.tzinfo is None:
        raise ValueError(f"time without zone: {text}")
    return when


def _jws_algorithm(key) -> str:
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return {256: "ES256", 384: "ES384", 521: "ES512"}[key.curve.key_size]
    if isinstance(key, rsa.RSAPrivateKey):
        return "PS256"
    raise TypeError("trust lists are signed with an EC or RSA key")


def sign_trust_list(trust_list: TrustList, key, signer_certificate: x509.Certificate,
                    chain: Sequence[x509.Certificate] = ()) -> str:
    """The compact JWS of ``trust_list`` signed by ``key`` (an HSM-backed key in service)."""
    payload = json.dumps(trust_list.to_json(), ensure_ascii=False, sort_keys=True,
                         separators=(",", ":")).encode()
    x5c = [base64.b64encode(c.public_bytes(serialization.Encoding.DER)).decode()
           for c in (signer_certificate, *chain)]
    return jwt.api_jws.encode(payload, key, algorithm=_jws_algorithm(key),
                              headers={"typ": MEDIA_TYPE.split("/")[1], "x5c": x5c})


def signer_of(jws: str) -> x509.Certificate:
    """The certificate a list says it is signed by (not yet verified)."""
    try:
        header = jwt.api_jws.get_unverified_header(jws)
        return x509.load_der_x509_certificate(base64.b64decode(header["x5c"][0], validate=True))
    except (jwt.exceptions.PyJWTError, KeyError, IndexError, TypeError, ValueError) as exc:
        raise TrustListError(f"trust list has no readable signer certificate: {exc}") from exc


def fingerprint(certificate: x509.Certificate) -> str:
    return certificate.fingerprint(hashes.SHA256()).hex(":").upper()


def read_trust_list(jws: str | bytes, pinned_signer: x509.Certificate) -> SignedTrustList:
    """Verify ``jws`` against the pinned list-signer certificate and parse it."""
    if isinstance(jws, bytes):
        if len(jws) > MAX_LIST_BYTES:
            raise TrustListError("trust list is too large")
        try:
            jws = jws.decode("ascii").strip()
        except UnicodeDecodeError as exc:
            raise TrustListError("trust list is not a JWS (non-ASCII bytes)") from exc
    if len(jws) > MAX_LIST_BYTES:
        raise TrustListError("trust list is too large")
    claimed = signer_of(jws)
    if claimed != pinned_signer:
        raise TrustListError(
            "trust list is signed by " + fingerprint(claimed)
            + ", not by the pinned list signer " + fingerprint(pinned_signer)
        )
    try:
        decoded = jwt.api_jws.decode_complete(
            jws, key=pinned_signer.public_key(),
            algorithms=["ES256", "ES384", "ES512", "PS256"],
        )
    except jwt.exceptions.PyJWTError as exc:
        raise TrustListError(f"trust list signature does not verify: {exc}") from exc
    try:
        data = json.loads(decoded["payload"])
    except (ValueError, UnicodeDecodeError) as exc:
        raise TrustListError("trust list payload is not JSON") from exc
    if not isinstance(data, dict):
        raise TrustListError("trust list payload is not a JSON object")
    return SignedTrustList(TrustList.from_json(data), pinned_signer, jws)
