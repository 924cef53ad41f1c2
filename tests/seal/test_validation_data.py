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
