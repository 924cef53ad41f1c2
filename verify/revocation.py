"""The seal certificate's status now: OCSP at the URL in its AIA extension, with a timeout,
answers checked (signed by the issuer or a responder it delegated to) and cached. Offline,
only the cache is consulted. Online, when OCSP gives no usable answer (unreachable, no URL,
a bad answer), the issuer's CRL is the fallback (verify/crl.py), cached the same way.
Network access sits behind ``OcspTransport`` and ``CrlTransport`` so tests and offline
counters run without sockets.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from stat import S_ISREG
from typing import TYPE_CHECKING, Protocol

import httpx
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509 import ocsp
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID

from verify.cache import Cache
from verify.certificates import CertificateFacts, spki_key_of

if TYPE_CHECKING:
    from verify.crl import CrlTransport

log = logging.getLogger("verify.revocation")
MAX_OCSP_RESPONSE_BYTES = 64 * 1024
# An answer without nextUpdate is fresh this long (RFC 5019 responders always set it).
DEFAULT_FRESHNESS = dt.timedelta(hours=1)

OcspTransport = Callable[[str, bytes, float], Awaitable[bytes]]


@dataclass(frozen=True)
class CertificateStatusFact:
    status: str  # "good", "revoked", "unknown"
    this_update: dt.datetime
    next_update: dt.datetime | None
    live: bool  # fetched for this verification (False: from the cache)
    source: str
    revoked_at: dt.datetime | None = None
    reason: str | None = None


class CertificateStatusSource(Protocol):
    async def status_now(self, certificate: CertificateFacts, issuer: CertificateFacts,
                         *, offline: bool, now: dt.datetime) -> CertificateStatusFact | None:
        ...


async def http_post_ocsp(url: str, request: bytes, timeout: float) -> bytes:
    async with httpx.AsyncClient(timeout=timeout, follow_redirects=False) as client:
        response = await client.post(url, content=request,
                                     headers={"Content-Type": "application/ocsp-request"})
        response.raise_for_status()
        if len(response.content) > MAX_OCSP_RESPONSE_BYTES:
            raise ValueError("OCSP response too large")
        return response.content


class OcspStatusSource:
    """OCSP over HTTP with a cache (in memory, and in ``cache_dir`` when given, so an offline
    run can use what an earlier online run fetched); online, the issuer's CRL when OCSP
    gives no usable answer (fetched with the same timeout, cached until its nextUpdate)."""

    def __init__(self, *, transport: OcspTransport = http_post_ocsp, timeout: float = 3.0,
                 cache_dir: Path | None = None,
                 crl_transport: CrlTransport | None = None) -> None:
        self._transport = transport
        self._timeout = timeout
        self._cache_dir = cache_dir
        self._crl_transport = crl_transport
        # Answers this process fetched: name -> (answer, when stored in ns).
        self._memory = Cache()
        self._disk = HeldFiles()
        # What a held answer says of a certificate and its issuer, per (answer, both DERs).
        self._facts = Cache()

    async def status_now(self, certificate: CertificateFacts, issuer: CertificateFacts,
                         *, offline: bool, now: dt.datetime) -> CertificateStatusFact | None:
        key = certificate.sha256.hex()
        cached = self._cached(key)
        held = None
        if cached is not None:
            held = self._read_stored(cached, certificate, issuer)
            if held is not None and (offline or held.status == "revoked"):
                return held
        if offline:
            return None
        # Online means confirmed live; a held answer serves only when nobody answers.
        fact = await self._ask_ocsp(certificate, issuer, key)
        if fact is None and held is not None and is_fresh(held, now):
            return held
        if fact is None:
            fact = await self._ask_crl(certificate, issuer, now)
        return fact

    def _read_stored(self, cached: bytes, certificate: CertificateFacts,
                     issuer: CertificateFacts) -> CertificateStatusFact | None:
        # The same bytes object comes back while the file is unchanged, so its hash is
        # computed once.
        return self._facts.cached((cached, certificate.der, issuer.der), lambda: (
            read_ocsp_response(cached, certificate, issuer, live=False, source="cache")))

    async def _ask_ocsp(self, certificate: CertificateFacts, issuer: CertificateFacts,
                        key: str) -> CertificateStatusFact | None:
        url = ocsp_url(certificate.certificate)
        if url is None:
            return None
        request = (ocsp.OCSPRequestBuilder()
                   .add_certificate(certificate.certificate, issuer.certificate,
                                    hashes.SHA1())  # noqa: S303 - an identifier
                   .build().public_bytes(serialization.Encoding.DER))
        try:
            answer = await self._transport(url, request, self._timeout)
        except Exception as exc:  # network failures of every kind: indeterminate, not a crash
            log.info("OCSP %s unreachable: %s", url, type(exc).__name__)
            return None
        fact = read_ocsp_response(answer, certificate, issuer, live=True, source=url)
        if fact is not None:
            self._store(key, answer)
        return fact

    async def _ask_crl(self, certificate: CertificateFacts, issuer: CertificateFacts,
                       now: dt.datetime) -> CertificateStatusFact | None:
        """The issuer's CRL: a cached one while it is current, else fetched (and cached
        when it is the issuer's and verifies)."""
        from verify import crl as crls

        fetch = self._crl_transport or crls.http_get_crl
        for url in crls.crl_urls(certificate.certificate):
            key = hashlib.sha256(url.encode() + issuer.spki_key).hexdigest()
            cached = self._cached(key, suffix="crl", limit=crls.MAX_CRL_BYTES)
            if cached is not None:
                crl = crls.load_issuer_crl(cached, issuer.certificate)
                if crl is not None and crls.is_current(crl, now):
                    return crls.status_from_crl(crl, certificate.certificate, now, live=False,
                                                url=url)
            try:
                der = await fetch(url, self._timeout)
            except Exception as exc:  # network failures of every kind: try the next point
                log.info("CRL %s unreachable: %s", url, type(exc).__name__)
                continue
            crl = crls.load_issuer_crl(der, issuer.certificate)
            if crl is None:
                log.info("CRL %s unusable: not the issuer's, or its signature fails", url)
                continue
            self._store(key, der, suffix="crl")
            fact = crls.status_from_crl(crl, certificate.certificate, now, live=True, url=url)
            if fact is not None:
                return fact
        return None

    def _cached(self, key: str, *, suffix: str = "ocsp",
                limit: int = MAX_OCSP_RESPONSE_BYTES) -> bytes | None:
        """The newest held answer: this process's own (memory) or the cache file, which
        another process (a counter's sync) may have rewritten since."""
        name = f"{key}.{suffix}"
        mine = self._memory.get(name)
        if self._cache_dir is not None:
            on_disk = self._disk.read(f"{self._cache_dir}/{name}", limit)
            if on_disk is not None and (mine is None or on_disk[1] > mine[1]):
                return on_disk[0]
        return mine[0] if mine is not None else None

    def _store(self, key: str, answer: bytes, *, suffix: str = "ocsp") -> None:
        self._memory.put(f"{key}.{suffix}", (answer, time.time_ns()))
        if self._cache_dir is not None:
            try:
                self._cache_dir.mkdir(parents=True, exist_ok=True)
                (self._cache_dir / f"{key}.{suffix}").write_bytes(answer)
            except OSError as exc:  # a read-only cache is no reason to fail a verification
                log.info("%s cache not written: %s", suffix.upper(), exc)
            else:
                # What was just written is this process's own answer: mine, not newer.
                self._memory.put(f"{key}.{suffix}", (answer, time.time_ns()))


