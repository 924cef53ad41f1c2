"""revocation.now, failed or left undecided by one OCSP answer built to be refused (or
believed), on a QR code, where no embedded answer stands in: a forged signature, an answer
about another serial, a responder the seal's issuer never delegated to, a stale "good",
the clock moved past an answer's nextUpdate, and the answers that must be believed
(revoked, unknown, signed by the issuer itself).

Each refused answer leaves the status unknown: with the CRL unreachable that is
"indeterminate", where believing the answer would have said "passed" or "failed"."""

from __future__ import annotations

import dataclasses
import datetime as dt

import checks_kit as kit
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from certseal.domain import KEY_LABELS
from verify.revocation import OcspStatusSource

UNKNOWN_NOW = ("indeterminate", set(), {"revocation.now"})


@pytest.fixture(scope="module")
def pki(trust_domain):
    certificates = trust_domain.domain.certificates()
    token = trust_domain.domain.token()
    return certificates, token


def _ocsp_signer(pki):
    certificates, token = pki
    return certificates.ocsp, token.private_key(KEY_LABELS["ocsp"])


def test_the_genuine_answer_is_believed(bench, genuine):
    report = kit.verify(genuine, bench.context())
    assert kit.judged(report) == ("valid", set(), set())
    assert report.check("revocation.now").details["live"] is True


def test_an_answer_re_signed_by_a_stranger_key(bench, genuine):
    """Everything the genuine responder said, with its name, but another key's signature."""
    stranger, _ = kit.stranger_key_and_certificate()
    report = kit.verify(genuine, bench.context(
        ocsp=lambda request: kit.re_signed(bench.ocsp_answer(request), stranger)))
    assert kit.judged(report) == UNKNOWN_NOW


def test_a_revoked_answer_re_signed_by_a_stranger_key(bench, genuine, pki):
    certificates, _ = pki
    signer, signer_key = _ocsp_signer(pki)
    revoked = kit.responder(certificates.issuing, signer, signer_key, statuses=kit.SaysAll(
        "revoked", dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)))
    stranger, _ = kit.stranger_key_and_certificate()
    report = kit.verify(genuine, bench.context(
        ocsp=lambda request: kit.re_signed(revoked(request), stranger)))
    assert kit.judged(report) == UNKNOWN_NOW


def test_a_genuine_answer_about_another_serial(bench, genuine, pki):
    """The real responder, really signing, about a serial that is not the seal's."""
    certificates, _ = pki
    other = kit.request_for_serial(certificates.issuing,
                                   bench.seal_certificate.serial_number + 1)
    report = kit.verify(genuine, bench.context(ocsp=lambda _request: bench.ocsp_answer(other)))
    assert kit.judged(report) == UNKNOWN_NOW


def test_a_genuine_signers_answer_about_the_same_serial_of_another_issuer(bench, genuine,
                                                                         pki):
    """The region's real OCSP signer (issued by the seal's issuer) answering for the same
    serial number under the root's name and key: another certificate's status."""
    certificates, _ = pki
    signer, signer_key = _ocsp_signer(pki)
    root_answers = kit.responder(certificates.root, signer, signer_key,
                                 statuses=kit.SaysAll("revoked", dt.datetime.now(dt.UTC)))
    other = kit.request_for_serial(certificates.root, bench.seal_certificate.serial_number)
    report = kit.verify(genuine, bench.context(ocsp=lambda _request: root_answers(other)))
    assert kit.judged(report) == UNKNOWN_NOW


def test_an_answer_naming_its_responder_by_name_is_believed(bench, genuine, pki):
    certificates, _ = pki
    signer, signer_key = _ocsp_signer(pki)
    report = kit.verify(genuine, bench.context(ocsp=kit.responder(
        certificates.issuing, signer, signer_key, by_name=True)))
    assert kit.judged(report) == ("valid", set(), set())


def test_a_revocation_without_a_reason(bench, genuine, pki):
    certificates, _ = pki
    signer, signer_key = _ocsp_signer(pki)
    report = kit.verify(genuine, bench.context(ocsp=kit.responder(
        certificates.issuing, signer, signer_key, statuses=kit.SaysAll(
            "revoked", dt.datetime.now(dt.UTC).replace(microsecond=0), reason=None))))
    assert kit.judged(report) == ("invalid", {"revocation.now"}, set())
    assert report.check("revocation.now").details["reason"] is None


