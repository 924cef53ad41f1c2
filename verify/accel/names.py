"""asn1crypto's X.509 name comparison and name keys, answered once per DER encoding.

asn1crypto compares names as RFC 5280 says (LDAP string preparation of every value, in
Python), and pyHanko compares many while matching the signer and building paths (~2.5 ms
of every PDF verification, always the same few CA and TSA names). Whether two names are
equal is a fact of their two encodings, and ``Name.hashable`` (the key of pyHanko's
certificate registry, the same string preparation, ~20% of a profiled PDF verification)
a fact of one: both are kept in the accelerator's caches. An answer that raises keeps
nothing and raises again.
"""

from __future__ import annotations

from collections.abc import Callable

from asn1crypto import x509

from verify.cache import Cache


def name_comparison(original: Callable, answers: Cache) -> Callable:
    """A replacement of ``x509.Name.__eq__``."""

    def __eq__(self: x509.Name, other: object) -> bool:
        if not isinstance(other, x509.Name):
            return original(self, other)
        return answers.cached((self.dump(), other.dump()), lambda: original(self, other))

    return __eq__


def name_key(original: Callable, keys: Cache) -> Callable:
    """A replacement of the getter of the ``x509.Name.hashable`` property."""

    def hashable(self: x509.Name) -> str:
        return keys.cached(self.dump(), lambda: original(self))

    return hashable
