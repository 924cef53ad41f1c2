"""Each check of a PDF report, failed by a document built to fail exactly that check: the
department's genuine seal (its key in the HSM, a real time-stamp, real validation data)
over parts the test chooses, or one change to a genuine licence. The test pins the verdict
and the exact sets of failed and undecided checks, so a check that is removed or loosened
(scripts/mutate-verify) fails a test here.

The counter is online against the shared domain's own responder and status lists, called
in process (checks_kit)."""

from __future__ import annotations

import dataclasses
import datetime as dt

import checks_kit as kit
import pytest
import verify_forgeries as forge

from certs.samples import sample_licence_data
from certseal import status as domain_status
from certseal.domain import KEY_LABELS

VALID = ("valid", set(), set())


@pytest.fixture(scope="module")
def genuine(trust_domain) -> bytes:
    return trust_domain.licences["yyzz"].pdf


@pytest.fixture(scope="module")
def genuine_b_lt(trust_domain) -> bytes:
    """A licence of the older level, B-LT: one signed revision, nothing after it."""
    return trust_domain.issue_b_lt("yyzz").pdf


@pytest.fixture(params=["B-LTA", "B-LT"])
def either(request, genuine, genuine_b_lt) -> tuple[bytes, set[str]]:
    """A genuine licence of each level, and what a change inside the seal's revision
    breaks besides the check under test: at B-LTA (the default) the document time-stamp
    covers the whole file, the seal's revision included."""
    if request.param == "B-LTA":
        return genuine, {"timestamp.document"}
    return genuine_b_lt, set()


@pytest.fixture(scope="module")
def envelope(genuine) -> dict:
    return kit.licence_envelope(genuine)


@pytest.fixture(scope="module")
def genuine_qr(genuine) -> str:
    return kit.qr_text_of(genuine)


def test_the_genuine_licence_passes_every_check_on_this_bench(bench, genuine):
    assert kit.judged(kit.verify(genuine, bench.context())) == VALID


def test_a_licence_sealed_again_by_this_bench_passes_every_check(bench, envelope, genuine_qr):
    """The sealing helper makes genuine licences: what the tests below change is all."""
    pdf = kit.seal_licence(bench, envelope=envelope, qr_text=genuine_qr)
    assert kit.judged(kit.verify(pdf, bench.context())) == VALID


# -- signature.integrity ---------------------------------------------------------------------
def _replace_signature_value(pdf: bytes, key) -> bytes:
    """The CMS signature value replaced by one of ``key`` over the same signed attributes
    (of the same DER length, so nothing else moves): the message digest still matches the
    signed bytes; the signature is not the seal's."""
    from asn1crypto import cms
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    _, (_, first_len, second_start, _) = forge._byte_range(pdf)
    hex_value = pdf[first_len + 1:second_start - 1]
    der = bytes.fromhex(hex_value.decode("ascii"))  # the CMS value, then zero padding
    signer = cms.ContentInfo.load(der)["content"]["signer_infos"][0]
    old = signer["signature"].native
    signed_attrs = signer["signed_attrs"].untag().dump()
    new = old
    while len(new) != len(old) or new == old:
        new = key.sign(signed_attrs, ec.ECDSA(hashes.SHA256()))
    old_hex, new_hex = old.hex().encode(), new.hex().encode()
    assert hex_value.lower().count(old_hex) == 1
    return pdf.replace(hex_value, hex_value.lower().replace(old_hex, new_hex))


def test_a_signature_value_that_is_not_the_seal_keys(bench, either):
    from cryptography.hazmat.primitives.asymmetric import ec

    genuine, also = either
    forged = _replace_signature_value(genuine, ec.generate_private_key(ec.SECP256R1()))
    report = kit.verify(forged, bench.context())
    # The signature time-stamp is over the signature value, so it no longer matches; and
    # pyHanko judges no chain for a signature that does not verify.
    assert kit.judged(report) == ("invalid", {"signature.integrity", "timestamp.signature",
                                              "chain.trusted", *also}, set())
    assert report.check("signature.integrity").details == {"intact": True, "valid": False}


