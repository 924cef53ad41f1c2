"""A signed, compact status list per issuing department (after the IETF OAuth Token Status
List draft): one JWT a counter syncs now and then, so that a QR verified offline can still
be checked for revocation or suspension.

    header  {"alg": "ES256", "typ": "statuslist+jwt", "x5c": [seal cert, issuing CA]}
    claims  {"sub": list URL, "iat": .., "exp": .., "ttl": seconds,
             "status_list": {"bits": 2, "lst": base64url(zlib(packed statuses))}}

Entry i lives in byte i*bits//8 at bit offset (i*bits)%8, least significant bits first
(as the draft packs them). 0 valid, 1 invalid (revoked, superseded, recorded expired),
2 suspended. The licence's QR carries its index (claim ``status_index``).

The x5c leaf is the department's seal certificate, the same certificate whose key signs
the QR payloads: the lists double as the distributed signer list. Pure functions only:
the key comes in as a cryptography key object (HSM-backed or not), and reading a list
needs no HSM, database or network.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import jwt
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import Encoding

from certs.errors import CertsError
from certs.models import LicenceStatus

TYP = "statuslist+jwt"
BITS = 2
VALID, INVALID, SUSPENDED = 0, 1, 2
DEFAULT_VALIDITY = dt.timedelta(hours=24)
DEFAULT_TTL = dt.timedelta(hours=1)
# 4 MiB of statuses is 16 million licences at 2 bits; a larger list is an attack.
MAX_LIST_BYTES = 4 * 1024 * 1024
MAX_JWT_CHARS = 8 * 1024 * 1024
_ALGORITHMS = ("ES256", "ES384", "ES512", "RS256", "PS256")

Clock = Callable[[], dt.datetime]

STATUS_CODES: dict[LicenceStatus, int] = {
    LicenceStatus.VALID: VALID,
    LicenceStatus.SUSPENDED: SUSPENDED,
    LicenceStatus.REVOKED: INVALID,
    LicenceStatus.SUPERSEDED: INVALID,
    LicenceStatus.EXPIRED: INVALID,
}


class StatusListInvalid(CertsError, ValueError):
    """A status list JWT that cannot be trusted or read (signature, chain, expiry, shape)."""

    code = "status_list_invalid"


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def pack_statuses(entries: Iterable[tuple[int, int]], bits: int = BITS) -> bytes:
    """Pack (index, status code) pairs into the draft's byte layout; gaps read as 0."""
    if bits not in (1, 2, 4, 8):
        raise ValueError("bits must be 1, 2, 4 or 8")
    entries = list(entries)
    size = max((index for index, _ in entries), default=-1) + 1
    packed = bytearray((size * bits + 7) // 8 or 1)  # the draft wants at least one byte
    for index, code in entries:
        if index < 0:
            raise ValueError(f"status index must not be negative: {index}")
        if not 0 <= code < (1 << bits):
            raise ValueError(f"status code {code} does not fit in {bits} bits")
        position = index * bits
        packed[position // 8] |= code << (position % 8)
    return bytes(packed)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _algorithm_for(key: object) -> str:
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return {256: "ES256", 384: "ES384", 521: "ES512"}[key.curve.key_size]
    if isinstance(key, rsa.RSAPrivateKey):
        return "RS256"
    raise TypeError(f"status lists are signed with an EC or RSA key, not {type(key).__name__}")


def sign_status_list(
    entries: Iterable[tuple[int, LicenceStatus]],
    *,
    subject_url: str,
    signer_key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey,
    signer_certificate: x509.Certificate,
    chain: Sequence[x509.Certificate],
    now: dt.datetime,
    validity: dt.timedelta = DEFAULT_VALIDITY,
    ttl: dt.timedelta = DEFAULT_TTL,
) -> str:
    """The compact JWT for these (index, licence status) entries, signed by ``signer_key``."""
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime")
    if validity <= dt.timedelta(0) or ttl <= dt.timedelta(0):
        raise ValueError("validity and ttl must be positive")
    packed = pack_statuses((index, STATUS_CODES[LicenceStatus(status)])
                           for index, status in entries)
    issued = int(now.timestamp())
    claims = {
        "sub": subject_url,
        "iat": issued,
        "exp": issued + int(validity.total_seconds()),
        "ttl": int(ttl.total_seconds()),
        "status_list": {"bits": BITS, "lst": _b64url(zlib.compress(packed, 9))},
    }
    x5c = [base64.b64encode(c.public_bytes(Encoding.DER)).decode("ascii")
           for c in (signer_certificate, *chain)]
    return jwt.encode(claims, signer_key, algorithm=_algorithm_for(signer_key),  # type: ignore[arg-type]
                      headers={"typ": TYP, "x5c": x5c})


@dataclass(frozen=True)
class StatusList:
    """A verified status list: whose it is, when it was made, and its statuses."""

    subject: str
    issued_at: dt.datetime
    expires_at: dt.datetime
    ttl: dt.timedelta
    bits: int
    packed: bytes
    signer: x509.Certificate  # the seal certificate (x5c leaf) that signed it

    @property
    def capacity(self) -> int:
        return len(self.packed) * 8 // self.bits

    def status_at(self, index: int) -> int:
        """The status code at ``index`` (VALID, INVALID, SUSPENDED)."""
        if not isinstance(index, int) or isinstance(index, bool) or index < 0:
            raise ValueError(f"status index must be a non-negative int, not {index!r}")
        if index >= self.capacity:
            raise IndexError(f"status index {index} is beyond this list ({self.capacity} "
                             "entries): sync a newer list")
        position = index * self.bits
        return (self.packed[position // 8] >> (position % 8)) & ((1 << self.bits) - 1)


def _x5c(header: dict) -> list[x509.Certificate]:
    chain = header.get("x5c")
    if not isinstance(chain, list) or not chain or not all(isinstance(c, str) for c in chain):
        raise StatusListInvalid("x5c: the header must carry the signer's certificate chain")
    try:
        certificates = [x509.load_der_x509_certificate(base64.b64decode(c, validate=True))
                        for c in chain]
        for certificate in certificates:  # parsed lazily: a bad name or extension would
            _ = certificate.issuer, certificate.subject, certificate.extensions  # raise later
        return certificates
    except (ValueError, binascii.Error) as exc:
        raise StatusListInvalid("x5c: not base64 DER certificates") from exc


def _check_signer(leaf: x509.Certificate, issuing_cas: Sequence[x509.Certificate],
                  now: dt.datetime) -> None:
    for ca in issuing_cas:
        if ca.subject != leaf.issuer:
            continue
        try:
            leaf.verify_directly_issued_by(ca)
        except (ValueError, TypeError, InvalidSignature):
            continue
        break
    else:
        raise StatusListInvalid("x5c: the signer certificate is not issued by a trusted "
                                "issuing CA")
    if not leaf.not_valid_before_utc <= now <= leaf.not_valid_after_utc:
        raise StatusListInvalid("x5c: the signer certificate is not valid now")
    try:
        usage = leaf.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        raise StatusListInvalid("x5c: the signer certificate has no keyUsage") from None
    if not usage.digital_signature:
        raise StatusListInvalid("x5c: the signer certificate lacks digitalSignature")


def _inflate(lst: object) -> bytes:
    if not isinstance(lst, str) or not lst:
        raise StatusListInvalid("status_list.lst: missing or not text")
    try:
        compressed = _b64url_decode(lst)
    except (ValueError, binascii.Error):
        raise StatusListInvalid("status_list.lst: not base64url") from None
    inflater = zlib.decompressobj()
    try:
        packed = inflater.decompress(compressed, MAX_LIST_BYTES)
    except zlib.error:
        raise StatusListInvalid("status_list.lst: not zlib data") from None
    if inflater.unconsumed_tail or not inflater.eof:
        raise StatusListInvalid(f"status_list.lst: inflates past {MAX_LIST_BYTES} bytes or "
                                "is truncated")
    if not packed:
        raise StatusListInvalid("status_list.lst: empty")
    return packed


def read_status_list(jwt_text: str, issuing_ca_certificates: Sequence[x509.Certificate], *,
                     clock: Clock = _utc_now) -> StatusList:
    """Verify a status list JWT and return its statuses; StatusListInvalid otherwise.

    Checks: typ, an allowed algorithm, the signature with the x5c leaf, the leaf issued by
    one of ``issuing_ca_certificates`` and valid now with digitalSignature, iat not in the
    future and exp not passed (by ``clock``), and a bounded decompression.
    """
    if not isinstance(jwt_text, str) or len(jwt_text) > MAX_JWT_CHARS:
        raise StatusListInvalid("status list: expected JWT text of sensible size")
    now = clock()
    if now.tzinfo is None:
        raise ValueError("clock returned a naive datetime")
    try:
        header = jwt.get_unverified_header(jwt_text.strip())
    except jwt.PyJWTError as exc:
        raise StatusListInvalid(f"status list: not a JWT ({exc})") from None
    if header.get("typ") != TYP:
        raise StatusListInvalid(f"typ: expected {TYP!r}")
    algorithm = header.get("alg")
    if algorithm not in _ALGORITHMS:
        raise StatusListInvalid(f"alg: {algorithm!r} is not accepted")
    chain = _x5c(header)
    _check_signer(chain[0], issuing_ca_certificates, now)
    try:
        claims = jwt.decode(
            jwt_text.strip(), chain[0].public_key(), algorithms=[algorithm],  # type: ignore[arg-type]
            options={"verify_exp": False, "verify_iat": False, "verify_nbf": False,
                     "require": ["sub", "iat", "exp", "status_list"]},
        )
    except jwt.PyJWTError as exc:
        raise StatusListInvalid(f"status list: {exc}") from None
    issued_at, expires_at, ttl = claims["iat"], claims["exp"], claims.get("ttl", 0)
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (issued_at, expires_at,
                                                                         ttl)):
        raise StatusListInvalid("iat, exp and ttl must be integers")
    issued = dt.datetime.fromtimestamp(issued_at, dt.UTC)
    expires = dt.datetime.fromtimestamp(expires_at, dt.UTC)
    skew = dt.timedelta(minutes=5)
    if issued > now + skew:
        raise StatusListInvalid("iat: the list claims to be issued in the future")
    if now >= expires:
        raise StatusListInvalid(f"exp: the list expired at {expires.isoformat()}; sync again")
    body = claims["status_list"]
    if not isinstance(body, dict) or body.get("bits") not in (1, 2, 4, 8):
        raise StatusListInvalid("status_list.bits: must be 1, 2, 4 or 8")
    if not isinstance(claims["sub"], str):
        raise StatusListInvalid("sub: must be the list's URL")
    return StatusList(subject=claims["sub"], issued_at=issued, expires_at=expires,
                      ttl=dt.timedelta(seconds=ttl), bits=body["bits"],
                      packed=_inflate(body.get("lst")), signer=chain[0])