def test_a_seal_certificate_without_an_ocsp_url_is_judged_by_its_crl(bench, genuine):
    """No AIA: OCSP is not asked at all (the responder here would say good), the CRL is."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    from certs.qr import decode_qr_payload, encode_qr_payload

    key, certificate = kit.issue_seal_certificate(
        bench, kit.key_usage(digital_signature=True, content_commitment=True),
        without=(x509.AuthorityInformationAccess,))
    claims = dataclasses.replace(decode_qr_payload(genuine).claims,
                                 kid=kit.kid_of(certificate), status_index=None)
    text = encode_qr_payload(claims, lambda m: key.sign(m, ec.ECDSA(hashes.SHA256())))
    asked = []

    def ocsp(request):
        asked.append(request)
        return kit.good_answers(bench)(request)

    report = kit.verify(text, bench.context(seals=(certificate,), ocsp=ocsp))
    assert kit.judged(report) == UNKNOWN_NOW and asked == []
    crl = kit.issuer_crl(bench)
    report = kit.verify(text, bench.context(seals=(certificate,), ocsp=ocsp, crl=lambda: crl))
    assert kit.judged(report) == ("valid", set(), set()) and asked == []


# -- the CRL fallback (OCSP down) --------------------------------------------------------------
def _down(_request):
    raise kit.Unreachable


def test_a_crl_of_the_issuer_listing_the_seal(bench, genuine):
    from cryptography import x509

    crl = kit.issuer_crl(bench, revoked=((bench.seal_certificate.serial_number,
                                          x509.ReasonFlags.key_compromise),))
    report = kit.verify(genuine, bench.context(ocsp=_down, crl=lambda: crl))
    assert kit.judged(report) == ("invalid", {"revocation.now"}, set())
    assert report.check("revocation.now").details["reason"] == "key_compromise"


def test_a_crl_signed_by_the_issuer_key_under_another_name(bench, genuine, pki):
    from cryptography import x509

    certificates, _ = pki
    crl = kit.issuer_crl(bench, issuer_name=certificates.root.subject, revoked=(
        (bench.seal_certificate.serial_number, x509.ReasonFlags.key_compromise),))
    report = kit.verify(genuine, bench.context(ocsp=_down, crl=lambda: crl))
    assert kit.judged(report) == UNKNOWN_NOW


def test_a_crl_past_its_next_update_says_nothing_of_a_good_certificate(bench, genuine):
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    crl = kit.issuer_crl(bench, last_update=now - dt.timedelta(days=2),
                         next_update=now - dt.timedelta(days=1))
    report = kit.verify(genuine, bench.context(ocsp=_down, crl=lambda: crl))
    assert kit.judged(report) == UNKNOWN_NOW


def test_a_crl_from_the_future_says_nothing(bench, genuine):
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    crl = kit.issuer_crl(bench, last_update=now + dt.timedelta(hours=1),
                         next_update=now + dt.timedelta(days=1))
    report = kit.verify(genuine, bench.context(ocsp=_down, crl=lambda: crl))
    assert kit.judged(report) == UNKNOWN_NOW


def test_a_listing_is_final_in_a_stale_crl_but_a_hold_is_not(bench, genuine):
    from cryptography import x509

    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    serial = bench.seal_certificate.serial_number

    def stale(reason):
        return kit.issuer_crl(bench, revoked=((serial, reason),),
                              last_update=now - dt.timedelta(days=2),
                              next_update=now - dt.timedelta(days=1))

    compromised = stale(x509.ReasonFlags.key_compromise)
    report = kit.verify(genuine, bench.context(ocsp=_down, crl=lambda: compromised))
    assert kit.judged(report) == ("invalid", {"revocation.now"}, set())
    held = stale(x509.ReasonFlags.certificate_hold)
    report = kit.verify(genuine, bench.context(ocsp=_down, crl=lambda: held))
    assert kit.judged(report) == UNKNOWN_NOW
    current_hold = kit.issuer_crl(bench, revoked=((serial, x509.ReasonFlags.certificate_hold),))
    report = kit.verify(genuine, bench.context(ocsp=_down, crl=lambda: current_hold))
    assert kit.judged(report) == ("invalid", {"revocation.now"}, set())


def test_a_delegated_responder_the_seal_issuer_never_certified(bench, genuine, pki):
    """A responder certificate with the OCSP-signing purpose, issued by a stranger CA."""
    certificates, _ = pki
    stranger_ca = kit.stranger_key_and_certificate("伪造签发机构")
    key, certificate = kit.stranger_key_and_certificate(
        "伪造应答者", ocsp_signing=True, issuer=stranger_ca)
    report = kit.verify(genuine, bench.context(ocsp=kit.responder(
        certificates.issuing, certificate, key)))
    assert kit.judged(report) == UNKNOWN_NOW


def test_a_self_signed_delegated_responder(bench, genuine, pki):
    certificates, _ = pki
    key, certificate = kit.stranger_key_and_certificate("伪造应答者", ocsp_signing=True)
    report = kit.verify(genuine, bench.context(ocsp=kit.responder(
        certificates.issuing, certificate, key)))
    assert kit.judged(report) == UNKNOWN_NOW


def test_a_responder_certified_by_the_issuer_but_not_for_ocsp(bench, genuine, pki):
    """The region's own TSA (issued by the same CA, real key in the HSM) signs an OCSP
    answer: its certificate does not carry the OCSP-signing purpose."""
    certificates, token = pki
    report = kit.verify(genuine, bench.context(ocsp=kit.responder(
        certificates.issuing, certificates.tsa, token.private_key(KEY_LABELS["tsa"]))))
    assert kit.judged(report) == UNKNOWN_NOW


def test_an_answer_signed_by_the_issuer_itself_is_believed(bench, genuine, pki):
    certificates, token = pki
    report = kit.verify(genuine, bench.context(ocsp=kit.responder(
        certificates.issuing, certificates.issuing, token.private_key(KEY_LABELS["issuing"]))))
    assert kit.judged(report) == ("valid", set(), set())


def test_the_real_responder_says_revoked(bench, genuine, pki):
    certificates, _ = pki
    signer, signer_key = _ocsp_signer(pki)
    when = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)).replace(microsecond=0)
    report = kit.verify(genuine, bench.context(ocsp=kit.responder(
        certificates.issuing, signer, signer_key, statuses=kit.SaysAll("revoked", when))))
    assert kit.judged(report) == ("invalid", {"revocation.now"}, set())
    check = report.check("revocation.now")
    assert check.details["revoked_at"] == when and check.details["reason"] == "key_compromise"


def test_the_real_responder_does_not_know_the_certificate(bench, genuine, pki):
    certificates, _ = pki
    signer, signer_key = _ocsp_signer(pki)

    class Nothing:
        def status_of(self, serial):
            return None

    report = kit.verify(genuine, bench.context(ocsp=kit.responder(
        certificates.issuing, signer, signer_key, statuses=Nothing())))
    assert kit.judged(report) == ("invalid", {"revocation.now"}, set())
    assert report.check("revocation.now").details["status"] == "unknown"


def test_a_good_answer_past_its_next_update(bench, genuine, pki):
    """The real signer, but an answer made two hours ago and valid for one."""
    certificates, _ = pki
    signer, signer_key = _ocsp_signer(pki)
    two_hours_ago = dt.datetime.now(dt.UTC) - dt.timedelta(hours=2)
    report = kit.verify(genuine, bench.context(ocsp=kit.responder(
        certificates.issuing, signer, signer_key, clock=lambda: two_hours_ago)))
    assert kit.judged(report) == UNKNOWN_NOW


def test_a_revoked_answer_past_its_next_update_still_says_revoked(bench, genuine, pki):
    """Revocation is final: an out-of-date "revoked" is still a revocation."""
    certificates, _ = pki
    signer, signer_key = _ocsp_signer(pki)
    long_ago = dt.datetime.now(dt.UTC) - dt.timedelta(days=2)
    report = kit.verify(genuine, bench.context(ocsp=kit.responder(
        certificates.issuing, signer, signer_key, clock=lambda: long_ago,
        statuses=kit.SaysAll("revoked", long_ago.replace(microsecond=0)))))
    assert kit.judged(report) == ("invalid", {"revocation.now"}, set())


def test_a_good_answer_from_the_future(bench, genuine, pki):
    """thisUpdate an hour ahead of the counter's clock (beyond the allowed skew)."""
    certificates, _ = pki
    signer, signer_key = _ocsp_signer(pki)
    ahead = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    report = kit.verify(genuine, bench.context(ocsp=kit.responder(
        certificates.issuing, signer, signer_key, clock=lambda: ahead)))
    assert kit.judged(report) == UNKNOWN_NOW


