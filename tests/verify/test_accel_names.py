"""Kept name comparisons give asn1crypto's own answers (RFC 5280 matching: case and
inner spaces folded, type and order significant), every time, and errors still raise."""

from __future__ import annotations

import itertools

import pytest
from asn1crypto import x509

from verify import asn1_names


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
    asn1_names.install()
    pairs = list(itertools.product(NAMES, repeat=2))
    kept = [a == b for a, b in pairs] + [a != b for a, b in pairs]
    again = [a == b for a, b in pairs]  # answered from the kept pairs
    expected = [asn1_names._original_eq(a, b) for a, b in pairs]
    assert kept[:len(pairs)] == again == expected
    assert kept[len(pairs):] == [not e for e in expected]
    assert any(expected) and not all(expected)
    assert NAMES[0] == NAMES[1]  # RFC 5280 folding kept, not byte equality
    assert NAMES[0] != NAMES[3]
    assert (NAMES[0] == "Root CA") is False


def test_a_comparison_that_raises_raises_every_time(monkeypatch):
    asn1_names.install()
    a, b = _name(("common_name", "A x")), _name(("common_name", "A y"))
    calls = []

    def failing(self, other):
        calls.append(1)
        raise ValueError("prohibited character")

    monkeypatch.setattr(asn1_names, "_original_eq", failing)
    for _ in range(2):
        with pytest.raises(ValueError):
            assert a == b
    assert len(calls) == 2


def test_kept_name_keys_are_asn1crypto_keys():
    asn1_names.install()
    first = [n.hashable for n in NAMES]
    again = [n.hashable for n in NAMES]  # answered from the kept keys
    expected = [asn1_names._original_hashable.fget(n) for n in NAMES]
    assert first == again == expected
    assert NAMES[0].hashable == NAMES[1].hashable  # RFC 5280 folding kept
    assert NAMES[0].hashable != NAMES[4].hashable
    # A name read from DER (as pyHanko reads certificates) gets the same key.
    assert x509.Name.load(NAMES[5].dump()).hashable == expected[5]


def test_a_name_key_that_raises_raises_every_time(monkeypatch):
    asn1_names.install()
    name = _name(("common_name", "Never kept"))
    calls = []

    def failing(self):
        calls.append(1)
        raise ValueError("prohibited character")

    monkeypatch.setattr(asn1_names, "_original_hashable", property(failing))
    for _ in range(2):
        with pytest.raises(ValueError):
            assert name.hashable
    assert len(calls) == 2


def test_uninstall_restores_asn1crypto():
    asn1_names.uninstall()
    try:
        assert x509.Name.hashable is asn1_names._original_hashable
        assert x509.Name.__eq__ is asn1_names._original_eq
    finally:
        asn1_names.install()
