"""The database as the OCSP responder's status source."""

from __future__ import annotations

from ca_testing import Domain
from cryptography import x509

from ca.ocsp import CertificateStatus
from ca.revocation import reinstate_certificate, revoke_certificate
from ca.status import RecordedStatuses
from certseal.db import session_factory, transaction


def test_statuses_follow_the_table(domain: Domain):
    statuses = RecordedStatuses(session_factory(domain.engine))
    tsa = domain.certificates.tsa.serial_number
    assert statuses.status_of(tsa).status is CertificateStatus.GOOD
    # Not issued by the issuing CA (root-issued) or never issued: unknown.
    assert statuses.status_of(domain.certificates.issuing.serial_number) is None
    assert statuses.status_of(12345) is None
    assert statuses.status_of(0) is None

    with transaction(domain.engine) as session:
        revoke_certificate(session, tsa, x509.ReasonFlags.certificate_hold, actor="op",
                           when=domain.now)
    facts = statuses.status_of(tsa)
    assert (facts.status, facts.reason, facts.revoked_at) == \
        (CertificateStatus.ON_HOLD, x509.ReasonFlags.certificate_hold, domain.now)

    with transaction(domain.engine) as session:
        reinstate_certificate(session, tsa, actor="op")
        revoke_certificate(session, tsa, x509.ReasonFlags.key_compromise, actor="op")
    facts = statuses.status_of(tsa)
    assert (facts.status, facts.reason) == (CertificateStatus.REVOKED,
                                            x509.ReasonFlags.key_compromise)
    root_view = RecordedStatuses(session_factory(domain.engine), issuer_ca="root")
    assert root_view.status_of(domain.certificates.issuing.serial_number).status \
        is CertificateStatus.GOOD
