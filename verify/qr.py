"""Verify the QR text printed on a licence, with or without network.

The payload names its signer by key id; the seal certificate comes from the counter's
directory (synced status lists, a home's published seals), must chain to an issuing CA of
an accepted trust list, and must have made the COSE signature. The report shows the
payload's licence data for the clerk to compare with the paper.
"""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric import ec

from certs.errors import QrPayloadError
from certs.qr import DecodedQrPayload, decode_qr_payload, verify_qr_signature
from verify.certificates import CertificateFacts
from verify.chain import place, trust_list_check, trust_list_freshness
from verify.context import VerificationContext
from verify.errors import UnusableInput
from verify.licence import (
    licence_status_check,
    licence_view,
    revocation_now_check,
    validity_check,
)
from verify.report import (
    Check,
    InputKind,
    VerificationReport,
    failed,
    passed,
    undecided,
)


def decode_qr_text(text: str, context: VerificationContext) -> DecodedQrPayload:
    if len(text) > context.limits.max_qr_text_chars:
        raise UnusableInput(f"QR text longer than {context.limits.max_qr_text_chars} "
                            "characters")
    try:
        return decode_qr_payload(text)
    except QrPayloadError as exc:
        raise UnusableInput(f"not a licence QR code: {exc}") from None


async def verify_qr_text(text: str, context: VerificationContext) -> VerificationReport:
    decoded = decode_qr_text(text, context)
    claims = decoded.claims
    now = context.now()
    checks: list[Check] = [trust_list_freshness(context, now)]

    def report(signer=None, trust=None) -> VerificationReport:
        return VerificationReport(kind=InputKind.QR, checks=tuple(checks), verified_at=now,
                                  offline=context.offline, licence=licence_view(claims),
                                  signer=signer, trust=trust)

    certificate = context.seal_certificate(decoded.kid)
    if certificate is None:
        # Not proof of forgery: a genuine licence of a region or department this counter
        # has not synced looks the same. Nothing can be judged, so nothing is valid.
        checks.append(undecided(
            "qr.signer_known", "签发机构未被识别：签名密钥不属于本柜台已知的任何签章证书"
            "（若为新的签发机构，请同步后重试）",
            "issuer not recognised: the QR is signed with a key of no seal certificate "
            "known from the accepted trust lists (sync the counter if the issuer is new)",
            kid=decoded.kid))
        return report()
    checks.append(passed("qr.signer_known", "找到签名所用的签章证书",
                         "the seal certificate named by the QR key id is known",
                         kid=decoded.kid))
    checks.append(signature_check(decoded, certificate))
    placement = place(certificate, context)
    if placement.issuer is None or placement.root is None:
        checks.append(failed("chain.trusted", "签章证书无法链接到信任列表中的根证书",
                             "the seal certificate does not chain to a root of an accepted "
                             "trust list"))
    else:
        checks.append(passed("chain.trusted", "签章证书链接到信任列表中的根证书",
                             "the seal certificate chains to a root of an accepted trust list"))
    checks.append(trust_list_check(placement, context, claims.issued_at))
    checks.append(certificate_validity_check(certificate, claims))
    facts = certificate.signer
    if facts.uscc != claims.issuer_uscc:
        checks.append(failed("qr.issuer_matches", "二维码中的签发机构与签章证书不符",
                             "the issuer in the QR is not the seal certificate's holder",
                             claimed=claims.issuer_uscc, certificate=facts.uscc))
    else:
        checks.append(passed("qr.issuer_matches", "签发机构与签章证书一致",
                             "the issuer in the QR holds the seal certificate"))
    checks.append(await revocation_now_check(certificate, placement.issuer, context))
    checks.append(validity_check(claims, now))
    checks.append(await licence_status_check(claims, context))
    return report(facts, placement.trust)


def signature_check(decoded: DecodedQrPayload, certificate: CertificateFacts) -> Check:
    key = certificate.public_key
    if isinstance(key, ec.EllipticCurvePublicKey) and verify_qr_signature(decoded, key):
        return passed("qr.signature", "二维码签名有效", "the QR signature verifies")
    return failed("qr.signature", "二维码签名无效（内容被篡改或非该机构签发）",
                  "the QR signature does not verify: the content was altered or not signed "
                  "by this seal")


def certificate_validity_check(certificate: CertificateFacts, claims) -> Check:
    code = "certificate.validity"
    when = claims.issued_at
    not_before, not_after = certificate.validity
    usable = certificate.may_sign
    details = {"not_before": not_before, "not_after": not_after, "issued_at": when}
    if not not_before <= when <= not_after:
        return failed(code, "签发时签章证书不在有效期内",
                      "the seal certificate was not valid when the licence was issued",
                      **details)
    if not usable:
        return failed(code, "签章证书不允许用于签名", "the seal certificate's key usage does "
                      "not allow signatures", **details)
    return passed(code, "签发时签章证书在有效期内",
                  "the seal certificate was valid when the licence was issued", **details)
