"""A token opened by label: key generation, lookup, deletion and raw signing.

Every PKCS#11 call runs under the process-wide lock of `hsm.library`; all `Token` objects
of one token share one logged-in session (see that module for why).
"""

from __future__ import annotations

import enum
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pkcs11
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from pkcs11 import MGF, Attribute, KeyType, Mechanism, MechanismFlag, ObjectClass
from pkcs11 import exceptions as p11
from pkcs11.util.ec import encode_ec_public_key, encode_named_curve_parameters

from hsm import library
from hsm.errors import (
    DeviceError,
    HsmError,
    KeyExists,
    KeyNotFound,
    TokenNotFound,
    UnsupportedKey,
)
from hsm.keys import HsmEcPrivateKey, HsmPrivateKey, HsmRsaPrivateKey

T = TypeVar("T")

# A session that died under us: reopen it and retry once.
_STALE_SESSION: tuple[type[Exception], ...] = (
    p11.SessionHandleInvalid, p11.SessionClosed, p11.UserNotLoggedIn,
    p11.ObjectHandleInvalid, p11.KeyHandleInvalid,
)
# The module or the device itself failed: re-initialise the module, then retry once.
_MODULE_GONE: tuple[type[Exception], ...] = (p11.DeviceRemoved, p11.TokenNotPresent)


@dataclass(frozen=True)
class HsmConfig:
    """Where the keys live: a PKCS#11 module, a token label and the user PIN.

    `softhsm_conf` names a SoftHSM2 configuration file; when given, SOFTHSM2_CONF is set
    for the process before the module is initialised.
    """

    module: Path
    token_label: str
    user_pin: str = field(repr=False)
    softhsm_conf: Path | None = None


class KeySpec(enum.Enum):
    """Key types this room generates."""

    EC_P256 = "ec-p256"
    EC_P384 = "ec-p384"
    RSA_2048 = "rsa-2048"
    RSA_3072 = "rsa-3072"


_CURVES: dict[KeySpec, str] = {KeySpec.EC_P256: "secp256r1", KeySpec.EC_P384: "secp384r1"}
_RSA_BITS: dict[KeySpec, int] = {KeySpec.RSA_2048: 2048, KeySpec.RSA_3072: 3072}


