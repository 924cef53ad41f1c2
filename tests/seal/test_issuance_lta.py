"""CERTSEAL_PADES_LEVEL=B-LTA: issued licences carry a document time-stamp after the seal,
and still verify valid (the time-stamp is an allowed change after signing)."""

from __future__ import annotations

import asyncio

import domain_kit

from certseal.domain import TrustDomain
from certseal.settings import load_settings
from certseal.verifying import Verifier, trust_source
from verify.inputs import verify_bytes


def test_b_lta_adds_a_document_time_stamp_and_verifies(tmp_path):
    import io

    from pyhanko.pdf_utils.reader import PdfFileReader

    under_test = domain_kit.make_domain(tmp_path / "home", issue_samples=False)
    under_test.domain.close()
    under_test.domain = TrustDomain.open(load_settings(
        under_test.home, pades_level="B-LTA", **domain_kit.TEST_PIN_ENV))
    try:
        issued = under_test.issue("yyzz")
    finally:
        under_test.domain.close()
    reader = PdfFileReader(io.BytesIO(issued.pdf))
    kinds = [s.sig_object_type for s in reader.embedded_signatures]
    assert kinds == ["/Sig", "/DocTimeStamp"]
    counter = Verifier([trust_source(under_test.published)], cache_dir=tmp_path / "cache")
    report = asyncio.run(verify_bytes(issued.pdf, counter.context(offline=True)))
    modifications = report.check("signature.modifications")
    assert modifications.outcome == "passed", modifications.message_en
    assert report.check("signature.integrity").outcome == "passed"
