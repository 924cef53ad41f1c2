"""The accelerator's name comparisons and name keys give asn1crypto's own answers (RFC 5280
matching: case and inner spaces folded, type and order significant), every time, from
its caches, and errors still raise."""

from __future__ import annotations

import itertools

import pytest
from asn1crypto import x509

from verify.accel import names
from verify.cache import Cache

# asn1crypto's own (nothing installs on import).
_original_eq = x509.Name.__dict__["__eq__"]
_original_hashable = x509.Name.__dict__["hashable"].fget


def _name(*pairs, printable=False) -> x509.Name:
    return x509.Name.build(dict(pairs), use_printable=printable)


NAMES = [
    _name(("common_name", "Root CA"), ("organization_name", "Example")),
    _name(("common_name", "root  ca"), ("organization_name", "EXAMPLE")),  # equal per RFC
    _name(("common_name", "Root CA"), ("organization_name", "Example"), printable=True),
    _name(("common_name", "Root CA")),
    _name(("common_name", "Issuing CA"), ("organization_name", "Example")),
    _name(("common_name", "广东省根证书"), ("country_name", "CN")),
    _name(("common_name", "广东省根证书 "), ("country_name", "CN")),
    _name(("organization_name", "Example"), ("common_name", "Root CA")),
]


def test_same_answers_as_asn1crypto_for_every_pair():
    assert _original_eq.__module__ == "asn1crypto.x509"
    answers = Cache()
    eq = names.name_comparison(_original_eq, answers)
    pairs = list(itertools.product(NAMES, repeat=2))
    first = [eq(a, b) for a, b in pairs]
    assert len(answers) == len({(a.dump(), b.dump()) for a, b in pairs})
    again = [eq(a, b) for a, b in pairs]  # answered from the cache
    expected = [_original_eq(a, b) for a, b in pairs]
    assert first == again == expected
    assert any(expected) and not all(expected)
    assert eq(NAMES[0], NAMES[1])  # RFC 5280 folding kept, not byte equality
    assert not eq(NAMES[0], NAMES[3])
    assert eq(NAMES[0], "Root CA") is _original_eq(NAMES[0], "Root CA")


def test_answers_come_from_the_cache():
    answers = Cache()
    eq = names.name_comparison(_original_eq, answers)
    a, b = NAMES[0], NAMES[1]
    answers.put((a.dump(), b.dump()), False)  # a planted answer is what comes back
    assert eq(a, b) is False
    assert _original_eq(a, b) is True


def test_a_comparison_that_raises_raises_every_time():
    calls = []

    def failing(self, other):
        calls.append(1)
        raise ValueError("prohibited character")

    answers = Cache()
    eq = names.name_comparison(failing, answers)
    a, b = _name(("common_name", "A x")), _name(("common_name", "A y"))
    for _ in range(2):
        with pytest.raises(ValueError):
            eq(a, b)
    assert len(calls) == 2 and len(answers) == 0


def test_name_keys_are_asn1crypto_keys():
    keys = Cache()
    hashable = names.name_key(_original_hashable, keys)
    first = [hashable(n) for n in NAMES]
    again = [hashable(n) for n in NAMES]  # answered from the cache
    expected = [_original_hashable(n) for n in NAMES]
    assert first == again == expected
    assert len(keys) == len({n.dump() for n in NAMES})
    assert hashable(NAMES[0]) == hashable(NAMES[1])  # RFC 5280 folding kept
    assert hashable(NAMES[0]) != hashable(NAMES[4])
    # A name read from DER (as pyHanko reads certificates) gets the same key.
    assert hashable(x509.Name.load(NAMES[5].dump())) == expected[5]


def test_a_name_key_that_raises_raises_every_time():
    calls = []

    def failing(self):
        calls.append(1)
        raise ValueError("prohibited character")

    keys = Cache()
    hashable = names.name_key(failing, keys)
    name = _name(("common_name", "Never kept"))
    for _ in range(2):
        with pytest.raises(ValueError):
            hashable(name)
    assert len(calls) == 2 and len(keys) == 0
