"""RFC 3161 time-stamp authority (with the RFC 5816 ESSCertIDv2 signing-certificate attribute).

A pure component: TimeStampReq DER in, TimeStampResp DER out, never an exception. The token is a
CMS SignedData (RFC 5652) over a TSTInfo, signed by `key.sign(...)` so that an HSM-backed key
object works the same as a software key.

Its policy OID is the time-stamp policy under the operator's arc (ca/policies.py).
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import Callable, Sequence
from datetime import UTC, timedelta

from asn1crypto import algos, cms, core, tsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization

from ca.ocsp import Clock, SigningKey, sign_with, signature_algorithm_for, utc_now
from ca.policies import EXAMPLE_POLICY_ARC, tsa_policy_oid
from ca.protocol_errors import ResponderMisconfigured

log = logging.getLogger(__name__)

TSA_POLICY_OID = tsa_policy_oid(EXAMPLE_POLICY_ARC)  # the default; see ca/policies.py

MAX_REQUEST_BYTES = 16 * 1024
# RFC 3161 nonces are "large random numbers"; 64 octets is far beyond any client's use.
MAX_NONCE_BITS = 512
ACCEPTED_IMPRINT_HASHES = {"sha256": 32, "sha384": 48, "sha512": 64}


def random_serial_number() -> int:
    """A positive 128-bit random serial: unique without coordination between processes."""
    return secrets.randbits(127) | (1 << 127)


class _Rejection(Exception):
    """Internal: the request is refused with this PKIFailureInfo bit and text."""

    def __init__(self, failure: str, text: str) -> None:
        super().__init__(text)
        self.failure = failure
        self.text = text


class _TimeStampRespWithoutToken(core.Sequence):
    """TimeStampResp with its OPTIONAL timeStampToken absent; asn1crypto makes it mandatory."""

    _fields = [("status", tsp.PKIStatusInfo)]  # noqa: RUF012 - asn1crypto's declaration style


def rejection(failure: str, text: str) -> bytes:
    """A DER TimeStampResp with status rejection and one PKIFailureInfo bit set.

    `failure` is an asn1crypto PKIFailureInfo name (bad_alg, bad_request, bad_data_format,
    time_not_available, unaccepted_policy, unaccepted_extensions, add_info_not_available,
    system_failure).
    """
    # asn1crypto silently drops unknown bit names; a rejection without its reason is a bug.
    if failure not in tsp.PKIFailureInfo._map.values():
        raise ValueError(f"failure: unknown PKIFailureInfo name {failure!r}")
    return _TimeStampRespWithoutToken(
        {
            "status": {
                "status": "rejection",
                "status_string": [text],
                "fail_info": tsp.PKIFailureInfo({failure}),
            }
        }
    ).dump()


class TimeStampAuthority:
    """Issues RFC 3161 time-stamp tokens."""

    def __init__(
        self,
        *,
        certificate: x509.Certificate,
        chain: Sequence[x509.Certificate],
        key: SigningKey,
        policy: str = TSA_POLICY_OID,
        accuracy: timedelta = timedelta(seconds=1),
        serial_numbers: Callable[[], int] = random_serial_number,
        clock: Clock = utc_now,
    ) -> None:
        self._certificate = certificate
        self._key = key
        self._policy = policy
        self._accuracy = accuracy
        self._serial_numbers = serial_numbers
        self._clock = clock
        if accuracy <= timedelta(0):
            raise ResponderMisconfigured("accuracy: must be positive")
        _check_tsa_certificate(certificate, key, chain)
        algorithm, digest = signature_algorithm_for(key)
        self._signature_algorithm = algorithm
        self._digest_name = digest.name

        # Constant parts are kept as DER and loaded afresh for each token: asn1crypto re-encodes
        # a parsed (touched) structure on every dump, a token then cost 8 ms, not 1.2 ms.
        der = certificate.public_bytes(serialization.Encoding.DER)
        certificate_asn1 = asn1_x509.Certificate.load(der)
        self._certificate_ders = [der] + [c.public_bytes(serialization.Encoding.DER) for c in chain]
        self._issuer_der = certificate_asn1.issuer.dump()
        self._tsa_name_der = asn1_x509.GeneralName(
            name="directory_name", value=certificate_asn1.subject
        ).dump()
        # RFC 5816: ESSCertIDv2 with SHA-256 (the default, hence no hashAlgorithm field).
        self._signing_certificate_der = tsp.SigningCertificateV2(
            {
                "certs": [
                    {
                        "cert_hash": hashlib.sha256(der).digest(),
                        "issuer_serial": {
                            "issuer": [
                                asn1_x509.GeneralName(
                                    name="directory_name", value=certificate_asn1.issuer
                                )
                            ],
                            "serial_number": certificate.serial_number,
                        },
                    }
                ]
            }
        ).dump()

    @property
    def policy(self) -> str:
        return self._policy

    def respond(self, request_der: bytes) -> bytes:
        """The DER TimeStampResp for a DER TimeStampReq. Never raises."""
        try:
            request = _parse_request(request_der)
        except Exception:
            return rejection("bad_data_format", "request is not a DER TimeStampReq")
        try:
            self._check(request)
        except _Rejection as refused:
            return rejection(refused.failure, refused.text)
        except Exception:
            return rejection("bad_data_format", "request fields cannot be read")
        try:
            return self._grant(request)
        except Exception:
            log.exception("time-stamp authority failed to sign a well-formed request")
            return rejection("system_failure", "the time-stamp authority could not sign")

    def _check(self, request: tsp.TimeStampReq) -> None:
        if request["version"].native != "v1":
            raise _Rejection("bad_request", "version: only v1 is supported")
        if request["extensions"].native:
            # RFC 3161 section 2.4.1: unknown extensions, critical or not, are refused.
            raise _Rejection("unaccepted_extensions", "extensions: none are supported")
        imprint = request["message_imprint"]
        algorithm = imprint["hash_algorithm"]
        name = algorithm["algorithm"].native
        if name not in ACCEPTED_IMPRINT_HASHES or algorithm["parameters"].native is not None:
            raise _Rejection("bad_alg", "messageImprint: hash must be SHA-256, SHA-384 or SHA-512")
        if len(imprint["hashed_message"].native) != ACCEPTED_IMPRINT_HASHES[name]:
            raise _Rejection("bad_data_format", "messageImprint: digest length does not match")
        policy = request["req_policy"].dotted if request["req_policy"].native else None
        if policy is not None and policy != self._policy:
            raise _Rejection("unaccepted_policy", f"reqPolicy: only {self._policy} is offered")
        nonce = request["nonce"].native
        if nonce is not None and (nonce < 0 or nonce.bit_length() > MAX_NONCE_BITS):
            raise _Rejection(
                "bad_data_format",
                "nonce: must be a non-negative integer of 64 octets at most",
            )

    def _grant(self, request: tsp.TimeStampReq) -> bytes:
        now = self._clock()
        if now.tzinfo is None:
            raise ValueError("clock: returned a naive datetime")
        now = now.astimezone(UTC)
        # Report no finer a time than the accuracy we claim.
        gen_time = now.replace(
            microsecond=0
            if self._accuracy >= timedelta(seconds=1)
            else now.microsecond // 1000 * 1000
        )
        tst_fields: dict[str, object] = {
            "version": "v1",
            "policy": self._policy,
            "message_imprint": request["message_imprint"],
            "serial_number": self._serial_numbers(),
            "gen_time": gen_time,
            "accuracy": _accuracy(self._accuracy),
            "tsa": asn1_x509.GeneralName.load(self._tsa_name_der),
        }
        if request["nonce"].native is not None:
            tst_fields["nonce"] = request["nonce"].native
        tst_info_der = tsp.TSTInfo(tst_fields).dump()

        digest = hashlib.new(self._digest_name, tst_info_der).digest()
        # Each built part is encoded once and embedded re-loaded from its DER: asn1crypto
        # re-encodes a structure built from Python values on every dump, and a parent's
        # dump (a SET OF sorts its members by their encoding) dumps its children again.
        signed_attrs = _reloaded(cms.CMSAttributes(
            [
                _attribute("content_type", "tst_info"),
                _attribute("signing_time", cms.Time(name="utc_time", value=gen_time)),
                _attribute("message_digest", digest),
                _attribute(
                    "signing_certificate_v2",
                    tsp.SigningCertificateV2.load(self._signing_certificate_der),
                ),
            ]
        ))
        # The signature covers the DER SET OF (tag 0x31), not the [0] IMPLICIT form.
        algorithm, signature = sign_with(self._key, signed_attrs.dump())
        digest_algorithm = algos.DigestAlgorithm({"algorithm": self._digest_name})
        signer_info = _reloaded(cms.SignerInfo(
            {
                "version": "v1",
                "sid": cms.SignerIdentifier(
                    name="issuer_and_serial_number",
                    value={
                        "issuer": asn1_x509.Name.load(self._issuer_der),
                        "serial_number": self._certificate.serial_number,
                    },
                ),
                "digest_algorithm": digest_algorithm,
                "signed_attrs": signed_attrs,
                "signature_algorithm": {"algorithm": algorithm},
                "signature": signature,
            }
        ))
        signed_data: dict[str, object] = {
            "version": "v3",
            "digest_algorithms": [digest_algorithm],
            "encap_content_info": {
                "content_type": "tst_info",
                "content": cms.ParsableOctetString(tst_info_der),
            },
            "signer_infos": [signer_info],
        }
        if request["cert_req"].native:
            signed_data["certificates"] = [
                asn1_x509.Certificate.load(d) for d in self._certificate_ders
            ]
        token = _reloaded(
            cms.ContentInfo({"content_type": "signed_data", "content": signed_data}))
        granted = {"status": {"status": "granted"}, "time_stamp_token": token}
        return tsp.TimeStampResp(granted).dump()


def _reloaded(value: core.Asn1Value) -> core.Asn1Value:
    """`value` encoded once and loaded back: later dumps copy its bytes."""
    return type(value).load(value.dump())


def _attribute(kind: str, value: object) -> cms.CMSAttribute:
    return cms.CMSAttribute({"type": kind, "values": [value]})


def _accuracy(accuracy: timedelta) -> dict[str, int]:
    micros_total = accuracy // timedelta(microseconds=1)
    seconds, rest = divmod(micros_total, 1_000_000)
    millis, micros = divmod(rest, 1000)
    fields = {"seconds": seconds, "millis": millis, "micros": micros}
    return {name: value for name, value in fields.items() if value}


def _parse_request(request_der: bytes) -> tsp.TimeStampReq:
    if not isinstance(request_der, bytes | bytearray) or not request_der:
        raise ValueError("request: expected DER bytes")
    if len(request_der) > MAX_REQUEST_BYTES:
        raise ValueError("request: too large")
    request = tsp.TimeStampReq.load(bytes(request_der), strict=True)
    _ = request.native  # parse every nested field now; lazy parsing would fail later
    return request


def _check_tsa_certificate(
    certificate: x509.Certificate, key: SigningKey, chain: Sequence[x509.Certificate]
) -> None:
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    if key.public_key().public_bytes(serialization.Encoding.DER, spki) != (
        certificate.public_key().public_bytes(serialization.Encoding.DER, spki)
    ):
        raise ResponderMisconfigured("key: does not match the TSA certificate")
    try:
        eku = certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    except x509.ExtensionNotFound as exc:
        raise ResponderMisconfigured("certificate: no extendedKeyUsage timeStamping") from exc
    # RFC 3161 section 2.3: exactly id-kp-timeStamping, and the extension critical.
    if not eku.critical or list(eku.value) != [x509.oid.ExtendedKeyUsageOID.TIME_STAMPING]:
        raise ResponderMisconfigured(
            "certificate: extendedKeyUsage must be critical and only timeStamping"
        )
    if chain:
        try:
            certificate.verify_directly_issued_by(chain[0])
        except (ValueError, TypeError, InvalidSignature) as exc:
            raise ResponderMisconfigured("chain: first certificate did not issue the TSA") from exc


__all__ = [
    "ACCEPTED_IMPRINT_HASHES",
    "TSA_POLICY_OID",
    "TimeStampAuthority",
    "random_serial_number",
    "rejection",
]
