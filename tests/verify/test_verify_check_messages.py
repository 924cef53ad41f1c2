"""The messages of the status checks, now rendered once per fact object, say exactly what
they said when built on every check: for every kind of answer (live OCSP, CRL, cached,
embedded; live and synced status lists), the first time and again from the kept text."""

from __future__ import annotations

import asyncio
import datetime as dt
from types import SimpleNamespace

import pytest

from certs.qr import QrClaims
from verify.licence import licence_status_check, revocation_now_check
from verify.revocation import CertificateStatusFact
from verify.status import LicenceStatusFact

NOW = dt.datetime(2026, 11, 22, 3, 0, tzinfo=dt.UTC)
THIS = dt.datetime(2026, 11, 22, 2, 30, 5, tzinfo=dt.UTC)
NEXT = dt.datetime(2026, 11, 22, 3, 30, 5, tzinfo=dt.UTC)


class Source:
    def __init__(self, fact) -> None:
        self.fact = fact

    async def status_now(self, certificate, issuer, *, offline, now):
        return self.fact

    async def status_of(self, ref, *, offline):
        return self.fact


def _context(fact, offline=True):
    return SimpleNamespace(certificate_status=Source(fact), licence_status=Source(fact),
                           offline=offline, now=lambda: NOW)


@pytest.mark.parametrize(("source", "live", "zh", "en"), [
    ("http://ocsp.example/pki/ocsp", True, "签章证书当前未被吊销",
     "the seal certificate is not revoked now (live OCSP answer)"),
    ("per CRL http://crl.example/ca.crl", True, "签章证书当前未被吊销（最新 CRL）",
     "the seal certificate is not revoked now (per CRL http://crl.example/ca.crl)"),
    ("cache", False, "签章证书当前未被吊销（缓存的状态应答）",
     "the seal certificate is not revoked now (cached answer of 2026-11-22T02:30:05+00:00, "
     "valid until 2026-11-22T03:30:05+00:00)"),
    ("embedded", False, "签章证书当前未被吊销（文件内嵌的状态应答）",
     "the seal certificate is not revoked now (answer embedded in the document of "
     "2026-11-22T02:30:05+00:00, valid until 2026-11-22T03:30:05+00:00)"),
])
def test_not_revoked_messages(source, live, zh, en):
    fact = CertificateStatusFact("good", THIS, NEXT, live, source)
    for _ in range(2):  # built, then kept
        check = asyncio.run(revocation_now_check(object(), object(), _context(fact)))
        assert (check.outcome, check.message_zh, check.message_en) == ("passed", zh, en)
        assert check.details["this_update"] == THIS and check.details["source"] == source


@pytest.mark.parametrize(("live", "zh", "en"), [
    (True, "证照状态有效（实时查询）", "the licence is valid according to the live status list"),
    (False, "证照状态有效（截至2026-11-22T02:30:05+00:00同步）",
     "the licence is valid according to the status list synced as of "
     "2026-11-22T02:30:05+00:00"),
])
def test_licence_status_messages(live, zh, en):
    fact = LicenceStatusFact("valid", THIS, live, "synced status list")
    claims = QrClaims(kid=b"k" * 8, licence_id="L", type_code="yyzz", holder_name="h",
                      holder_id_masked="m", valid_from=dt.date(2026, 1, 1), valid_until=None,
                      issuer_name="i", issuer_uscc="11440100MB2C923971", issued_at=THIS,
                      data_digest=b"d" * 32, status_index=7)
    for _ in range(2):
        check = asyncio.run(licence_status_check(claims, _context(fact, offline=not live)))
        assert (check.outcome, check.message_zh, check.message_en) == ("passed", zh, en)
        assert check.details["age_seconds"] == int((NOW - THIS).total_seconds())