def test_one_changed_byte_in_the_signed_range(bench, either):
    genuine, also = either
    report = kit.verify(forge.flip_signed_byte(genuine), bench.context())
    assert kit.judged(report) == ("invalid", {"signature.integrity", "chain.trusted", *also},
                                  set())
    assert report.check("signature.integrity").details["intact"] is False


# -- signature.count ---------------------------------------------------------------------------
def test_the_seal_signature_in_a_field_of_another_name(bench, envelope, genuine_qr):
    pdf = kit.seal_licence(bench, envelope=envelope, qr_text=genuine_qr, field_name="Approval")
    assert kit.judged(kit.verify(pdf, bench.context())) == ("invalid", {"signature.count"}, set())


def test_a_second_signature_after_sealing(bench, genuine):
    """Sneaky Signature: a stranger's approval signature in a new revision. One signature
    too many, and a change the certification (DocMDP P=1) does not allow."""
    report = kit.verify(forge.add_second_signature(genuine), bench.context())
    assert kit.judged(report) == ("invalid", {"signature.count", "signature.modifications"},
                                  set())


# -- signature.modifications -----------------------------------------------------------------
def test_an_annotation_added_after_sealing(bench, genuine):
    report = kit.verify(forge.cover_with_annotation(genuine), bench.context())
    assert kit.judged(report) == ("invalid", {"signature.modifications"}, set())


def test_page_content_added_after_sealing(bench, genuine):
    report = kit.verify(forge.overlay_page_content(genuine), bench.context())
    assert kit.judged(report) == ("invalid", {"signature.modifications"}, set())


# -- licence.data_matches ---------------------------------------------------------------------
def test_the_licence_data_replaced_after_sealing(bench, genuine):
    data = sample_licence_data("yyzz")
    data["名称"] = "冒名顶替有限公司"
    report = kit.verify(forge.replace_attachment(genuine, data), bench.context())
    assert kit.judged(report) == ("invalid", {"signature.modifications",
                                              "licence.data_matches"}, set())


def test_a_sealed_document_without_licence_data(bench, envelope, genuine_qr):
    """The department's seal over a page with its QR but no licence.json attached."""
    pdf = kit.seal_licence(bench, envelope=envelope, qr_text=genuine_qr,
                           before_sealing=_without_attachments)
    assert kit.judged(kit.verify(pdf, bench.context())) == (
        "invalid", {"licence.data_matches"}, set())


def _without_attachments(pdf: bytes) -> bytes:
    writer = forge._writer(pdf)
    del writer.root["/Names"]
    writer.update_root()
    return forge._out(writer)


# -- qr.signature / qr.matches_document (the QR on the sealed page) -----------------------------
def test_a_sealed_page_whose_qr_a_stranger_signed(bench, envelope, genuine_qr):
    key, certificate = kit.stranger_key_and_certificate("伪造签章")
    qr = forge.qr_signed_by(genuine_qr, key, kit.kid_of(certificate))
    pdf = kit.seal_licence(bench, envelope=envelope, qr_text=qr)
    report = kit.verify(pdf, bench.context())
    assert kit.judged(report) == ("invalid", {"qr.signature"}, set())
    assert "not signed by the document's seal" in report.check("qr.signature").message_en


def test_a_sealed_page_whose_qr_claims_were_changed(bench, envelope, genuine_qr):
    qr = forge.qr_with_changed_claim(genuine_qr, holder_name="冒名顶替有限公司")
    pdf = kit.seal_licence(bench, envelope=envelope, qr_text=qr)
    assert kit.judged(kit.verify(pdf, bench.context())) == ("invalid", {"qr.signature"}, set())


