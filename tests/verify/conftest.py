"""Fixtures for the verifier's tests: verifiers set up the way a counter is (the region's
published directory only: trust list, its pinned signer, seal certificates), over genuine
licences issued by the shared trust domain.

``verify_offline`` and ``verify_synced_offline`` judge every input twice, with pyHanko and
asn1crypto as shipped and with the accelerator (verify/accel), on one clock and with the
context's cache emptied before each, and fail unless both give the same report (or the
same error); the accelerated report is the one returned."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest

from certseal.verifying import Verifier, trust_source
from verify import accel
from verify.inputs import verify_bytes


def _outcome(data: bytes, context):
    context.cache.clear()
    try:
        return asyncio.run(verify_bytes(data, context)), None
    except Exception as exc:  # compared, then raised again
        return None, exc


def judged_both_ways(data: bytes, context):
    """The report of ``data``, the same with the accelerator off and on."""
    moment = context.now()
    context = dataclasses.replace(context, clock=lambda: moment)
    assert accel.installed() is None and accel.shipped()
    shipped, shipped_error = _outcome(data, context)
    with accel.accelerated(True) as on:
        assert on, accel.audit()
        report, error = _outcome(data, context)
    if shipped_error is not None or error is not None:
        assert (type(error), str(error)) == (type(shipped_error), str(shipped_error))
        raise error
    assert report.to_json() == shipped.to_json()
    return report


@pytest.fixture
def both_ways():
    return judged_both_ways


@pytest.fixture
def counter(trust_domain, tmp_path):
    """A counter's verifier with its own (empty) cache directory."""
    return Verifier([trust_source(trust_domain.published)], cache_dir=tmp_path / "cache")


@pytest.fixture
def verify_offline(counter):
    def run(data: bytes):
        return judged_both_ways(data, counter.context(offline=True))

    return run


@pytest.fixture
def verify_online(served_domain, counter):
    def run(data: bytes):
        return asyncio.run(verify_bytes(data, counter.context(offline=False)))

    return run


@pytest.fixture
def synced_counter(served_domain, counter):
    """A counter that synced the region's status lists once while online."""
    # The shared domain may hold other tests' departments too; ours must be synced.
    assert served_domain.department_id in asyncio.run(counter.sync())
    return counter


@pytest.fixture
def verify_synced_offline(synced_counter):
    def run(data: bytes):
        return judged_both_ways(data, synced_counter.context(offline=True))

    return run


# The per-check suites' counter over the shared domain (checks_kit), and the genuine
# licence's QR text; a suite judging PDFs defines its own ``genuine``.
@pytest.fixture(scope="module")
def bench(trust_domain):
    import checks_kit

    return checks_kit.make_bench(trust_domain)


@pytest.fixture(scope="module")
def genuine(trust_domain) -> str:
    import checks_kit

    return checks_kit.qr_text_of(trust_domain.licences["yyzz"].pdf)
