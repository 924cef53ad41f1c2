"""Typed errors of the HSM room.

Messages name the token, key label or module involved and never carry a PIN.
"""


class HsmError(Exception):
    """Base of every error raised by `hsm`."""


class TokenNotFound(HsmError):
    """No token with the configured label is present in the module's slots."""


class TokenExists(HsmError):
    """A token with this label already exists (refused rather than overwritten)."""


class WrongPin(HsmError):
    """The token refused the PIN (incorrect, locked or otherwise unusable)."""


class KeyNotFound(HsmError):
    """No key with this label on the token."""


class KeyExists(HsmError):
    """A key with this label is already on the token."""


class DeviceError(HsmError):
    """The PKCS#11 module or the device failed, or is gone."""


class UnsupportedKey(HsmError):
    """A key type, curve, size or signature scheme this room does not handle."""
