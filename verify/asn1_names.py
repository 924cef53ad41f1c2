"""X.509 name comparison for pyHanko, kept per pair of encodings, same answers.

asn1crypto compares names as RFC 5280 says (LDAP string preparation of every value, in
Python) and pyHanko compares many while matching the signer and building paths: about
2.5 ms of every PDF verification, always for the same few CA and TSA names. Whether two
names are equal is a fact of their two DER encodings, so the answer is kept per pair
(bounded); a comparison that raises is never kept and raises again.
"""

from __future__ import annotations

from asn1crypto import x509

_original_eq = x509.Name.__eq__
_HELD = 4096
_answers: dict[tuple[bytes, bytes], bool] = {}


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


def install() -> None:
    """Make asn1crypto's name comparison use the kept answers (idempotent)."""
    x509.Name.__eq__ = name_eq


def uninstall() -> None:
    """asn1crypto's own comparison again (a baseline measuring pyHanko as shipped)."""
    x509.Name.__eq__ = _original_eq
