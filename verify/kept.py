"""Facts of one certificate object, found by identity.

cryptography's ``Certificate.__hash__`` hashes the whole DER (~1.7 us), and a QR check
looked a certificate up in about six hash-keyed caches: a tenth of the check. The
directory and the trust lists hand out the very same certificate objects check after
check, so a fact of a certificate (it is immutable) is found here by ``id``; the object is
held with its fact, so its ``id`` cannot be reused by another object while the entry lives.
A miss falls through to ``work`` (which may keep its own answers by value)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class ByIdentity(Generic[T]):
    def __init__(self, work: Callable[[Any], T], limit: int = 256) -> None:
        self._work = work
        self._limit = limit
        self._held: dict[int, tuple[Any, T]] = {}

    def __call__(self, key: Any) -> T:
        held = self._held.get(id(key))
        if held is not None and held[0] is key:
            return held[1]
        value = self._work(key)
        if len(self._held) >= self._limit:
            self._held.clear()
        self._held[id(key)] = (key, value)
        return value

    def cache_clear(self) -> None:
        self._held.clear()
