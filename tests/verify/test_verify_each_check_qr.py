"""Each check of a QR report, failed by an input built to fail exactly that check: the
test pins the verdict and the exact sets of failed and undecided checks, so a check that
is removed or loosened (scripts/mutate-verify) fails a test here.

The counter is online against the shared domain's own responder and status lists, called
in process (checks_kit); what each test changes is the one thing it names."""

from __future__ import annotations

import dataclasses
import datetime as dt

import checks_kit as kit
import pytest
import verify_forgeries as forge

from certs.qr import decode_qr_payload
from certs.samples import sample_licence_data
from certseal import status as domain_status

VALID = ("valid", set(), set())


def test_the_genuine_qr_passes_every_check_on_this_bench(bench, genuine):
    report = kit.verify(genuine, bench.context())
    assert kit.judged(report) == VALID
    assert {c.code for c in report.checks} >= {
        "qr.signer_known", "qr.signature", "chain.trusted", "chain.trust_list",
        "certificate.validity", "qr.issuer_matches", "revocation.now", "licence.validity",
        "licence.status", "chain.trust_list_current"}


# -- qr.signer_known ---------------------------------------------------------------------
def test_a_key_no_accepted_trust_list_names_is_issuer_not_recognised(bench, genuine):
    key, certificate = kit.stranger_key_and_certificate("外省市场监督管理局")
    report = kit.verify(forge.qr_signed_by(genuine, key, kit.kid_of(certificate)),
                        bench.context())
    assert kit.judged(report) == ("indeterminate", set(), {"qr.signer_known"})
    assert report.signer is None and report.trust is None


