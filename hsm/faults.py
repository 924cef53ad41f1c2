"""Fault injection at the PKCS#11 boundary, for tests of how the service survives an HSM
that drops sessions, fails, or disappears.

Every PKCS#11 operation a `Token` runs passes `hsm.library.fault_point(what)` just before
it reaches the module, under the process-wide lock. `failing(...)` arms that point so the
next N operations (optionally only those whose description contains a word) raise the
PKCS#11 exception a real module would raise; the token's own recovery (reopen the
session, re-initialise the module, or give up with DeviceError) then runs for real.

    with failing(p11.SessionHandleInvalid, times=1):   # reopened transparently
        token.sign_raw(...)
    with failing(p11.DeviceError, times=None) as fault: # every call fails until the block ends
        ...
        fault.clear()                                   # the device is back

Nothing is armed unless a test arms it; an unarmed fault point costs one attribute read.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from pkcs11 import exceptions as p11

from hsm import library

# The faults tests usually want, by the name a test or a config would use.
KINDS: dict[str, type[p11.PKCS11Error]] = {
    "session_invalid": p11.SessionHandleInvalid,
    "session_closed": p11.SessionClosed,
    "device_removed": p11.DeviceRemoved,
    "token_not_present": p11.TokenNotPresent,
    "device_error": p11.DeviceError,
    "general_error": p11.GeneralError,
}


@dataclass
class Fault:
    """An armed fault: raises `error` on the next `remaining` operations (None: all)."""

    error: type[p11.PKCS11Error]
    remaining: int | None
    only: str | None = None
    raised: int = 0
    seen: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __call__(self, what: str) -> None:
        with self._lock:
            self.seen.append(what)
            if self.only is not None and self.only not in what:
                return
            if self.remaining is not None:
                if self.remaining <= 0:
                    return
                self.remaining -= 1
            self.raised += 1
        raise self.error()

    def clear(self) -> None:
        """The device is healthy again: no further operation fails."""
        with self._lock:
            self.remaining = 0

    @property
    def active(self) -> bool:
        return self.remaining is None or self.remaining > 0


def arm(error: type[p11.PKCS11Error] | str, times: int | None = 1,
        only: str | None = None) -> Fault:
    """Make the next `times` PKCS#11 operations of this process (None: every one until
    `disarm`) raise `error` (a pkcs11 exception class or a name in KINDS)."""
    if isinstance(error, str):
        error = KINDS[error]
    if times is not None and times < 0:
        raise ValueError("times must be >= 0 or None")
    fault = Fault(error=error, remaining=times, only=only)
    library.set_fault_hook(fault)
    return fault


def disarm() -> None:
    library.set_fault_hook(None)


@contextmanager
def failing(error: type[p11.PKCS11Error] | str, times: int | None = 1,
            only: str | None = None) -> Iterator[Fault]:
    """`arm` for the duration of a block; always disarmed afterwards."""
    fault = arm(error, times, only)
    try:
        yield fault
    finally:
        disarm()