def test_licence_data_other_than_the_qr_digest(bench, envelope, genuine_qr):
    """The seal over data whose digest is not the one the (genuine) QR signs."""
    changed = {**envelope, "data": {**envelope["data"], "名称": "冒名顶替有限公司"}}
    report = kit.verify(kit.seal_licence(bench, envelope=changed, qr_text=genuine_qr),
                        bench.context())
    assert kit.judged(report) == ("invalid", {"qr.matches_document"}, set())
    assert report.check("qr.matches_document").details["fields"] == ["data_digest"]


def test_a_qr_naming_another_licence(bench, envelope, genuine_qr):
    qr = bench.sign_qr(genuine_qr, licence_id=envelope["licence_id"][:-1] + "Z")
    report = kit.verify(kit.seal_licence(bench, envelope=envelope, qr_text=qr), bench.context())
    assert kit.judged(report) == ("invalid", {"qr.matches_document"}, set())
    assert report.check("qr.matches_document").details["fields"] == ["licence_id"]


def test_a_qr_naming_another_type(bench, envelope, genuine_qr):
    qr = bench.sign_qr(genuine_qr, type_code="zyzgzs")
    report = kit.verify(kit.seal_licence(bench, envelope=envelope, qr_text=qr), bench.context())
    assert kit.judged(report) == ("invalid", {"qr.matches_document"}, set())
    assert report.check("qr.matches_document").details["fields"] == ["type_code"]


def test_a_qr_naming_another_issuer(bench, envelope, genuine_qr):
    qr = bench.sign_qr(genuine_qr, issuer_uscc="91350100M000100Y43", status_index=None)
    report = kit.verify(kit.seal_licence(bench, envelope=envelope, qr_text=qr), bench.context())
    assert kit.judged(report) == ("invalid", {"qr.matches_document"}, set())
    assert report.check("qr.matches_document").details["fields"] == ["issuer_uscc"]


# -- revocation.at_signing -------------------------------------------------------------------
def test_a_seal_certificate_revoked_before_the_signing_time(bench, envelope, genuine_qr,
                                                           trust_domain):
    """The seal key used after its certificate was revoked: sealed without validation
    data (B-T), then the validation data added (a DSS update, which the rules allow), in
    which the region's real OCSP signer says the certificate was revoked an hour before
    the time-stamp. The live answer now says good (not revoked now): only 'at signing
    time' fails."""
    domain = trust_domain.domain
    certificates = domain.certificates()
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    revoked = kit.responder(
        certificates.issuing, certificates.ocsp, domain.token().private_key(KEY_LABELS["ocsp"]),
        statuses=kit.SaysAll("revoked", now - dt.timedelta(hours=1)),
        clock=lambda: now - dt.timedelta(minutes=1))
    sealed = kit.seal_licence(bench, envelope=envelope, qr_text=genuine_qr,
                              embed_validation=False)
    pdf = kit.with_validation_data(bench, sealed, [revoked(kit.seal_ocsp_request(bench))])
    report = kit.verify(pdf, bench.context())
    assert kit.judged(report) == ("invalid", {"revocation.at_signing"}, set())


def test_a_seal_without_validation_data_for_the_signing_time(bench, envelope, genuine_qr):
    """B-T only: nothing embedded says the seal's or the TSA's certificates were good
    when they signed. pyHanko's hard-fail validation reports both paths as failures (not
    as missing data), so the chain and the time-stamp fail, and 'at signing time' is not
    judged at all (the missing check alone would make the verdict indeterminate)."""
    pdf = kit.seal_licence(bench, envelope=envelope, qr_text=genuine_qr,
                           embed_validation=False)
    report = kit.verify(pdf, bench.context())
    assert kit.judged(report) == ("invalid", {"chain.trusted", "timestamp.signature"}, set())
    assert report.check("chain.trusted").details["indication"] == (
        "CERTIFICATE_CHAIN_GENERAL_FAILURE")
    assert "revocation.at_signing" in report.missing_checks