def test_issuer_not_recognised_is_exit_status_2_at_the_cli(trust_domain, genuine, tmp_path):
    import json
    import subprocess
    import sys
    from pathlib import Path

    key, certificate = kit.stranger_key_and_certificate("外省市场监督管理局")
    forged = forge.qr_signed_by(genuine, key, kit.kid_of(certificate))
    cli = Path(sys.executable).with_name("certseal")
    done = subprocess.run([str(cli), "verify", "--trust-list", str(trust_domain.published),
                           "--offline", "--json", forged], capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 2, done.stderr
    report = json.loads(done.stdout)
    assert report["verdict"] == "indeterminate"
    assert [c["code"] for c in report["checks"] if c["outcome"] != "passed"] == [
        "qr.signer_known"]


def test_a_qr_text_longer_than_the_counters_limit_is_refused(bench, genuine):
    import dataclasses as dc

    from verify.errors import UnusableInput
    from verify.limits import DEFAULT_LIMITS

    context = dc.replace(bench.context(), limits=dc.replace(
        DEFAULT_LIMITS, max_qr_text_chars=len(genuine) - 1))
    with pytest.raises(UnusableInput, match="longer than"):
        kit.verify(genuine, context)


# -- qr.signature --------------------------------------------------------------------------
def test_a_changed_claim_under_the_genuine_signature(bench, genuine):
    forged = forge.qr_with_changed_claim(genuine, holder_name="冒名顶替有限公司")
    assert kit.judged(kit.verify(forged, bench.context())) == (
        "invalid", {"qr.signature"}, set())


def test_the_high_s_twin_of_the_genuine_signature(bench, genuine):
    """Same claims, S replaced by n - S: ECDSA verifies it, the canonical rule does not,
    so the licence has one valid QR text."""
    import zlib

    import base45
    import cbor2

    from certs.qr import PREFIX

    n = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
    cose = cbor2.loads(zlib.decompress(base45.b45decode(genuine[len(PREFIX):])))
    protected, unprotected, payload, signature = cose.value
    s = int.from_bytes(signature[32:], "big")
    assert s <= n // 2  # issued low-S
    twin = signature[:32] + (n - s).to_bytes(32, "big")
    text = PREFIX + base45.b45encode(zlib.compress(cbor2.dumps(cbor2.CBORTag(
        18, [protected, unprotected, payload, twin])), 9)).decode("ascii")
    assert kit.judged(kit.verify(text, bench.context())) == ("invalid", {"qr.signature"}, set())


# -- qr.issuer_matches -------------------------------------------------------------------------
def test_the_department_signs_a_qr_naming_another_issuer(bench, genuine):
    """The seal key really signed it, but the QR names another department as issuer (no
    status index, so the status list of that department is not what is judged)."""
    forged = bench.sign_qr(genuine, issuer_uscc="91350100M000100Y43", status_index=None)
    report = kit.verify(forged, bench.context())
    assert kit.judged(report) == ("invalid", {"qr.issuer_matches"}, set())
    assert report.check("licence.status").outcome.value == "not_applicable"


# -- chain.trusted / chain.trust_list ---------------------------------------------------------
def test_a_self_signed_twin_of_the_seal_certificate_in_the_directory(bench, genuine):
    """The twin's key made a sound signature, but it chains to no listed CA: both chain
    checks fail, and its status cannot be asked of any issuer."""
    key, twin = forge.self_signed_twin(bench.seal_certificate)
    forged = forge.qr_signed_by(genuine, key, kit.kid_of(twin))
    report = kit.verify(forged, bench.context(seals=(bench.seal_certificate, twin)))
    assert kit.judged(report) == ("invalid", {"chain.trusted", "chain.trust_list"},
                                  {"revocation.now"})
    assert report.check("qr.signature").outcome.value == "passed"
    assert "issuer is not known" in report.check("revocation.now").message_en


_MOMENT = dt.timedelta(microseconds=1)  # the licences were issued seconds after the grant


def _with_history(trust_list, service_type: str, history):
    from ca.trustlist import StatusChange

    services = tuple(
        dataclasses.replace(s, history=tuple(StatusChange(st, at) for st, at in history))
        if s.service_type == service_type else s for s in trust_list.services)
    return dataclasses.replace(trust_list, services=services)


def test_the_issuing_ca_was_withdrawn_before_the_licence_was_issued(bench, genuine):
    """The chain is intact, but the list says the issuing CA was withdrawn before the QR's
    issue time: only chain.trust_list fails."""
    granted = bench.trust_list.trust_list.services_of("issuing-ca")[0].history[0].since
    withdrawn = bench.re_signed_list(lambda tl: _with_history(
        tl, "issuing-ca", [("granted", granted), ("withdrawn", granted + _MOMENT)]))
    report = kit.verify(genuine, bench.context(trust_lists=(withdrawn,)))
    assert kit.judged(report) == ("invalid", {"chain.trust_list"}, set())


def test_the_root_was_withdrawn_before_the_licence_was_issued(bench, genuine):
    granted = bench.trust_list.trust_list.services_of("root-ca")[0].history[0].since
    withdrawn = bench.re_signed_list(lambda tl: _with_history(
        tl, "root-ca", [("granted", granted), ("withdrawn", granted + _MOMENT)]))
    report = kit.verify(genuine, bench.context(trust_lists=(withdrawn,)))
    assert kit.judged(report) == ("invalid", {"chain.trust_list"}, set())


def test_a_list_that_no_longer_names_the_root(bench, genuine):
    """Without the root the issuing CA is found but chains nowhere: not trusted, and not
    recognised in the list either."""
    rootless = bench.re_signed_list(lambda tl: dataclasses.replace(tl, services=tuple(
        s for s in tl.services if s.service_type != "root-ca")))
    report = kit.verify(genuine, bench.context(trust_lists=(rootless,)))
    assert kit.judged(report) == ("invalid", {"chain.trusted", "chain.trust_list"}, set())
    assert report.check("chain.trust_list").details["accepted_regions"] == ["440000"]


def test_a_list_whose_root_is_another_certificate(bench, genuine):
    """The list's root entry names a root that did not issue the issuing CA."""
    _, other_root = kit.stranger_key_and_certificate("伪造根证书")
    swapped = bench.re_signed_list(lambda tl: dataclasses.replace(tl, services=tuple(
        dataclasses.replace(s, certificate=other_root) if s.service_type == "root-ca" else s
        for s in tl.services)))
    report = kit.verify(genuine, bench.context(trust_lists=(swapped,)))
    assert kit.judged(report) == ("invalid", {"chain.trusted", "chain.trust_list"}, set())


def test_a_root_listed_only_by_another_region(bench, genuine):
    """Our region's list without its root, and another accepted list that names that root
    (and no issuing CA): a chain must end in a root of the list that lists its CA."""
    rootless = bench.re_signed_list(lambda tl: dataclasses.replace(tl, services=tuple(
        s for s in tl.services if s.service_type != "root-ca")))
    roots_only = bench.re_signed_list(lambda tl: dataclasses.replace(
        tl, region_code="310000", region_name="上海市", services=tuple(
            s for s in tl.services if s.service_type == "root-ca")))
    report = kit.verify(genuine, bench.context(trust_lists=(rootless, roots_only)))
    assert kit.judged(report) == ("invalid", {"chain.trusted", "chain.trust_list"}, set())


def test_an_issuing_ca_granted_within_the_second_the_licence_was_issued(bench, genuine):
    """The QR's time is whole seconds, the grant to the microsecond: a licence sealed in
    the very second of the grant counts as after it."""
    issued_at = decode_qr_payload(genuine).claims.issued_at
    assert issued_at.microsecond == 0
    late_grant = bench.re_signed_list(lambda tl: _with_history(
        tl, "issuing-ca", [("granted", issued_at + dt.timedelta(milliseconds=500))]))
    report = kit.verify(genuine, bench.context(trust_lists=(late_grant,)))
    assert kit.judged(report) == VALID
    too_late = bench.re_signed_list(lambda tl: _with_history(
        tl, "issuing-ca", [("granted", issued_at + dt.timedelta(seconds=1))]))
    assert kit.judged(kit.verify(genuine, bench.context(trust_lists=(too_late,)))) == (
        "invalid", {"chain.trust_list"}, set())


# -- chain.trust_list_current ------------------------------------------------------------------
def test_a_trust_list_past_its_next_update(bench, genuine):
    real_now = dt.datetime.now(dt.UTC)
    stale = bench.re_signed_list(lambda tl: dataclasses.replace(
        tl, issued_at=real_now - dt.timedelta(days=40),
        next_update=real_now - dt.timedelta(minutes=1)))
    report = kit.verify(genuine, bench.context(trust_lists=(stale,)))
    assert kit.judged(report) == ("indeterminate", set(), {"chain.trust_list_current"})


# -- certificate.validity -------------------------------------------------------------------
def test_a_qr_dated_after_the_seal_certificate_expired(bench, genuine):
    after = bench.seal_certificate.not_valid_after_utc + dt.timedelta(days=1)
    forged = bench.sign_qr(genuine, issued_at=after.replace(microsecond=0), status_index=None)
    report = kit.verify(forged, bench.context())
    assert kit.judged(report) == ("invalid", {"certificate.validity"}, set())


def test_a_qr_dated_before_the_seal_certificate_was_valid(bench, genuine):
    """Before the certificate existed the CA was not yet granted either: both say so."""
    before = bench.seal_certificate.not_valid_before_utc - dt.timedelta(days=1)
    forged = bench.sign_qr(genuine, issued_at=before.replace(microsecond=0), status_index=None)
    report = kit.verify(forged, bench.context())
    assert kit.judged(report) == ("invalid", {"certificate.validity", "chain.trust_list"},
                                  set())


# -- licence.validity -------------------------------------------------------------------------
@pytest.fixture(scope="module")
def expired(trust_domain):
    """A licence the department really issued, whose validity ended yesterday."""
    yesterday = dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).date() - dt.timedelta(days=1)
    data = sample_licence_data("spjyxkz")
    data.update({"发证日期": "2020-01-01", "有效期至": yesterday.isoformat()})
    return trust_domain.issue("spjyxkz", data)


