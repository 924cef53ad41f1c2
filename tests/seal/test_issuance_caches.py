"""Issuance through the real trust domain with its caches warm, at both PAdES levels: a
suspended or revoked seal never seals, and a reinstated one embeds a new OCSP answer, not
the cached one."""

from __future__ import annotations

import asyncio
import io

import domain_kit
import pytest
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation.dss import DocumentSecurityStore

from certseal.domain import TrustDomain
from certseal.settings import load_settings
from certseal.status import reinstate_seal, revoke_seal, suspend_seal
from certseal.verifying import Verifier, trust_source
from seal.errors import SealUnusable
from verify.inputs import verify_bytes


def _dss_ocsps(pdf: bytes) -> set[bytes]:
    dss = DocumentSecurityStore.read_dss(PdfFileReader(io.BytesIO(pdf)))
    return {r.get_object().data for r in dss.ocsps}


@pytest.mark.parametrize("level", ["B-LTA", "B-LT"])
def test_status_changes_reach_issuance_through_warm_caches(fresh_domain, tmp_path,
                                                           level) -> None:
    if level != fresh_domain.domain.settings.pades_level:
        fresh_domain.domain.close()
        fresh_domain.domain = TrustDomain.open(load_settings(
            fresh_domain.home, pades_level=level, **domain_kit.TEST_PIN_ENV))
    domain = fresh_domain.domain
    first = fresh_domain.issue("yyzz")
    second = fresh_domain.issue("yyzz")
    cache = domain.sealing_services().path_cache
    assert cache.hits >= 1  # the second licence reused the first one's validation
    if level == "B-LT":  # the pre-signing answer is the one embedded, held while current
        assert _dss_ocsps(first.pdf) == _dss_ocsps(second.pdf)
    else:  # answers asked after each licence's own time-stamp
        assert _dss_ocsps(first.pdf).isdisjoint(_dss_ocsps(second.pdf))

    suspend_seal(domain, fresh_domain.seal_id)
    with pytest.raises(SealUnusable):
        fresh_domain.issue("yyzz")

    reinstate_seal(domain, fresh_domain.seal_id)
    after = fresh_domain.issue("yyzz")
    # The answer embedded before the suspension is not reused: a new one was fetched,
    # validated and embedded.
    assert _dss_ocsps(after.pdf).isdisjoint(_dss_ocsps(first.pdf))
    counter = Verifier([trust_source(fresh_domain.published)], cache_dir=tmp_path / "cache")
    for issued in (second, after):
        report = asyncio.run(verify_bytes(issued.pdf, counter.context(offline=True)))
        # Offline without a synced status list only the licence's own status is unknown.
        failing = [c for c in report.checks if c.outcome != "passed"]
        assert [c.code for c in failing] == ["licence.status"], failing
        assert report.check("signature.integrity").outcome == "passed"

    revoke_seal(domain, fresh_domain.seal_id, "keyCompromise")
    with pytest.raises(SealUnusable):
        fresh_domain.issue("yyzz")
