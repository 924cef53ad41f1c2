"""CERTSEAL_PADES_LEVEL: B-LTA by default (the seal, then a revision with the DSS and a
document time-stamp), B-LT when set (one revision); licences of both levels verify valid
(older licences are B-LT)."""

from __future__ import annotations

import asyncio
import io

import domain_kit
import pytest
from pyhanko.pdf_utils.reader import PdfFileReader

from certseal.domain import TrustDomain
from certseal.settings import load_settings
from certseal.verifying import Verifier, trust_source
from verify.inputs import verify_bytes


@pytest.mark.parametrize(("level", "kinds", "revisions"), [
    (None, ["/Sig", "/DocTimeStamp"], 3),
    ("B-LTA", ["/Sig", "/DocTimeStamp"], 3),
    ("B-LT", ["/Sig"], 2),
])
def test_each_level_issues_its_layout_and_verifies(tmp_path, level, kinds, revisions):
    under_test = domain_kit.make_domain(tmp_path / "home", issue_samples=False)
    if level is not None:
        under_test.domain.close()
        under_test.domain = TrustDomain.open(load_settings(
            under_test.home, pades_level=level, **domain_kit.TEST_PIN_ENV))
    try:
        issued = under_test.issue("yyzz")
    finally:
        under_test.domain.close()
    reader = PdfFileReader(io.BytesIO(issued.pdf))
    assert [s.sig_object_type for s in reader.embedded_signatures] == kinds
    assert reader.xrefs.total_revisions == revisions  # the render, the seal[, DSS + time-stamp]
    counter = Verifier([trust_source(under_test.published)], cache_dir=tmp_path / "cache")
    report = asyncio.run(verify_bytes(issued.pdf, counter.context(offline=True)))
    # Offline without a synced status list only the licence's own status is unknown.
    assert [c.code for c in report.checks if c.outcome != "passed"] == ["licence.status"]
    judged = {c.code: c.outcome.value for c in report.checks}
    assert judged.get("timestamp.document") == ("passed" if len(kinds) == 2 else None)
    assert judged["signature.modifications"] == "passed"