def test_an_expired_licence(bench, expired):
    report = kit.verify(kit.qr_text_of(expired.pdf), bench.context())
    assert kit.judged(report) == ("invalid", {"licence.validity"}, set())
    assert "expired" in report.check("licence.validity").message_en


def test_a_licence_not_yet_valid(bench, trust_domain):
    data = sample_licence_data("zyzgzs")
    data["发证日期"] = "2099-01-01"
    issued = trust_domain.issue("zyzgzs", data)
    report = kit.verify(kit.qr_text_of(issued.pdf), bench.context())
    assert kit.judged(report) == ("invalid", {"licence.validity"}, set())
    assert "not valid before" in report.check("licence.validity").message_en


def test_the_last_day_of_validity_still_counts(bench, trust_domain):
    """Valid until today (China Standard Time) is still valid: the boundary is '>'."""
    today = dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).date()
    data = sample_licence_data("spjyxkz")
    data.update({"发证日期": "2020-01-01", "有效期至": today.isoformat()})
    issued = trust_domain.issue("spjyxkz", data)
    assert kit.judged(kit.verify(kit.qr_text_of(issued.pdf), bench.context())) == VALID


# -- licence.status --------------------------------------------------------------------------
def test_a_revoked_licence(bench, trust_domain):
    issued = trust_domain.issue("zyzgzs")
    domain_status.change_licence_status(trust_domain.domain, issued.licence_id, "revoke",
                                        reason="test", actor="operator:test")
    report = kit.verify(kit.qr_text_of(issued.pdf), bench.context())
    assert kit.judged(report) == ("invalid", {"licence.status"}, set())
    assert report.check("licence.status").details["status"] == "invalid"


