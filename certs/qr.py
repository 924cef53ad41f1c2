"""The compact signed QR payload a counter verifies offline (EU DCC recipe, ICAO VDS ideas).

    text = "CSL1:" + base45(zlib(COSE_Sign1(ES256, protected {1: -7, 4: kid}, CBOR claims)))

Base45 keeps the text inside QR alphanumeric mode. The claims map uses small integer
keys to stay short:

    1 licence id   2 type code   3 holder name   4 masked holder identifier
    5 valid from (YYYY-MM-DD)   6 valid until (YYYY-MM-DD, absent when open-ended)
    7 issuer name   8 issuer USCC   9 issued at (epoch seconds, UTC)
    10 SHA-256 of the canonical licence data   11 verification URL (optional)
    12 index in the issuer's signed status list (optional; certs/status_list.py)

The signer never sees a key here: ``sign`` receives the COSE Sig_structure and returns a
DER ECDSA signature (what an HSM-backed key yields); COSE wants raw r||s, converted here.
"""

from __future__ import annotations

import datetime as dt
import io
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import base45
import cbor2
import qrcode
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)
from PIL import Image

from certs.errors import QrPayloadError

PREFIX = "CSL1:"
MAX_TEXT_CHARS = 1200  # a version-40 QR holds 4296 alphanumerics; ours are ~400
MAX_INFLATED_BYTES = 2048
COSE_ALG_ES256 = -7
COSE_SIGN1_TAG = 18
_HDR_ALG, _HDR_KID = 1, 4
_SIG_BYTES = 32  # P-256 coordinate size


@dataclass(frozen=True)
class QrClaims:
    kid: bytes  # first 8 bytes of SHA-256 of the signer certificate DER
    licence_id: str
    type_code: str
    holder_name: str
    holder_id_masked: str
    valid_from: dt.date
    valid_until: dt.date | None
    issuer_name: str
    issuer_uscc: str
    issued_at: dt.datetime
    data_digest: bytes
    verify_url: str | None = None
    status_index: int | None = None


@dataclass(frozen=True)
class DecodedQrPayload:
    claims: QrClaims
    kid: bytes
    signed_bytes: bytes  # the COSE Sig_structure the signature covers
    signature: bytes  # raw r||s

    def __iter__(self) -> Iterator[Any]:
        return iter((self.claims, self.kid, self.signed_bytes, self.signature))


def kid_of_certificate(certificate_der: bytes) -> bytes:
    import hashlib

    return hashlib.sha256(certificate_der).digest()[:8]


def encode_qr_payload(claims: QrClaims, sign: Callable[[bytes], bytes]) -> str:
    protected = cbor2.dumps({_HDR_ALG: COSE_ALG_ES256, _HDR_KID: claims.kid})
    payload = cbor2.dumps(_claims_map(claims))
    der = sign(_sig_structure(protected, payload))
    r, s = decode_dss_signature(der)
    signature = r.to_bytes(_SIG_BYTES, "big") + s.to_bytes(_SIG_BYTES, "big")
    cose = cbor2.dumps(cbor2.CBORTag(COSE_SIGN1_TAG, [protected, {}, payload, signature]))
    return PREFIX + base45.b45encode(zlib.compress(cose, 9)).decode("ascii")


def decode_qr_payload(text: str) -> DecodedQrPayload:
    """Structure only: does not check the signature (see ``verify_qr_signature``)."""
    if not isinstance(text, str):
        raise QrPayloadError("QR payload must be text")
    text = text.strip()
    if len(text) > MAX_TEXT_CHARS:
        raise QrPayloadError(f"QR payload longer than {MAX_TEXT_CHARS} characters")
    if not text.startswith(PREFIX):
        raise QrPayloadError(f"not a certseal licence QR (expected prefix {PREFIX})")
    try:
        compressed = base45.b45decode(text[len(PREFIX):])
    except ValueError:
        raise QrPayloadError("QR payload is not valid base45") from None
    inflater = zlib.decompressobj()
    try:
        cose = inflater.decompress(compressed, MAX_INFLATED_BYTES)
    except zlib.error:
        raise QrPayloadError("QR payload is not valid zlib data") from None
    if inflater.unconsumed_tail or not inflater.eof:
        raise QrPayloadError(
            f"QR payload inflates past {MAX_INFLATED_BYTES} bytes or is truncated"
        )
    try:
        message = cbor2.loads(cose)
    except Exception:  # cbor2 raises several unrelated types on garbage
        raise QrPayloadError("QR payload is not valid CBOR") from None
    if not (isinstance(message, cbor2.CBORTag) and message.tag == COSE_SIGN1_TAG
            and isinstance(message.value, list | tuple) and len(message.value) == 4):
        raise QrPayloadError("QR payload is not a COSE_Sign1 message")
    protected, _unprotected, payload, signature = message.value
    if not all(isinstance(v, bytes) for v in (protected, payload, signature)):
        raise QrPayloadError("COSE_Sign1 fields have the wrong types")
    try:
        header = cbor2.loads(protected)
        claims_map = cbor2.loads(payload)
    except Exception:
        raise QrPayloadError("COSE_Sign1 header or payload is not valid CBOR") from None
    if not isinstance(header, dict) or header.get(_HDR_ALG) != COSE_ALG_ES256:
        raise QrPayloadError("unsupported COSE algorithm (only ES256)")
    kid = header.get(_HDR_KID)
    if not isinstance(kid, bytes) or len(kid) != 8:
        raise QrPayloadError("COSE key identifier missing or not 8 bytes")
    if len(signature) != 2 * _SIG_BYTES:
        raise QrPayloadError("signature is not a P-256 r||s pair")
    claims = _claims_from_map(claims_map, kid)
    return DecodedQrPayload(claims, kid, _sig_structure(protected, payload), signature)


