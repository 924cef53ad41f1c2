"""Process-wide PKCS#11 state: one lock, one loaded module per path, one login per token.

Why all of this is process-wide rather than per `Token` object:

- python-pkcs11 calls C_Initialize without locking arguments, so SoftHSM2 runs without its
  internal locks and two threads inside the module at once crash it. Every PKCS#11 call of
  the process therefore runs under `LOCK`, whichever `Token` object makes it.
- Login is per application: a second C_Login on the same token fails with
  UserAlreadyLoggedIn. So there is one logged-in session per (module, config, token) per
  process, shared by every `Token` object that opens that token.
- A module is loaded once per process. SoftHSM2 reads SOFTHSM2_CONF at C_Initialize, so
  switching to another configuration file means finalising and initialising again; that
  bumps a generation number and every session opened before is reopened on next use.
- After fork the child's copy of the module state is not usable (PKCS#11 v2.40 §6.7.7):
  a child that finds itself with a parent's pid re-initialises and reopens its sessions.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import pkcs11
from pkcs11 import exceptions as p11

from hsm.errors import DeviceError, TokenNotFound, WrongPin

LOCK = threading.RLock()

# Hold the lock across fork so that no PKCS#11 call is half-way through when the process
# is copied; the child then starts with the lock free and re-initialises on first use.
os.register_at_fork(before=LOCK.acquire, after_in_parent=LOCK.release,
                    after_in_child=LOCK.release)

_PIN_ERRORS: tuple[type[Exception], ...] = (
    p11.PinIncorrect, p11.PinInvalid, p11.PinLenRange, p11.PinExpired, p11.PinLocked,
)


@dataclass
class _Module:
    path: str
    lib: pkcs11.lib
    pid: int
    softhsm_conf: str | None
    generation: int = 0


@dataclass(eq=False)
class Login:
    """The one logged-in session of a token in this process, and what hangs off it."""

    session: pkcs11.Session | None = None
    generation: int = -1
    users: int = 0
    # pkcs11 private key objects by label; their handles die with the session.
    private_keys: dict[str, object] = field(default_factory=dict)


_modules: dict[str, _Module] = {}
_logins: dict[tuple[str, str | None, str], Login] = {}

# Tests arm this (hsm.faults) to make PKCS#11 operations fail as a sick device would.
_fault_hook: Callable[[str], None] | None = None


def set_fault_hook(hook: Callable[[str], None] | None) -> None:
    global _fault_hook
    _fault_hook = hook


def fault_point(what: str) -> None:
    """Called just before each PKCS#11 operation a Token runs (under LOCK)."""
    hook = _fault_hook
    if hook is not None:
        hook(what)


def _initialise(lib: pkcs11.lib) -> None:
    try:
        lib.finalize()
    except p11.PKCS11Error:
        pass  # a child after fork, or a module already finalised: nothing to undo
    lib.initialize()


def _set_softhsm_conf(softhsm_conf: str | None) -> None:
    if softhsm_conf is not None:
        os.environ["SOFTHSM2_CONF"] = softhsm_conf


def module(path: str, softhsm_conf: str | None) -> _Module:
    """The loaded, initialised module for `path`, re-initialised if needed. Hold LOCK."""
    state = _modules.get(path)
    try:
        if state is None:
            _set_softhsm_conf(softhsm_conf)
            state = _Module(path=path, lib=pkcs11.lib(path), pid=os.getpid(),
                            softhsm_conf=softhsm_conf)
            # pkcs11.lib() caches per path; a cached module may have been finalised.
            if not state.lib.initialized:
                state.lib.initialize()
            _modules[path] = state
        elif state.pid != os.getpid() or (
            softhsm_conf is not None and softhsm_conf != state.softhsm_conf
        ):
            _set_softhsm_conf(softhsm_conf)
            _initialise(state.lib)
            state.pid = os.getpid()
            if softhsm_conf is not None:
                state.softhsm_conf = softhsm_conf
            state.generation += 1
    except p11.PKCS11Error as exc:
        if state is not None and path in _modules:
            state.pid = -1  # initialise again on next use (sessions reopen: generation)
        else:
            _modules.pop(path, None)
        raise DeviceError(
            f"cannot load or initialise PKCS#11 module {path}: {type(exc).__name__}"
        ) from exc
    return state