def test_the_clock_moved_past_the_cached_answer(bench, genuine):
    """An online check caches the live answer (valid one hour); offline, the same counter
    believes it half an hour later and not two hours later."""
    source = kit.ocsp_asking(_ask(bench))
    now = dt.datetime.now(dt.UTC)
    assert kit.judged(kit.verify(genuine, bench.context(ocsp_source=source))) == (
        "valid", set(), set())

    def later(delta):
        return bench.context(ocsp_source=source, offline=True, clock=lambda: now + delta)

    # (Offline this bench has no synced status list: licence.status is undecided.)
    soon = kit.verify(genuine, later(dt.timedelta(minutes=30)))
    assert kit.judged(soon) == ("indeterminate", set(), {"licence.status"})
    assert soon.check("revocation.now").details["live"] is False
    stale = kit.verify(genuine, later(dt.timedelta(hours=2)))
    assert undecided_now(stale)
    assert "out of date" in stale.check("revocation.now").message_en


def test_a_revoked_answer_held_wins_over_a_later_good_one(bench, genuine, pki):
    """Revocation is final: once a counter holds a signed "revoked", a later "good" (a
    responder rolled back, or replaying an old answer) does not undo it, online too."""
    certificates, _ = pki
    signer, signer_key = _ocsp_signer(pki)
    revoked = kit.responder(certificates.issuing, signer, signer_key, statuses=kit.SaysAll(
        "revoked", dt.datetime.now(dt.UTC).replace(microsecond=0)))
    answers = [revoked, bench.ocsp_answer]

    async def transport(_url, request, _timeout):
        return answers[0](request)

    source = kit.ocsp_asking(transport)
    first = kit.verify(genuine, bench.context(ocsp_source=source))
    assert kit.judged(first) == ("invalid", {"revocation.now"}, set())
    answers.pop(0)
    again = kit.verify(genuine, bench.context(ocsp_source=source))
    assert kit.judged(again) == ("invalid", {"revocation.now"}, set())
    assert again.check("revocation.now").details["live"] is False