def verify_qr_signature(decoded: DecodedQrPayload, public_key: ec.EllipticCurvePublicKey) -> bool:
    """True when ``public_key`` made the signature; a wrong key or bit is False."""
    r = int.from_bytes(decoded.signature[:_SIG_BYTES], "big")
    s = int.from_bytes(decoded.signature[_SIG_BYTES:], "big")
    try:
        public_key.verify(encode_dss_signature(r, s), decoded.signed_bytes,
                          ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        return False
    return True


def make_qr_image(text: str, box_size: int = 4) -> Image.Image:
    """Error correction M, the standard 4-module quiet zone, black on white."""
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M,
                         box_size=box_size, border=4)
    code.add_data(text)
    code.make(fit=True)
    return code.make_image(fill_color="black", back_color="white").get_image().convert("1")


def make_qr_png(text: str, box_size: int = 4) -> bytes:
    out = io.BytesIO()
    make_qr_image(text, box_size).save(out, format="PNG")
    return out.getvalue()


def _sig_structure(protected: bytes, payload: bytes) -> bytes:
    return cbor2.dumps(["Signature1", protected, b"", payload])


def _claims_map(c: QrClaims) -> dict[int, Any]:
    result: dict[int, Any] = {
        1: c.licence_id, 2: c.type_code, 3: c.holder_name, 4: c.holder_id_masked,
        5: c.valid_from.isoformat(), 7: c.issuer_name, 8: c.issuer_uscc,
        9: int(c.issued_at.timestamp()), 10: c.data_digest,
    }
    if c.valid_until is not None:
        result[6] = c.valid_until.isoformat()
    if c.verify_url:
        result[11] = c.verify_url
    if c.status_index is not None:
        result[12] = c.status_index
    return result


def _claims_from_map(m: Any, kid: bytes) -> QrClaims:
    if not isinstance(m, dict):
        raise QrPayloadError("QR claims are not a map")

    def text(key: int, name: str, optional: bool = False) -> Any:
        value = m.get(key)
        if value is None and optional:
            return None
        if not isinstance(value, str) or len(value) > 300:
            raise QrPayloadError(f"QR claim {name} missing or not text")
        return value

    def date(key: int, name: str, optional: bool = False) -> dt.date | None:
        value = text(key, name, optional)
        if value is None:
            return None
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            raise QrPayloadError(f"QR claim {name} is not a date") from None

    issued = m.get(9)
    if not isinstance(issued, int) or not 0 <= issued < 2**40:
        raise QrPayloadError("QR claim issued_at missing or not a timestamp")
    status_index = m.get(12)
    if status_index is not None and (not isinstance(status_index, int)
                                     or isinstance(status_index, bool)
                                     or not 0 <= status_index < 2**32):
        raise QrPayloadError("QR claim status_index is not a non-negative integer")
    digest = m.get(10)
    if not isinstance(digest, bytes) or len(digest) != 32:
        raise QrPayloadError("QR claim data_digest missing or not 32 bytes")
    return QrClaims(
        kid=kid,
        licence_id=text(1, "licence_id"),
        type_code=text(2, "type_code"),
        holder_name=text(3, "holder_name"),
        holder_id_masked=text(4, "holder_id_masked"),
        valid_from=date(5, "valid_from"),  # type: ignore[arg-type]
        valid_until=date(6, "valid_until", optional=True),
        issuer_name=text(7, "issuer_name"),
        issuer_uscc=text(8, "issuer_uscc"),
        issued_at=dt.datetime.fromtimestamp(issued, dt.UTC),
        data_digest=digest,
        verify_url=text(11, "verify_url", optional=True),
        status_index=status_index,
    )