def test_a_suspended_licence(bench, trust_domain):
    issued = trust_domain.issue("zyzgzs")
    domain_status.change_licence_status(trust_domain.domain, issued.licence_id, "suspend",
                                        reason="test", actor="operator:test")
    report = kit.verify(kit.qr_text_of(issued.pdf), bench.context())
    assert kit.judged(report) == ("invalid", {"licence.status"}, set())
    assert report.check("licence.status").details["status"] == "suspended"


def test_a_status_list_unreachable_and_never_synced(bench, genuine):
    def unreachable(_uscc):
        raise kit.Unreachable

    report = kit.verify(genuine, bench.context(status_list=unreachable))
    assert kit.judged(report) == ("indeterminate", set(), {"licence.status"})


def test_no_status_source_configured(bench, genuine):
    context = dataclasses.replace(bench.context(), licence_status=None)
    assert kit.judged(kit.verify(genuine, context)) == (
        "indeterminate", set(), {"licence.status"})


def test_a_status_list_older_than_the_licence_says_nothing_of_it(bench, genuine):
    """A list signed before the licence was issued reads its index as padding (0, which
    is "valid"): it must not count."""
    claims = decode_qr_payload(genuine).claims
    key = bench.seal_key()
    from certs.status_list import sign_status_list

    # entries past the licence's index: its bit reads 0 ("valid") as padding
    old = sign_status_list(
        [(claims.status_index + 7, "valid")],
        subject_url=domain_status.status_list_url(bench.domain, claims.issuer_uscc),
        signer_key=key,
        signer_certificate=bench.seal_certificate, chain=[bench.issuing_ca],
        now=claims.issued_at - dt.timedelta(minutes=5))
    report = kit.verify(genuine, bench.context(status_list=lambda _uscc: old))
    assert kit.judged(report) == ("indeterminate", set(), {"licence.status"})


def test_a_revocation_after_the_list_was_fetched(bench, trust_domain):
    """One counter (one status-list reader): online, each check fetches the list anew."""
    issued = trust_domain.issue("zyzgzs")
    source = bench.status_source()
    text = kit.qr_text_of(issued.pdf)
    assert kit.judged(kit.verify(text, bench.context(status_source=source))) == VALID
    domain_status.change_licence_status(trust_domain.domain, issued.licence_id, "revoke",
                                        reason="test", actor="operator:test")
    assert kit.judged(kit.verify(text, bench.context(status_source=source))) == (
        "invalid", {"licence.status"}, set())


def test_an_issuer_that_is_no_uscc_is_not_looked_up(bench, genuine):
    """The seal signs a QR whose issuer is not a USCC: no status list is fetched for it
    (it would name a URL path and a cache file)."""
    fetched = []

    def status_list(uscc):
        fetched.append(uscc)
        return bench.status_list_jwt(bench.under_test.department_id)

    forged = bench.sign_qr(genuine, issuer_uscc="../../pki/status/11440100MB2C923971")
    report = kit.verify(forged, bench.context(status_list=status_list))
    assert kit.judged(report) == ("invalid", {"qr.issuer_matches"}, {"licence.status"})
    assert fetched == []


def test_a_status_list_signed_by_another_department(bench, genuine, trust_domain):
    """A department of the same region (its seal chains to the same issuing CA) signs a
    list for our department saying our revoked licence is valid: refused, so the status
    is unknown rather than "valid"."""
    from certs.status_list import sign_status_list
    from seal.registry import active_seal_of

    issued = trust_domain.issue("zyzgzs")
    domain_status.change_licence_status(trust_domain.domain, issued.licence_id, "revoke",
                                        reason="test", actor="operator:test")
    claims = decode_qr_payload(kit.qr_text_of(issued.pdf)).claims
    other = _other_department(trust_domain)
    with trust_domain.domain.session() as session:
        other_seal = active_seal_of(session, other.department_id)
    forged = sign_status_list(
        [(claims.status_index, "valid")],
        subject_url=domain_status.status_list_url(trust_domain.domain, claims.issuer_uscc),
        signer_key=trust_domain.domain.token().private_key(other_seal.key_label),
        signer_certificate=other.certificate, chain=[bench.issuing_ca],
        now=dt.datetime.now(dt.UTC))
    report = kit.verify(kit.qr_text_of(issued.pdf),
                        bench.context(status_list=lambda _uscc: forged))
    assert kit.judged(report) == ("indeterminate", set(), {"licence.status"})


_OTHER = {}


