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


_P256_N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


def _other_s(decoded):
    """The same signature with S replaced by n - S: ECDSA accepts both (malleability)."""
    r, s = decoded.signature[:32], int.from_bytes(decoded.signature[32:], "big")
    flipped = r + (_P256_N - s).to_bytes(32, "big")
    return type(decoded)(decoded.claims, decoded.kid, decoded.signed_bytes, flipped)


def test_signatures_are_made_low_s_whatever_the_signer_returns(signing_key):
    """A signer that returns the high-S twin (as an HSM may) still yields the one canonical
    text: S is folded into the low half before encoding."""
    from cryptography.hazmat.primitives.asymmetric.utils import (
        decode_dss_signature,
        encode_dss_signature,
    )

    claims = make_claims("yyzz", sample_licence_data("yyzz"), ID)
    plain = der_signer(signing_key)

    def high_s(message):
        r, s = decode_dss_signature(plain(message))
        return encode_dss_signature(r, s if s > _P256_N // 2 else _P256_N - s)

    for _ in range(8):  # each signature is high-S here, whatever the random nonce gave
        decoded = decode_qr_payload(encode_qr_payload(claims, high_s))
        assert int.from_bytes(decoded.signature[32:], "big") <= _P256_N // 2
        assert verify_qr_signature(decoded, signing_key.public_key())


def test_the_high_s_twin_of_a_genuine_signature_is_refused(qr_text, signing_key):
    decoded = decode_qr_payload(qr_text[0])
    twin = _other_s(decoded)
    # The twin is mathematically sound (cryptography accepts it)...
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

    r, s = (int.from_bytes(twin.signature[i:i + 32], "big") for i in (0, 32))
    signing_key.public_key().verify(encode_dss_signature(r, s), twin.signed_bytes,
                                    ec.ECDSA(hashes.SHA256()))
    # ...but not canonical, so not a second valid text of the same licence.
    assert not verify_qr_signature(twin, signing_key.public_key())
    assert verify_qr_signature(decoded, signing_key.public_key())


def test_a_zero_s_is_refused(qr_text, signing_key):
    decoded = decode_qr_payload(qr_text[0])
    zero = type(decoded)(decoded.claims, decoded.kid, decoded.signed_bytes,
                         decoded.signature[:32] + bytes(32))
    assert not verify_qr_signature(zero, signing_key.public_key())