class Token:
    """An open, logged-in token. Create with `Token.open(config)`; `close()` when done."""

    def __init__(self, config: HsmConfig, *, _opened: bool = False):
        if not _opened:
            raise TypeError("use Token.open(config)")
        self.config = config
        self._module = str(config.module)
        self._conf = str(config.softhsm_conf.resolve()) if config.softhsm_conf else None
        self._closed = False

    # -- lifecycle -----------------------------------------------------------------------

    @classmethod
    def open(cls, config: HsmConfig) -> Token:
        """Open and log in to the token; TokenNotFound, WrongPin or DeviceError if not."""
        token = cls(config, _opened=True)
        with library.LOCK:
            try:
                record = token._attach()
            except TokenNotFound:
                # A token inserted (or a token directory restored) since the module was
                # initialised is only seen after initialising it again.
                library.reinitialise(token._module, token._conf)
                record = token._attach()
            record.users += 1
        return token

    def close(self) -> None:
        """Release this object's share of the token's session (the last one logs out)."""
        with library.LOCK:
            if self._closed:
                return
            self._closed = True
            library.release(self._module, self._conf, self.config.token_label)

    def __enter__(self) -> Token:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<Token label={self.config.token_label!r} module={self._module!r}>"

    @contextmanager
    def session(self) -> Iterator[pkcs11.Session]:
        """The raw logged-in session, held under the process-wide lock for the block
        (for pyHanko's PKCS11Signer, which takes an open session). Use it only inside."""
        with library.LOCK:
            record = self._attach()
            try:
                yield record.session
            except BaseException as exc:
                _drop_operations(exc)
                if isinstance(exc, _STALE_SESSION + _MODULE_GONE):
                    library.forget_session(record)
                raise

    # -- keys ----------------------------------------------------------------------------

    def generate_key(self, label: str, spec: KeySpec = KeySpec.EC_P256) -> HsmPrivateKey:
        """A new sensitive, non-extractable signing key pair on the token.

        CKA_LABEL is `label` and CKA_ID its UTF-8 bytes, so token listings say what
        each key is for. KeyExists if any object already carries the label.
        """
        _check_label(label)
        if not isinstance(spec, KeySpec):
            raise TypeError(f"spec must be a KeySpec, not {type(spec).__name__}")

        def generate(session: pkcs11.Session) -> None:
            if _objects(session, label):
                raise KeyExists(
                    f"a key labelled {label!r} already exists on token "
                    f"{self.config.token_label!r}"
                )
            common = {"id": label.encode(), "label": label, "store": True,
                      "capabilities": MechanismFlag.SIGN | MechanismFlag.VERIFY}
            public_template = {Attribute.PRIVATE: False, Attribute.ENCRYPT: False,
                               Attribute.WRAP: False, Attribute.DERIVE: False}
            private_template = {
                Attribute.TOKEN: True, Attribute.PRIVATE: True,
                Attribute.SENSITIVE: True, Attribute.EXTRACTABLE: False,
                Attribute.SIGN: True, Attribute.DECRYPT: False, Attribute.UNWRAP: False,
                Attribute.DERIVE: False,
            }
            if spec in _CURVES:
                params = session.create_domain_parameters(
                    KeyType.EC,
                    {Attribute.EC_PARAMS: encode_named_curve_parameters(_CURVES[spec])},
                    local=True,
                )
                params.generate_keypair(
                    public_template=public_template, private_template=private_template,
                    **common,
                )
            else:
                session.generate_keypair(
                    KeyType.RSA, _RSA_BITS[spec],
                    public_template={**public_template, Attribute.PUBLIC_EXPONENT: b"\x01\x00\x01"},
                    private_template=private_template,
                    **common,
                )

        self._run(f"generate key {label!r}", generate)
        return self.private_key(label)

    def private_key(self, label: str) -> HsmPrivateKey:
        """The key pair `label` as a cryptography private key that signs on the token."""

        def load(session: pkcs11.Session) -> HsmPrivateKey:
            private = _one(session, label, ObjectClass.PRIVATE_KEY, self.config.token_label)
            public = _public_key_of(
                _one(session, label, ObjectClass.PUBLIC_KEY, self.config.token_label), label
            )
            key_type = private[Attribute.KEY_TYPE]
            if key_type == KeyType.EC and isinstance(public, ec.EllipticCurvePublicKey):
                return HsmEcPrivateKey(self, label, public)
            if key_type == KeyType.RSA and isinstance(public, rsa.RSAPublicKey):
                return HsmRsaPrivateKey(self, label, public)
            raise UnsupportedKey(f"key {label!r} has an unsupported type ({key_type!r})")

        return self._run(f"load key {label!r}", load)

    def public_key(self, label: str) -> ec.EllipticCurvePublicKey | rsa.RSAPublicKey:
        """The public half of key `label` (a cryptography public key)."""
        return self._run(
            f"read public key {label!r}",
            lambda session: _public_key_of(
                _one(session, label, ObjectClass.PUBLIC_KEY, self.config.token_label), label
            ),
        )

    def has_key(self, label: str) -> bool:
        """Whether any key object (either half) carries `label`."""
        return self._run(f"look up key {label!r}", lambda session: bool(_objects(session, label)))

    def delete_key(self, label: str) -> None:
        """Destroy both halves of key `label`; KeyNotFound if neither exists."""

        def delete(session: pkcs11.Session) -> None:
            found = _objects(session, label)
            if not found:
                raise KeyNotFound(
                    f"no key labelled {label!r} on token {self.config.token_label!r}"
                )
            for obj in found:
                obj.destroy()

        try:
            self._run(f"delete key {label!r}", delete)
        finally:
            with library.LOCK:
                library.login_record(
                    self._module, self._conf, self.config.token_label
                ).private_keys.pop(label, None)

    def key_labels(self) -> list[str]:
        """Labels of all key objects on the token, sorted, each once."""

        def labels(session: pkcs11.Session) -> list[str]:
            found = {
                obj[Attribute.LABEL]
                for cls in (ObjectClass.PRIVATE_KEY, ObjectClass.PUBLIC_KEY)
                for obj in session.get_objects({Attribute.CLASS: cls})
            }
            return sorted(found)

        return self._run("list keys", labels)

    # -- signing (used by hsm.keys) ------------------------------------------------------

    def sign_raw(
        self, label: str, mechanism: Mechanism, data: bytes,
        mechanism_param: tuple[Mechanism, MGF, int] | None = None,
    ) -> bytes:
        """One C_Sign with key `label`; the data is already hashed/encoded by the caller."""

        def sign(session: pkcs11.Session) -> bytes:
            record = library.login_record(self._module, self._conf, self.config.token_label)
            key = record.private_keys.get(label)
            if key is None:
                key = _one(session, label, ObjectClass.PRIVATE_KEY, self.config.token_label)
                record.private_keys[label] = key
            try:
                return key.sign(data, mechanism=mechanism, mechanism_param=mechanism_param)
            except (p11.MechanismInvalid, p11.MechanismParamInvalid,
                    p11.KeyTypeInconsistent) as exc:
                raise UnsupportedKey(
                    f"key {label!r} cannot sign with {mechanism.name} ({type(exc).__name__})"
                ) from None

        return self._run(f"sign with key {label!r}", sign)

    # -- plumbing ------------------------------------------------------------------------

    def _attach(self) -> library.Login:
        if self._closed:
            raise DeviceError(f"token {self.config.token_label!r} was closed")
        return library.logged_in(
            self._module, self._conf, self.config.token_label, self.config.user_pin
        )

    def _run(self, what: str, operation: Callable[[pkcs11.Session], T]) -> T:
        """Run `operation` on the logged-in session under the lock, reopening once if
        the session or the module turned out to be dead, and looking once more with a
        re-initialised module before believing that a key or the token is gone."""
        with library.LOCK:
            try:
                return self._run_reopening(what, operation)
            except (KeyNotFound, TokenNotFound) as exc:
                _drop_operations(exc)
            # SoftHSM2 forgets the objects of a token whose files went away (a token
            # directory moved, a volume unmounted) and sees neither them nor the token come
            # back until the module is initialised again: an HSM that was briefly gone
            # must not stay gone for this process.
            library.reinitialise(self._module, self._conf)
            try:
                return self._run_reopening(what, operation)
            except TokenNotFound as exc:
                raise DeviceError(
                    f"{what}: token {self.config.token_label!r} is not present") from exc

    def _run_reopening(self, what: str, operation: Callable[[pkcs11.Session], T]) -> T:
        with library.LOCK:
            record = self._attach()
            try:
                library.fault_point(what)
                return operation(record.session)
            except HsmError:
                raise
            except _STALE_SESSION + _MODULE_GONE as exc:
                module_gone = isinstance(exc, _MODULE_GONE)
                _drop_operations(exc)
            except p11.PKCS11Error as exc:
                _drop_operations(exc)
                raise DeviceError(
                    f"{what} on token {self.config.token_label!r} failed: {type(exc).__name__}"
                ) from exc
            library.forget_session(record)
            try:
                if module_gone:
                    library.reinitialise(self._module, self._conf)
                record = self._attach()
                library.fault_point(what)
                return operation(record.session)
            except TokenNotFound as exc:
                raise DeviceError(f"{what}: token {self.config.token_label!r} is gone") from exc
            except p11.PKCS11Error as exc:
                _drop_operations(exc)
                library.forget_session(record)
                raise DeviceError(
                    f"{what} on token {self.config.token_label!r} failed after reopening "
                    f"the session: {type(exc).__name__}"
                ) from exc


