"""The trust domain's hierarchy, checked by openssl as a relying party would."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from pathlib import Path

import pytest
from ca_testing import (
    BASE_URL,
    DEPARTMENT,
    REGION_CODE,
    REGION_NAME,
    USCC,
    Domain,
    FailingKey,
    openssl,
    software_keys,
    write_pem,
)
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509 import ocsp
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID, NameOID
from sqlmodel import Session, SQLModel, select

from ca import store
from ca.errors import CaNotFound, HierarchyExists, SigningKeyMismatch
from ca.hierarchy import (
    HierarchyKeys,
    create_hierarchy,
    current_certificate,
    issue_eseal_certificate,
    load_ca,
    trust_domain_certificates,
)
from ca.models import (
    CertificateAuthority,
    CertificateRole,
    CertificateStatusEvent,
    IssuedCertificate,
    serial_text,
)
from ca.policies import eseal_policy_oid
from ca.profiles import TSL_SIGNING_EKU
from certseal.db import make_engine, transaction


def issue_eseal(domain: Domain, **overrides) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    arguments = dict(public_key=key.public_key(), department_name=DEPARTMENT, uscc=USCC,
                     region_name=REGION_NAME, key_label="eseal-dept-1", base_url=BASE_URL,
                     issuing_key=domain.keys.issuing.key)
    arguments.update(overrides)
    with transaction(domain.engine) as session:
        return issue_eseal_certificate(session, **arguments), key


def ext(certificate: x509.Certificate, kind):
    return certificate.extensions.get_extension_for_class(kind)


def openssl_verify(tmp_path: Path, domain: Domain, leaf: x509.Certificate, *extra: str) -> str:
    root = write_pem(tmp_path / "root.pem", domain.certificates.root)
    issuing = write_pem(tmp_path / "issuing.pem", domain.certificates.issuing)
    leaf_pem = write_pem(tmp_path / "leaf.pem", leaf)
    result = openssl("verify", "-x509_strict", *extra, "-CAfile", root, "-untrusted", issuing,
                     leaf_pem)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_every_certificate_chains_to_the_root(tmp_path, domain):
    certs = domain.certificates
    eseal, _ = issue_eseal(domain)
    for certificate in (certs.root, certs.issuing, certs.ocsp, certs.trust_list, eseal):
        assert openssl_verify(tmp_path, domain, certificate).strip().endswith(": OK")
    assert openssl_verify(tmp_path, domain, certs.tsa, "-purpose", "timestampsign") \
        .strip().endswith(": OK")
    assert openssl_verify(tmp_path, domain, certs.ocsp, "-purpose", "ocsphelper") \
        .strip().endswith(": OK")


def test_openssl_refuses_a_leaf_from_a_foreign_issuing_ca(tmp_path, domain):
    # The same check must be able to fail: a second domain's e-seal does not chain to ours.
    other_keys = software_keys()
    other_engine = make_engine("sqlite:///" + str(tmp_path / "other.db"))
    SQLModel.metadata.create_all(other_engine)
    with transaction(other_engine) as session:
        create_hierarchy(session, region_code="310000", region_name="上海市", base_url=BASE_URL,
                         keys=other_keys)
        foreign = issue_eseal_certificate(
            session, public_key=ec.generate_private_key(ec.SECP256R1()).public_key(),
            department_name="上海市某局", uscc=USCC, region_name="上海市", key_label="x",
            base_url=BASE_URL, issuing_key=other_keys.issuing.key)
    other_engine.dispose()
    root = write_pem(tmp_path / "root.pem", domain.certificates.root)
    issuing = write_pem(tmp_path / "issuing.pem", domain.certificates.issuing)
    result = openssl("verify", "-CAfile", root, "-untrusted", issuing,
                     write_pem(tmp_path / "foreign.pem", foreign))
    assert result.returncode != 0


def test_ca_profiles(domain):
    root, issuing = domain.certificates.root, domain.certificates.issuing
    assert root.subject == root.issuer
    assert root.subject.rfc4514_string() == \
        f"CN=certseal Root CA {REGION_CODE},O={REGION_NAME},C=CN"
    assert issuing.subject.rfc4514_string() == \
        f"CN={REGION_NAME} Issuing CA {REGION_CODE},O={REGION_NAME},C=CN"
    for ca_cert, path_length in ((root, None), (issuing, 0)):
        bc = ext(ca_cert, x509.BasicConstraints)
        assert bc.critical and bc.value.ca and bc.value.path_length == path_length
        ku = ext(ca_cert, x509.KeyUsage)
        assert ku.critical and ku.value.key_cert_sign and ku.value.crl_sign
        assert not ku.value.digital_signature
    assert 20 * 365 <= (root.not_valid_after_utc - root.not_valid_before_utc).days <= 20 * 366
    assert 10 * 365 <= (issuing.not_valid_after_utc - issuing.not_valid_before_utc).days <= 10 * 366
    aia = ext(issuing, x509.AuthorityInformationAccess).value
    assert [(d.access_method, d.access_location.value) for d in aia] == [
        (AuthorityInformationAccessOID.CA_ISSUERS, f"{BASE_URL}/pki/ca/root.crt")]
    crl_dp = ext(issuing, x509.CRLDistributionPoints).value
    assert [n.value for n in crl_dp[0].full_name] == [f"{BASE_URL}/pki/crl/root.crl"]
    assert ext(issuing, x509.AuthorityKeyIdentifier).value.key_identifier == \
        ext(root, x509.SubjectKeyIdentifier).value.digest


def test_service_profiles(domain):
    certs = domain.certificates
    tsa_eku = ext(certs.tsa, x509.ExtendedKeyUsage)
    assert tsa_eku.critical and list(tsa_eku.value) == [ExtendedKeyUsageOID.TIME_STAMPING]
    tsa_ku = ext(certs.tsa, x509.KeyUsage).value
    assert tsa_ku.digital_signature and tsa_ku.content_commitment and not tsa_ku.key_cert_sign

    assert list(ext(certs.ocsp, x509.ExtendedKeyUsage).value) == [ExtendedKeyUsageOID.OCSP_SIGNING]
    assert ext(certs.ocsp, x509.OCSPNoCheck)
    assert (certs.ocsp.not_valid_after_utc - certs.ocsp.not_valid_before_utc) <= \
        timedelta(days=366)

    assert list(ext(certs.trust_list, x509.ExtendedKeyUsage).value) == [TSL_SIGNING_EKU]
    assert ext(certs.trust_list, x509.KeyUsage).value.digital_signature
    for service in (certs.tsa, certs.ocsp, certs.trust_list):
        assert service.issuer == certs.issuing.subject
        assert ext(service, x509.BasicConstraints).value.ca is False


def test_eseal_certificate_profile(domain):
    eseal, key = issue_eseal(domain)
    assert [(a.oid, a.value) for a in eseal.subject] == [
        (NameOID.COUNTRY_NAME, "CN"),
        (NameOID.STATE_OR_PROVINCE_NAME, REGION_NAME),
        (NameOID.ORGANIZATION_NAME, DEPARTMENT),
        (x509.ObjectIdentifier("2.5.4.97"), f"NTRCN-{USCC}"),
        (NameOID.COMMON_NAME, DEPARTMENT),
    ]
    ku = ext(eseal, x509.KeyUsage)
    assert ku.critical and ku.value.digital_signature and ku.value.content_commitment
    assert not (ku.value.key_cert_sign or ku.value.crl_sign or ku.value.key_encipherment)
    bc = ext(eseal, x509.BasicConstraints)
    assert bc.critical and bc.value.ca is False
    aia = ext(eseal, x509.AuthorityInformationAccess).value
    assert [(d.access_method, d.access_location.value) for d in aia] == [
        (AuthorityInformationAccessOID.OCSP, f"{BASE_URL}/pki/ocsp"),
        (AuthorityInformationAccessOID.CA_ISSUERS, f"{BASE_URL}/pki/ca/issuing.crt"),
    ]
    crl_dp = ext(eseal, x509.CRLDistributionPoints).value
    assert [n.value for n in crl_dp[0].full_name] == [f"{BASE_URL}/pki/crl/issuing.crl"]
    assert ext(eseal, x509.SubjectKeyIdentifier).value == \
        x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    assert ext(eseal, x509.AuthorityKeyIdentifier).value.key_identifier == \
        ext(domain.certificates.issuing, x509.SubjectKeyIdentifier).value.digest
    assert [p.policy_identifier for p in ext(eseal, x509.CertificatePolicies).value] == \
        [eseal_policy_oid()]
    assert isinstance(eseal.signature_hash_algorithm, hashes.SHA256)


def test_openssl_text_shows_the_eseal_subject_and_urls(tmp_path, domain):
    eseal, _ = issue_eseal(domain)
    result = openssl("x509", "-in", write_pem(tmp_path / "eseal.pem", eseal), "-noout", "-text",
                     "-nameopt", "utf8,sep_comma_plus_space")
    assert result.returncode == 0, result.stderr
    text = result.stdout
    assert (f"Subject: C=CN, ST={REGION_NAME}, O={DEPARTMENT}, "
            f"organizationIdentifier=NTRCN-{USCC}, CN={DEPARTMENT}") in text
    assert "X509v3 Key Usage: critical\n                Digital Signature, Non Repudiation" in text
    assert "CA:FALSE" in text
    assert f"OCSP - URI:{BASE_URL}/pki/ocsp" in text
    assert f"CA Issuers - URI:{BASE_URL}/pki/ca/issuing.crt" in text
    assert f"URI:{BASE_URL}/pki/crl/issuing.crl" in text


def test_serials_are_random_distinct_and_long(domain):
    serials = [c.serial_number for c in vars(domain.certificates).values()]
    serials += [issue_eseal(domain)[0].serial_number for _ in range(20)]
    assert len(set(serials)) == len(serials)
    # x509.random_serial_number gives 159 random bits: a serial shorter than 64 bits would
    # happen with probability 2^-95 here, so this catches a counter or a short source.
    assert all(s.bit_length() >= 64 for s in serials)
    assert all(0 < s < 2**159 for s in serials)
    # Bits vary across serials: no fixed prefix (e.g. a timestamp or counter in the top bits).
    assert len({s >> 120 for s in serials}) > len(serials) // 2


def test_rows_recorded_for_every_certificate(domain):
    eseal, _ = issue_eseal(domain)
    certs = domain.certificates
    with Session(domain.engine) as session:
        authorities = {a.name: a for a in session.exec(select(CertificateAuthority))}
        assert set(authorities) == {"root", "issuing"}
        assert authorities["issuing"].certificate_serial == serial_text(certs.issuing.serial_number)
        assert authorities["issuing"].key_label == "ca-issuing"
        assert authorities["root"].next_crl_number == 1
        rows = {r.role: r for r in session.exec(select(IssuedCertificate))}
        assert set(rows) == {role.value for role in CertificateRole}
        expected = {"root-ca": (certs.root, "root"), "issuing-ca": (certs.issuing, "root"),
                    "tsa": (certs.tsa, "issuing"), "ocsp": (certs.ocsp, "issuing"),
                    "trust-list-signer": (certs.trust_list, "issuing"),
                    "eseal": (eseal, "issuing")}
        for role, (certificate, issuer_ca) in expected.items():
            row = rows[role]
            assert x509.load_der_x509_certificate(row.der) == certificate
            assert row.issuer_ca == issuer_ca
            assert row.status == "good"
            assert row.sha256_fingerprint == certificate.fingerprint(hashes.SHA256()).hex()
            assert row.not_after == certificate.not_valid_after_utc
            assert row.subject == certificate.subject.rfc4514_string()
        assert rows["eseal"].key_label == "eseal-dept-1"
        # The key hash is what an OCSP client puts in its CertID: compare with cryptography's.
        request = ocsp.OCSPRequestBuilder().add_certificate(
            eseal, certs.issuing, hashes.SHA1()).build()  # noqa: S303 - OCSP CertID hash
        assert rows["eseal"].issuer_key_hash == request.issuer_key_hash.hex()
        assert store.find_by_issuer_key_hash(session, request.issuer_key_hash,
                                             eseal.serial_number).role == "eseal"
        assert store.find_by_issuer_key_hash(session, b"\0" * 20, eseal.serial_number) is None
        for not_ours in (0, -eseal.serial_number, eseal.serial_number + 1):
            assert store.find_by_issuer_key_hash(session, request.issuer_key_hash,
                                                 not_ours) is None
        events = store.status_history(session, eseal.serial_number)
        assert [(e.status, e.actor) for e in events] == [("good", "ca")]


def test_load_ca_and_role_getters(domain):
    with Session(domain.engine) as session:
        assert load_ca(session, "issuing") == (domain.certificates.issuing, "ca-issuing")
        assert load_ca(session, "root") == (domain.certificates.root, "ca-root")
        with pytest.raises(CaNotFound, match="'policy'"):
            load_ca(session, "policy")
        assert current_certificate(session, CertificateRole.TSA) == domain.certificates.tsa
        assert trust_domain_certificates(session) == domain.certificates
        assert store.certificates_by_role(session, "ocsp") == [domain.certificates.ocsp]


def test_creating_a_second_hierarchy_is_refused(domain):
    with pytest.raises(HierarchyExists, match="never overwritten"), \
            transaction(domain.engine) as session:
        create_hierarchy(session, region_code=REGION_CODE, region_name=REGION_NAME,
                         base_url=BASE_URL, keys=software_keys())
    with Session(domain.engine) as session:
        assert len(session.exec(select(IssuedCertificate)).all()) == 5
        assert load_ca(session, "root")[0] == domain.certificates.root


def count_rows(engine) -> int:
    with Session(engine) as session:
        return sum(len(session.exec(select(table)).all())
                   for table in (CertificateAuthority, IssuedCertificate, CertificateStatusEvent))


@pytest.mark.parametrize("good_signatures", [0, 1, 2])
def test_a_failing_key_mid_way_leaves_nothing(engine, good_signatures):
    keys = software_keys()
    # The issuing key signs TSA, OCSP signer and trust-list signer in turn: fail at each.
    broken = HierarchyKeys(root=keys.root, tsa=keys.tsa, ocsp=keys.ocsp,
                           trust_list=keys.trust_list,
                           issuing=(FailingKey(keys.issuing.key, good_signatures), "ca-issuing"))
    with pytest.raises(OSError, match="device error"), transaction(engine) as session:
        create_hierarchy(session, region_code=REGION_CODE, region_name=REGION_NAME,
                         base_url=BASE_URL, keys=broken)
    assert count_rows(engine) == 0
    # ... and the domain can then be created for real.
    with transaction(engine) as session:
        create_hierarchy(session, region_code=REGION_CODE, region_name=REGION_NAME,
                         base_url=BASE_URL, keys=keys)
    assert count_rows(engine) == 2 + 5 + 5  # authorities, certificates, their events


def test_a_failing_key_adds_nothing_even_to_the_open_session(engine):
    keys = software_keys()
    broken = dataclasses.replace(keys, issuing=(FailingKey(keys.issuing.key, 1), "ca-issuing"))
    with Session(engine) as session:
        with pytest.raises(OSError):
            create_hierarchy(session, region_code=REGION_CODE, region_name=REGION_NAME,
                             base_url=BASE_URL, keys=broken)
        assert not session.new and not session.dirty
        # Nothing flushed into the caller's open transaction either.
        for table in (CertificateAuthority, IssuedCertificate, CertificateStatusEvent):
            assert session.exec(select(table)).all() == []


def test_eseal_with_a_failing_or_wrong_key_records_nothing(domain):
    with pytest.raises(OSError):
        issue_eseal(domain, issuing_key=FailingKey(domain.keys.issuing.key))
    with pytest.raises(SigningKeyMismatch):
        issue_eseal(domain, issuing_key=domain.keys.root.key)
    with Session(domain.engine) as session:
        assert store.records_with_role(session, CertificateRole.ESEAL) == []


@pytest.mark.parametrize(("overrides", "error"), [
    ({"uscc": "91350100M000100Y44"}, ValueError),
    ({"department_name": ""}, ValueError),
    ({"base_url": "ftp://x"}, ValueError),
    ({"key_label": ""}, ValueError),
    ({"validity_days": 0}, ValueError),
    ({"validity_days": "365"}, TypeError),
    ({"public_key": b"not a key"}, TypeError),
])
def test_bad_eseal_input_fails_before_signing(domain, overrides, error):
    sentinel = FailingKey(domain.keys.issuing.key)  # would raise OSError if ever used
    with pytest.raises(error):
        issue_eseal(domain, issuing_key=sentinel, **overrides)


def test_eseal_validity_never_outlives_the_issuing_ca(domain):
    eseal, _ = issue_eseal(domain, validity_days=365 * 30)
    assert eseal.not_valid_after_utc == domain.certificates.issuing.not_valid_after_utc
