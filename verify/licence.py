"""Checks about the licence itself (shared by PDF and QR): its validity period, its status
at the issuing department, the seal certificate's status now, and what the clerk sees."""

from __future__ import annotations

import datetime as dt
from typing import Any

from certs.qr import QrClaims
from verify.certificates import CertificateFacts
from verify.context import VerificationContext
from verify.report import Check, failed, not_applicable, passed, undecided
from verify.revocation import CertificateStatusFact, is_fresh, read_ocsp_response
from verify.status import GOOD_STATUSES, LicenceRef, LicenceStatusFact

CHINA_STANDARD_TIME = dt.timezone(dt.timedelta(hours=8))  # licence dates are local dates


def licence_view(claims: QrClaims) -> dict[str, Any]:
    """What the QR itself shows (the holder identifier is masked there): no more."""
    return {
        "licence_id": claims.licence_id,
        "type_code": claims.type_code,
        "holder_name": claims.holder_name,
        "holder_id_masked": claims.holder_id_masked,
        "valid_from": claims.valid_from,
        "valid_until": claims.valid_until,
        "issuer_name": claims.issuer_name,
        "issuer_uscc": claims.issuer_uscc,
        "issued_at": claims.issued_at,
    }


def validity_check(claims: QrClaims, now: dt.datetime) -> Check:
    code = "licence.validity"
    today = now.astimezone(CHINA_STANDARD_TIME).date()
    details = {"today": today, "valid_from": claims.valid_from,
               "valid_until": claims.valid_until}
    if today < claims.valid_from:
        return failed(code, f"证照自{claims.valid_from}起生效，尚未生效",
                      f"the licence is not valid before {claims.valid_from}", **details)
    if claims.valid_until is not None and today > claims.valid_until:
        return failed(code, f"证照已于{claims.valid_until}到期",
                      f"the licence expired on {claims.valid_until}", **details)
    return passed(code, "证照在有效期内", "the licence is within its validity period", **details)


async def licence_status_check(claims: QrClaims, context: VerificationContext) -> Check:
    code = "licence.status"
    index = getattr(claims, "status_index", None)
    if index is None:
        # Licences sealed before status lists existed carry no index to look up.
        return not_applicable(code, "该证照未登记状态列表索引",
                              "the licence carries no status-list index")
    if context.licence_status is None:
        return undecided(code, "无法获取证照状态（未配置状态列表）",
                         "licence status unavailable: no status list configured",
                         status_index=index)
    ref = LicenceRef(claims.licence_id, claims.issuer_uscc, index, claims.issued_at)
    fact = await context.licence_status.status_of(ref, offline=context.offline)
    if fact is None:
        return undecided(code, "无法获取证照状态，请联网或同步状态列表后重试",
                         "licence status unknown: the status list is unreachable or not "
                         "synced", status_index=index, offline=context.offline)
    now = context.now()
    details = {"status": fact.status, "as_of": fact.as_of, "live": fact.live,
               "age_seconds": int(fact.age(now).total_seconds()), "source": fact.source}
    if fact.status not in GOOD_STATUSES:
        return failed(code, f"证照状态为“{fact.status}”", f"the licence is {fact.status}",
                      **details)
    zh, en = _valid_status_text(fact)
    return passed(code, zh, en, **details)


def _valid_status_text(fact: LicenceStatusFact) -> tuple[str, str]:
    when = "实时查询" if fact.live else f"截至{fact.as_of.isoformat()}同步"
    return (f"证照状态有效（{when}）",
            "the licence is valid according to "
            + ("the live status list" if fact.live
               else f"the status list synced as of {fact.as_of.isoformat()}"))


async def revocation_now_check(certificate: CertificateFacts, issuer: CertificateFacts | None,
                               context: VerificationContext,
                               embedded_ocsp: tuple[bytes, ...] = ()) -> Check:
    """Live OCSP online; offline (or when the responder cannot be reached) an answer from
    the cache or embedded in the document, as long as it is still within its validity."""
    code = "revocation.now"
    if issuer is None:
        return undecided(code, "无法确定签章证书的签发机构", "the seal certificate's issuer "
                         "is not known, so its status cannot be asked")
    if context.certificate_status is None:
        return undecided(code, "未配置证书状态查询", "no certificate status source configured")
    now = context.now()
    fact = await context.certificate_status.status_now(
        certificate, issuer, offline=context.offline, now=now)
    if fact is None or (fact.status == "good" and not fact.live and not is_fresh(fact, now)):
        fact = _embedded_answer(embedded_ocsp, certificate, issuer, context, now) or fact
    if fact is not None and fact.status == "good" and not is_fresh(fact, now):
        return undecided(code, "缓存的证书状态已过期，无法判断签章证书当前是否有效",
                         "the only known certificate status is out of date: cannot tell "
                         "whether the seal certificate is revoked now",
                         this_update=fact.this_update, next_update=fact.next_update)
    if fact is None:
        if context.offline:
            return undecided(code, "离线模式下无缓存的证书状态，无法判断签章证书当前是否有效",
                             "offline and no cached status: cannot tell whether the seal "
                             "certificate is revoked now")
        return undecided(code, "证书状态服务（OCSP 与 CRL）均无法使用",
                         "neither the certificate status service (OCSP) nor the CRL "
                         "answered usably")
    details = {"status": fact.status, "this_update": fact.this_update,
               "next_update": fact.next_update, "live": fact.live, "source": fact.source}
    if fact.status == "revoked":
        return failed(code, "签章证书已被吊销", "the seal certificate is revoked",
                      revoked_at=fact.revoked_at, reason=fact.reason, **details)
    if fact.status != "good":
        return failed(code, "证书状态服务不认识该签章证书",
                      "the OCSP responder does not know the seal certificate", **details)
    zh, en = _not_revoked_text(fact)
    return passed(code, zh, en, **details)


_ORIGINS = {"embedded": ("（文件内嵌的状态应答）", "answer embedded in the document"),
            "cache": ("（缓存的状态应答）", "cached answer")}


def _not_revoked_text(fact: CertificateStatusFact) -> tuple[str, str]:
    origin = _ORIGINS.get(fact.source)
    per_crl = isinstance(fact.source, str) and fact.source.startswith("per CRL")
    live_zh, live_en = (("（最新 CRL）", f" ({fact.source})") if per_crl
                        else ("", " (live OCSP answer)"))
    return ("签章证书当前未被吊销" + (origin[0] if origin and not fact.live else live_zh),
            "the seal certificate is not revoked now"
            + (f" ({origin[1]} of {fact.this_update.isoformat()}, valid until "
               f"{fact.next_update.isoformat() if fact.next_update else '?'})"
               if origin and not fact.live else live_en))


def _embedded_answer(responses: tuple[bytes, ...], certificate: CertificateFacts,
                     issuer: CertificateFacts, context: VerificationContext, now: dt.datetime
                     ) -> CertificateStatusFact | None:
    for der in responses:
        # What an answer's bytes say of these two certificates is a fact of the three (the
        # same answer comes embedded in every copy of a licence); freshness is judged here.
        fact = context.cached(("embedded-ocsp", der, certificate.der, issuer.der),
                              lambda der=der: read_ocsp_response(
                                  der, certificate, issuer, live=False, source="embedded"))
        if fact is not None and (fact.status != "good" or is_fresh(fact, now)):
            return fact
    return None
