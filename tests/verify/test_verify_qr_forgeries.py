"""Forged QR payloads: a changed claim, a key of no trusted seal, a twin certificate."""

from __future__ import annotations

import asyncio

import pytest
import verify_forgeries as forge
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from certs.qr import kid_of_certificate
from certseal.verifying import Verifier, trust_source
from verify.context import StaticSealDirectory
from verify.errors import UnusableInput
from verify.inputs import verify_bytes
from verify.limits import DEFAULT_LIMITS
from verify.pdf_qr import qr_texts_of_first_page


@pytest.fixture(scope="module")
def genuine_text(trust_domain) -> str:
    (text,) = qr_texts_of_first_page(trust_domain.licences["yyzz"].pdf, DEFAULT_LIMITS)
    return text


def failed_codes(report) -> set[str]:
    return {c.code for c in report.checks if c.outcome.value == "failed"}


@pytest.mark.parametrize("changes", [
    {"holder_name": "冒名顶替有限公司"},
    {"valid_until": "2099-12-31"},
    {"licence_id": "YYZZ-11440100MB2C923971-0000000002-01X"},
])
def test_one_claim_changed_and_re_encoded(genuine_text, verify_offline, changes):
    report = verify_offline(forge.qr_with_changed_claim(genuine_text, **changes).encode())
    assert report.verdict == "invalid"
    assert "qr.signature" in failed_codes(report)


def test_signed_by_a_key_whose_certificate_no_trust_list_knows(genuine_text, verify_offline):
    """Issuer not recognised: a genuine licence of a region the counter has not synced
    looks the same, so the answer is "cannot tell", never "valid" (and not a crash)."""
    key, certificate = forge.stranger()
    forged = forge.qr_signed_by(genuine_text, key,
                                kid_of_certificate(certificate.public_bytes(Encoding.DER)))
    report = verify_offline(forged.encode())
    assert report.verdict == "indeterminate"
    assert failed_codes(report) == set()
    undecided = {c.code for c in report.checks if c.outcome.value == "indeterminate"}
    assert undecided == {"qr.signer_known"}
    assert "issuer not recognised" in report.check("qr.signer_known").message_en


def test_signed_by_a_twin_the_counter_was_tricked_into_filing(trust_domain, tmp_path,
                                                              genuine_text):
    """Even when the forger's self-signed twin sits in the counter's seal directory, it does
    not chain to the trust list, so its (sound) QR signature counts for nothing."""
    seal_cert = x509.load_pem_x509_certificate(
        trust_domain.domain.seal_certificate_path(trust_domain.seal_id).read_bytes())
    key, twin = forge.self_signed_twin(seal_cert)
    forged = forge.qr_signed_by(genuine_text, key,
                                kid_of_certificate(twin.public_bytes(Encoding.DER)))
    counter = Verifier([trust_source(trust_domain.published)], cache_dir=tmp_path)
    context = counter.context(offline=True)
    context = type(context)(**{**context.__dict__,
                               "seal_directory": StaticSealDirectory([seal_cert, twin])})
    report = asyncio.run(verify_bytes(forged.encode(), context))
    assert report.verdict == "invalid"
    assert {"chain.trusted", "chain.trust_list"} <= failed_codes(report)
    assert report.check("qr.signature").outcome.value == "passed"


@pytest.mark.parametrize("text", [
    "CSL1:", "CSL1:not-base45!", "CSL1:" + "A" * 2000, "HC1:NCFOXN%TS3DH", "hello",
])
def test_text_that_is_not_a_licence_payload_is_refused(text, verify_offline):
    with pytest.raises(UnusableInput):
        verify_offline(text.encode())