def reinitialise(path: str, softhsm_conf: str | None) -> None:
    """Force C_Finalize/C_Initialize, e.g. so SoftHSM2 sees a token created by another
    process. Every session opened before is reopened on next use. Hold LOCK."""
    state = module(path, softhsm_conf)
    state.generation += 1
    try:
        _initialise(state.lib)
    except p11.PKCS11Error as exc:
        # e.g. SoftHSM2 with its token directory gone: try again on next use rather
        # than keep a finalised module that every later call would trip over.
        state.pid = -1
        raise DeviceError(
            f"cannot re-initialise PKCS#11 module {path}: {type(exc).__name__}") from exc


def find_token(path: str, softhsm_conf: str | None, token_label: str) -> pkcs11.Token:
    """The token with this label. Hold LOCK."""
    state = module(path, softhsm_conf)
    try:
        return state.lib.get_token(token_label=token_label)
    except p11.NoSuchToken:
        raise TokenNotFound(
            f"no token labelled {token_label!r} in PKCS#11 module {path}"
        ) from None
    except p11.MultipleTokensReturned:
        raise DeviceError(
            f"more than one token labelled {token_label!r} in PKCS#11 module {path}"
        ) from None
    except p11.PKCS11Error as exc:
        raise DeviceError(
            f"cannot list tokens of PKCS#11 module {path}: {type(exc).__name__}"
        ) from exc


def login_record(path: str, softhsm_conf: str | None, token_label: str) -> Login:
    """The shared login record of a token (created empty if new). Hold LOCK."""
    return _logins.setdefault((path, softhsm_conf, token_label), Login())


def logged_in(path: str, softhsm_conf: str | None, token_label: str, user_pin: str) -> Login:
    """The token's login record with a live logged-in session, opening one if the
    record has none or its session predates the module's last initialisation. Hold LOCK."""
    record = login_record(path, softhsm_conf, token_label)
    state = module(path, softhsm_conf)
    if record.session is not None and record.generation == state.generation:
        return record
    record.session = None
    record.private_keys.clear()
    token = find_token(path, softhsm_conf, token_label)
    try:
        session = token.open(rw=True, user_pin=user_pin)
    except p11.UserAlreadyLoggedIn:
        # Some other session of this process logged in already; login is per
        # application, so a plain session is a logged-in one.
        session = _open_plain(token, token_label)
    except _PIN_ERRORS as exc:
        raise WrongPin(
            f"token {token_label!r} refused the user PIN ({type(exc).__name__})"
        ) from None
    except p11.UserPinNotInitialized:
        raise WrongPin(f"token {token_label!r} has no user PIN set") from None
    except p11.PKCS11Error as exc:
        raise DeviceError(
            f"cannot open a session on token {token_label!r}: {type(exc).__name__}"
        ) from exc
    record.session = session
    record.generation = state.generation
    return record


def _open_plain(token: pkcs11.Token, token_label: str) -> pkcs11.Session:
    try:
        return token.open(rw=True)
    except p11.PKCS11Error as exc:
        raise DeviceError(
            f"cannot open a session on token {token_label!r}: {type(exc).__name__}"
        ) from exc


def forget_session(record: Login) -> None:
    """Drop a session found dead; the next `logged_in` opens a fresh one. Hold LOCK."""
    record.session = None
    record.private_keys.clear()
    record.generation = -1


def release(path: str, softhsm_conf: str | None, token_label: str) -> None:
    """One user of the token is done; the last one logs out and closes. Hold LOCK."""
    key = (path, softhsm_conf, token_label)
    record = _logins.get(key)
    if record is None:
        return
    record.users -= 1
    if record.users > 0:
        return
    del _logins[key]
    state = _modules.get(path)
    session = record.session
    record.session = None
    record.private_keys.clear()
    if (
        session is not None
        and state is not None
        and state.pid == os.getpid()
        and record.generation == state.generation
    ):
        try:
            session.close()
        except p11.PKCS11Error:
            pass  # closing a session the device already dropped is not an error
