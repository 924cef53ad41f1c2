"""The signed status list format on its own: software keys, a throw-away CA, a clock."""

from __future__ import annotations

import base64
import datetime as dt
import json
import zlib

import jwt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

from certs.models import LicenceStatus
from certs.qr import QrClaims, decode_qr_payload, encode_qr_payload
from certs.status_list import (
    INVALID,
    SUSPENDED,
    VALID,
    StatusListInvalid,
    pack_statuses,
    read_status_list,
    sign_status_list,
)

NOW = dt.datetime(2026, 6, 1, 8, 0, tzinfo=dt.UTC)
S = LicenceStatus


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _certificate(subject: str, key, issuer_name: str, issuer_key, *, ca: bool,
                 digital_signature: bool = True) -> x509.Certificate:
    builder = (x509.CertificateBuilder().subject_name(_name(subject))
               .issuer_name(_name(issuer_name)).public_key(key.public_key())
               .serial_number(x509.random_serial_number())
               .not_valid_before(NOW - dt.timedelta(days=1))
               .not_valid_after(NOW + dt.timedelta(days=365))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
               .add_extension(x509.KeyUsage(
                   digital_signature=digital_signature, content_commitment=False,
                   key_encipherment=False, data_encipherment=False, key_agreement=False,
                   key_cert_sign=ca, crl_sign=ca, encipher_only=False, decipher_only=False),
                   critical=True))
    return builder.sign(issuer_key, hashes.SHA256())


@pytest.fixture(scope="module")
def pki():
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = _certificate("Issuing CA", ca_key, "Issuing CA", ca_key, ca=True)
    seal_key = ec.generate_private_key(ec.SECP256R1())
    seal = _certificate("Seal", seal_key, "Issuing CA", ca_key, ca=False)
    return ca, ca_key, seal, seal_key


ENTRIES = [(0, S.VALID), (1, S.REVOKED), (2, S.SUSPENDED), (3, S.SUPERSEDED), (4, S.EXPIRED),
           (9, S.SUSPENDED)]


def _signed(pki, entries=ENTRIES, **kw) -> str:
    ca, _, seal, seal_key = pki
    return sign_status_list(entries, subject_url="https://example.test/pki/status/X",
                            signer_key=seal_key, signer_certificate=seal, chain=[ca],
                            now=kw.pop("now", NOW), **kw)


def test_round_trip_gives_each_licence_its_status(pki):
    text = _signed(pki)
    header = jwt.get_unverified_header(text)
    assert header["typ"] == "statuslist+jwt" and header["alg"] == "ES256"
    assert len(header["x5c"]) == 2
    listed = read_status_list(text, [pki[0]], clock=lambda: NOW + dt.timedelta(hours=1))
    got = [listed.status_at(i) for i in range(10)]
    assert got == [VALID, INVALID, SUSPENDED, INVALID, INVALID, VALID, VALID, VALID, VALID,
                   SUSPENDED]
    assert listed.subject.endswith("/pki/status/X")
    assert listed.signer == pki[2]
    assert listed.expires_at - listed.issued_at == dt.timedelta(hours=24)
    with pytest.raises(IndexError):
        listed.status_at(listed.capacity)


def test_packing_follows_the_draft_layout():
    # The draft's own example for bits=2: statuses 1,2,0,3 at indices 0..3 pack to 0xC9.
    assert pack_statuses([(0, 1), (1, 2), (2, 0), (3, 3)]) == bytes([0xC9])
    assert pack_statuses([]) == b"\x00"
    with pytest.raises(ValueError):
        pack_statuses([(0, 4)])


def test_tampered_claims_are_refused(pki):
    header, payload, signature = _signed(pki).split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["status_list"]["lst"] = base64.urlsafe_b64encode(
        zlib.compress(b"\x00")).rstrip(b"=").decode()
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    with pytest.raises(StatusListInvalid, match=r"[Ss]ignature"):
        read_status_list(f"{header}.{forged}.{signature}", [pki[0]], clock=lambda: NOW)


def test_a_signer_from_another_ca_is_refused(pki):
    other_key = ec.generate_private_key(ec.SECP256R1())
    other_ca = _certificate("Issuing CA", other_key, "Issuing CA", other_key, ca=True)
    with pytest.raises(StatusListInvalid, match="not issued by a trusted"):
        read_status_list(_signed(pki), [other_ca], clock=lambda: NOW)


def test_a_signer_without_digital_signature_is_refused(pki):
    ca, ca_key, _, _ = pki
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = _certificate("Seal", key, "Issuing CA", ca_key, ca=False, digital_signature=False)
    text = sign_status_list(ENTRIES, subject_url="u", signer_key=key,
                            signer_certificate=leaf, chain=[ca], now=NOW)
    with pytest.raises(StatusListInvalid, match="digitalSignature"):
        read_status_list(text, [ca], clock=lambda: NOW)


def test_an_expired_list_is_refused_and_a_future_one_too(pki):
    text = _signed(pki)
    with pytest.raises(StatusListInvalid, match="expired"):
        read_status_list(text, [pki[0]], clock=lambda: NOW + dt.timedelta(hours=24))
    with pytest.raises(StatusListInvalid, match="future"):
        read_status_list(text, [pki[0]], clock=lambda: NOW - dt.timedelta(hours=1))


def test_a_decompression_bomb_is_refused(pki):
    ca, _, seal, seal_key = pki
    bomb = zlib.compress(bytes(64 * 1024 * 1024), 9)
    x5c = [base64.b64encode(c.public_bytes(Encoding.DER)).decode()
           for c in (seal, ca)]
    text = jwt.encode({"sub": "u", "iat": int(NOW.timestamp()),
                       "exp": int(NOW.timestamp()) + 60, "ttl": 60,
                       "status_list": {"bits": 2, "lst": base64.urlsafe_b64encode(bomb)
                                       .rstrip(b"=").decode()}},
                      seal_key, algorithm="ES256", headers={"typ": "statuslist+jwt",
                                                            "x5c": x5c})
    with pytest.raises(StatusListInvalid, match="inflates past"):
        read_status_list(text, [ca], clock=lambda: NOW)


def test_wrong_typ_and_alg_none_are_refused(pki):
    ca, _, _, seal_key = pki
    text = jwt.encode({"sub": "u"}, seal_key, algorithm="ES256", headers={"typ": "JWT"})
    with pytest.raises(StatusListInvalid, match="typ"):
        read_status_list(text, [ca], clock=lambda: NOW)
    unsigned = jwt.encode({"sub": "u"}, None, algorithm="none",
                          headers={"typ": "statuslist+jwt"})
    with pytest.raises(StatusListInvalid, match="alg"):
        read_status_list(unsigned, [ca], clock=lambda: NOW)


def _claims(**kw) -> QrClaims:
    return QrClaims(kid=b"12345678", licence_id="L1", type_code="yyzz", holder_name="张三",
                    holder_id_masked="1101****1234", valid_from=dt.date(2026, 1, 1),
                    valid_until=None, issuer_name="局", issuer_uscc="U",
                    issued_at=NOW, data_digest=bytes(32), **kw)


def test_qr_payload_carries_the_status_index_and_old_payloads_still_decode(pki):
    key = pki[3]

    def sign(message: bytes) -> bytes:
        return key.sign(message, ec.ECDSA(hashes.SHA256()))

    assert decode_qr_payload(encode_qr_payload(_claims(status_index=77), sign)
                             ).claims.status_index == 77
    assert decode_qr_payload(encode_qr_payload(_claims(), sign)).claims.status_index is None