def _other_department(trust_domain):
    """A second department of the shared domain (made once; its own USCC)."""
    if "onboarded" not in _OTHER:
        _OTHER["onboarded"] = trust_domain.domain.add_department(
            name="福州市鼓楼区市场监督管理局", uscc="11350102MB0000000X".replace(
                "X", _check_char("11350102MB0000000")), licence_types=["zyzgzs"])
    return _OTHER["onboarded"]


def _check_char(first17: str) -> str:
    """GB 32100 check character of the first 17 characters of a USCC."""
    alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"
    weights = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28]
    total = sum(alphabet.index(c) * w for c, w in zip(first17, weights, strict=True))
    return alphabet[(31 - total % 31) % 31]


# -- certificate.validity: the key usage of a certificate the region issued ----------------------
@pytest.mark.parametrize(("usage", "judged"), [
    ({"key_agreement": True}, ("invalid", {"certificate.validity"}, set())),
    ({"digital_signature": True}, VALID),
    ({"content_commitment": True}, VALID),
])
def test_a_qr_signed_under_a_certificate_of_this_key_usage(bench, genuine, usage, judged):
    """A seal certificate the region's issuing CA really issued (to the same department),
    whose key usage is the one given; no status index, and OCSP says good of it."""
    key, certificate = kit.issue_seal_certificate(bench, kit.key_usage(**usage))
    claims = dataclasses.replace(decode_qr_payload(genuine).claims, kid=kit.kid_of(certificate),
                                 status_index=None)
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    from certs.qr import encode_qr_payload

    text = encode_qr_payload(claims, lambda m: key.sign(m, ec.ECDSA(hashes.SHA256())))
    report = kit.verify(text, bench.context(seals=(certificate,),
                                            ocsp=kit.good_answers(bench)))
    assert kit.judged(report) == judged


def test_a_directory_certificate_with_an_rsa_key(bench, genuine):
    """QR signatures are ES256 only: a certificate of another key type cannot have made
    one (and must not crash the check)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "RSA")])
    now = dt.datetime.now(dt.UTC)
    certificate = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
                   .public_key(key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now - dt.timedelta(days=1))
                   .not_valid_after(now + dt.timedelta(days=30))
                   .add_extension(kit.key_usage(digital_signature=True), critical=True)
                   .sign(key, hashes.SHA256()))
    stranger, _ = kit.stranger_key_and_certificate()
    forged = forge.qr_signed_by(genuine, stranger, kit.kid_of(certificate))
    report = kit.verify(forged, bench.context(seals=(certificate,)))
    assert kit.judged(report) == ("invalid", {"qr.signature", "chain.trusted",
                                              "chain.trust_list", "qr.issuer_matches"},
                                  {"revocation.now"})


# -- who the report says signed it (and so qr.issuer_matches) -----------------------------------
@pytest.mark.parametrize(("attributes", "department", "uscc"), [
    ({"O": "甲市市场监督管理局", "CN": "乙", "ORG_ID": "NTRCN-11440100MB2C923971"},
     "甲市市场监督管理局", "11440100MB2C923971"),
    ({"CN": "乙市市场监督管理局"}, "乙市市场监督管理局", None),
    ({"O": "丙", "ORG_ID": "VATCN-11440100MB2C923971"}, "丙", None),
])
def test_the_signer_named_by_a_certificate_of_this_subject(bench, genuine, attributes,
                                                          department, uscc):
    """A self-signed certificate in the directory (so the chain fails, whatever the
    subject): the report names its holder from the subject; only an NTRCN- identifier is
    a USCC, so only then can the QR's issuer match."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    oids = {"O": NameOID.ORGANIZATION_NAME, "CN": NameOID.COMMON_NAME,
            "ORG_ID": NameOID.ORGANIZATION_IDENTIFIER}
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(oids[k], v) for k, v in attributes.items()])
    now = dt.datetime.now(dt.UTC)
    certificate = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
                   .public_key(key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now - dt.timedelta(days=1))
                   .not_valid_after(now + dt.timedelta(days=30))
                   .add_extension(kit.key_usage(digital_signature=True), critical=True)
                   .sign(key, hashes.SHA256()))
    forged = forge.qr_signed_by(genuine, key, kit.kid_of(certificate))
    report = kit.verify(forged, bench.context(seals=(certificate,)))
    failed = {"chain.trusted", "chain.trust_list"} | (set() if uscc else {"qr.issuer_matches"})
    assert kit.judged(report) == ("invalid", failed, {"revocation.now"})
    assert (report.signer.department_name, report.signer.uscc) == (department, uscc)

