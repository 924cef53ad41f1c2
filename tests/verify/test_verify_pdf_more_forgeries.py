"""Signature wrapping and the shadow attacks' 'hide' and 'hide-and-replace' variants, each
built from a genuine licence, come out `invalid` with the check that caught them named.
(What each attack does is in verify_forgeries.py.)"""

from __future__ import annotations

import io

import pytest
import verify_forgeries as forge
from pyhanko.pdf_utils.reader import PdfFileReader


def failed_codes(report) -> set[str]:
    return {c.code for c in report.checks if c.outcome.value == "failed"}


@pytest.fixture(scope="module")
def genuine(trust_domain) -> bytes:
    return trust_domain.licences["yyzz"].pdf


def test_signature_wrapping_moves_the_second_range_past_an_inserted_object(genuine,
                                                                           verify_offline):
    forged = forge.signature_wrapping(genuine)
    # The attack's premise: the second range still names the genuine signed tail (only the
    # ByteRange text in it differs), and the inserted object sits outside both ranges.
    _, (_, b, c, d) = forge._byte_range(genuine)
    _, (_, b2, c2, d2) = forge._byte_range(forged)
    assert (b2, d2) == (b, d) and c2 > c
    assert c2 + d2 == len(forged)
    assert b"999 0 obj" in forged[c:c2]
    report = verify_offline(forged)
    assert report.verdict == "invalid"
    assert failed_codes(report) & {"signature.integrity", "signature.coverage"}


def test_shadow_attack_hide_blanks_the_page_xobject(genuine, verify_offline):
    forged = forge.hide_page_object(genuine)
    reader = PdfFileReader(io.BytesIO(forged), strict=False)
    assert reader.xrefs.total_revisions == PdfFileReader(
        io.BytesIO(genuine), strict=False).xrefs.total_revisions + 1
    report = verify_offline(forged)
    assert report.verdict == "invalid"
    assert "signature.modifications" in failed_codes(report)


def test_shadow_attack_hide_and_replace_swaps_content_and_fonts(genuine, verify_offline):
    forged = forge.hide_and_replace_page(genuine)
    page = PdfFileReader(io.BytesIO(forged), strict=False).root["/Pages"]["/Kids"][0]
    assert b"A DIFFERENT LICENCE" in page["/Contents"].data
    report = verify_offline(forged)
    assert report.verdict == "invalid"
    assert "signature.modifications" in failed_codes(report)
