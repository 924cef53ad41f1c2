"""The OCSP responder's view of the certificate table (a `CertificateStatusSource`)."""

from __future__ import annotations

from collections.abc import Callable

from cryptography import x509
from sqlmodel import Session

from ca import store
from ca.models import ISSUING
from ca.ocsp import CertificateStatus, CertificateStatusFacts


class RecordedStatuses:
    """Statuses of the certificates one CA issued, read fresh from the database each time.

    The responder caches its signed answers and is told to drop one when a status changes
    (`OcspResponder.invalidate(serial)`), so this is read only on a cache miss.
    """

    def __init__(self, new_session: Callable[[], Session], issuer_ca: str = ISSUING) -> None:
        self._new_session = new_session
        self._issuer_ca = issuer_ca

    def status_of(self, serial: int) -> CertificateStatusFacts | None:
        if serial <= 0:
            return None
        with self._new_session() as session:
            record = store.find_certificate(session, serial)
        if record is None or record.issuer_ca != self._issuer_ca:
            return None
        status = CertificateStatus(record.status)
        if status is CertificateStatus.GOOD:
            return CertificateStatusFacts(status)
        return CertificateStatusFacts(status, revoked_at=record.revoked_at,
                                      reason=x509.ReasonFlags(record.revocation_reason))
