"""Token-level recovery under hsm.faults: what reopens, what re-initialises, and that a
key really gone is still reported as gone (the second look does not hide it)."""

from __future__ import annotations

import shutil

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from pkcs11 import exceptions as p11

from hsm import faults
from hsm.errors import DeviceError, KeyNotFound
from hsm.token import Token


@pytest.fixture
def token(softhsm_token):
    opened = Token.open(softhsm_token)
    opened.generate_key("recovery-key")
    try:
        yield opened
    finally:
        faults.disarm()
        opened.close()


def _sign(token: Token) -> bytes:
    return token.private_key("recovery-key").sign(b"data", ec.ECDSA(hashes.SHA256()))


@pytest.mark.parametrize("error", [p11.SessionHandleInvalid, p11.SessionClosed,
                                   p11.UserNotLoggedIn, p11.DeviceRemoved,
                                   p11.TokenNotPresent])
def test_one_dead_session_or_removed_device_is_survived(token, error):
    with faults.failing(error, times=1) as fault:
        assert _sign(token)
    assert fault.raised == 1


def test_a_device_that_keeps_failing_is_a_device_error_then_recovers(token):
    with faults.failing(p11.DeviceRemoved, times=None, only="sign") as fault:
        with pytest.raises(DeviceError, match="after reopening"):
            _sign(token)
        assert fault.raised == 2  # the first try and the one retry, no more
        fault.clear()
        assert _sign(token)


def test_a_key_really_deleted_is_still_key_not_found(token):
    token.delete_key("recovery-key")
    with pytest.raises(KeyNotFound):
        token.private_key("recovery-key")
    assert token.has_key("recovery-key") is False


def test_token_files_restored_are_seen_again(token, softhsm_token):
    token_dir = softhsm_token.softhsm_conf.parent / "tokens"
    away = token_dir.with_name("tokens-away")
    assert _sign(token)
    shutil.move(token_dir, away)
    try:
        with pytest.raises(DeviceError):
            _sign(token)
    finally:
        shutil.move(away, token_dir)
    assert _sign(token)
