"""SoftHSM2, the embedded default: a configuration file and a token inside a certseal home.

Nothing global is touched: the configuration points at a token directory of our own, and
SOFTHSM2_CONF is set only in the environment of the child processes run here (and, for
the in-process module, by `hsm.library` when a token is opened with that configuration).
"""

from __future__ import annotations

import os
import secrets
import subprocess
from pathlib import Path

from pkcs11 import exceptions as p11

from hsm import library
from hsm.errors import DeviceError, TokenExists

SOFTHSM_MODULE = Path("/usr/lib/softhsm/libsofthsm2.so")
_SOFTHSM_UTIL = "softhsm2-util"
_LABEL_MAX_BYTES = 32  # CK_TOKEN_INFO.label


def write_softhsm_conf(conf_path: Path, token_dir: Path) -> None:
    """Write a SoftHSM2 configuration that keeps its tokens in `token_dir` (created 0700)."""
    token_dir = Path(token_dir).resolve()
    token_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    conf_path = Path(conf_path)
    conf_path.parent.mkdir(parents=True, exist_ok=True)
    conf_path.write_text(
        "# SoftHSM2 configuration of this certseal home (written by certseal)\n"
        f"directories.tokendir = {token_dir}\n"
        "objectstore.backend = file\n"
        "log.level = ERROR\n"
        "slots.removable = false\n"
        "slots.mechanisms = ALL\n"
        # A forked worker gets a fresh library state instead of its parent's copy.
        "library.reset_on_fork = true\n",
        encoding="utf-8",
    )


def token_labels(conf_path: Path) -> list[str]:
    """Labels of the initialised tokens under this configuration."""
    result = _softhsm_util(conf_path, ["--show-slots"])
    labels = []
    initialised = False
    for line in result.splitlines():
        key, _, value = line.strip().partition(":")
        if key == "Initialized":
            initialised = value.strip() == "yes"
        elif key == "Label" and initialised:
            labels.append(value.strip())
    return labels


def init_softhsm_token(
    conf_path: Path, label: str, so_pin: str, user_pin: str,
    *, module: Path = SOFTHSM_MODULE,
) -> None:
    """Create and initialise a token labelled `label` in the configuration's token store.

    TokenExists if a token with that label is already there. The real PINs never appear on
    a command line: softhsm2-util initialises the token with throw-away PINs, which are then
    changed to the real ones through PKCS#11 (C_SetPIN) in this process.
    """
    _check_token_args(label, so_pin, user_pin)
    conf_path = Path(conf_path).resolve()
    if label in token_labels(conf_path):
        raise TokenExists(f"a token labelled {label!r} already exists under {conf_path}")
    temporary_so_pin = secrets.token_hex(16)
    temporary_user_pin = secrets.token_hex(16)
    _softhsm_util(conf_path, [
        "--init-token", "--free", "--label", label,
        "--so-pin", temporary_so_pin, "--pin", temporary_user_pin,
    ])
    try:
        _set_pins(module, conf_path, label, (temporary_so_pin, so_pin),
                  (temporary_user_pin, user_pin))
    except BaseException:
        # A token nobody knows the PINs of is worse than none: remove it.
        _softhsm_util(conf_path, ["--delete-token", "--token", label], check=False)
        raise


def _set_pins(module: Path, conf_path: Path, label: str,
              so: tuple[str, str], user: tuple[str, str]) -> None:
    with library.LOCK:
        # SoftHSM2 lists tokens as of C_Initialize; re-initialise to see the new one.
        library.reinitialise(str(module), str(conf_path))
        token = library.find_token(str(module), str(conf_path), label)
        try:
            for pins, as_so in ((so, True), (user, False)):
                old, new = pins
                session = (token.open(rw=True, so_pin=old) if as_so
                           else token.open(rw=True, user_pin=old))
                try:
                    session.set_pin(old, new)
                finally:
                    session.close()
        except p11.PKCS11Error as exc:
            raise DeviceError(
                f"cannot set the PINs of new token {label!r}: {type(exc).__name__}"
            ) from None


def _check_token_args(label: str, so_pin: str, user_pin: str) -> None:
    if not label or len(label.encode()) > _LABEL_MAX_BYTES or label != label.strip():
        raise ValueError(
            f"token label must be 1 to {_LABEL_MAX_BYTES} bytes without surrounding spaces"
        )
    for name, pin in (("SO PIN", so_pin), ("user PIN", user_pin)):
        if not isinstance(pin, str) or not 4 <= len(pin) <= 255:
            raise ValueError(f"the {name} must be a string of 4 to 255 characters")


def _softhsm_util(conf_path: Path, args: list[str], *, check: bool = True) -> str:
    env = {**os.environ, "SOFTHSM2_CONF": str(conf_path)}
    try:
        result = subprocess.run(
            [_SOFTHSM_UTIL, *args], env=env, capture_output=True, text=True,
            stdin=subprocess.DEVNULL, timeout=60, check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise DeviceError(f"cannot run {_SOFTHSM_UTIL}: {exc}") from None
    if check and result.returncode != 0:
        # args[0] is the action; the rest may hold (throw-away) PINs, so name only it.
        raise DeviceError(
            f"{_SOFTHSM_UTIL} {args[0]} failed: {result.stderr.strip() or result.stdout.strip()}"
        )
    return result.stdout
