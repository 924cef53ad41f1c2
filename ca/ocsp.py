"""OCSP responder (RFC 6960, with the RFC 5019 pre-produced response profile).

A pure component: it knows one issuing CA, a delegated OCSP signer (certificate and key, the
key usually an HSM-backed `ec.EllipticCurvePrivateKey`), and a `CertificateStatusSource` that
answers "what is the status of serial N?". HTTP lives in api/; storage lives behind the source.

Library route: the responses are built with asn1crypto rather than cryptography's
`OCSPResponseBuilder`, because an OCSPRequest may hold several CertIDs and the builder can only
put one SingleResponse in a BasicOCSPResponse; asn1crypto builds any number, lets us echo the
request's CertID byte for byte (SHA-1 or SHA-256 alike) and signs through nothing but
`key.sign(...)`, so any key object that implements it (software or PKCS#11) works.

Caching choice (RFC 5019 section 2.2 / 6): a request with exactly one CertID and no nonce gets a
pre-produced response: signed once, then served from memory until shortly before its nextUpdate.
`invalidate(serial)` must be called when a status changes; the entry is dropped at once and the
next request signs afresh. A request with a nonce gets a freshly signed response echoing it
(a cached response cannot carry the client's nonce, and a client asking for one asks for
freshness). Multi-CertID requests are rare and are signed afresh every time.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import threading
import urllib.parse
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Protocol

from asn1crypto import core, keys
from asn1crypto import ocsp as asn1_ocsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from ca.protocol_errors import OcspGetPathInvalid, ResponderMisconfigured

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
SigningKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey

# Requests are a few hundred bytes; refuse to parse anything absurdly large.
MAX_REQUEST_BYTES = 16 * 1024
MAX_CERT_IDS_PER_REQUEST = 32
# RFC 8954 section 2.1: a nonce is 1 to 32 octets; longer ones are rejected as malformed.
MAX_NONCE_BYTES = 32
_CERT_ID_HASHES = {
    "sha1": hashlib.sha1,
    "sha256": hashlib.sha256,
    "sha384": hashlib.sha384,
    "sha512": hashlib.sha512,
}


def utc_now() -> datetime:
    return datetime.now(UTC)


class CertificateStatus(StrEnum):
    GOOD = "good"
    REVOKED = "revoked"
    ON_HOLD = "on_hold"


@dataclass(frozen=True)
class CertificateStatusFacts:
    """What the CA knows about one certificate it issued."""

    status: CertificateStatus
    revoked_at: datetime | None = None
    reason: x509.ReasonFlags | None = None

    def __post_init__(self) -> None:
        if self.status is CertificateStatus.GOOD:
            if self.revoked_at is not None or self.reason is not None:
                raise ValueError("revoked_at and reason must be None for a good certificate")
        elif self.revoked_at is None or self.revoked_at.tzinfo is None:
            raise ValueError("revoked_at must be a timezone-aware datetime when not good")


class CertificateStatusSource(Protocol):
    def status_of(self, serial: int) -> CertificateStatusFacts | None:
        """The status of a certificate this CA issued; None if it never issued that serial."""
        ...


def parse_get_path(b64: str) -> bytes:
    """Decode the path segment of `GET /pki/ocsp/{base64 request}` (RFC 6960 appendix A.1).

    Accepts percent-encoding, standard and URL-safe base64, missing padding, and a '+' that
    some proxy turned into a space. Raises OcspGetPathInvalid otherwise.
    """
    if not isinstance(b64, str) or not b64 or len(b64) > 4 * MAX_REQUEST_BYTES:
        raise OcspGetPathInvalid("OCSP GET path: expected a non-empty base64 request")
    try:
        text = urllib.parse.unquote(b64, errors="strict")
    except UnicodeDecodeError as exc:
        raise OcspGetPathInvalid("OCSP GET path: percent-encoding is not UTF-8") from exc
    text = text.strip().replace(" ", "+").replace("-", "+").replace("_", "/")
    text += "=" * (-len(text) % 4)
    try:
        der = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise OcspGetPathInvalid("OCSP GET path: not base64") from exc
    if not der:
        raise OcspGetPathInvalid("OCSP GET path: empty request")
    return der


def signature_algorithm_for(key: SigningKey) -> tuple[str, hashes.HashAlgorithm]:
    """The asn1crypto signature algorithm name and hash we use with this key."""
    if isinstance(key, ec.EllipticCurvePrivateKey):
        size = key.curve.key_size
        digest: hashes.HashAlgorithm = (
            hashes.SHA256() if size <= 256 else hashes.SHA384() if size <= 384 else hashes.SHA512()
        )
        return f"{digest.name}_ecdsa", digest
    if isinstance(key, rsa.RSAPrivateKey):
        return "sha256_rsa", hashes.SHA256()
    raise ResponderMisconfigured(
        f"signing key: unsupported key type {type(key).__name__} (need EC or RSA)"
    )


def sign_with(key: SigningKey, data: bytes) -> tuple[str, bytes]:
    """Sign `data`; returns (asn1crypto signature algorithm name, DER/PKCS#1 signature)."""
    algorithm, digest = signature_algorithm_for(key)
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return algorithm, key.sign(data, ec.ECDSA(digest))
    return algorithm, key.sign(data, padding.PKCS1v15(), digest)


def _public_key_bits(certificate: x509.Certificate) -> bytes:
    """The subjectPublicKey BIT STRING value, as hashed in issuerKeyHash and key identifiers."""
    spki = certificate.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return keys.PublicKeyInfo.load(spki)["public_key"].contents[1:]


def _unsuccessful(status: str) -> bytes:
    return asn1_ocsp.OCSPResponse({"response_status": status}).dump()


MALFORMED_REQUEST = _unsuccessful("malformed_request")
INTERNAL_ERROR = _unsuccessful("internal_error")
UNAUTHORIZED = _unsuccessful("unauthorized")


class _Malformed(Exception):
    """Internal: the request cannot be understood; answered with malformedRequest."""


@dataclass(frozen=True)
class _CertRequest:
    cert_id: asn1_ocsp.CertId
    cert_id_der: bytes
    hash_name: str
    issuer_name_hash: bytes
    issuer_key_hash: bytes
    serial: int


@dataclass(frozen=True)
class _ParsedRequest:
    cert_requests: tuple[_CertRequest, ...]
    nonce_extension: bytes | None  # the DER of the request's nonce extension, echoed as is
    request_der: bytes = b""


@dataclass
class _CachedResponse:
    serial: int
    der: bytes
    refresh_at: datetime


class OcspResponder:
    """Answers DER OCSPRequests for the certificates of one issuing CA."""

    def __init__(
        self,
        *,
        issuer: x509.Certificate,
        signer: x509.Certificate,
        signer_key: SigningKey,
        statuses: CertificateStatusSource,
        validity: timedelta = timedelta(hours=1),
        clock: Clock = utc_now,
        refresh_margin: timedelta | None = None,
        max_cached: int = 100_000,
    ) -> None:
        if validity <= timedelta(0):
            raise ResponderMisconfigured("validity: must be positive")
        self._issuer = issuer
        self._signer = signer
        self._signer_key = signer_key
        self._statuses = statuses
        self._validity = validity
        self._clock = clock
        # Serve a cached response until this long before its nextUpdate, so that a client
        # never receives a response that expires while it is still in flight or in its cache.
        self._refresh_margin = refresh_margin if refresh_margin is not None else validity / 12
        if not timedelta(0) <= self._refresh_margin < validity:
            raise ResponderMisconfigured("refresh_margin: must be >= 0 and below validity")
        self._max_cached = max_cached
        self._check_signer()
        signature_algorithm_for(signer_key)  # fail now, not at the first request

        issuer_name = issuer.subject.public_bytes()
        issuer_key = _public_key_bits(issuer)
        self._issuer_hashes = {
            name: (h(issuer_name).digest(), h(issuer_key).digest())
            for name, h in _CERT_ID_HASHES.items()
        }
        self._responder_id = asn1_ocsp.ResponderId(
            # RFC 6960 section 4.2.1: KeyHash is the SHA-1 of the key; not a security use.
            name="by_key",
            value=hashlib.sha1(_public_key_bits(signer), usedforsecurity=False).digest(),
        )
        self._signer_asn1 = asn1_x509.Certificate.load(
            signer.public_bytes(serialization.Encoding.DER)
        )

        self._lock = threading.Lock()
        self._cache: OrderedDict[bytes, _CachedResponse] = OrderedDict()
        self._keys_by_serial: dict[int, set[bytes]] = {}
        self._by_request: OrderedDict[bytes, bytes] = OrderedDict()  # request DER -> CertID DER
        # Bumped by invalidate(): a response signed from facts read before an invalidation
        # must not enter the cache after it.
        self._generation: dict[int, int] = {}
        self._epoch = 0

    def _check_signer(self) -> None:
        key_spki = self._signer_key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        cert_spki = self._signer.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        if key_spki != cert_spki:
            raise ResponderMisconfigured("signer_key: does not match the signer certificate")
        if self._signer == self._issuer:
            return  # the CA answers for itself; no delegation to check
        try:
            self._signer.verify_directly_issued_by(self._issuer)
        except (ValueError, TypeError, InvalidSignature) as exc:
            raise ResponderMisconfigured("signer: not issued by the issuer it answers for") from exc
        try:
            eku = self._signer.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        except x509.ExtensionNotFound as exc:
            raise ResponderMisconfigured("signer: has no extendedKeyUsage OCSPSigning") from exc
        if x509.oid.ExtendedKeyUsageOID.OCSP_SIGNING not in eku:
            raise ResponderMisconfigured("signer: extendedKeyUsage lacks OCSPSigning")

    # -- public API ---------------------------------------------------------------------

    def respond(self, request_der: bytes) -> bytes:
        """The DER OCSPResponse for a DER OCSPRequest. Never raises."""
        try:
            cached = self._cached_for_request_bytes(request_der)
        except Exception:
            cached = None
        if cached is not None:
            return cached
        try:
            parsed = _parse_request(request_der)
        except Exception:
            return MALFORMED_REQUEST
        try:
            return self._answer(parsed)
        except Exception:
            log.exception("OCSP responder failed to answer a well-formed request")
            return INTERNAL_ERROR

    def cached_answer(self, request_der: bytes) -> bytes | None:
        """The pre-produced answer for a request seen before, byte for byte, while it is
        current; None otherwise (then call ``respond``). No parsing, no signing, no status
        lookup: cheap enough for an event loop. The caller keeps the cache honest
        (``invalidate``) before asking."""
        try:
            return self._cached_for_request_bytes(request_der)
        except Exception:
            return None

    def _cached_for_request_bytes(self, request_der: bytes) -> bytes | None:
        """Fast path: a byte-identical no-nonce request seen before maps to its CertID's entry.

        Clients send the same bytes again and again (RFC 5019); skipping the ASN.1 parse makes a
        cache hit ~20x cheaper. Invalidation needs no extra work: the alias only points at the
        CertID entry, which invalidate() drops.
        """
        if not isinstance(request_der, bytes):
            return None
        with self._lock:
            cert_id_der = self._by_request.get(request_der)
            cached = self._cache.get(cert_id_der) if cert_id_der is not None else None
        if cached is None or self._now() >= cached.refresh_at:
            return None
        return cached.der

    def respond_to_get(self, path_segment: str) -> bytes:
        """The DER OCSPResponse for `GET /pki/ocsp/{path_segment}`. Never raises."""
        try:
            request_der = parse_get_path(path_segment)
        except Exception:
            return MALFORMED_REQUEST
        return self.respond(request_der)

    def invalidate(self, serial: int) -> None:
        """Drop cached responses for `serial`; call it the moment its status changes."""
        with self._lock:
            self._generation[serial] = self._generation.get(serial, 0) + 1
            for key in self._keys_by_serial.pop(serial, ()):
                self._cache.pop(key, None)

    def invalidate_all(self) -> None:
        with self._lock:
            self._epoch += 1
            self._cache.clear()
            self._keys_by_serial.clear()
            self._by_request.clear()

    def preproduce(self, serial: int) -> None:
        """Sign and cache the no-nonce responses for `serial` (SHA-1 and SHA-256 CertIDs)."""
        for hash_name in ("sha1", "sha256"):
            name_hash, key_hash = self._issuer_hashes[hash_name]
            cert_id = asn1_ocsp.CertId(
                {
                    "hash_algorithm": {"algorithm": hash_name},
                    "issuer_name_hash": name_hash,
                    "issuer_key_hash": key_hash,
                    "serial_number": serial,
                }
            )
            self._answer(
                _ParsedRequest((_cert_request(cert_id),), nonce_extension=None), use_cache=True
            )

    @property
    def cached_count(self) -> int:
        with self._lock:
            return len(self._cache)

    # -- answering ----------------------------------------------------------------------

    def _serves(self, request: _CertRequest) -> bool:
        expected = self._issuer_hashes.get(request.hash_name)
        return expected == (request.issuer_name_hash, request.issuer_key_hash)

    def _answer(self, parsed: _ParsedRequest, use_cache: bool | None = None) -> bytes:
        if not all(self._serves(r) for r in parsed.cert_requests):
            return UNAUTHORIZED
        if use_cache is None:
            use_cache = parsed.nonce_extension is None and len(parsed.cert_requests) == 1
        if not use_cache:
            return self._sign(parsed)

        request = parsed.cert_requests[0]
        now = self._now()
        with self._lock:
            cached = self._cache.get(request.cert_id_der)
            if cached is not None and now < cached.refresh_at:
                self._cache.move_to_end(request.cert_id_der)
                self._remember_request(parsed.request_der, request.cert_id_der)
                return cached.der
            generation = (self._epoch, self._generation.get(request.serial, 0))
        der = self._sign(parsed, now=now)
        with self._lock:
            if generation == (self._epoch, self._generation.get(request.serial, 0)):
                self._store(request, der, now + self._validity - self._refresh_margin)
                self._remember_request(parsed.request_der, request.cert_id_der)
        return der

    def _remember_request(self, request_der: bytes, cert_id_der: bytes) -> None:
        if not request_der:
            return
        self._by_request[request_der] = cert_id_der
        self._by_request.move_to_end(request_der)
        while len(self._by_request) > self._max_cached:
            self._by_request.popitem(last=False)

    def _store(self, request: _CertRequest, der: bytes, refresh_at: datetime) -> None:
        self._cache[request.cert_id_der] = _CachedResponse(request.serial, der, refresh_at)
        self._cache.move_to_end(request.cert_id_der)
        self._keys_by_serial.setdefault(request.serial, set()).add(request.cert_id_der)
        while len(self._cache) > self._max_cached:
            key, evicted = self._cache.popitem(last=False)
            keys_of_serial = self._keys_by_serial.get(evicted.serial)
            if keys_of_serial is not None:
                keys_of_serial.discard(key)
                if not keys_of_serial:
                    del self._keys_by_serial[evicted.serial]

    def _now(self) -> datetime:
        now = self._clock()
        if now.tzinfo is None:
            raise ValueError("clock: returned a naive datetime")
        # GeneralizedTime in OCSP carries no fractional seconds (RFC 5280 section 4.1.2.5.2).
        return now.astimezone(UTC).replace(microsecond=0)

    def _sign(self, parsed: _ParsedRequest, now: datetime | None = None) -> bytes:
        now = now or self._now()
        next_update = now + self._validity
        responses = [self._single_response(r, now, next_update) for r in parsed.cert_requests]
        data: dict[str, object] = {
            "responder_id": self._responder_id,
            "produced_at": now,
            "responses": responses,
        }
        if parsed.nonce_extension is not None:
            data["response_extensions"] = [
                asn1_ocsp.ResponseDataExtension.load(parsed.nonce_extension)
            ]
        tbs = asn1_ocsp.ResponseData(data)
        algorithm, signature = sign_with(self._signer_key, tbs.dump())
        basic = asn1_ocsp.BasicOCSPResponse(
            {
                "tbs_response_data": tbs,
                "signature_algorithm": {"algorithm": algorithm},
                "signature": signature,
                "certs": [self._signer_asn1],
            }
        )
        return asn1_ocsp.OCSPResponse(
            {
                "response_status": "successful",
                "response_bytes": {"response_type": "basic_ocsp_response", "response": basic},
            }
        ).dump()

    def _single_response(
        self, request: _CertRequest, this_update: datetime, next_update: datetime
    ) -> asn1_ocsp.SingleResponse:
        facts = self._statuses.status_of(request.serial)
        if facts is None:
            status = asn1_ocsp.CertStatus(name="unknown", value=core.Null())
        elif facts.status is CertificateStatus.GOOD:
            status = asn1_ocsp.CertStatus(name="good", value=core.Null())
        else:
            assert facts.revoked_at is not None  # guaranteed by CertificateStatusFacts
            revoked: dict[str, object] = {
                "revocation_time": facts.revoked_at.astimezone(UTC).replace(microsecond=0)
            }
            reason = facts.reason
            if facts.status is CertificateStatus.ON_HOLD:
                reason = x509.ReasonFlags.certificate_hold
            # RFC 5280 section 5.3.1: omit the reason rather than say "unspecified".
            if reason is not None and reason is not x509.ReasonFlags.unspecified:
                revoked["revocation_reason"] = reason.name
            status = asn1_ocsp.CertStatus(name="revoked", value=revoked)
        return asn1_ocsp.SingleResponse(
            {
                "cert_id": asn1_ocsp.CertId.load(request.cert_id_der),
                "cert_status": status,
                "this_update": this_update,
                "next_update": next_update,
            }
        )


def _cert_request(cert_id: asn1_ocsp.CertId) -> _CertRequest:
    hash_algorithm = cert_id["hash_algorithm"]
    if hash_algorithm["parameters"].native is not None:
        raise _Malformed("CertID hashAlgorithm parameters must be absent or NULL")
    serial = cert_id["serial_number"].native
    if not isinstance(serial, int):
        raise _Malformed("CertID serialNumber")
    return _CertRequest(
        cert_id=cert_id,
        cert_id_der=cert_id.dump(),
        # unknown algorithms keep their dotted OID and will not match any issuer hash
        hash_name=hash_algorithm["algorithm"].native,
        issuer_name_hash=cert_id["issuer_name_hash"].native,
        issuer_key_hash=cert_id["issuer_key_hash"].native,
        serial=serial,
    )


def _parse_request(request_der: bytes) -> _ParsedRequest:
    if not isinstance(request_der, bytes | bytearray) or not request_der:
        raise _Malformed("request: expected DER bytes")
    if len(request_der) > MAX_REQUEST_BYTES:
        raise _Malformed("request: too large")
    request = asn1_ocsp.OCSPRequest.load(bytes(request_der), strict=True)
    _ = request.native  # parse every nested field now; lazy parsing would fail later
    tbs = request["tbs_request"]
    if tbs["version"].native != "v1":
        raise _Malformed("request: version must be v1")
    request_list = tbs["request_list"]
    if not 1 <= len(request_list) <= MAX_CERT_IDS_PER_REQUEST:
        raise _Malformed("request: requestList size")
    cert_requests = tuple(_cert_request(r["req_cert"]) for r in request_list)

    nonce_extension = None
    for extension in tbs["request_extensions"] or []:
        if extension["extn_id"].native != "nonce":
            continue  # RFC 6960 section 4.4: other request extensions are optional to support
        if nonce_extension is not None:
            raise _Malformed("request: duplicate nonce extension")
        nonce = extension["extn_value"].parsed.native
        if not 1 <= len(nonce) <= MAX_NONCE_BYTES:
            raise _Malformed("request: nonce length must be 1 to 32 octets (RFC 8954)")
        nonce_extension = asn1_ocsp.ResponseDataExtension(
            {"extn_id": "nonce", "critical": False, "extn_value": nonce}
        ).dump()
    return _ParsedRequest(cert_requests, nonce_extension, bytes(request_der))
