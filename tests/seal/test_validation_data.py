"""Gathering B-LT material in-process: fresh OCSP answers, refusal of revoked seals."""

from __future__ import annotations

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509 import ocsp
from seal_testing import BASE_URL, DEPARTMENT, REGION_NAME, USCC, SealDomain

from ca.hierarchy import issue_eseal_certificate
from ca.revocation import revoke_certificate
from certseal.db import transaction
from seal.sealing_errors import SealCertificateRevoked, ValidationDataUnavailable
from seal.validation_data import fetch_ocsp_response


def _recorded_seal_certificate(domain: SealDomain, label: str) -> x509.Certificate:
    with transaction(domain.engine) as session:
        return issue_eseal_certificate(
            session, public_key=ec.generate_private_key(ec.SECP256R1()).public_key(),
            department_name=DEPARTMENT, uscc=USCC, region_name=REGION_NAME, key_label=label,
            base_url=BASE_URL, issuing_key=domain.keys.issuing.key)


def test_material_holds_a_fresh_good_ocsp_answer_and_the_crls(seal_domain: SealDomain) -> None:
    material = seal_domain.validation()
    assert material.trust_roots == (seal_domain.certificates.root,)
    assert seal_domain.certificates.issuing in material.certificates
    assert material.crls == (seal_domain.issuing_crl, seal_domain.root_crl)
    (answer,) = material.ocsp_responses
    response = ocsp.load_der_ocsp_response(answer)
    assert response.serial_number == seal_domain.seal_certificate.serial_number
    assert response.certificate_status is ocsp.OCSPCertStatus.GOOD


def test_a_revoked_seal_certificate_is_refused(seal_domain: SealDomain) -> None:
    certificate = _recorded_seal_certificate(seal_domain, "seal-revoked-test")
    with transaction(seal_domain.engine) as session:
        revoke_certificate(session, certificate.serial_number, x509.ReasonFlags.key_compromise,
                           actor="test")
    seal_domain.ocsp.invalidate(certificate.serial_number)
    with pytest.raises(SealCertificateRevoked, match="revoked"):
        seal_domain.validation(certificate=certificate)


def test_a_failing_or_foreign_responder_gives_no_material(seal_domain: SealDomain) -> None:
    def broken(request: bytes) -> bytes:
        raise OSError("responder down")

    with pytest.raises(ValidationDataUnavailable, match="OCSP"):
        fetch_ocsp_response(seal_domain.seal_certificate, seal_domain.certificates.issuing,
                            broken)
    # The CA's responder knows nothing of a certificate issued elsewhere: not "good".
    other_issuer = seal_domain.certificates.root
    with pytest.raises((SealCertificateRevoked, ValidationDataUnavailable)):
        fetch_ocsp_response(seal_domain.seal_certificate, other_issuer, seal_domain.ocsp.respond)


def _plain_request(domain: SealDomain) -> bytes:
    from cryptography.hazmat.primitives import hashes, serialization

    return (ocsp.OCSPRequestBuilder()
            .add_certificate(domain.seal_certificate, domain.certificates.issuing,
                             hashes.SHA1())  # noqa: S303 - an identifier
            .build().public_bytes(serialization.Encoding.DER))


def test_an_answer_asked_with_a_nonce_must_echo_it(seal_domain: SealDomain) -> None:
    import os

    nonce = os.urandom(32)
    answer = fetch_ocsp_response(seal_domain.seal_certificate,
                                 seal_domain.certificates.issuing, seal_domain.ocsp.respond,
                                 nonce=nonce)
    echoed = ocsp.load_der_ocsp_response(answer).extensions.get_extension_for_class(
        x509.OCSPNonce).value.nonce
    assert echoed == nonce
    # A responder (or a cache in between) that hands out its pre-produced answer instead:
    # nothing shows that answer was made after the time-stamp.
    pre_produced = seal_domain.ocsp.respond(_plain_request(seal_domain))
    with pytest.raises(ValidationDataUnavailable, match="nonce"):
        fetch_ocsp_response(seal_domain.seal_certificate, seal_domain.certificates.issuing,
                            lambda request: pre_produced, nonce=nonce)


def test_an_answer_older_than_asked_for_is_refused(seal_domain: SealDomain) -> None:
    import datetime as dt

    later = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5)
    with pytest.raises(ValidationDataUnavailable, match="thisUpdate"):
        fetch_ocsp_response(seal_domain.seal_certificate, seal_domain.certificates.issuing,
                            seal_domain.ocsp.respond, nonce=b"n" * 32, not_before=later)


def test_a_signature_without_a_time_stamp_has_no_token(seal_domain: SealDomain) -> None:
    from asn1crypto import cms

    from seal.validation_data import signature_timestamp_token

    unstamped = cms.ContentInfo({"content_type": "signed_data", "content": {
        "version": "v1", "digest_algorithms": [], "encap_content_info": {
            "content_type": "data"}, "signer_infos": [{
                "version": "v1", "sid": cms.SignerIdentifier(
                    "subject_key_identifier", b"k"),
                "digest_algorithm": {"algorithm": "sha256"},
                "signature_algorithm": {"algorithm": "sha256_ecdsa"},
                "signature": b"s"}]}}).dump()
    with pytest.raises(ValidationDataUnavailable, match="no signature time-stamp"):
        signature_timestamp_token(unstamped + b"\x00" * 64)
    with pytest.raises(ValidationDataUnavailable):
        signature_timestamp_token(b"\x00" * 64)
