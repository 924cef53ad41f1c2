"""Two regions side by side without Docker: Guangdong (440000) issues, Shanghai (310000)
verifies at its counter. Each region is a home made by the real init, served by the real
app on its own loopback port; Shanghai recognises Guangdong only through the signed trust
list it imports and refreshes over HTTP, and judges a seal by the issuing CA's status at
the seal's time-stamp."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time
from pathlib import Path

import domain_kit
import httpx
import pytest

from ca.trustlist import TrustListError
from certs.samples import sample_type_codes
from certseal.trust import (
    accepted_trust_lists,
    import_trust_list,
    publish_own_list,
    refresh_trust_lists,
    withdraw_service,
)
from verify.context import StaticSealDirectory, VerificationContext
from verify.limits import DEFAULT_LIMITS
from verify.pdf import verify_pdf
from verify.pdf_qr import qr_texts_of_first_page
from verify.qr import verify_qr_text
from verify.report import Verdict
from verify.revocation import OcspStatusSource
from verify.status_lists import StatusListSource

SHANGHAI_USCC = "11310000MB2C92397Q"


@pytest.fixture(scope="module")
def regions(tmp_path_factory: pytest.TempPathFactory):
    base = tmp_path_factory.mktemp("regions")
    guangdong = domain_kit.make_domain(base / "gd", region="440000", region_name="广东省",
                                       issue_samples=False)
    shanghai = domain_kit.make_domain(base / "sh", region="310000", region_name="上海市",
                                      department_name="上海市市场监督管理局",
                                      department_uscc=SHANGHAI_USCC, issue_samples=False)
    with domain_kit.serving(guangdong), domain_kit.serving(shanghai):
        yield guangdong, shanghai
    guangdong.domain.close()
    shanghai.domain.close()


def counter_context(home: Path, settings, *, offline: bool) -> VerificationContext:
    """What Shanghai's counter trusts: its own and its imported lists (files only), OCSP
    and status lists cached under its home, QR signers from the synced status lists."""
    accepted = accepted_trust_lists(settings)
    status_lists = StatusListSource(
        issuing_cas=lambda: [s.certificate for s in _services(accepted, "issuing-ca")],
        base_url_of=accepted.base_url_of, cache_dir=home / "status-lists")
    return VerificationContext(
        trust_lists=accepted.lists,
        seal_directory=StaticSealDirectory(status_lists.seal_certificates()),
        certificate_status=OcspStatusSource(cache_dir=home / "ocsp-cache"),
        licence_status=status_lists, offline=offline)


def _services(accepted, service_type):
    return [s for signed in accepted.lists for s in signed.trust_list.services_of(service_type)]


def verify(data: bytes, context: VerificationContext):
    return asyncio.run(verify_pdf(data, context))


def verify_qr(text: str, context: VerificationContext):
    return asyncio.run(verify_qr_text(text, context))


def sync_status_list(counter_home: Path, region, uscc: str) -> None:
    """The counter's sync step: the issuing department's signed status list, as served."""
    answer = httpx.get(f"{region.base_url}/pki/status/{uscc}", timeout=5)
    assert answer.status_code == 200, answer.text
    (counter_home / "status-lists").mkdir(exist_ok=True)
    (counter_home / "status-lists" / f"{uscc}.jwt").write_text(answer.text.strip())


def counter_verdict(counter_home: Path, pdf: bytes, tmp: Path, capsys) -> tuple[int, dict]:
    """`certseal verify --home COUNTER FILE --json` as a clerk runs it: (exit status, report)."""
    from certseal.cli import main

    path = tmp / "licence.pdf"
    path.write_bytes(pdf)
    try:
        status = main(["verify", "--home", str(counter_home), str(path), "--json"])
    except SystemExit as exit_:
        status = exit_.code
    return status, json.loads(capsys.readouterr().out)


def qr_of(pdf: bytes) -> str:
    texts = qr_texts_of_first_page(pdf, DEFAULT_LIMITS)
    assert len(texts) == 1
    return texts[0]


def test_recognised_only_after_import_and_withdrawal_honours_signing_time(regions, capsys,
                                                                          tmp_path):
    guangdong, shanghai = regions
    sh_settings = shanghai.domain.settings
    type_code = sorted(sample_type_codes())[0]
    before = guangdong.issue(type_code)

    # Before import: Shanghai's counter knows only its own region.
    report = verify(before.pdf, counter_context(shanghai.home, sh_settings, offline=False))
    assert report.verdict is Verdict.INVALID
    assert report.check("chain.trust_list").outcome == "failed"
    message = report.check("chain.trust_list").message_en
    assert "the issuing region is not recognised" in message
    assert "上海市 (310000)" in message and "440000" not in message
    assert report.trust is None
    status, body = counter_verdict(shanghai.home, before.pdf, tmp_path, capsys)
    assert (status, body["verdict"], body["trust"]) == (1, "invalid", None)

    # Import Guangdong's list as served at /pki/trust-list: the signer is pinned.
    served = httpx.get(f"{guangdong.base_url}/pki/trust-list", timeout=5)
    assert served.headers["content-type"].startswith("application/vnd.certseal.trust-list+jws")
    signer_pem = (guangdong.published / "trust-list-signer.pem").read_bytes()
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes

    expected = x509.load_pem_x509_certificate(signer_pem).fingerprint(hashes.SHA256()).hex()
    imported = import_trust_list(sh_settings, served.content, signer_fingerprint=expected)
    assert imported.newly_pinned and imported.region_code == "440000"
    assert imported.source_url == f"{guangdong.base_url}/pki/trust-list"

    report = verify(before.pdf, counter_context(shanghai.home, sh_settings, offline=False))
    assert report.verdict is Verdict.VALID, [c.to_json() for c in report.checks]
    assert report.trust.region_code == "440000" and report.trust.region_name == "广东省"
    assert report.trust.trust_list_sequence == imported.sequence_number
    # The verifier's own edge (certseal verify --home) reads the imported list too.
    status, body = counter_verdict(shanghai.home, before.pdf, tmp_path, capsys)
    assert (status, body["verdict"], body["trust"]["region_code"]) == (0, "valid", "440000")

    # The QR of Guangdong's licence verifies offline at Shanghai's counter from synced data.
    sync_status_list(shanghai.home, guangdong, guangdong.department_id)
    offline = counter_context(shanghai.home, sh_settings, offline=True)
    qr_report = verify_qr(qr_of(before.pdf), offline)
    assert qr_report.verdict is Verdict.VALID, [c.to_json() for c in qr_report.checks]
    assert qr_report.trust.region_code == "440000"

    # Guangdong withdraws its issuing CA from a whole second T after the first seal, then
    # seals again after T; Shanghai refreshes from the recorded URL.
    withdrawn_at = (dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1)).replace(microsecond=0)
    withdrawal = withdraw_service(guangdong.domain, "issuing-ca", at=withdrawn_at,
                                  reason="issuing CA key compromised")
    assert withdrawal.published.sequence_number == imported.sequence_number + 1
    while dt.datetime.now(dt.UTC) < withdrawn_at + dt.timedelta(milliseconds=50):
        time.sleep(0.05)
    after = guangdong.issue(type_code)

    refreshed = refresh_trust_lists(sh_settings)
    assert [(o.region_code, o.outcome, o.sequence_number) for o in refreshed.outcomes] == [
        ("440000", "updated", withdrawal.published.sequence_number)]

    context = counter_context(shanghai.home, sh_settings, offline=False)
    report_before = verify(before.pdf, context)
    assert report_before.signing_time < withdrawn_at
    assert report_before.verdict is Verdict.VALID, [c.to_json() for c in report_before.checks]
    report_after = verify(after.pdf, context)
    assert report_after.signing_time >= withdrawn_at
    assert report_after.verdict is Verdict.INVALID
    assert report_after.check("chain.trust_list").outcome == "failed"
    assert counter_verdict(shanghai.home, before.pdf, tmp_path, capsys)[0] == 0
    status, body = counter_verdict(shanghai.home, after.pdf, tmp_path, capsys)
    assert (status, body["verdict"]) == (1, "invalid")

    # Offline QR: the licence issued after T is refused from the synced list too.
    sync_status_list(shanghai.home, guangdong, guangdong.department_id)
    offline = counter_context(shanghai.home, sh_settings, offline=True)
    assert verify_qr(qr_of(before.pdf), offline).verdict is Verdict.VALID
    assert verify_qr(qr_of(after.pdf), offline).verdict is Verdict.INVALID

    # A second refresh finds nothing new (ETag) and changes nothing.
    again = refresh_trust_lists(sh_settings)
    assert [o.outcome for o in again.outcomes] == ["unchanged"]


def test_tampered_list_refused_by_the_other_region(regions):
    guangdong, shanghai = regions
    jws = httpx.get(f"{guangdong.base_url}/pki/trust-list", timeout=5).text
    header, payload, signature = jws.split(".")
    import base64
    import json

    data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    data["sequence_number"] += 100
    forged = base64.urlsafe_b64encode(
        json.dumps(data, separators=(",", ":")).encode()).rstrip(b"=").decode()
    with pytest.raises(TrustListError, match="signature does not verify"):
        import_trust_list(shanghai.domain.settings, f"{header}.{forged}.{signature}")
    held = [s.trust_list for s in accepted_trust_lists(shanghai.domain.settings).lists
            if s.trust_list.region_code == "440000"]
    assert all(t.sequence_number < data["sequence_number"] for t in held)


def test_older_sequence_refused_after_a_newer_one(regions):
    guangdong, shanghai = regions
    older = httpx.get(f"{guangdong.base_url}/pki/trust-list", timeout=5).content
    publish_own_list(guangdong.domain)
    newer = httpx.get(f"{guangdong.base_url}/pki/trust-list", timeout=5).content
    assert newer != older
    import_trust_list(shanghai.domain.settings, newer)
    with pytest.raises(TrustListError, match="older than the held sequence"):
        import_trust_list(shanghai.domain.settings, older)
    # The same list again is a no-op, not an error.
    assert import_trust_list(shanghai.domain.settings, newer).unchanged
