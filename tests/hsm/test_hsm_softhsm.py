"""A SoftHSM2 configuration and token of our own, inside a home."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from hsm import library
from hsm.errors import TokenExists, WrongPin
from hsm.softhsm import SOFTHSM_MODULE, init_softhsm_token, token_labels, write_softhsm_conf
from hsm.token import HsmConfig, Token


def test_conf_points_at_a_token_directory_of_our_own(tmp_path: Path):
    conf, tokens = tmp_path / "home" / "softhsm2.conf", tmp_path / "home" / "tokens"
    write_softhsm_conf(conf, tokens)
    text = conf.read_text()
    assert f"directories.tokendir = {tokens.resolve()}\n" in text
    assert "objectstore.backend = file\n" in text
    assert tokens.is_dir()
    assert tokens.stat().st_mode & 0o077 == 0


def test_init_creates_a_token_in_the_home(softhsm_token: HsmConfig):
    assert softhsm_token.softhsm_conf is not None
    assert token_labels(softhsm_token.softhsm_conf) == [softhsm_token.token_label]
    token_dir = softhsm_token.softhsm_conf.parent / "tokens"
    assert len([p for p in token_dir.iterdir() if p.is_dir()]) == 1
    with Token.open(softhsm_token) as token:
        assert token.key_labels() == []


def test_second_token_with_same_label_is_refused(softhsm_token: HsmConfig):
    assert softhsm_token.softhsm_conf is not None
    with pytest.raises(TokenExists, match=softhsm_token.token_label) as caught:
        init_softhsm_token(softhsm_token.softhsm_conf, softhsm_token.token_label, "other-so-pin",
                           "other-user-pin")
    assert "other-so-pin" not in str(caught.value)
    assert token_labels(softhsm_token.softhsm_conf) == [softhsm_token.token_label]
    # Another label in the same store is fine.
    init_softhsm_token(softhsm_token.softhsm_conf, "second", "so-pin-2222", "user-pin-2222")
    assert sorted(token_labels(softhsm_token.softhsm_conf)) == sorted(
        [softhsm_token.token_label, "second"])


def test_the_real_pins_are_set_and_the_throwaway_ones_are_gone(softhsm_token: HsmConfig,
                                                              softhsm_so_pin: str):
    # The SO PIN works: an operator can reset the user PIN with it.
    assert softhsm_token.softhsm_conf is not None
    env = {**os.environ, "SOFTHSM2_CONF": str(softhsm_token.softhsm_conf)}
    result = subprocess.run(
        ["pkcs11-tool", "--module", str(SOFTHSM_MODULE), "--token-label", softhsm_token.token_label,
         "--login", "--login-type", "so", "--so-pin", softhsm_so_pin,
         "--init-pin", "--new-pin", "reset-user-pin-1"],
        env=env, capture_output=True, text=True, check=False, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    # SoftHSM2 keeps a token's PIN state from C_Initialize; see the reset as a restarted
    # process would.
    with library.LOCK:
        library.reinitialise(str(SOFTHSM_MODULE), str(softhsm_token.softhsm_conf))
    with pytest.raises(WrongPin):
        Token.open(softhsm_token)  # the old user PIN no longer works
    reset = HsmConfig(SOFTHSM_MODULE, softhsm_token.token_label, "reset-user-pin-1",
                      softhsm_token.softhsm_conf)
    with Token.open(reset) as token:
        assert token.key_labels() == []


def test_user_pin_from_init_opens_the_token(softhsm_token: HsmConfig, softhsm_so_pin: str):
    assert softhsm_token.user_pin != softhsm_so_pin
    Token.open(softhsm_token).close()


@pytest.mark.parametrize(("label", "so_pin", "user_pin"), [
    ("", "so-pin-1", "user-pin-1"),
    ("x" * 33, "so-pin-1", "user-pin-1"),
    ("ok", "abc", "user-pin-1"),
    ("ok", "so-pin-1", "x" * 256),
])
def test_bad_arguments_are_refused_before_anything_is_written(tmp_path: Path, label, so_pin,
                                                               user_pin):
    conf = tmp_path / "softhsm2.conf"
    write_softhsm_conf(conf, tmp_path / "tokens")
    with pytest.raises(ValueError) as caught:
        init_softhsm_token(conf, label, so_pin, user_pin)
    assert so_pin not in str(caught.value) and user_pin not in str(caught.value)
    assert list((tmp_path / "tokens").iterdir()) == []