# -- timestamp.signature ---------------------------------------------------------------------
def test_the_signature_time_stamp_stripped(bench, either):
    """The time-stamp token is an unsigned attribute: removing it leaves the seal's
    signature sound, and the document without a trusted signing time (and at B-LTA a
    document time-stamp over bytes that changed)."""
    from asn1crypto import cms

    genuine, also = either
    _, (_, first_len, second_start, _) = forge._byte_range(genuine)
    hex_value = genuine[first_len + 1:second_start - 1]
    info = cms.ContentInfo.load(bytes.fromhex(hex_value.decode("ascii")))
    signer = info["content"]["signer_infos"][0]
    assert [a["type"].native for a in signer["unsigned_attrs"]] == [
        "signature_time_stamp_token"]
    signer["unsigned_attrs"] = None
    new = info.dump(force=True).hex().encode("ascii").ljust(len(hex_value), b"0")
    report = kit.verify(genuine.replace(hex_value, new), bench.context())
    assert kit.judged(report) == ("invalid", {"timestamp.signature", *also}, set())
    assert "no signature time-stamp" in report.check("timestamp.signature").message_en


def test_a_time_stamp_by_a_tsa_of_no_accepted_list(bench, envelope, genuine_qr):
    """The project's own TSA code with a stranger key and certificate (time-stamping
    purpose): the time-stamp verifies but its authority chains to no accepted root."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import ExtendedKeyUsageOID

    from ca.tsa import TimeStampAuthority
    from seal.timestamping import InProcessTimeStamper

    key, self_signed = kit.stranger_key_and_certificate("伪造时间戳机构")
    certificate = (x509.CertificateBuilder().subject_name(self_signed.subject)
                   .issuer_name(self_signed.subject).public_key(key.public_key())
                   .serial_number(x509.random_serial_number())
                   .not_valid_before(self_signed.not_valid_before_utc)
                   .not_valid_after(self_signed.not_valid_after_utc)
                   .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]),
                                  critical=True)
                   .sign(key, hashes.SHA256()))
    tsa = TimeStampAuthority(certificate=certificate, chain=[], key=key)
    sealed = kit.seal_licence(bench, envelope=envelope, qr_text=genuine_qr,
                              timestamper=InProcessTimeStamper(tsa.respond),
                              embed_validation=False)
    pdf = kit.with_validation_data(bench, sealed,
                                   [bench.ocsp_answer(kit.seal_ocsp_request(bench))])
    report = kit.verify(pdf, bench.context())
    assert kit.judged(report) == ("invalid", {"timestamp.signature"}, set())
    assert "not trusted" in report.check("timestamp.signature").message_en


def test_a_tsa_no_accepted_list_grants(bench, either):
    # At B-LTA the same TSA made the document time-stamp: it fails for the same reason.
    genuine, also = either
    without_tsa = bench.re_signed_list(lambda tl: dataclasses.replace(tl, services=tuple(
        s for s in tl.services if s.service_type != "tsa")))
    report = kit.verify(genuine, bench.context(trust_lists=(without_tsa,)))
    assert kit.judged(report) == ("invalid", {"timestamp.signature", *also}, set())
    assert "not granted" in report.check("timestamp.signature").message_en
    if also:
        assert "not granted" in report.check("timestamp.document").message_en


def test_a_tsa_withdrawn_before_the_time_stamp(bench, either):
    from ca.trustlist import StatusChange

    genuine, also = either

    def withdraw(tl):
        return dataclasses.replace(tl, services=tuple(
            dataclasses.replace(s, history=(s.history[0], StatusChange(
                "withdrawn", s.history[0].since + dt.timedelta(microseconds=1))))
            if s.service_type == "tsa" else s for s in tl.services))

    report = kit.verify(genuine, bench.context(trust_lists=(bench.re_signed_list(withdraw),)))
    assert kit.judged(report) == ("invalid", {"timestamp.signature", *also}, set())


# -- chain.trust_list (at the signing time) ----------------------------------------------------
def test_an_issuing_ca_withdrawn_before_the_signing_time(bench, genuine):
    from ca.trustlist import StatusChange

    def withdraw(tl):
        return dataclasses.replace(tl, services=tuple(
            dataclasses.replace(s, history=(s.history[0], StatusChange(
                "withdrawn", s.history[0].since + dt.timedelta(microseconds=1))))
            if s.service_type == "issuing-ca" else s for s in tl.services))

    report = kit.verify(genuine, bench.context(trust_lists=(bench.re_signed_list(withdraw),)))
    assert kit.judged(report) == ("invalid", {"chain.trust_list"}, set())


# -- revocation.now (the PDF's embedded answer, offline) -----------------------------------------
@pytest.fixture(scope="module")
def fresh(bench, envelope, genuine_qr) -> bytes:
    """A licence sealed now (its embedded OCSP answer is valid one hour from now, however
    long the session has run)."""
    return kit.seal_licence(bench, envelope=envelope, qr_text=genuine_qr)


def test_offline_the_embedded_answer_serves_until_its_next_update(bench, fresh):
    now = dt.datetime.now(dt.UTC)

    def at(delta):
        return bench.context(offline=True, clock=lambda: now + delta)

    # Offline this bench has no synced status list: licence.status is undecided.
    soon = kit.verify(fresh, at(dt.timedelta(minutes=1)))
    assert kit.judged(soon) == ("indeterminate", set(), {"licence.status"})
    assert soon.check("revocation.now").details["source"] == "embedded"
    late = kit.verify(fresh, at(dt.timedelta(hours=2)))
    assert kit.judged(late) == ("indeterminate", set(), {"licence.status", "revocation.now"})


def test_a_stale_held_answer_gives_way_to_a_fresh_embedded_one(bench, fresh, trust_domain):
    """The counter's cache holds a "good" past its next update; the document carries a
    current one: that one is used."""
    from certseal.domain import KEY_LABELS

    certificates = trust_domain.domain.certificates()
    old = kit.responder(certificates.issuing, certificates.ocsp,
                        trust_domain.domain.token().private_key(KEY_LABELS["ocsp"]),
                        clock=lambda: dt.datetime.now(dt.UTC) - dt.timedelta(hours=3))

    async def transport(_url, request, _timeout):
        return old(request)

    source = kit.ocsp_asking(transport)
    online = kit.verify(fresh, bench.context(ocsp_source=source))  # caches the stale answer
    assert kit.judged(online) == ("indeterminate", set(), {"revocation.now"})
    report = kit.verify(fresh, bench.context(ocsp_source=source, offline=True))
    assert kit.judged(report) == ("indeterminate", set(), {"licence.status"})
    assert report.check("revocation.now").details["source"] == "embedded"


def _ocsp_source_answering(answer):

    async def transport(_url, request, _timeout):
        return answer(request)

    return kit.ocsp_asking(transport)


def _signer_answers(trust_domain, **kw):
    from certseal.domain import KEY_LABELS

    certificates = trust_domain.domain.certificates()
    return kit.responder(certificates.issuing, certificates.ocsp,
                         trust_domain.domain.token().private_key(KEY_LABELS["ocsp"]), **kw)


def test_a_stale_held_revocation_is_not_undone_by_an_embedded_good(bench, fresh,
                                                                   trust_domain):
    three_hours_ago = dt.datetime.now(dt.UTC) - dt.timedelta(hours=3)
    source = _ocsp_source_answering(_signer_answers(
        trust_domain, clock=lambda: three_hours_ago,
        statuses=kit.SaysAll("revoked", three_hours_ago.replace(microsecond=0))))
    kit.verify(fresh, bench.context(ocsp_source=source))  # holds the revocation
    report = kit.verify(fresh, bench.context(ocsp_source=source, offline=True))
    assert kit.judged(report) == ("invalid", {"revocation.now"}, {"licence.status"})


def test_offline_a_current_held_answer_is_preferred_to_the_embedded_one(bench, fresh):
    source = _ocsp_source_answering(bench.ocsp_answer)
    kit.verify(fresh, bench.context(ocsp_source=source))
    report = kit.verify(fresh, bench.context(ocsp_source=source, offline=True))
    assert kit.judged(report) == ("indeterminate", set(), {"licence.status"})
    assert report.check("revocation.now").details["source"] == "cache"


@pytest.fixture(scope="module")
def sealed_bt(bench, envelope, genuine_qr) -> bytes:
    """Sealed without validation data, which each test then adds as it likes."""
    return kit.seal_licence(bench, envelope=envelope, qr_text=genuine_qr,
                            embed_validation=False)


def test_embedded_answers_about_other_certificates_are_passed_over(bench, sealed_bt,
                                                                   trust_domain):
    certificates = trust_domain.domain.certificates()
    other = bench.ocsp_answer(kit.request_for_serial(
        certificates.issuing, bench.seal_certificate.serial_number + 1))
    pdf = kit.with_validation_data(bench, sealed_bt, [
        other, bench.ocsp_answer(kit.seal_ocsp_request(bench))])
    report = kit.verify(pdf, bench.context(offline=True))
    assert kit.judged(report) == ("indeterminate", set(), {"licence.status"})
    assert report.check("revocation.now").details["source"] == "embedded"


def test_the_current_one_of_several_embedded_answers_is_used(bench, sealed_bt, trust_domain):
    """A stale "good" first, a current one after it (the signing-time one covers the
    time-stamp either way)."""
    stale = _signer_answers(trust_domain, clock=lambda: dt.datetime.now(dt.UTC)
                            - dt.timedelta(hours=3))
    request = kit.seal_ocsp_request(bench)
    pdf = kit.with_validation_data(bench, sealed_bt, [stale(request), bench.ocsp_answer(request)])
    report = kit.verify(pdf, bench.context(offline=True))
    assert kit.judged(report) == ("indeterminate", set(), {"licence.status"})
    assert report.check("revocation.now").details["source"] == "embedded"


def test_an_embedded_revocation_counts_however_old(bench, sealed_bt, trust_domain):
    """Embedded: a "revoked" answered three hours ago (out of date now, and not covering
    the signing time, so pyHanko judges 'at signing time' by the current "good" beside
    it). Offline, the revocation stands for 'now': revocation is final."""
    request = kit.seal_ocsp_request(bench)
    three_hours_ago = dt.datetime.now(dt.UTC) - dt.timedelta(hours=3)
    revoked = _signer_answers(trust_domain, clock=lambda: three_hours_ago,
                              statuses=kit.SaysAll("revoked",
                                                   three_hours_ago.replace(microsecond=0)))
    pdf = kit.with_validation_data(bench, sealed_bt, [revoked(request), bench.ocsp_answer(
        request)])
    report = kit.verify(pdf, bench.context(offline=True))
    assert kit.judged(report) == ("invalid", {"revocation.now"}, {"licence.status"})


# -- timestamp.document (PAdES B-LTA) ------------------------------------------------------------
@pytest.fixture(scope="module")
def lta(bench, envelope, genuine_qr) -> bytes:
    return kit.seal_licence(bench, envelope=envelope, qr_text=genuine_qr,
                            archive_timestamp=True)


def test_a_b_lta_licence_passes_with_its_document_time_stamp(bench, lta):
    report = kit.verify(lta, bench.context())
    assert kit.judged(report) == VALID
    assert report.check("timestamp.document").outcome.value == "passed"


def test_a_b_lta_licence_whose_tsa_no_list_grants(bench, lta):
    without_tsa = bench.re_signed_list(lambda tl: dataclasses.replace(tl, services=tuple(
        s for s in tl.services if s.service_type != "tsa")))
    report = kit.verify(lta, bench.context(trust_lists=(without_tsa,)))
    assert kit.judged(report) == ("invalid", {"timestamp.signature", "timestamp.document"},
                                  set())


def test_a_document_time_stamp_by_a_stranger_tsa(bench, fresh):
    """A forger appends a document time-stamp (allowed after sealing) from a TSA of no
    accepted list: it must verify and be trusted like the signature's own."""
    import io

    from pyhanko.sign.signers.pdf_signer import PdfTimeStamper

    from seal.timestamping import InProcessTimeStamper

    writer = forge._writer(fresh)
    out = io.BytesIO()
    PdfTimeStamper(InProcessTimeStamper(_stranger_tsa().respond)).timestamp_pdf(
        writer, "sha256", output=out)
    report = kit.verify(out.getvalue(), bench.context())
    assert kit.judged(report) == ("invalid", {"timestamp.document"}, set())
    assert "not trusted" in report.check("timestamp.document").message_en


