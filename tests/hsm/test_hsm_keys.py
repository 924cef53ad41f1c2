"""HSM-backed keys behave as cryptography private keys, and the stock builders sign with
them: pins our subclassing against the cryptography version we ship."""

from __future__ import annotations

import datetime as dt
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils
from cryptography.x509 import ocsp
from cryptography.x509.oid import NameOID

from hsm.errors import UnsupportedKey
from hsm.keys import HsmEcPrivateKey, HsmRsaPrivateKey
from hsm.token import HsmConfig, KeySpec, Token

MESSAGE = b"licence 440300-2024-000001"


@pytest.fixture(scope="module")
def token(softhsm_token_shared: HsmConfig) -> Iterator[Token]:
    token = Token.open(softhsm_token_shared)
    yield token
    token.close()


@pytest.fixture(scope="module")
def keys(token: Token) -> dict[KeySpec, HsmEcPrivateKey | HsmRsaPrivateKey]:
    return {spec: token.generate_key(f"keys-test-{spec.value}", spec) for spec in KeySpec}


EC_SPECS = [KeySpec.EC_P256, KeySpec.EC_P384]
RSA_SPECS = [KeySpec.RSA_2048, KeySpec.RSA_3072]
HASHES = [hashes.SHA256(), hashes.SHA384(), hashes.SHA512()]


def test_key_classes_and_sizes(keys):
    assert isinstance(keys[KeySpec.EC_P256], ec.EllipticCurvePrivateKey)
    assert isinstance(keys[KeySpec.EC_P256].curve, ec.SECP256R1)
    assert isinstance(keys[KeySpec.EC_P384].curve, ec.SECP384R1)
    assert keys[KeySpec.EC_P384].key_size == 384
    assert isinstance(keys[KeySpec.RSA_3072], rsa.RSAPrivateKey)
    assert keys[KeySpec.RSA_3072].key_size == 3072
    assert keys[KeySpec.RSA_2048].public_key().public_numbers().e == 65537
    assert keys[KeySpec.EC_P256].label == "keys-test-ec-p256"


@pytest.mark.parametrize("spec", EC_SPECS)
@pytest.mark.parametrize("hash_algorithm", HASHES, ids=lambda h: h.name)
def test_ecdsa_signatures_verify(keys, spec, hash_algorithm):
    key = keys[spec]
    signature = key.sign(MESSAGE, ec.ECDSA(hash_algorithm))
    utils.decode_dss_signature(signature)  # DER, not raw r||s
    key.public_key().verify(signature, MESSAGE, ec.ECDSA(hash_algorithm))
    with pytest.raises(InvalidSignature):
        key.public_key().verify(signature, MESSAGE + b"!", ec.ECDSA(hash_algorithm))


def test_ecdsa_prehashed(keys):
    key = keys[KeySpec.EC_P256]
    digest = hashes.Hash(hashes.SHA256())
    digest.update(MESSAGE)
    signature = key.sign(digest.finalize(), ec.ECDSA(utils.Prehashed(hashes.SHA256())))
    key.public_key().verify(signature, MESSAGE, ec.ECDSA(hashes.SHA256()))
    with pytest.raises(ValueError, match="prehashed"):
        key.sign(b"short", ec.ECDSA(utils.Prehashed(hashes.SHA256())))


@pytest.mark.parametrize("spec", RSA_SPECS)
@pytest.mark.parametrize("hash_algorithm", HASHES, ids=lambda h: h.name)
def test_rsa_pkcs1v15_signatures_verify(keys, spec, hash_algorithm):
    key = keys[spec]
    signature = key.sign(MESSAGE, padding.PKCS1v15(), hash_algorithm)
    key.public_key().verify(signature, MESSAGE, padding.PKCS1v15(), hash_algorithm)


