"""The seal certificate's status from its issuer's CRL: the fallback when OCSP cannot be
reached. The CRL is fetched from the certificate's CRL distribution point, must be signed
by the issuing CA itself (no indirect CRLs), and only a CRL within its thisUpdate/nextUpdate
window says "not revoked"; a validly signed listing says "revoked" at any age (revocation is
final), except "certificate hold", which only a current CRL may assert."""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable

import httpx
from cryptography import x509
from cryptography.x509.oid import CRLEntryExtensionOID

from verify.revocation import CertificateStatusFact

MAX_CRL_BYTES = 1024 * 1024
CLOCK_SKEW = dt.timedelta(minutes=5)

CrlTransport = Callable[[str, float], Awaitable[bytes]]


async def http_get_crl(url: str, timeout: float) -> bytes:
    async with httpx.AsyncClient(timeout=timeout, follow_redirects=False) as client:
        async with client.stream("GET", url) as response:
            response.raise_for_status()
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > MAX_CRL_BYTES:
                    raise ValueError("CRL too large")
            return bytes(body)


def crl_urls(certificate: x509.Certificate) -> list[str]:
    """The HTTP(S) URLs of the certificate's CRL distribution points (issuer's own CRLs)."""
    try:
        points = certificate.extensions.get_extension_for_class(
            x509.CRLDistributionPoints).value
    except x509.ExtensionNotFound:
        return []
    urls = []
    for point in points:
        if point.crl_issuer or not point.full_name:
            continue  # indirect CRLs are not issued in this system
        urls += [name.value for name in point.full_name
                 if isinstance(name, x509.UniformResourceIdentifier)
                 and name.value.startswith(("http://", "https://"))]
    return urls[:4]


def load_issuer_crl(der: bytes, issuer: x509.Certificate) -> x509.CertificateRevocationList | None:
    """The CRL if it is well-formed, names ``issuer`` and carries the issuer's signature."""
    try:
        crl = x509.load_der_x509_crl(der)
        if crl.issuer != issuer.subject:
            return None
        if not crl.is_signature_valid(issuer.public_key()):  # type: ignore[arg-type]
            return None
    except (ValueError, TypeError):
        return None
    return crl


def is_current(crl: x509.CertificateRevocationList, now: dt.datetime) -> bool:
    next_update = crl.next_update_utc
    return (crl.last_update_utc <= now + CLOCK_SKEW
            and next_update is not None and now < next_update)


def crl_number(crl: x509.CertificateRevocationList) -> int | None:
    try:
        return crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
    except x509.ExtensionNotFound:
        return None


def status_from_crl(crl: x509.CertificateRevocationList, certificate: x509.Certificate,
                    now: dt.datetime, *, live: bool, url: str) -> CertificateStatusFact | None:
    """What a CRL already checked by ``load_issuer_crl`` says of ``certificate`` now; None
    when it cannot say (out of its validity window, and not a final revocation)."""
    source = f"per CRL {crl_number(crl)} ({url})"
    entry = crl.get_revoked_certificate_by_serial_number(certificate.serial_number)
    if entry is not None:
        reason = _reason(entry)
        if reason is x509.ReasonFlags.certificate_hold and not is_current(crl, now):
            return None
        return CertificateStatusFact(
            status="revoked", this_update=crl.last_update_utc,
            next_update=crl.next_update_utc, live=live, source=source,
            revoked_at=entry.revocation_date_utc, reason=reason.name if reason else None)
    if not is_current(crl, now):
        return None
    return CertificateStatusFact(status="good", this_update=crl.last_update_utc,
                                 next_update=crl.next_update_utc, live=live, source=source)


def _reason(entry: x509.RevokedCertificate) -> x509.ReasonFlags | None:
    try:
        return entry.extensions.get_extension_for_oid(CRLEntryExtensionOID.CRL_REASON
                                                      ).value.reason
    except x509.ExtensionNotFound:
        return None
