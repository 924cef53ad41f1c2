"""Fixtures for the verifier's tests: verifiers set up the way a counter is (the region's
published directory only: trust list, its pinned signer, seal certificates), over genuine
licences issued by the shared trust domain."""

from __future__ import annotations

import asyncio

import pytest

from certseal.verifying import Verifier, trust_source
from verify.inputs import verify_bytes


@pytest.fixture
def counter(trust_domain, tmp_path):
    """A counter's verifier with its own (empty) cache directory."""
    return Verifier([trust_source(trust_domain.published)], cache_dir=tmp_path / "cache")


@pytest.fixture
def verify_offline(counter):
    def run(data: bytes):
        return asyncio.run(verify_bytes(data, counter.context(offline=True)))

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
        return asyncio.run(verify_bytes(data, synced_counter.context(offline=True)))

    return run
