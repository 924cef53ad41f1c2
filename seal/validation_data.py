"""What a verifier needs years from now, without network: chain, OCSP answers and CRLs.

Sealing at PAdES B-LT embeds this material in the PDF's DSS. It is gathered in-process:
the OCSP responder is a function `(request DER) -> response DER` (our
`ca.ocsp.OcspResponder.respond`), CRLs are the DER bytes the CA last issued.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cached_property

from asn1crypto import cms
from asn1crypto import crl as asn1_crl
from asn1crypto import ocsp as asn1_ocsp
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp
from pyhanko_certvalidator import ValidationContext

from seal.sealing_errors import SealCertificateRevoked, ValidationDataUnavailable
from seal.signer import to_asn1

OcspResponder = Callable[[bytes], bytes]
"""DER OCSPRequest in, DER OCSPResponse out (e.g. `OcspResponder.respond`)."""


@dataclass(frozen=True)
class ValidationMaterial:
    """Trust anchors, other certificates, OCSP responses and CRLs (DER), to embed."""

    trust_roots: tuple[x509.Certificate, ...]
    certificates: tuple[x509.Certificate, ...]
    ocsp_responses: tuple[bytes, ...]
    crls: tuple[bytes, ...]

    def __post_init__(self) -> None:
        if not self.trust_roots:
            raise ValueError("trust_roots: at least one root is needed")
        for name in ("trust_roots", "certificates"):
            if not all(isinstance(c, x509.Certificate) for c in getattr(self, name)):
                raise TypeError(f"{name}: must hold cryptography x509.Certificate objects")
        for name in ("ocsp_responses", "crls"):
            if not all(isinstance(b, bytes) for b in getattr(self, name)):
                raise TypeError(f"{name}: must hold DER bytes")

    @cached_property
    def fingerprint(self) -> bytes:
        """SHA-256 over every DER item in order: equal fingerprints, equal material."""
        digest = hashlib.sha256()
        parts: list[tuple[bytes, Iterable[bytes]]] = [
            (b"roots", (_der(c) for c in self.trust_roots)),
            (b"certificates", (_der(c) for c in self.certificates)),
            (b"ocsp", self.ocsp_responses),
            (b"crls", self.crls),
        ]
        for label, items in parts:
            digest.update(label)
            for item in items:
                digest.update(len(item).to_bytes(4, "big"))
                digest.update(item)
        return digest.digest()

    @cached_property
    def usable_until(self) -> datetime | None:
        """The earliest nextUpdate of its OCSP answers and CRLs and notAfter of its
        certificates: past it, a validation done with this material may not hold any
        more. None when an answer or CRL has no nextUpdate (no bound can be given)."""
        bounds = [c.not_valid_after_utc for c in (*self.trust_roots, *self.certificates)]
        for der in self.ocsp_responses:
            response = ocsp.load_der_ocsp_response(der)
            if response.response_status is not ocsp.OCSPResponseStatus.SUCCESSFUL:
                return None
            for single in response.responses:
                if single.next_update_utc is None:
                    return None
                bounds.append(single.next_update_utc)
        for der in self.crls:
            next_update = x509.load_der_x509_crl(der).next_update_utc
            if next_update is None:
                return None
            bounds.append(next_update)
        return min(bounds)

    def validation_context(self, moment: datetime | None = None) -> ValidationContext:
        """A pyHanko context that knows only this material: no fetching, and every
        certificate on a path must have revocation data here (hard-fail), so a seal that
        claims B-LT really carries all it needs."""
        return ValidationContext(
            trust_roots=[to_asn1(c) for c in self.trust_roots],
            other_certs=[to_asn1(c) for c in self.certificates],
            ocsps=[asn1_ocsp.OCSPResponse.load(b) for b in self.ocsp_responses],
            crls=[asn1_crl.CertificateList.load(b) for b in self.crls],
            allow_fetching=False,
            revocation_mode="hard-fail",
            moment=moment,
        )


def _der(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.DER)


@dataclass(frozen=True)
class _Validated:
    value: object
    material: bytes  # the fingerprint of the material it was validated against
    validated_at: datetime
    valid_until: datetime
    owner: object  # kept alive so that an id() in the key cannot be reused


class PathValidationCache:
    """Results of certificate path validation (with revocation checks) against one
    `ValidationMaterial`, reused for later signing moments while they provably still hold.

    `key` names everything the validation read besides the material and the clock (the
    signer's certificate and chain, the TSA); one result is kept per key, for the material
    it was validated against, so a seal's superseded material is dropped, not hoarded.
    A result validated at moment m0 is given for moment m only when the material's
    fingerprint is the same (new OCSP answers or CRLs after a status change or a renewal
    are a miss, never a stale hit) and m0 <= m <= the earliest of: the material's
    `usable_until` (OCSP/CRL nextUpdate, certificates' notAfter), the notAfter of every
    certificate on the validated paths, and m0 + `ttl`. A rotated key or certificate is
    another key. At most `max_entries` keys (least recently used dropped). Thread-safe.
    """

    def __init__(self, *, ttl: timedelta = timedelta(minutes=5), max_entries: int = 32) -> None:
        if ttl <= timedelta(0):
            raise ValueError("ttl: must be positive")
        if max_entries < 1:
            raise ValueError("max_entries: must be at least 1")
        self._ttl = ttl
        self._max_entries = max_entries
        self._entries: OrderedDict[Hashable, _Validated] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: Hashable, material: ValidationMaterial, moment: datetime
            ) -> object | None:
        with self._lock:
            entry = self._entries.get(key)
            if (entry is None or entry.material != material.fingerprint
                    or not (entry.validated_at <= moment <= entry.valid_until)):
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return entry.value

    def put(self, key: Hashable, value: object, *, material: ValidationMaterial,
            validated_at: datetime, path_not_after: Iterable[datetime], owner: object = None
            ) -> None:
        """Keep `value`, validated at `validated_at`, unless no safe bound is known."""
        usable_until = material.usable_until
        if usable_until is None:
            return
        valid_until = min([usable_until, validated_at + self._ttl, *path_not_after])
        entry = _Validated(value, material.fingerprint, validated_at, valid_until, owner)
        with self._lock:
            self._entries[key] = entry
            self._entries.move_to_end(key)
            while len(self._entries) > self._max_entries:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)


def fetch_ocsp_response(
    certificate: x509.Certificate, issuer: x509.Certificate, responder: OcspResponder, *,
    nonce: bytes | None = None, not_before: datetime | None = None,
) -> bytes:
    """A fresh OCSP response (DER) saying `certificate` is good.

    With a `nonce` the request carries it (RFC 8954: 1-32 octets) and the answer must echo
    it; with `not_before` the answer's thisUpdate must not be earlier.
    SealCertificateRevoked if the responder says revoked or unknown;
    ValidationDataUnavailable if it fails or answers something else.
    """
    # RFC 5019 §2.1.1: CertIDs use SHA-1, which every OCSP client and responder knows.
    builder = ocsp.OCSPRequestBuilder().add_certificate(
        certificate, issuer, hashes.SHA1())  # noqa: S303 - an identifier
    if nonce is not None:
        builder = builder.add_extension(x509.OCSPNonce(nonce), critical=False)
    request = builder.build().public_bytes(serialization.Encoding.DER)
    subject = certificate.subject.rfc4514_string()
    try:
        answer = responder(request)
        response = ocsp.load_der_ocsp_response(answer)
    except Exception as exc:
        raise ValidationDataUnavailable(
            f"OCSP for {subject}: no readable response ({type(exc).__name__})"
        ) from exc
    if response.response_status is not ocsp.OCSPResponseStatus.SUCCESSFUL:
        raise ValidationDataUnavailable(
            f"OCSP for {subject}: responder answered {response.response_status.name}"
        )
    if response.serial_number != certificate.serial_number:
        raise ValidationDataUnavailable(f"OCSP for {subject}: response is about another serial")
    if response.certificate_status is not ocsp.OCSPCertStatus.GOOD:
        raise SealCertificateRevoked(
            f"OCSP for {subject}: status is {response.certificate_status.name.lower()}"
        )
    if nonce is not None:
        try:
            echoed = response.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce
        except x509.ExtensionNotFound:
            echoed = None
        if echoed != nonce:
            raise ValidationDataUnavailable(f"OCSP for {subject}: the answer does not echo "
                                            "the request's nonce")
    if not_before is not None and response.this_update_utc < not_before:
        raise ValidationDataUnavailable(
            f"OCSP for {subject}: thisUpdate {response.this_update_utc.isoformat()} is before "
            f"{not_before.isoformat()}")
    return answer


def signature_timestamp_token(signature_cms: bytes) -> cms.ContentInfo:
    """The signature time-stamp token (RFC 3161, an unsigned attribute) of a CMS
    SignedData; trailing zero bytes (the padding of a PDF's /Contents) are ignored.
    ValidationDataUnavailable when there is none."""
    try:
        signed_data = cms.ContentInfo.load(bytes(signature_cms), strict=False)["content"]
        for attribute in signed_data["signer_infos"][0]["unsigned_attrs"] or ():
            if attribute["type"].native == "signature_time_stamp_token":
                return attribute["values"][0]
    except (ValueError, TypeError, KeyError, IndexError) as exc:
        raise ValidationDataUnavailable("the signature cannot be read for its "
                                        "time-stamp token") from exc
    raise ValidationDataUnavailable("the signature carries no signature time-stamp")


def ocsp_after_timestamp(token: cms.ContentInfo, certificate: x509.Certificate,
                         issuer: x509.Certificate, responder: OcspResponder
                         ) -> tuple[bytes, bytes]:
    """OCSP answers for `certificate` (the seal's) and for the TSA certificate that signed
    `token`, both issued by `issuer`, produced after the time-stamp: each request's nonce
    is the SHA-256 of the token's DER, so an answer that echoes it cannot predate the
    token, and its thisUpdate may not be earlier than the token's genTime.

    ETSI EN 319 102-1 past-signature validation wants revocation data issued after the
    best signature time (the time-stamp); an answer fetched before signing says nothing
    of a revocation between the two."""
    der = token.dump()
    nonce = hashlib.sha256(der).digest()
    try:
        info = token["content"]["encap_content_info"]["content"].parsed
        gen_time = info["gen_time"].native
        tsa = _token_signer(token)
    except (ValueError, TypeError, KeyError) as exc:
        raise ValidationDataUnavailable("the signature time-stamp token cannot be read"
                                        ) from exc
    return (fetch_ocsp_response(certificate, issuer, responder, nonce=nonce,
                                not_before=gen_time),
            fetch_ocsp_response(tsa, issuer, responder, nonce=nonce, not_before=gen_time))


def _token_signer(token: cms.ContentInfo) -> x509.Certificate:
    signed_data = token["content"]
    sid = signed_data["signer_infos"][0]["sid"]
    if sid.name != "issuer_and_serial_number":
        raise ValidationDataUnavailable("the time-stamp token names its signer by key id")
    wanted = sid.chosen
    serial, issuer = wanted["serial_number"].native, wanted["issuer"].dump()
    for choice in signed_data["certificates"] or ():
        # Compared as encoded (a TSA names its issuer as its certificate does): parsing
        # and normalising every name of the chain costs more than the rest of the lookup.
        tbs = choice.chosen["tbs_certificate"]
        if tbs["serial_number"].native == serial and tbs["issuer"].dump() == issuer:
            return x509.load_der_x509_certificate(choice.chosen.dump())
    raise ValidationDataUnavailable("the time-stamp token does not carry its TSA's "
                                    "certificate")


def gather_validation_material(
    *,
    seal_certificate: x509.Certificate,
    chain: Sequence[x509.Certificate],
    ocsp_responder: OcspResponder,
    crls: Iterable[bytes],
    other_certificates: Iterable[x509.Certificate] = (),
    ocsp_for: Iterable[x509.Certificate] = (),
) -> ValidationMaterial:
    """Material for B-LT: the chain (issuing CA first, root last), a fresh OCSP response
    for the seal certificate (and for each of `ocsp_for`, each issued by `chain[0]`), and
    the CRLs (DER) the caller holds: the issuing CA's, which also covers the TSA, and the
    root's, which covers the issuing CA.

    `other_certificates`: the TSA's and the OCSP signer's certificates, so validation does
    not depend on what the tokens happen to embed.
    """
    if not chain:
        raise ValueError("chain: needs at least the issuing CA and the root")
    chain = tuple(chain)
    roots = tuple(c for c in chain if c.subject == c.issuer)
    if not roots:
        raise ValueError("chain: must end in a self-signed root")
    issuer = chain[0]
    responses = [fetch_ocsp_response(seal_certificate, issuer, ocsp_responder)]
    responses += [fetch_ocsp_response(c, issuer, ocsp_responder) for c in ocsp_for]
    crl_list = tuple(bytes(b) for b in crls)
    for der in crl_list:
        try:
            x509.load_der_x509_crl(der)
        except ValueError as exc:
            raise ValidationDataUnavailable("crls: an entry is not a DER CRL") from exc
    intermediates = tuple(c for c in chain if c not in roots)
    return ValidationMaterial(
        trust_roots=roots,
        certificates=(*intermediates, *other_certificates),
        ocsp_responses=tuple(responses),
        crls=crl_list,
    )