def test_online_a_held_answer_serves_while_the_responder_is_down(bench, genuine):
    calls = []

    async def transport(_url, request, _timeout):
        calls.append(1)
        if len(calls) > 1:
            raise kit.Unreachable
        return bench.ocsp_answer(request)

    source = kit.ocsp_asking(transport)
    assert kit.judged(kit.verify(genuine, bench.context(ocsp_source=source))) == (
        "valid", set(), set())
    report = kit.verify(genuine, bench.context(ocsp_source=source))
    assert kit.judged(report) == ("valid", set(), set())
    assert report.check("revocation.now").details["live"] is False and len(calls) == 2
    # ...but not once it is past its next update (then neither OCSP nor the CRL answered)
    now = dt.datetime.now(dt.UTC)
    later = kit.verify(genuine, bench.context(ocsp_source=source,
                                              clock=lambda: now + dt.timedelta(hours=2)))
    assert kit.judged(later) == UNKNOWN_NOW
    assert "neither" in later.check("revocation.now").message_en
    # ...and once the responder answers again, its live answer is used, not the held one
    calls.clear()
    again = kit.verify(genuine, bench.context(ocsp_source=source))
    assert again.check("revocation.now").details["live"] is True


def test_an_unreadable_held_answer_is_ignored_online(bench, genuine, tmp_path):
    """The cache file for the seal holds garbage (a torn write, a tampered disk)."""
    (tmp_path / f"{bench.seal_certificate.fingerprint(_sha256()).hex()}.ocsp").write_bytes(
        b"not an OCSP response")
    source = kit.ocsp_asking(_ask(bench), cache_dir=tmp_path)
    report = kit.verify(genuine, bench.context(ocsp_source=source))
    assert kit.judged(report) == ("valid", set(), set())
    assert report.check("revocation.now").details["live"] is True


def _sha256():
    from cryptography.hazmat.primitives import hashes

    return hashes.SHA256()