@pytest.mark.parametrize(
    "salt", [padding.PSS.DIGEST_LENGTH, padding.PSS.MAX_LENGTH, 0, 20],
    ids=["digest", "max", "zero", "twenty"],
)
@pytest.mark.parametrize("hash_algorithm", HASHES, ids=lambda h: h.name)
def test_rsa_pss_signatures_verify(keys, salt, hash_algorithm):
    key = keys[KeySpec.RSA_2048]
    signature = key.sign(MESSAGE, padding.PSS(padding.MGF1(hash_algorithm), salt), hash_algorithm)
    expected_salt = salt
    if salt is padding.PSS.DIGEST_LENGTH:
        expected_salt = hash_algorithm.digest_size
    # Verifying with the exact salt length proves we asked the token for that length.
    key.public_key().verify(
        signature, MESSAGE, padding.PSS(padding.MGF1(hash_algorithm), expected_salt),
        hash_algorithm,
    )


def test_rsa_pss_auto_salt_is_refused_for_signing(keys):
    key = keys[KeySpec.RSA_2048]
    with pytest.raises(ValueError, match="AUTO"):
        key.sign(MESSAGE, padding.PSS(padding.MGF1(hashes.SHA256()), padding.PSS.AUTO),
                 hashes.SHA256())


@pytest.mark.parametrize("spec", list(KeySpec))
def test_private_halves_cannot_be_exported(keys, spec):
    key = keys[spec]
    with pytest.raises(UnsupportedKey, match="not extractable"):
        key.private_numbers()
    with pytest.raises(UnsupportedKey, match="not extractable"):
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                          serialization.NoEncryption())


def test_signing_keys_refuse_other_uses(keys):
    ec_key = keys[KeySpec.EC_P256]
    peer = ec.generate_private_key(ec.SECP256R1()).public_key()
    with pytest.raises(UnsupportedKey, match="ECDH"):
        ec_key.exchange(ec.ECDH(), peer)
    with pytest.raises(UnsupportedKey, match="deterministic"):
        ec_key.sign(MESSAGE, ec.ECDSA(hashes.SHA256(), deterministic_signing=True))
    with pytest.raises(UnsupportedKey, match="decryption"):
        keys[KeySpec.RSA_2048].decrypt(b"x", padding.PKCS1v15())
    with pytest.raises(UnsupportedKey, match="sha1"):
        keys[KeySpec.RSA_2048].sign(MESSAGE, padding.PKCS1v15(), hashes.SHA1())  # noqa: S303


def _openssl(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["openssl", *args], capture_output=True, text=True, check=False)


def _self_signed(key, name: str, hash_algorithm=hashes.SHA256(), rsa_padding=None):
    subject = x509.Name([
        x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "certseal test"),
        x509.NameAttribute(NameOID.COMMON_NAME, name),
    ])
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(digital_signature=True, content_commitment=False,
                          key_encipherment=False, data_encipherment=False,
                          key_agreement=False, key_cert_sign=True, crl_sign=True,
                          encipher_only=False, decipher_only=False),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                       critical=False)
    )
    return builder.sign(key, hash_algorithm, rsa_padding=rsa_padding)


CERT_CASES = [
    (KeySpec.EC_P256, hashes.SHA256(), None, "ecdsa-with-SHA256"),
    (KeySpec.EC_P384, hashes.SHA384(), None, "ecdsa-with-SHA384"),
    (KeySpec.RSA_3072, hashes.SHA256(), None, "sha256WithRSAEncryption"),
    (KeySpec.RSA_2048, hashes.SHA256(),
     padding.PSS(padding.MGF1(hashes.SHA256()), padding.PSS.DIGEST_LENGTH), "rsassaPss"),
]


@pytest.mark.parametrize(("spec", "hash_algorithm", "rsa_padding", "algorithm_name"),
                         CERT_CASES, ids=["p256", "p384", "rsa3072", "rsa2048-pss"])