def ocsp_url(certificate: x509.Certificate) -> str | None:
    try:
        aia = certificate.extensions.get_extension_for_class(x509.AuthorityInformationAccess)
    except x509.ExtensionNotFound:
        return None
    for desc in aia.value:
        if (desc.access_method == AuthorityInformationAccessOID.OCSP
                and isinstance(desc.access_location, x509.UniformResourceIdentifier)
                and desc.access_location.value.startswith(("http://", "https://"))):
            return desc.access_location.value
    return None


def read_ocsp_response(der: bytes, certificate: CertificateFacts, issuer: CertificateFacts,
                       *, live: bool, source: str) -> CertificateStatusFact | None:
    """The status an OCSP response gives for ``certificate``; None unless the response is
    well-formed, about this certificate and signed by the issuer or its delegated responder."""
    said = _ocsp_says(der, certificate, issuer)
    if said is None:
        return None
    status, this_update, next_update, revoked_at, reason = said
    return CertificateStatusFact(status=status, this_update=this_update,
                                 next_update=next_update, live=live, source=source,
                                 revoked_at=revoked_at, reason=reason)


def _ocsp_says(der: bytes, certificate: CertificateFacts, issuer: CertificateFacts
               ) -> tuple[str, dt.datetime, dt.datetime | None, dt.datetime | None,
                          str | None] | None:
    """What the response's bytes say, checked against these two certificates (no clock:
    whether the answer is still fresh is judged by the caller every time)."""
    try:
        response = ocsp.load_der_ocsp_response(der)
        if response.response_status is not ocsp.OCSPResponseStatus.SUCCESSFUL:
            return None
        if response.serial_number != certificate.certificate.serial_number:
            return None
        expected_key_hash = hashlib.new(response.hash_algorithm.name, issuer.spki_key).digest()
        if response.issuer_key_hash != expected_key_hash:
            return None
        signer = _response_signer(response, issuer)
        if signer is None or not _signature_ok(signer, response):
            return None
    except (ValueError, TypeError, AttributeError):
        return None
    status = {ocsp.OCSPCertStatus.GOOD: "good", ocsp.OCSPCertStatus.REVOKED: "revoked"}.get(
        response.certificate_status, "unknown")
    return (status, response.this_update_utc, response.next_update_utc,
            response.revocation_time_utc if status == "revoked" else None,
            (response.revocation_reason.name if status == "revoked"
             and response.revocation_reason else None))


