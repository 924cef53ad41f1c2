"""Opening tokens, the typed errors, and key management on a real SoftHSM2 token."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from pkcs11 import Attribute, ObjectClass
from pkcs11 import exceptions as p11

from hsm.errors import (
    DeviceError,
    HsmError,
    KeyExists,
    KeyNotFound,
    TokenNotFound,
    WrongPin,
)
from hsm.keys import HsmEcPrivateKey, HsmRsaPrivateKey
from hsm.token import HsmConfig, KeySpec, Token


def test_config_repr_hides_the_pin(softhsm_token: HsmConfig):
    assert softhsm_token.user_pin not in repr(softhsm_token)
    assert softhsm_token.user_pin not in str(softhsm_token)


def test_wrong_pin(softhsm_token: HsmConfig):
    bad = dataclasses.replace(softhsm_token, user_pin="not-the-pin-1234")
    with pytest.raises(WrongPin) as caught:
        Token.open(bad)
    assert "not-the-pin-1234" not in str(caught.value)
    assert softhsm_token.user_pin not in str(caught.value)
    assert softhsm_token.token_label in str(caught.value)
    assert isinstance(caught.value, HsmError)


def test_absent_token_label(softhsm_token: HsmConfig):
    absent = dataclasses.replace(softhsm_token, token_label="no-such-token")
    with pytest.raises(TokenNotFound, match="no-such-token") as caught:
        Token.open(absent)
    assert softhsm_token.user_pin not in str(caught.value)


def test_missing_module(softhsm_token: HsmConfig, tmp_path: Path):
    broken = dataclasses.replace(softhsm_token, module=tmp_path / "libnothing.so")
    with pytest.raises(DeviceError, match=r"libnothing\.so"):
        Token.open(broken)


@pytest.mark.parametrize("spec", list(KeySpec))
def test_generate_each_key_spec(hsm_token: Token, spec: KeySpec):
    key = hsm_token.generate_key("seal-dept-001", spec)
    expected = HsmEcPrivateKey if spec.value.startswith("ec") else HsmRsaPrivateKey
    assert isinstance(key, expected)
    public = hsm_token.public_key("seal-dept-001")
    assert public == key.public_key()
    if isinstance(public, rsa.RSAPublicKey):
        assert public.key_size == int(spec.value.split("-")[1])
    else:
        assert isinstance(public, ec.EllipticCurvePublicKey)
        assert public.curve.key_size == int(spec.value[-3:])
    assert hsm_token.key_labels() == ["seal-dept-001"]


def test_key_attributes_on_the_token(hsm_token: Token):
    hsm_token.generate_key("root-ca")
    with hsm_token.session() as session:
        (private,) = session.get_objects({Attribute.CLASS: ObjectClass.PRIVATE_KEY})
        (public,) = session.get_objects({Attribute.CLASS: ObjectClass.PUBLIC_KEY})
        for attribute, expected in [
            (Attribute.TOKEN, True), (Attribute.PRIVATE, True), (Attribute.SENSITIVE, True),
            (Attribute.EXTRACTABLE, False), (Attribute.ALWAYS_SENSITIVE, True),
            (Attribute.NEVER_EXTRACTABLE, True), (Attribute.SIGN, True),
            (Attribute.DERIVE, False), (Attribute.LABEL, "root-ca"), (Attribute.ID, b"root-ca"),
        ]:
            assert private[attribute] == expected, attribute
        assert public[Attribute.TOKEN] is True
        assert public[Attribute.LABEL] == "root-ca"
        assert public[Attribute.ID] == b"root-ca"
        with pytest.raises(p11.AttributeSensitive):
            private[Attribute.VALUE]


def test_rsa_private_exponent_is_sensitive(hsm_token: Token):
    hsm_token.generate_key("rsa-seal", KeySpec.RSA_2048)
    with hsm_token.session() as session:
        (private,) = session.get_objects({Attribute.CLASS: ObjectClass.PRIVATE_KEY})
        assert private[Attribute.EXTRACTABLE] is False
        for secret in (Attribute.PRIVATE_EXPONENT, Attribute.PRIME_1, Attribute.PRIME_2):
            with pytest.raises(p11.AttributeSensitive):
                private[secret]


def test_keys_persist_across_sessions(softhsm_token: HsmConfig):
    with Token.open(softhsm_token) as token:
        signature_key = token.generate_key("persisted")
    with Token.open(softhsm_token) as token:
        key = token.private_key("persisted")
        signature = key.sign(b"data", ec.ECDSA(hashes.SHA256()))
    signature_key.public_key().verify(signature, b"data", ec.ECDSA(hashes.SHA256()))


def test_duplicate_label(hsm_token: Token):
    hsm_token.generate_key("tsa")
    with pytest.raises(KeyExists, match="'tsa'"):
        hsm_token.generate_key("tsa", KeySpec.EC_P384)
    assert hsm_token.key_labels() == ["tsa"]


def test_missing_key(hsm_token: Token):
    with pytest.raises(KeyNotFound, match="'ocsp'"):
        hsm_token.private_key("ocsp")
    with pytest.raises(KeyNotFound, match="'ocsp'"):
        hsm_token.public_key("ocsp")
    with pytest.raises(KeyNotFound, match="'ocsp'"):
        hsm_token.delete_key("ocsp")
    assert hsm_token.has_key("ocsp") is False


def test_delete_key_removes_both_halves(hsm_token: Token):
    key = hsm_token.generate_key("half-made")
    hsm_token.generate_key("kept")
    key.sign(b"warm the key cache", ec.ECDSA(hashes.SHA256()))
    assert hsm_token.has_key("half-made")
    hsm_token.delete_key("half-made")
    assert not hsm_token.has_key("half-made")
    assert hsm_token.key_labels() == ["kept"]
    with hsm_token.session() as session:
        assert list(session.get_objects({Attribute.LABEL: "half-made"})) == []
    with pytest.raises(KeyNotFound):
        key.sign(b"after delete", ec.ECDSA(hashes.SHA256()))
    # The label is free again.
    hsm_token.generate_key("half-made", KeySpec.RSA_2048)


def test_delete_key_removes_an_orphan_public_half(hsm_token: Token):
    hsm_token.generate_key("orphan")
    with hsm_token.session() as session:
        (private,) = session.get_objects(
            {Attribute.CLASS: ObjectClass.PRIVATE_KEY, Attribute.LABEL: "orphan"})
        private.destroy()
    with pytest.raises(KeyNotFound, match="private"):
        hsm_token.private_key("orphan")
    assert hsm_token.has_key("orphan")
    hsm_token.delete_key("orphan")
    assert hsm_token.key_labels() == []


def test_bad_labels_and_specs(hsm_token: Token):
    with pytest.raises(ValueError, match="label"):
        hsm_token.generate_key("")
    with pytest.raises(TypeError):
        hsm_token.generate_key("x", "ec-p256")  # type: ignore[arg-type]


def test_token_objects_share_one_login(softhsm_token: HsmConfig):
    first = Token.open(softhsm_token)
    second = Token.open(softhsm_token)  # a second C_Login would fail: login is per app
    key = first.generate_key("shared")
    first.close()
    # Closing one object must not log the other out.
    signature = second.private_key("shared").sign(b"m", ec.ECDSA(hashes.SHA256()))
    key.public_key().verify(signature, b"m", ec.ECDSA(hashes.SHA256()))
    second.close()
    with pytest.raises(DeviceError, match="closed"):
        second.has_key("shared")


def test_two_configurations_in_one_process(softhsm_token_factory):
    # SoftHSM2 reads its configuration at C_Initialize; switching homes re-initialises the
    # module and each Token reopens its session transparently.
    config_a = softhsm_token_factory("region-a")
    config_b = softhsm_token_factory("region-b")
    with Token.open(config_a) as a, Token.open(config_b) as b:
        key_a = a.generate_key("root")
        key_b = b.generate_key("root")
        for _ in range(3):
            for key in (key_a, key_b):
                signature = key.sign(b"m", ec.ECDSA(hashes.SHA256()))
                key.public_key().verify(signature, b"m", ec.ECDSA(hashes.SHA256()))
        assert key_a.public_key() != key_b.public_key()
        assert a.key_labels() == ["root"]
        assert b.key_labels() == ["root"]


# python-pkcs11 finalises the search that failed on the dead handle, which fails again
# and is reported as "ignored"; that is expected here.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_session_reopened_after_it_dies(hsm_token: Token):
    key = hsm_token.generate_key("resilient")
    with hsm_token.session() as session:
        session.close()  # behind the token's back: the next call finds the handle invalid
    signature = key.sign(b"m", ec.ECDSA(hashes.SHA256()))
    key.public_key().verify(signature, b"m", ec.ECDSA(hashes.SHA256()))


def test_forked_child_reinitialises_and_signs(hsm_token: Token):
    key = hsm_token.generate_key("forked")
    key.sign(b"parent first", ec.ECDSA(hashes.SHA256()))
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: sign with the parent's objects, report, and leave at once
        status = 1
        try:
            signature = key.sign(b"child", ec.ECDSA(hashes.SHA256()))
            os.write(write_end, signature)
            status = 0
        finally:
            os._exit(status)
    os.close(write_end)
    _, status = os.waitpid(pid, 0)
    with os.fdopen(read_end, "rb") as pipe:
        child_signature = pipe.read()
    assert os.waitstatus_to_exitcode(status) == 0
    key.public_key().verify(child_signature, b"child", ec.ECDSA(hashes.SHA256()))
    # The parent's session still works after the child re-initialised its copy.
    signature = key.sign(b"parent again", ec.ECDSA(hashes.SHA256()))
    key.public_key().verify(signature, b"parent again", ec.ECDSA(hashes.SHA256()))