def test_certificate_builder_signs_through_hsm(keys, tmp_path: Path, spec, hash_algorithm,
                                               rsa_padding, algorithm_name):
    certificate = _self_signed(keys[spec], f"HSM {spec.value}", hash_algorithm, rsa_padding)
    certificate.verify_directly_issued_by(certificate)
    pem = tmp_path / "self.pem"
    pem.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))

    verified = _openssl("verify", "-check_ss_sig", "-CAfile", str(pem), str(pem))
    assert verified.returncode == 0, verified.stderr
    assert f"{pem}: OK" in verified.stdout
    text = _openssl("x509", "-in", str(pem), "-noout", "-text")
    assert text.returncode == 0, text.stderr
    assert f"Signature Algorithm: {algorithm_name}" in text.stdout
    assert f"CN=HSM {spec.value}" in text.stdout.replace(" = ", "=")


def test_certificate_from_tampered_signature_fails_openssl(keys, tmp_path: Path):
    # The check above can fail: flip one byte of the signature and openssl refuses it.
    der = bytearray(_self_signed(keys[KeySpec.EC_P256], "tampered")
                    .public_bytes(serialization.Encoding.DER))
    der[-3] ^= 0x01
    pem = tmp_path / "bad.pem"
    pem.write_bytes(x509.load_der_x509_certificate(bytes(der))
                    .public_bytes(serialization.Encoding.PEM))
    assert _openssl("verify", "-check_ss_sig", "-CAfile", str(pem), str(pem)).returncode != 0


@pytest.mark.parametrize("spec", [KeySpec.EC_P256, KeySpec.RSA_3072])
def test_crl_builder_signs_through_hsm(keys, tmp_path: Path, spec):
    key = keys[spec]
    ca = _self_signed(key, f"CRL issuer {spec.value}")
    now = dt.datetime.now(dt.UTC)
    revoked = (
        x509.RevokedCertificateBuilder()
        .serial_number(0x1234567890ABCDEF)
        .revocation_date(now - dt.timedelta(hours=1))
        .add_extension(x509.CRLReason(x509.ReasonFlags.key_compromise), critical=False)
        .build()
    )
    crl = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca.subject)
        .last_update(now - dt.timedelta(minutes=1))
        .next_update(now + dt.timedelta(days=1))
        .add_revoked_certificate(revoked)
        .add_extension(x509.CRLNumber(1), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(key.public_key()),
                       critical=False)
        .sign(key, hashes.SHA256())
    )
    assert crl.is_signature_valid(key.public_key())
    ca_pem, crl_pem = tmp_path / "ca.pem", tmp_path / "crl.pem"
    ca_pem.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    crl_pem.write_bytes(crl.public_bytes(serialization.Encoding.PEM))
    result = _openssl("crl", "-in", str(crl_pem), "-CAfile", str(ca_pem), "-verify", "-noout")
    assert result.returncode == 0, result.stderr
    assert "verify OK" in result.stdout + result.stderr


def test_ocsp_response_builder_signs_through_hsm(keys):
    key = keys[KeySpec.EC_P256]
    ca = _self_signed(key, "OCSP issuer")
    subject_key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "leaf")]))
        .issuer_name(ca.subject)
        .public_key(subject_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    response = (
        ocsp.OCSPResponseBuilder()
        .add_response(cert=leaf, issuer=ca, algorithm=hashes.SHA256(),
                      cert_status=ocsp.OCSPCertStatus.GOOD, this_update=now,
                      next_update=now + dt.timedelta(hours=1), revocation_time=None,
                      revocation_reason=None)
        .responder_id(ocsp.OCSPResponderEncoding.HASH, ca)
        .sign(key, hashes.SHA256())
    )
    parsed = ocsp.load_der_ocsp_response(response.public_bytes(serialization.Encoding.DER))
    key.public_key().verify(parsed.signature, parsed.tbs_response_bytes,
                            ec.ECDSA(hashes.SHA256()))
    leaf.verify_directly_issued_by(ca)