def _drop_operations(exc: BaseException) -> None:
    """Free the PKCS#11 operations (e.g. a half-done object search) that the traceback
    keeps alive, now, under the lock: their finalisers call into the module."""
    traceback.clear_frames(exc.__traceback__)


def _check_label(label: str) -> None:
    if not isinstance(label, str):
        raise TypeError(f"key label must be a str, not {type(label).__name__}")
    if not label or len(label.encode()) > 128:
        raise ValueError("key label must be 1 to 128 bytes of UTF-8")


def _objects(session: pkcs11.Session, label: str) -> list[Any]:
    return [
        obj
        for cls in (ObjectClass.PRIVATE_KEY, ObjectClass.PUBLIC_KEY)
        for obj in session.get_objects({Attribute.CLASS: cls, Attribute.LABEL: label})
    ]


def _one(session: pkcs11.Session, label: str, object_class: ObjectClass, token_label: str) -> Any:
    found = list(session.get_objects({Attribute.CLASS: object_class, Attribute.LABEL: label}))
    half = "private" if object_class == ObjectClass.PRIVATE_KEY else "public"
    if not found:
        raise KeyNotFound(f"no {half} key labelled {label!r} on token {token_label!r}")
    if len(found) > 1:
        raise KeyExists(f"{len(found)} {half} keys labelled {label!r} on token {token_label!r}")
    return found[0]


def _public_key_of(obj: Any, label: str) -> ec.EllipticCurvePublicKey | rsa.RSAPublicKey:
    key_type = obj[Attribute.KEY_TYPE]
    if key_type == KeyType.EC:
        key = serialization.load_der_public_key(encode_ec_public_key(obj))
        if isinstance(key, ec.EllipticCurvePublicKey):
            return key
    if key_type == KeyType.RSA:
        return rsa.RSAPublicNumbers(
            int.from_bytes(obj[Attribute.PUBLIC_EXPONENT], "big"),
            int.from_bytes(obj[Attribute.MODULUS], "big"),
        ).public_key()
    raise UnsupportedKey(f"key {label!r} has an unsupported type ({key_type!r})")
