"""Profiles are immutable, checked when made, and pick the hash from the key."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest
from ca_testing import BASE_URL, USCC, FailingKey, openssl, write_pem
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from ca.errors import SigningKeyMismatch
from ca.hierarchy import HierarchyKeys, LabelledKey
from ca.profiles import (
    EsealProfile,
    IssuingCaProfile,
    PkiUrls,
    RootCaProfile,
    issue_certificate,
    signature_hash,
)

NOW = datetime(2026, 3, 1, 8, 30, 15, 123456, tzinfo=UTC)


def test_urls_from_the_base():
    urls = PkiUrls(BASE_URL + "/")
    assert urls.ca_certificate("issuing") == f"{BASE_URL}/pki/ca/issuing.crt"
    assert urls.crl("root") == f"{BASE_URL}/pki/crl/root.crl"
    assert urls.ocsp == f"{BASE_URL}/pki/ocsp"


@pytest.mark.parametrize(("make", "error"), [
    (lambda: PkiUrls("pki.example"), ValueError),
    (lambda: PkiUrls(b"https://x"), TypeError),
    (lambda: RootCaProfile("44000", "广东省"), ValueError),
    (lambda: RootCaProfile("440000", ""), ValueError),
    (lambda: RootCaProfile("440000", "广东省", validity=timedelta(0)), ValueError),
    (lambda: RootCaProfile("440000", "广东省", validity=365), TypeError),
    (lambda: IssuingCaProfile("440000", "广东省", urls=BASE_URL), TypeError),
    (lambda: EsealProfile("某局", USCC[:-1] + "0", "广东省", urls=PkiUrls(BASE_URL)), ValueError),
    (lambda: LabelledKey(b"key", "label"), TypeError),
    (lambda: LabelledKey(ec.generate_private_key(ec.SECP256R1()), ""), ValueError),
])
def test_bad_input_fails_at_once(make, error):
    with pytest.raises(error):
        make()


def test_hierarchy_keys_refuse_what_is_not_a_key():
    key = LabelledKey(ec.generate_private_key(ec.SECP256R1()), "k")
    with pytest.raises(TypeError, match=r"keys\.ocsp"):
        HierarchyKeys(root=key, issuing=key, tsa=key, ocsp="k", trust_list=key)


def test_profiles_are_immutable():
    profile = RootCaProfile("440000", "广东省")
    with pytest.raises(dataclasses.FrozenInstanceError):
        profile.region_name = "上海市"


@pytest.mark.parametrize(("key", "expected"), [
    (ec.generate_private_key(ec.SECP256R1()), hashes.SHA256),
    (ec.generate_private_key(ec.SECP384R1()), hashes.SHA384),
    (rsa.generate_private_key(65537, 2048), hashes.SHA256),
])
def test_hash_follows_the_key(tmp_path, key, expected):
    assert isinstance(signature_hash(key), expected)
    root = issue_certificate(RootCaProfile("440000", "广东省"), subject_public_key=key.public_key(),
                             signing_key=key, issuer_certificate=None, now=NOW)
    assert isinstance(root.signature_hash_algorithm, expected)
    # The self-signed root verifies against itself.
    pem = write_pem(tmp_path / "root.pem", root)
    assert openssl("verify", "-x509_strict", "-CAfile", pem, pem).returncode == 0


def test_unsupported_keys_refused():
    with pytest.raises(TypeError):
        signature_hash(ed25519.Ed25519PrivateKey.generate())
    with pytest.raises(ValueError, match="secp256k1"):
        signature_hash(ec.generate_private_key(ec.SECP256K1()))


def test_validity_starts_a_minute_back_in_whole_seconds():
    key = ec.generate_private_key(ec.SECP256R1())
    root = issue_certificate(RootCaProfile("440000", "广东省"), subject_public_key=key.public_key(),
                             signing_key=key, issuer_certificate=None, now=NOW)
    assert root.not_valid_before_utc == datetime(2026, 3, 1, 8, 29, 15, tzinfo=UTC)
    assert root.not_valid_after_utc == NOW.replace(microsecond=0) + RootCaProfile.validity


def test_wrong_signing_key_refused_before_signing():
    root_key = ec.generate_private_key(ec.SECP256R1())
    root = issue_certificate(RootCaProfile("440000", "广东省"),
                             subject_public_key=root_key.public_key(), signing_key=root_key,
                             issuer_certificate=None, now=NOW)
    other = ec.generate_private_key(ec.SECP256R1())
    with pytest.raises(SigningKeyMismatch):
        issue_certificate(IssuingCaProfile("440000", "广东省", urls=PkiUrls(BASE_URL)),
                          subject_public_key=other.public_key(), signing_key=FailingKey(other),
                          issuer_certificate=root, now=NOW)
    with pytest.raises(SigningKeyMismatch):
        issue_certificate(RootCaProfile("440000", "广东省"), subject_public_key=other.public_key(),
                          signing_key=FailingKey(root_key), issuer_certificate=None, now=NOW)
    with pytest.raises(ValueError, match="issuer certificate"):
        issue_certificate(IssuingCaProfile("440000", "广东省", urls=PkiUrls(BASE_URL)),
                          subject_public_key=other.public_key(), signing_key=root_key,
                          issuer_certificate=None, now=NOW)


def test_an_rsa_issuing_ca_under_a_p384_root(tmp_path):
    # Mixed algorithms: each signature uses the hash of the key that makes it.
    root_key = ec.generate_private_key(ec.SECP384R1())
    issuing_key = rsa.generate_private_key(65537, 2048)
    root = issue_certificate(RootCaProfile("820000", "澳门特别行政区"),
                             subject_public_key=root_key.public_key(), signing_key=root_key,
                             issuer_certificate=None, now=NOW)
    macao = IssuingCaProfile("820000", "澳门特别行政区", urls=PkiUrls(BASE_URL))
    issuing = issue_certificate(macao,
                                subject_public_key=issuing_key.public_key(), signing_key=root_key,
                                issuer_certificate=root, now=NOW)
    assert isinstance(issuing.signature_hash_algorithm, hashes.SHA384)
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    leaf = issue_certificate(EsealProfile("某局", USCC, "澳门特别行政区", urls=PkiUrls(BASE_URL)),
                             subject_public_key=leaf_key.public_key(), signing_key=issuing_key,
                             issuer_certificate=issuing, now=NOW)
    assert isinstance(leaf.signature_hash_algorithm, hashes.SHA256)
    assert leaf.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value \
        .key_identifier == issuing.extensions.get_extension_for_class(
            x509.SubjectKeyIdentifier).value.digest
    result = openssl("verify", "-x509_strict", "-attime", str(int(NOW.timestamp()) + 60),
                     "-CAfile", write_pem(tmp_path / "r.pem", root),
                     "-untrusted", write_pem(tmp_path / "i.pem", issuing),
                     write_pem(tmp_path / "l.pem", leaf))
    assert result.returncode == 0, result.stderr
