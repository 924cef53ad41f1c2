"""'Status now' falls back to the issuer's CRL when OCSP cannot be reached (online only):
a genuine licence still reads revocation.now passed, per the CRL; a revoked seal
certificate reads failed, per the CRL. OCSP is made unreachable for the verifier only (its
transport raises), so the served app and its CRL are the real ones."""

from __future__ import annotations

import asyncio
import datetime as dt

import domain_kit
import httpx
import pytest
from cryptography import x509

from certseal.status import revoke_seal
from certseal.verifying import Verifier, trust_source
from verify.crl import crl_urls, http_get_crl, load_issuer_crl, status_from_crl
from verify.inputs import verify_bytes
from verify.limits import DEFAULT_LIMITS
from verify.revocation import OcspStatusSource


class Transports:
    """Records what the verifier asked for; OCSP always fails to connect."""

    def __init__(self) -> None:
        self.ocsp_asked: list[str] = []
        self.crl_fetched: list[str] = []

    async def ocsp(self, url: str, request: bytes, timeout: float) -> bytes:
        self.ocsp_asked.append(url)
        raise httpx.ConnectError("OCSP responder unreachable (test)")

    async def crl(self, url: str, timeout: float) -> bytes:
        assert timeout == DEFAULT_LIMITS.ocsp_timeout_seconds
        self.crl_fetched.append(url)
        return await http_get_crl(url, timeout)


def counter_without_ocsp(under_test, tmp_path, transports: Transports) -> Verifier:
    counter = Verifier([trust_source(under_test.published)], cache_dir=tmp_path / "cache")
    counter.ocsp = OcspStatusSource(
        transport=transports.ocsp, crl_transport=transports.crl,
        timeout=DEFAULT_LIMITS.ocsp_timeout_seconds, cache_dir=tmp_path / "cache" / "ocsp")
    return counter


def revocation_now(counter: Verifier, pdf: bytes):
    report = asyncio.run(verify_bytes(pdf, counter.context(offline=False)))
    return report, report.check("revocation.now")


def test_a_genuine_licence_reads_not_revoked_per_the_crl_when_ocsp_is_down(
        served_domain, tmp_path):
    transports = Transports()
    counter = counter_without_ocsp(served_domain, tmp_path, transports)
    report, check = revocation_now(counter, served_domain.licences["yyzz"].pdf)
    assert transports.ocsp_asked and transports.ocsp_asked[0].endswith("/pki/ocsp")
    assert check.outcome.value == "passed", check
    assert check.details["source"].startswith("per CRL ")
    assert check.details["source"].endswith(f"({transports.crl_fetched[0]})")
    assert "per CRL" in check.message_en and "OCSP" not in check.message_en
    assert report.verdict == "valid"
    # Cached like OCSP answers: a second verification does not fetch the CRL again.
    _, again = revocation_now(counter, served_domain.licences["yyzz"].pdf)
    assert again.outcome.value == "passed" and len(transports.crl_fetched) == 1
    assert list((tmp_path / "cache" / "ocsp").glob("*.crl"))


def test_a_revoked_seal_certificate_reads_failed_per_the_crl(fresh_domain, tmp_path):
    pdf = fresh_domain.issue("yyzz").pdf
    revoke_seal(fresh_domain.domain, fresh_domain.seal_id, reason="keyCompromise",
                actor="test")
    transports = Transports()
    counter = counter_without_ocsp(fresh_domain, tmp_path, transports)
    with domain_kit.serving(fresh_domain):
        report, check = revocation_now(counter, pdf)
    assert transports.ocsp_asked and transports.crl_fetched
    assert check.outcome.value == "failed", check
    assert check.details["status"] == "revoked"
    assert check.details["reason"] == "key_compromise"
    assert check.details["source"].startswith("per CRL ")
    assert report.verdict == "invalid"


def test_a_crl_not_signed_by_the_issuer_or_out_of_date_is_not_used(served_domain):
    """The checks behind the fallback: the signature against the issuing CA, and the
    thisUpdate/nextUpdate window for a 'not listed' answer."""
    seal = x509.load_pem_x509_certificate(
        served_domain.domain.seal_certificate_path(served_domain.seal_id).read_bytes())
    (url,) = crl_urls(seal)
    der = httpx.get(url, timeout=3).content
    issuer = next(c for c in counter_issuers(served_domain)
                  if load_issuer_crl(der, c) is not None)
    crl = load_issuer_crl(der, issuer)
    now = dt.datetime.now(dt.UTC)
    assert status_from_crl(crl, seal, now, live=True, url=url).status == "good"
    assert status_from_crl(crl, seal, crl.next_update_utc + dt.timedelta(seconds=1),
                           live=True, url=url) is None
    tampered = bytearray(der)
    tampered[-5] ^= 0x01  # inside the signature value
    assert load_issuer_crl(bytes(tampered), issuer) is None
    assert load_issuer_crl(der, seal) is None  # another certificate's key and name


def counter_issuers(under_test) -> list[x509.Certificate]:
    counter = Verifier([trust_source(under_test.published)])
    found = counter._issuing_cas()
    if not found:
        pytest.fail("the trust list names no issuing CA")
    return found