_CLOCK_SKEW = dt.timedelta(minutes=5)


def is_fresh(fact: CertificateStatusFact, now: dt.datetime) -> bool:
    until = fact.next_update or fact.this_update + DEFAULT_FRESHNESS
    return fact.this_update <= now + _CLOCK_SKEW and now < until


class HeldFiles:
    """Small cache files read once per version (inode, size, mtime): another process (a
    counter's sync) may rewrite them at any time, and one stat a look notices it."""

    def __init__(self, limit: int = 4096) -> None:
        self._files = Cache(limit)  # path -> ((inode, size, mtime), bytes)

    def read(self, path: str | Path, max_bytes: int) -> tuple[bytes, int] | None:
        """The file's bytes and modification time (ns), or None."""
        try:
            stat = os.stat(path)
        except OSError:
            self._files.pop(path)
            return None
        if not S_ISREG(stat.st_mode) or stat.st_size > max_bytes:
            return None
        version = (stat.st_ino, stat.st_size, stat.st_mtime_ns)
        held = self._files.get(path)
        if held is not None and held[0] == version:
            return held[1], stat.st_mtime_ns
        try:
            with open(path, "rb") as file:
                data = file.read(max_bytes + 1)
        except OSError:
            return None
        if len(data) != stat.st_size:  # rewritten while read: use it, keep nothing
            return (data, stat.st_mtime_ns) if len(data) <= max_bytes else None
        self._files.put(path, (version, data))
        return data, stat.st_mtime_ns


def _response_signer(response: ocsp.OCSPResponse, issuer: CertificateFacts
                     ) -> x509.Certificate | None:
    if _responder_is(response, issuer.certificate, issuer.spki_key):
        return issuer.certificate
    for candidate in response.certificates:
        if not _responder_is(response, candidate):
            continue
        try:
            candidate.verify_directly_issued_by(issuer.certificate)
            eku = candidate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        except (ValueError, TypeError, InvalidSignature, x509.ExtensionNotFound):
            continue
        if ExtendedKeyUsageOID.OCSP_SIGNING in eku:
            return candidate
    return None


def _responder_is(response: ocsp.OCSPResponse, certificate: x509.Certificate,
                  spki_key: bytes | None = None) -> bool:
    if response.responder_name is not None:
        return response.responder_name == certificate.subject
    if spki_key is None:
        spki_key = spki_key_of(certificate)
    return response.responder_key_hash == hashlib.sha1(spki_key).digest()  # noqa: S324


def _signature_ok(signer: x509.Certificate, response: ocsp.OCSPResponse) -> bool:
    key = signer.public_key()
    try:
        if isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(response.signature, response.tbs_response_bytes,
                       ec.ECDSA(response.signature_hash_algorithm))
        elif isinstance(key, rsa.RSAPublicKey):
            key.verify(response.signature, response.tbs_response_bytes, padding.PKCS1v15(),
                       response.signature_hash_algorithm)
        else:
            return False
    except (InvalidSignature, TypeError, ValueError):
        return False
    return True
