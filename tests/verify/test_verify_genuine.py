"""Genuine licences of every shipped type verify `valid`: as the PDF, as the QR text and
as a photo of the printed page, online (live OCSP and status list) and offline."""

from __future__ import annotations

import asyncio
import io
import subprocess

import pytest
from PIL import Image, ImageFilter

from certs.samples import sample_type_codes
from verify.inputs import verify_bytes
from verify.limits import DEFAULT_LIMITS
from verify.pdf_qr import qr_texts_of_first_page

TYPES = sorted(sample_type_codes())


def qr_text_of(pdf: bytes) -> str:
    texts = qr_texts_of_first_page(pdf, DEFAULT_LIMITS)
    assert len(texts) == 1
    return texts[0]


def outcome(report, code: str) -> str:
    check = report.check(code)
    assert check is not None, f"{code} missing: {[c.code for c in report.checks]}"
    return check.outcome.value


def failures(report) -> list:
    return [(c.code, c.outcome.value, c.message_en) for c in report.checks
            if c.outcome.value in ("failed", "indeterminate")]


def test_pdf_offline_without_a_sync_uses_the_embedded_ocsp_answer(trust_domain,
                                                                    verify_offline):
    report = verify_offline(trust_domain.licences["yyzz"].pdf)
    check = report.check("revocation.now")
    assert check.outcome.value == "passed" and check.details["source"] == "embedded"


@pytest.mark.parametrize("code", TYPES)
def test_pdf_offline_after_a_sync_is_valid(trust_domain, verify_synced_offline, code):
    report = verify_synced_offline(trust_domain.licences[code].pdf)
    assert report.verdict == "valid", failures(report)
    assert report.offline
    # The seal certificate's status now: the answer the sync cached (fresher than the
    # one sealed into the PDF).
    assert report.check("revocation.now").details["source"] == "cache"
    status = report.check("licence.status")
    assert status.details["live"] is False and status.details["age_seconds"] >= 0
    assert report.signer.uscc == trust_domain.department_id
    assert report.trust.region_code == "440000"
    assert report.signing_time is not None
    assert report.licence["licence_id"] == trust_domain.licences[code].licence_id
    assert "*" in report.licence["holder_id_masked"]


def test_pdf_offline_without_a_sync_cannot_decide_the_licence_status(trust_domain,
                                                                      verify_offline):
    report = verify_offline(trust_domain.licences["yyzz"].pdf)
    assert report.verdict == "indeterminate", failures(report)
    assert failures(report) == [("licence.status", "indeterminate",
                                 report.check("licence.status").message_en)]


@pytest.mark.parametrize("code", TYPES)
def test_pdf_online_asks_ocsp_and_status_list_live(trust_domain, verify_online, code):
    report = verify_online(trust_domain.licences[code].pdf)
    assert report.verdict == "valid", failures(report)
    assert report.check("revocation.now").details["live"] is True
    status = report.check("licence.status")
    assert status.outcome.value == "passed" and status.details["live"] is True


@pytest.mark.parametrize("code", TYPES)
def test_qr_text_online_and_offline_after_a_sync(trust_domain, synced_counter, code):
    text = qr_text_of(trust_domain.licences[code].pdf).encode()
    online = asyncio.run(verify_bytes(text, synced_counter.context(offline=False)))
    offline = asyncio.run(verify_bytes(text, synced_counter.context(offline=True)))
    for report in (online, offline):
        assert report.verdict == "valid", failures(report)
        assert report.kind == "qr"
        assert report.licence["licence_id"] == trust_domain.licences[code].licence_id
        assert report.signer.uscc == trust_domain.department_id
    assert online.check("revocation.now").details["live"] is True
    # Offline the OCSP answer cached by the online run stands in for "now".
    assert offline.check("revocation.now").details["source"] == "cache"
    assert offline.check("licence.status").details["live"] is False


def test_qr_text_offline_with_nothing_cached_is_indeterminate(trust_domain, counter):
    text = qr_text_of(trust_domain.licences["yyzz"].pdf).encode()
    report = asyncio.run(verify_bytes(text, counter.context(offline=True)))
    assert report.verdict == "indeterminate"
    assert {c for c, *_ in failures(report)} == {"revocation.now", "licence.status"}


def photo_of_printed_page(pdf: bytes, tmp_path, angle: float = 7.0) -> bytes:
    """pdftoppm at 150 dpi, then what a phone does to it: rotated, slightly blurred, JPEG."""
    (tmp_path / "page.pdf").write_bytes(pdf)
    subprocess.run(["pdftoppm", "-r", "150", "-f", "1", "-l", "1", "-png",
                    str(tmp_path / "page.pdf"), str(tmp_path / "page")], check=True)
    page = Image.open(next(tmp_path.glob("page*.png"))).convert("RGB")
    photo = page.rotate(angle, expand=True, fillcolor=(90, 80, 70),
                        resample=Image.Resampling.BICUBIC)
    photo = photo.filter(ImageFilter.GaussianBlur(1.0))
    out = io.BytesIO()
    photo.save(out, format="JPEG", quality=70)
    return out.getvalue()


@pytest.mark.parametrize("code", TYPES)
def test_photo_of_the_printed_page_online(trust_domain, verify_online, code, tmp_path):
    photo = photo_of_printed_page(trust_domain.licences[code].pdf, tmp_path)
    report = verify_online(photo)
    assert report.verdict == "valid", failures(report)
    assert report.kind == "qr"
    assert report.licence["licence_id"] == trust_domain.licences[code].licence_id


def test_photo_offline_after_a_sync(trust_domain, synced_counter, tmp_path):
    photo = photo_of_printed_page(trust_domain.licences["zyzgzs"].pdf, tmp_path, angle=-6)
    asyncio.run(verify_bytes(photo, synced_counter.context(offline=False)))  # caches OCSP
    report = asyncio.run(verify_bytes(photo, synced_counter.context(offline=True)))
    assert report.verdict == "valid", failures(report)
