"""Revoke, hold, reinstate; CRLs that openssl verifies and reads."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from ca_testing import (
    BASE_URL,
    DEPARTMENT,
    REGION_NAME,
    USCC,
    Domain,
    FailingKey,
    openssl,
    write_pem,
)
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from sqlmodel import Session

from ca import store
from ca.crl import build_crl
from ca.errors import (
    AlreadyRevoked,
    CaNotFound,
    CertificateNotFound,
    NotSuspended,
    RevocationRefused,
    SigningKeyMismatch,
)
from ca.hierarchy import issue_eseal_certificate
from ca.models import serial_text
from ca.revocation import reinstate_certificate, revoke_certificate
from certseal.db import transaction

Reason = x509.ReasonFlags


def new_eseal(domain: Domain, label: str = "eseal-1") -> x509.Certificate:
    with transaction(domain.engine) as session:
        return issue_eseal_certificate(
            session, public_key=ec.generate_private_key(ec.SECP256R1()).public_key(),
            department_name=DEPARTMENT, uscc=USCC, region_name=REGION_NAME, key_label=label,
            base_url=BASE_URL, issuing_key=domain.keys.issuing.key, now=domain.now)


def revoke(domain: Domain, serial: int, reason: Reason, **kwargs):
    with transaction(domain.engine) as session:
        return revoke_certificate(session, serial, reason, actor="operator:alice", **kwargs)


def crl_of(domain: Domain, ca_name: str = "issuing", **kwargs) -> x509.CertificateRevocationList:
    key = domain.keys.issuing.key if ca_name == "issuing" else domain.keys.root.key
    with transaction(domain.engine) as session:
        return build_crl(session, ca_name, key, **kwargs)


def openssl_crl(tmp_path: Path, domain: Domain, crl: x509.CertificateRevocationList) -> str:
    """Verify the CRL with openssl against the chain and return its text form."""
    chain = write_pem(tmp_path / "chain.pem", domain.certificates.root,
                      domain.certificates.issuing)
    crl_pem = write_pem(tmp_path / "crl.pem", crl)
    verified = openssl("crl", "-in", crl_pem, "-CAfile", chain, "-verify", "-noout")
    assert verified.returncode == 0, verified.stderr
    assert "verify OK" in verified.stdout + verified.stderr
    text = openssl("crl", "-in", crl_pem, "-noout", "-text")
    assert text.returncode == 0, text.stderr
    return text.stdout


def listed_serials(crl: x509.CertificateRevocationList) -> set[int]:
    return {entry.serial_number for entry in crl}


def test_revoked_eseal_is_on_a_crl_openssl_verifies(tmp_path, domain):
    eseal = new_eseal(domain)
    compromised_since = domain.now - timedelta(days=2)
    revoke(domain, eseal.serial_number, Reason.key_compromise,
           invalidity_date=compromised_since)
    crl = crl_of(domain, now=domain.now + timedelta(minutes=1))
    text = openssl_crl(tmp_path, domain, crl)
    assert f"Serial Number: {serial_text(eseal.serial_number)}" in text
    assert re.search(r"CRL Reason Code: *\n *Key Compromise", text)
    assert "Invalidity Date" in text
    assert re.search(r"X509v3 CRL Number: *\n *1\n", text)
    assert "Authority Key Identifier" in text

    entry = crl.get_revoked_certificate_by_serial_number(eseal.serial_number)
    assert entry.extensions.get_extension_for_class(x509.CRLReason).value.reason \
        is Reason.key_compromise
    assert entry.extensions.get_extension_for_class(x509.InvalidityDate).value \
        .invalidity_date_utc == compromised_since
    assert crl.next_update_utc - crl.last_update_utc == timedelta(days=7)
    assert crl.issuer == domain.certificates.issuing.subject
    assert crl.is_signature_valid(domain.certificates.issuing.public_key())


def test_openssl_refuses_a_crl_signed_by_another_key(tmp_path, domain):
    # The verification above can fail: a CRL in the issuing CA's name but signed by the root.
    forged = (x509.CertificateRevocationListBuilder()
              .issuer_name(domain.certificates.issuing.subject)
              .last_update(domain.now).next_update(domain.now + timedelta(days=1))
              .sign(domain.keys.root.key, hashes.SHA256()))
    chain = write_pem(tmp_path / "chain.pem", domain.certificates.root,
                      domain.certificates.issuing)
    result = openssl("crl", "-in", write_pem(tmp_path / "forged.pem", forged),
                     "-CAfile", chain, "-verify", "-noout")
    assert "verify OK" not in result.stdout + result.stderr


def test_crl_numbers_increase_and_are_kept(domain):
    numbers = []
    for _ in range(3):
        crl = crl_of(domain)
        numbers.append(crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number)
    assert numbers == [1, 2, 3]
    with Session(domain.engine) as session:
        latest = store.latest_crl(session, "issuing")
        assert latest.crl_number == 3
        assert x509.load_der_x509_crl(latest.der) == crl
        assert store.get_authority(session, "issuing").next_crl_number == 4
        assert store.get_authority(session, "issuing").crl_last_issued_at is not None
        assert store.get_authority(session, "root").next_crl_number == 1  # numbered per CA


def test_hold_then_reinstate_leaves_the_next_crl(tmp_path, domain):
    eseal = new_eseal(domain)
    revoke(domain, eseal.serial_number, Reason.certificate_hold)
    held = crl_of(domain)
    text = openssl_crl(tmp_path, domain, held)
    assert re.search(r"CRL Reason Code: *\n *Certificate Hold", text)
    assert eseal.serial_number in listed_serials(held)

    with transaction(domain.engine) as session:
        record = reinstate_certificate(session, eseal.serial_number, actor="operator:bob",
                                       note="seal found")
        assert record.status == "good" and record.revoked_at is None
    after = crl_of(domain)
    assert eseal.serial_number not in listed_serials(after)
    with Session(domain.engine) as session:
        history = store.status_history(session, eseal.serial_number)
    assert [(e.status, e.reason, e.actor) for e in history] == [
        ("good", None, "ca"),
        ("on_hold", "certificateHold", "operator:alice"),
        ("good", "removeFromCRL", "operator:bob"),
    ]


def test_hold_can_become_final_and_keeps_its_time(domain):
    eseal = new_eseal(domain)
    held_at = domain.now + timedelta(hours=1)
    revoke(domain, eseal.serial_number, Reason.certificate_hold, when=held_at)
    with pytest.raises(AlreadyRevoked, match="on hold"):
        revoke(domain, eseal.serial_number, Reason.certificate_hold)
    record = revoke(domain, eseal.serial_number, Reason.key_compromise,
                    when=held_at + timedelta(days=1))
    assert (record.status, record.revocation_reason, record.revoked_at) == \
        ("revoked", "keyCompromise", held_at)
    with pytest.raises(NotSuspended), transaction(domain.engine) as session:
        reinstate_certificate(session, eseal.serial_number, actor="operator:bob")


def test_double_revocation_refused(domain):
    eseal = new_eseal(domain)
    revoke(domain, eseal.serial_number, Reason.superseded)
    with pytest.raises(AlreadyRevoked, match=r"already revoked \(superseded\)"):
        revoke(domain, eseal.serial_number, Reason.key_compromise)
    with Session(domain.engine) as session:
        record = store.get_certificate(session, eseal.serial_number)
        assert record.revocation_reason == "superseded"
        assert len(store.status_history(session, eseal.serial_number)) == 2


def test_reinstating_a_good_certificate_refused(domain):
    eseal = new_eseal(domain)
    with pytest.raises(NotSuspended), transaction(domain.engine) as session:
        reinstate_certificate(session, eseal.serial_number, actor="operator:bob")


def test_unknown_serial_and_root(domain):
    with pytest.raises(CertificateNotFound):
        revoke(domain, 12345, Reason.key_compromise)
    with pytest.raises(RevocationRefused):
        revoke(domain, domain.certificates.root.serial_number, Reason.ca_compromise)
    with pytest.raises(ValueError, match="removeFromCRL"):
        revoke(domain, domain.certificates.tsa.serial_number, Reason.remove_from_crl)
    with pytest.raises(TypeError):
        revoke(domain, domain.certificates.tsa.serial_number, "keyCompromise")
    with pytest.raises(ValueError, match="actor"), transaction(domain.engine) as session:
        revoke_certificate(session, domain.certificates.tsa.serial_number,
                           Reason.key_compromise, actor=" ")


def test_root_crl_lists_revoked_issuing_ca_only(tmp_path, domain):
    eseal = new_eseal(domain)
    revoke(domain, eseal.serial_number, Reason.key_compromise)
    revoke(domain, domain.certificates.issuing.serial_number, Reason.ca_compromise)
    root_crl = crl_of(domain, "root")
    assert listed_serials(root_crl) == {domain.certificates.issuing.serial_number}
    root_pem = write_pem(tmp_path / "root.pem", domain.certificates.root)
    result = openssl("crl", "-in", write_pem(tmp_path / "root-crl.pem", root_crl),
                     "-CAfile", root_pem, "-verify", "-noout", "-text")
    assert "verify OK" in result.stdout + result.stderr
    assert "CA Compromise" in result.stdout
    assert listed_serials(crl_of(domain, "issuing")) == {eseal.serial_number}


def test_unspecified_reason_is_written_without_reason_code(domain):
    eseal = new_eseal(domain)
    revoke(domain, eseal.serial_number, Reason.unspecified)
    entry = crl_of(domain).get_revoked_certificate_by_serial_number(eseal.serial_number)
    assert len(entry.extensions) == 0


def test_openssl_verify_with_crl_check_sees_the_revocation(tmp_path, domain):
    good, bad = new_eseal(domain, "eseal-good"), new_eseal(domain, "eseal-bad")
    revoke(domain, bad.serial_number, Reason.key_compromise)
    chain = write_pem(tmp_path / "chain.pem", domain.certificates.root,
                      domain.certificates.issuing)
    crl = write_pem(tmp_path / "crl.pem", crl_of(domain))
    for cert, ok in ((good, True), (bad, False)):
        result = openssl("verify", "-crl_check", "-CAfile", chain, "-CRLfile", crl,
                         write_pem(tmp_path / "leaf.pem", cert))
        assert (result.returncode == 0) is ok, result.stdout + result.stderr
        if not ok:
            assert "certificate revoked" in result.stdout + result.stderr


def test_crl_with_a_failing_or_wrong_key_changes_nothing(domain):
    with pytest.raises(OSError), transaction(domain.engine) as session:
        build_crl(session, "issuing", FailingKey(domain.keys.issuing.key))
    with pytest.raises(SigningKeyMismatch), transaction(domain.engine) as session:
        build_crl(session, "issuing", domain.keys.root.key)
    with pytest.raises(CaNotFound), transaction(domain.engine) as session:
        build_crl(session, "policy", domain.keys.root.key)
    with pytest.raises(ValueError), transaction(domain.engine) as session:
        build_crl(session, "issuing", domain.keys.issuing.key, validity=timedelta(0))
    with pytest.raises(ValueError, match="aware"), transaction(domain.engine) as session:
        build_crl(session, "issuing", domain.keys.issuing.key, now=domain.now.replace(tzinfo=None))
    with Session(domain.engine) as session:
        assert store.latest_crl(session, "issuing") is None
        assert store.get_authority(session, "issuing").next_crl_number == 1
    assert crl_of(domain).extensions.get_extension_for_class(x509.CRLNumber).value \
        .crl_number == 1