def _stranger_tsa():
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import ExtendedKeyUsageOID

    from ca.tsa import TimeStampAuthority

    key, self_signed = kit.stranger_key_and_certificate("伪造时间戳机构")
    certificate = (x509.CertificateBuilder().subject_name(self_signed.subject)
                   .issuer_name(self_signed.subject).public_key(key.public_key())
                   .serial_number(x509.random_serial_number())
                   .not_valid_before(self_signed.not_valid_before_utc)
                   .not_valid_after(self_signed.not_valid_after_utc)
                   .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]),
                                  critical=True)
                   .sign(key, hashes.SHA256()))
    return TimeStampAuthority(certificate=certificate, chain=[], key=key)


# -- licence.validity / licence.status (the PDF) ----------------------------------------------
def test_an_expired_licence(bench, trust_domain):
    yesterday = dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).date() - dt.timedelta(days=1)
    data = sample_licence_data("spjyxkz")
    data.update({"发证日期": "2020-01-01", "有效期至": yesterday.isoformat()})
    report = kit.verify(trust_domain.issue("spjyxkz", data).pdf, bench.context())
    assert kit.judged(report) == ("invalid", {"licence.validity"}, set())


def test_a_revoked_licence(bench, trust_domain):
    issued = trust_domain.issue("zyzgzs")
    domain_status.change_licence_status(trust_domain.domain, issued.licence_id, "revoke",
                                        reason="test", actor="operator:test")
    report = kit.verify(issued.pdf, bench.context())
    assert kit.judged(report) == ("invalid", {"licence.status"}, set())


