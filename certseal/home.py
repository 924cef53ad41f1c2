"""A trust domain's home directory: configuration, PIN file, SoftHSM2 token, published files.

``certseal init`` makes a home exactly once; every later command opens it. Creation is
all-or-nothing: a failure removes whatever this run created (files, token, HSM keys).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

from certseal.errors import HomeExists, HomeMissing
from certseal.settings import Settings, ensure_pins
from hsm.token import HsmConfig

# Files and folders a certseal home may hold; anything else in a directory means it is
# not ours to fill.
HOME_ENTRIES = ("certseal.toml", "hsm-pins.json", "softhsm2.conf", "tokens", "certseal.db",
                "certseal.db-wal", "certseal.db-shm", "published", "trust-lists", "verify-cache")


def hsm_config(settings: Settings, user_pin: str | None = None) -> HsmConfig:
    return HsmConfig(
        module=settings.hsm_module,
        token_label=settings.hsm_token_label,
        user_pin=user_pin if user_pin is not None else settings.user_pin(),
        softhsm_conf=settings.softhsm_conf_path,
    )


def require_home(settings: Settings) -> None:
    if not settings.config_file.is_file():
        raise HomeMissing(
            f"{settings.home} is not a certseal home (no {settings.config_file.name}); "
            "run 'certseal init' first"
        )


def refuse_existing_home(home: Path) -> None:
    if not home.exists():
        return
    if not home.is_dir():
        raise HomeExists(f"{home} exists and is not a directory")
    present = sorted(p.name for p in home.iterdir())
    if any(name in HOME_ENTRIES for name in present):
        raise HomeExists(
            f"{home} already holds a trust domain; refusing to overwrite it "
            "(choose another --home)"
        )
    if present:
        raise HomeExists(f"{home} is not empty; init needs a new or empty directory")


class Undo:
    """Steps to take back, newest first, if creation fails part-way."""

    def __init__(self) -> None:
        self._steps: list[Callable[[], None]] = []

    def push(self, step: Callable[[], None]) -> None:
        self._steps.append(step)

    def run(self) -> None:
        for step in reversed(self._steps):
            try:
                step()
            except Exception:  # noqa: S112 - best effort; the first error is what matters
                continue
        self._steps.clear()


@contextmanager
def new_home(settings: Settings):
    """Create the home (and undo everything on failure). Yields an Undo for later steps."""
    home = settings.home
    refuse_existing_home(home)
    undo = Undo()
    existed = home.exists()
    home.mkdir(mode=0o700, parents=True, exist_ok=True)
    if existed:
        undo.push(lambda: [_remove(home / name) for name in HOME_ENTRIES])
    else:
        undo.push(lambda: shutil.rmtree(home, ignore_errors=True))
    try:
        yield undo
    except BaseException:
        undo.run()
        raise


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    elif path.exists():
        path.unlink()


def prepare_token(settings: Settings) -> str:
    """PINs, SoftHSM2 configuration and token for a new home; returns the user PIN."""
    user_pin, so_pin = ensure_pins(settings)
    conf = settings.softhsm_conf_path
    if conf is not None:
        from hsm.softhsm import init_softhsm_token, write_softhsm_conf

        settings.token_dir.mkdir(mode=0o700, exist_ok=True)
        write_softhsm_conf(conf, settings.token_dir)
        init_softhsm_token(conf, settings.hsm_token_label, so_pin, user_pin)
    return user_pin


def write_public(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
    return path