def test_the_crl_is_fetched_over_http_when_ocsp_is_down(served_domain, bench, genuine):
    """A counter as set up in service (no CRL transport given): the CRL at the seal
    certificate's distribution point, from the served domain."""
    async def down(_url, _request, _timeout):
        raise kit.Unreachable

    report = kit.verify(genuine, bench.context(ocsp_source=OcspStatusSource(transport=down)))
    assert kit.judged(report) == ("valid", set(), set())
    assert report.check("revocation.now").details["source"].startswith("per CRL")


def test_an_answer_is_fresh_until_its_own_next_update(bench, genuine, pki):
    """A responder whose answers last three hours: two hours on, offline, still current
    (freshness is the answer's nextUpdate, not a fixed hour)."""
    certificates, _ = pki
    signer, signer_key = _ocsp_signer(pki)
    answer = kit.responder(certificates.issuing, signer, signer_key,
                           validity=dt.timedelta(hours=3))

    async def transport(_url, request, _timeout):
        return answer(request)

    source = kit.ocsp_asking(transport)
    assert kit.judged(kit.verify(genuine, bench.context(ocsp_source=source))) == (
        "valid", set(), set())
    now = dt.datetime.now(dt.UTC)
    later = kit.verify(genuine, bench.context(ocsp_source=source, offline=True,
                                              clock=lambda: now + dt.timedelta(hours=2)))
    assert kit.judged(later) == ("indeterminate", set(), {"licence.status"})


def test_a_synced_counter_offline_until_the_lists_expire(bench, genuine, tmp_path):
    """After one online check (OCSP answer and status list cached on disk), offline is
    valid; past the status list's expiry (24 h) and the answer's next update, neither
    'now' check can be decided."""
    now = dt.datetime.now(dt.UTC)
    clock = [now]
    ocsp_source = kit.ocsp_asking(_ask(bench), cache_dir=tmp_path / "ocsp")
    status_source = bench.status_source(clock=lambda: clock[0], cache_dir=tmp_path / "status")

    def context(offline):
        return bench.context(ocsp_source=ocsp_source, status_source=status_source,
                             offline=offline, clock=lambda: clock[0])

    assert kit.judged(kit.verify(genuine, context(False))) == ("valid", set(), set())
    assert kit.judged(kit.verify(genuine, context(True))) == ("valid", set(), set())
    clock[0] = now + dt.timedelta(hours=25)
    assert undecided_now(kit.verify(genuine, context(True)))


def test_offline_with_nothing_cached(bench, genuine):
    report = kit.verify(genuine, bench.context(offline=True))
    assert undecided_now(report)
    assert "offline and no cached status" in report.check("revocation.now").message_en


def test_no_certificate_status_source(bench, genuine):
    import dataclasses

    context = dataclasses.replace(bench.context(), certificate_status=None)
    assert kit.judged(kit.verify(genuine, context)) == UNKNOWN_NOW


def test_ocsp_unreachable_and_the_crl_of_a_stranger(bench, genuine, pki):
    """OCSP down, and the CRL at the distribution point is signed by another key."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization

    certificates, _ = pki
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    crl = (x509.CertificateRevocationListBuilder().issuer_name(certificates.issuing.subject)
           .last_update(now - dt.timedelta(minutes=1)).next_update(now + dt.timedelta(days=1))
           .sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.DER))

    def down(_request):
        raise kit.Unreachable

    report = kit.verify(genuine, bench.context(ocsp=down, crl=lambda: crl))
    assert kit.judged(report) == UNKNOWN_NOW


def test_ocsp_unreachable_and_the_genuine_crl(bench, genuine, trust_domain):
    def down(_request):
        raise kit.Unreachable

    crl = trust_domain.domain.current_crl_der("issuing")
    report = kit.verify(genuine, bench.context(ocsp=down, crl=lambda: crl))
    assert kit.judged(report) == ("valid", set(), set())
    assert report.check("revocation.now").details["source"].startswith("per CRL")


def undecided_now(report) -> bool:
    """Offline with no status list synced either: both 'now' checks undecided."""
    return kit.judged(report) == ("indeterminate", set(), {"revocation.now", "licence.status"})


def _ask(bench):
    async def transport(_url, request, _timeout):
        return bench.ocsp_answer(request)

    return transport