# -- certificate.key_usage -----------------------------------------------------------------------
@pytest.mark.parametrize(("usage", "judged"), [
    ({"digital_signature": True}, VALID),
    ({"content_commitment": True}, VALID),
    # pyHanko's own key usage constraint refuses the chain too
    ({"key_agreement": True}, ("invalid", {"certificate.key_usage", "chain.trusted"}, set())),
])
def test_a_seal_under_a_certificate_of_this_key_usage(bench, envelope, genuine_qr, usage,
                                                      judged):
    """Sealed by a key whose certificate the region's issuing CA really issued (same
    department), with the key usage given; OCSP says good of it, now and when sealed (the
    validation data added after sealing: pyHanko's signer refuses to embed it for a key
    not usable for non-repudiation)."""
    key, certificate = kit.issue_seal_certificate(bench, kit.key_usage(**usage))
    qr = bench.sign_qr(genuine_qr, status_index=None)  # the genuine seal's QR, no status
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    from certs.qr import decode_qr_payload, encode_qr_payload

    claims = dataclasses.replace(decode_qr_payload(qr).claims, kid=kit.kid_of(certificate))
    qr = encode_qr_payload(claims, lambda m: key.sign(m, ec.ECDSA(hashes.SHA256())))
    good = kit.good_answers(bench)
    sealed = kit.seal_licence(bench, envelope=envelope, qr_text=qr, key=key,
                              certificate=certificate, embed_validation=False)
    pdf = kit.with_validation_data(bench, sealed,
                                   [good(kit.seal_ocsp_request(bench, certificate))])
    report = kit.verify(pdf, bench.context(ocsp=good))
    assert kit.judged(report) == judged
