"""Sealing embeds a CRL held in memory for a while; /pki/crl never serves a held one, so
a CRL issued by another process (after a revocation) is served at once."""

import domain_kit
from cryptography import x509

from certseal.domain import CRL_HELD_FOR_SEALING, TrustDomain
from certseal.settings import load_settings


def crl_number(der: bytes) -> int:
    return x509.load_der_x509_crl(der).extensions.get_extension_for_class(
        x509.CRLNumber).value.crl_number


def test_a_crl_issued_elsewhere_is_served_at_once_and_embedded_after_the_hold(fresh_domain):
    domain = fresh_domain.domain
    held = domain.current_crl_der("issuing", held_for=CRL_HELD_FOR_SEALING)
    assert domain.current_crl_der("issuing", held_for=CRL_HELD_FOR_SEALING) == held

    # Another process on the same home (the CLI after a revocation) issues the next CRL.
    other = TrustDomain.open(load_settings(fresh_domain.home, **domain_kit.TEST_PIN_ENV))
    try:
        other.issue_crls()
    finally:
        other.close()

    assert crl_number(domain.current_crl_der("issuing")) == crl_number(held) + 1
    # The hold is per reading: a fresh read (above) replaced the held CRL.
    assert crl_number(domain.current_crl_der(
        "issuing", held_for=CRL_HELD_FOR_SEALING)) == crl_number(held) + 1


def test_a_held_crl_gives_way_to_one_issued_here_and_to_its_hold_running_out(fresh_domain):
    domain = fresh_domain.domain
    first = domain.current_crl_der("root", held_for=CRL_HELD_FOR_SEALING)
    domain.issue_crls()
    second = domain.current_crl_der("root", held_for=CRL_HELD_FOR_SEALING)
    assert crl_number(second) == crl_number(first) + 1

    other = TrustDomain.open(load_settings(fresh_domain.home, **domain_kit.TEST_PIN_ENV))
    try:
        other.issue_crls()
    finally:
        other.close()
    # Within the hold sealing keeps embedding the (still valid) CRL it read ...
    assert domain.current_crl_der("root", held_for=CRL_HELD_FOR_SEALING) == second
    # ... and once the hold has run out it reads the newest.
    assert crl_number(domain.current_crl_der("root", held_for=0.0)) == crl_number(second) + 1
