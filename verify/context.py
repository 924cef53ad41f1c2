"""What a verifier trusts and where it looks things up, built once and passed in.

Trust anchors come from the accepted (already signature-checked) trust lists only, never
from the operating system's store. A certificate counts as a trusted issuing CA, TSA or
root only through a service entry of its type whose status history says ``granted`` at the
moment that matters (the signing time for a signature, now for "now").
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from ca.trustlist import SignedTrustList, TrustList, TrustService
from certs.qr import kid_of_certificate
from verify.cache import Cache
from verify.certificates import CertificateFacts
from verify.errors import VerifierNotConfigured
from verify.limits import DEFAULT_LIMITS, Limits
from verify.revocation import CertificateStatusSource
from verify.status import LicenceStatusSource

T = TypeVar("T")


class SealCertificateDirectory(Protocol):
    """Seal certificates a counter knows, by COSE key id (first 8 bytes of SHA-256 of DER)."""

    def by_kid(self, kid: bytes) -> x509.Certificate | None: ...


class StaticSealDirectory:
    """Seal certificates gathered beforehand (a home's published seals, synced status lists).
    Only a directory: a certificate found here is still chained to a trust list."""

    def __init__(self, certificates: Iterable[x509.Certificate] = ()) -> None:
        self._by_kid = {
            kid_of_certificate(c.public_bytes(serialization.Encoding.DER)): c
            for c in certificates
        }

    def by_kid(self, kid: bytes) -> x509.Certificate | None:
        return self._by_kid.get(kid)

    def __len__(self) -> int:
        return len(self._by_kid)


TIME_PRECISION = dt.timedelta(seconds=1)
_LAST_OF_SECOND = TIME_PRECISION - dt.timedelta(microseconds=1)


@dataclass(frozen=True)
class ListedService:
    service: TrustService
    trust_list: TrustList
    facts: CertificateFacts  # of service.certificate


@dataclass(frozen=True)
class VerificationContext:
    trust_lists: tuple[SignedTrustList, ...]
    seal_directory: SealCertificateDirectory = field(default_factory=StaticSealDirectory)
    certificate_status: CertificateStatusSource | None = None
    licence_status: LicenceStatusSource | None = None
    offline: bool = False
    limits: Limits = DEFAULT_LIMITS
    clock: Callable[[], dt.datetime] = field(default=lambda: dt.datetime.now(dt.UTC))
    # Facts worked out from the trust lists, the seal directory and the certificates and
    # files verification met (a certificate's place, its parsed facts, a stream's decoded
    # size). It serves only the very tuple of lists it was built for: a context made with
    # other lists (dataclasses.replace, a reload after an import or a withdrawal) starts
    # an empty one; a context replaced with another clock or limits keeps it.
    cache: Cache | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "trust_lists", tuple(self.trust_lists))
        if not self.trust_lists:
            raise VerifierNotConfigured(
                "no trust list is configured: give --home or --trust-list (a region's "
                "signed trust-list.jws with its trust-list-signer.pem)")
        if self.cache is None or self.cache.scope is not self.trust_lists:
            object.__setattr__(self, "cache", Cache(scope=self.trust_lists))

    def now(self) -> dt.datetime:
        return self.clock()

    def cached(self, key: Hashable, compute: Callable[[], T]) -> T:
        """``compute()`` (a fact of ``key``, this context's trust lists and seal directory,
        never of the clock), once per key."""
        return self.cache.cached(key, compute)  # type: ignore[union-attr]

    def certificate(self, der: bytes) -> CertificateFacts:
        """The one facts object of this DER (ValueError when it is not a certificate)."""
        return self.cached(("certificate", der), lambda: CertificateFacts.from_der(der))

    def seal_certificate(self, kid: bytes) -> CertificateFacts | None:
        """The seal certificate the directory knows by this key id."""
        found = self.cache.get(("seal", kid))  # type: ignore[union-attr]
        if found is None:
            certificate = self.seal_directory.by_kid(kid)
            if certificate is None:
                return None  # not entered: a flood of unknown ids must not crowd out facts
            found = self.cached(("seal", kid), lambda: CertificateFacts(certificate))
        return found

    def services(self, service_type: str) -> tuple[ListedService, ...]:
        return self.cached(("services", service_type), lambda: tuple(
            ListedService(s, signed.trust_list, CertificateFacts(s.certificate))
            for signed in self.trust_lists
            for s in signed.trust_list.services_of(service_type)))

    def root_certificates(self) -> tuple[CertificateFacts, ...]:
        """Every root any accepted list has ever listed: pyHanko builds paths to these;
        whether a root was granted at the moment that matters is checked separately."""
        seen: dict[bytes, CertificateFacts] = {}
        for listed in self.services("root-ca"):
            seen.setdefault(listed.facts.der, listed.facts)
        return tuple(seen.values())

    def listed(self, certificate: CertificateFacts, service_type: str
               ) -> tuple[ListedService, ...]:
        return self.cached(("listed", certificate.der, service_type), lambda: tuple(
            s for s in self.services(service_type) if s.facts.der == certificate.der))

    def granted_at(self, certificate: CertificateFacts, service_type: str,
                   when: dt.datetime) -> ListedService | None:
        """The first accepted list that has ``certificate`` as a ``service_type`` granted at
        ``when`` (None when no list does).

        The times judged here (a time-stamp's genTime, a QR's issued_at) are whole seconds
        while lists record grants to the microsecond: ``when`` stands for its whole second,
        or a licence sealed in the very second of a grant would count as before it."""
        return granted_among(self.listed(certificate, service_type), when)


def granted_among(services: Iterable[ListedService], when: dt.datetime
                  ) -> ListedService | None:
    """The first of ``services`` granted at ``when`` (see ``granted_at``)."""
    if when.microsecond == 0:
        when = when + _LAST_OF_SECOND
    for listed in services:
        if listed.service.status_at(when) == "granted":
            return listed
    return None

