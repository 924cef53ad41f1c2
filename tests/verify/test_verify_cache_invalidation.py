"""The verifier keeps what it worked out (chain placements, checked OCSP answers, verified
status lists, contexts) across verifications; every kept fact must give way when what it
came from changes. Each test verifies, changes the world, and verifies again with the
same long-lived verifier in the same process: the second verdict must not be valid."""

from __future__ import annotations

import asyncio
import time

import domain_kit
import pytest

from certs.qr import decode_qr_payload
from certseal.status import change_licence_status, revoke_seal
from certseal.trust import withdraw_service
from certseal.verifying import Verifier, verifier_for
from verify.inputs import verify_bytes
from verify.limits import DEFAULT_LIMITS
from verify.pdf_qr import qr_texts_of_first_page


@pytest.fixture
def own_domain(fresh_domain):
    """A domain of this test's own (its changes must not reach other tests), served, with
    one licence issued a whole second after the domain's services were granted."""
    time.sleep(1.1)
    licence = fresh_domain.issue("yyzz")
    with domain_kit.serving(fresh_domain):
        yield fresh_domain, licence


def _verify(verifier: Verifier, data: bytes, *, offline: bool = True):
    return asyncio.run(verify_bytes(data, verifier.context(offline=offline)))


def _qr(pdf: bytes) -> bytes:
    return qr_texts_of_first_page(pdf, DEFAULT_LIMITS)[0].encode()


def _outcome(report, code: str) -> str:
    return report.check(code).outcome


def _assert_valid(report) -> None:
    assert report.verdict == "valid", [c.to_json() for c in report.checks
                                       if c.outcome != "passed"]


def _synced_counter(under_test, licence) -> tuple[Verifier, bytes]:
    """A counter's long-lived verifier after one sync, and the licence's QR text."""
    counter = verifier_for(under_test.home)
    asyncio.run(counter.sync())
    return counter, _qr(licence.pdf)


def _assert_refused(counter: Verifier, inputs, failed_check: str, *,
                    offline: bool = True) -> None:
    for data in inputs:
        report = _verify(counter, data, offline=offline)
        assert report.verdict == "invalid"
        assert _outcome(report, failed_check) == "failed"


def test_withdrawn_issuing_ca_is_seen_by_a_verifier_built_before(own_domain):
    under_test, licence = own_domain
    counter, qr = _synced_counter(under_test, licence)
    for data in (qr, licence.pdf):  # twice each: the second run is served from the caches
        _assert_valid(_verify(counter, data))
        _assert_valid(_verify(counter, data))
    before = counter.context(offline=True)

    # The issuing CA's key was compromised from a moment before this licence was sealed.
    # (The licence was issued over a second after the grant: the withdrawal follows it.)
    compromised_at = decode_qr_payload(qr.decode()).claims.issued_at.replace(microsecond=0)
    withdraw_service(under_test.domain, "issuing-ca", at=compromised_at,
                     reason="issuing CA key compromised")

    assert counter.context(offline=True) is not before
    _assert_refused(counter, (qr, licence.pdf), "chain.trust_list")


def test_revoked_licence_is_seen_after_a_resync_by_another_process(own_domain):
    under_test, licence = own_domain
    counter, qr = _synced_counter(under_test, licence)
    _assert_valid(_verify(counter, qr))
    _assert_valid(_verify(counter, licence.pdf))

    change_licence_status(under_test.domain, licence.licence_id, "revoke", reason="fraud",
                          actor="test")
    # The counter's periodic sync runs elsewhere (its own verifier on the same cache).
    assert under_test.department_id in asyncio.run(verifier_for(under_test.home).sync())

    _assert_refused(counter, (qr, licence.pdf), "licence.status")


def test_revoked_licence_is_seen_after_a_resync_in_the_same_process(own_domain):
    under_test, licence = own_domain
    counter, qr = _synced_counter(under_test, licence)
    _assert_valid(_verify(counter, qr))

    change_licence_status(under_test.domain, licence.licence_id, "suspend", reason="audit",
                          actor="test")
    asyncio.run(counter.sync())

    report = _verify(counter, qr)
    assert report.verdict == "invalid"
    assert report.check("licence.status").details["status"] == "suspended"


@pytest.mark.parametrize("sync_elsewhere", [False, True])
def test_revoked_seal_is_seen_after_a_resync(own_domain, sync_elsewhere):
    under_test, licence = own_domain
    counter, qr = _synced_counter(under_test, licence)
    _assert_valid(_verify(counter, qr))
    _assert_valid(_verify(counter, licence.pdf))

    revoke_seal(under_test.domain, under_test.seal_id, "keyCompromise")
    time.sleep(0.02)  # the other process's cache file must carry a later time than ours
    syncing = verifier_for(under_test.home) if sync_elsewhere else counter
    asyncio.run(syncing.sync())

    _assert_refused(counter, (qr, licence.pdf), "revocation.now")


def test_revoked_seal_is_seen_online_at_once(own_domain):
    """Online asks OCSP live every time: no kept answer may hide a revocation."""
    under_test, licence = own_domain
    counter, qr = _synced_counter(under_test, licence)
    _assert_valid(_verify(counter, qr, offline=False))

    revoke_seal(under_test.domain, under_test.seal_id, "keyCompromise")

    _assert_refused(counter, (qr,), "revocation.now", offline=False)


def test_a_context_with_other_trust_lists_never_shares_kept_placements(trust_domain,
                                                                       counter):
    """A placement kept for one set of lists must not serve another set (here: none of
    the region's issuing CAs), even when the context is copied field by field."""
    import dataclasses

    from verify.certificates import CertificateFacts
    from verify.chain import place

    context = counter.context(offline=True)
    seal = CertificateFacts(next(iter(context.seal_directory._by_kid.values())))
    assert place(seal, context).issuer is not None
    signed = context.trust_lists[0]
    stripped = dataclasses.replace(signed.trust_list, services=tuple(
        s for s in signed.trust_list.services if s.service_type != "issuing-ca"))
    other = dataclasses.replace(context, trust_lists=(dataclasses.replace(
        signed, trust_list=stripped),))
    assert other.cache is not context.cache
    assert place(seal, other).issuer is None
    copied = type(context)(**{**context.__dict__, "trust_lists": other.trust_lists})
    assert place(seal, copied).issuer is None
