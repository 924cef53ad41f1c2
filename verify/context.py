"""What a verifier trusts and where it looks things up, built once and passed in.

Trust anchors come from the accepted (already signature-checked) trust lists only, never
from the operating system's store. A certificate counts as a trusted issuing CA, TSA or
root only through a service entry of its type whose status history says ``granted`` at the
moment that matters (the signing time for a signature, now for "now").
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from ca.trustlist import SignedTrustList, TrustList, TrustService
from certs.qr import kid_of_certificate
from verify.errors import VerifierNotConfigured
from verify.limits import DEFAULT_LIMITS, Limits
from verify.revocation import CertificateStatusSource
from verify.status import LicenceStatusSource


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
MEMO_LIMIT = 4096


@dataclass(frozen=True)
class ListedService:
    service: TrustService
    trust_list: TrustList


class TrustListMemo:
    """Answers worked out from one tuple of trust lists (held here, so its identity is
    never reused while the answers live). Bounded: documents may bring any number of
    certificates, and a counter's context lives long."""

    def __init__(self, trust_lists: tuple[SignedTrustList, ...]) -> None:
        self.trust_lists = trust_lists
        self._answers: dict[Any, Any] = {}

    def remembered(self, key: Any, work: Callable[[], Any]) -> Any:
        try:
            return self._answers[key]
        except KeyError:
            pass
        if len(self._answers) >= MEMO_LIMIT:
            self._answers.clear()
        found = self._answers[key] = work()
        return found


@dataclass(frozen=True)
class VerificationContext:
    trust_lists: tuple[SignedTrustList, ...]
    seal_directory: SealCertificateDirectory = field(default_factory=StaticSealDirectory)
    certificate_status: CertificateStatusSource | None = None
    licence_status: LicenceStatusSource | None = None
    offline: bool = False
    limits: Limits = DEFAULT_LIMITS
    clock: Callable[[], dt.datetime] = field(default=lambda: dt.datetime.now(dt.UTC))
    # Facts derived from the trust lists alone (services by type, a certificate's place),
    # worked out once per set of lists. A memo serves only the very tuple of lists it was
    # built for: a context made with other lists (dataclasses.replace, a reload after an
    # import or a withdrawal) starts an empty one.
    memo: TrustListMemo | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "trust_lists", tuple(self.trust_lists))
        if not self.trust_lists:
            raise VerifierNotConfigured(
                "no trust list is configured: give --home or --trust-list (a region's "
                "signed trust-list.jws with its trust-list-signer.pem)")
        if self.memo is None or self.memo.trust_lists is not self.trust_lists:
            object.__setattr__(self, "memo", TrustListMemo(self.trust_lists))

    def now(self) -> dt.datetime:
        return self.clock()

    def remembered(self, key: Any, work: Callable[[], Any]) -> Any:
        """``work()`` (a function of the trust lists and ``key`` alone), once per key for
        these lists."""
        return self.memo.remembered(key, work)  # type: ignore[union-attr]

    def services(self, service_type: str) -> tuple[ListedService, ...]:
        return self.remembered(("services", service_type), lambda: tuple(
            ListedService(s, signed.trust_list)
            for signed in self.trust_lists
            for s in signed.trust_list.services_of(service_type)))

    def root_certificates(self) -> tuple[x509.Certificate, ...]:
        """Every root any accepted list has ever listed: pyHanko builds paths to these;
        whether a root was granted at the moment that matters is checked separately."""
        seen: dict[bytes, x509.Certificate] = {}
        for listed in self.services("root-ca"):
            cert = listed.service.certificate
            seen[cert.fingerprint(hashes.SHA256())] = cert
        return tuple(seen.values())

    def listed(self, certificate: x509.Certificate, service_type: str
               ) -> tuple[ListedService, ...]:
        # Kept per certificate object (held with its answer, so its id stays its own):
        # comparing it with every listed certificate compares DER each time.
        held = self.remembered(("listed", id(certificate), service_type), lambda: (
            certificate, self._listed(certificate, service_type)))
        if held[0] is certificate:
            return held[1]
        return self._listed(certificate, service_type)

    def _listed(self, certificate: x509.Certificate, service_type: str
                ) -> tuple[ListedService, ...]:
        return tuple(s for s in self.services(service_type)
                     if s.service.certificate == certificate)

    def granted_at(self, certificate: x509.Certificate, service_type: str,
                   when: dt.datetime) -> ListedService | None:
        """The first accepted list that has ``certificate`` as a ``service_type`` granted at
        ``when`` (None when no list does).

        The times judged here (a time-stamp's genTime, a QR's issued_at) are whole seconds
        while lists record grants to the microsecond: ``when`` stands for its whole second,
        or a licence sealed in the very second of a grant would count as before it."""
        if when.microsecond == 0:
            when = when + _LAST_OF_SECOND
        for listed in self.listed(certificate, service_type):
            if listed.service.status_at(when) == "granted":
                return listed
        return None

    def issuing_cas(self) -> tuple[x509.Certificate, ...]:
        return tuple(s.service.certificate for s in self.services("issuing-ca"))

