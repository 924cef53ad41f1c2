"""X.509 name comparison and name keys for pyHanko, kept per encoding, same answers.

asn1crypto compares names as RFC 5280 says (LDAP string preparation of every value, in
Python) and pyHanko compares many while matching the signer and building paths: about
2.5 ms of every PDF verification, always for the same few CA and TSA names. Whether two
names are equal is a fact of their two DER encodings, so the answer is kept per pair
(bounded); a comparison that raises is never kept and raises again.

pyHanko's certificate registry and path builder also key dictionaries by ``Name.hashable``
(the same string preparation of every value, ~20% of a profiled PDF verification). That
string is a fact of the name's encoding alone, so it is kept per DER the same way.
"""

from __future__ import annotations

from asn1crypto import x509

_original_eq = x509.Name.__eq__
_original_hashable = x509.Name.hashable  # the property object
_HELD = 4096
_answers: dict[tuple[bytes, bytes], bool] = {}
_hashables: dict[bytes, str] = {}


def name_eq(self: x509.Name, other: object) -> bool:
    if not isinstance(other, x509.Name):
        return _original_eq(self, other)
    key = (self.dump(), other.dump())
    answer = _answers.get(key)
    if answer is None:
        answer = _original_eq(self, other)
        if len(_answers) >= _HELD:
            _answers.clear()
        _answers[key] = answer
    return answer


def name_hashable(self: x509.Name) -> str:
    key = self.dump()
    found = _hashables.get(key)
    if found is None:
        found = _original_hashable.fget(self)  # raises as asn1crypto does; nothing kept
        if len(_hashables) >= _HELD:
            _hashables.clear()
        _hashables[key] = found
    return found


_kept_hashable = property(name_hashable, doc=_original_hashable.__doc__)


def install() -> None:
    """Make asn1crypto's name comparison and name keys use the kept answers (idempotent)."""
    x509.Name.__eq__ = name_eq
    x509.Name.hashable = _kept_hashable


def uninstall() -> None:
    """asn1crypto's own comparison and keys again (a baseline measuring pyHanko as
    shipped)."""
    x509.Name.__eq__ = _original_eq
    x509.Name.hashable = _original_hashable
