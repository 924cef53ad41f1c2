"""The verifier's one cache type: bounded (least recently used out first), thread-safe,
and owned by the object whose lifetime its entries share (a verification context, a
status source, the accelerator), so dropping or clearing the owner drops them.

Only facts go in: answers worked out from the key alone (and the owner's fixed inputs),
never anything that depends on the clock. A computation that raises keeps nothing.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from cachetools import LRUCache

T = TypeVar("T")
DEFAULT_SIZE = 4096


class Cache:
    """A bounded map from keys to facts. ``scope`` names what every entry was worked out
    from (a context's tuple of trust lists): a cache serves only owners of that scope."""

    def __init__(self, maxsize: int = DEFAULT_SIZE, *, scope: object = None) -> None:
        self.scope = scope
        self._entries: LRUCache = LRUCache(maxsize)
        self._lock = threading.Lock()

    def cached(self, key: Hashable, compute: Callable[[], T]) -> T:
        """The entry for ``key``, or ``compute()`` entered under it. ``compute`` runs outside
        the lock (it may be slow, or use this cache); when two threads race, the first
        value entered is the one both get."""
        with self._lock:
            try:
                return self._entries[key]
            except KeyError:
                pass
        value = compute()
        with self._lock:
            return self._entries.setdefault(key, value)

    def get(self, key: Hashable, default: Any = None) -> Any:
        with self._lock:
            try:
                return self._entries[key]
            except KeyError:
                return default

    def put(self, key: Hashable, value: Any) -> None:
        with self._lock:
            self._entries[key] = value

    def pop(self, key: Hashable) -> Any:
        with self._lock:
            return self._entries.pop(key, None)

    def values(self) -> list[Any]:
        with self._lock:
            return list(self._entries.values())

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    @property
    def maxsize(self) -> int:
        return int(self._entries.maxsize)
