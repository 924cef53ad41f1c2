"""A seal certificate's place in the accepted trust lists: issued by a listed issuing CA
that chains to a listed root, both ``granted`` at the moment that matters."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from verify.certificates import CertificateFacts
from verify.context import ListedService, VerificationContext, granted_among
from verify.report import Check, TrustFacts, failed, passed, undecided


@dataclass(frozen=True)
class Placement:
    """Where a certificate's issuer sits in the trust lists (None parts: not found)."""

    issuer: CertificateFacts | None
    root: CertificateFacts | None
    trust: TrustFacts | None
    # Every entry of the issuer as an issuing CA and of the root as a root, in the lists.
    issuer_services: tuple[ListedService, ...] = ()
    root_services: tuple[ListedService, ...] = ()


def place(certificate: CertificateFacts, context: VerificationContext) -> Placement:
    """Find the listed issuing CA that signed ``certificate`` and the listed root above it
    (once per certificate and context: it depends on the context's trust lists alone)."""
    return context.cached(("placement", certificate.der), lambda: _place(certificate, context))


def _place(certificate: CertificateFacts, context: VerificationContext) -> Placement:
    for issuing in context.services("issuing-ca"):
        ca = issuing.facts
        if not ca.issued(certificate):
            continue
        for root in context.services("root-ca"):
            if root.trust_list is issuing.trust_list and root.facts.issued(ca):
                tl = issuing.trust_list
                return Placement(ca, root.facts, TrustFacts(
                    region_code=tl.region_code, region_name=tl.region_name,
                    trust_list_sequence=tl.sequence_number, trust_list_issued_at=tl.issued_at,
                    trust_list_next_update=tl.next_update,
                    issuing_ca=ca.subject_text), context.listed(ca, "issuing-ca"),
                    context.listed(root.facts, "root-ca"))
        return Placement(ca, None, None)
    return Placement(None, None, None)


def trust_list_check(placement: Placement, context: VerificationContext,
                     when: dt.datetime) -> Check:
    """chain.trust_list: issuing CA and root both granted at ``when`` in an accepted list."""
    code = "chain.trust_list"
    if placement.issuer is None or placement.root is None:
        accepted = "、".join(f"{signed.trust_list.region_name}（{signed.trust_list.region_code}）"
                            for signed in context.trust_lists)
        accepted_en = ", ".join(f"{signed.trust_list.region_name} "
                                f"({signed.trust_list.region_code})"
                                for signed in context.trust_lists)
        return failed(code, f"签发地区未获认可：签章证书的签发机构不在本柜台接受的任何信任列表中"
                            f"（已接受：{accepted}）",
                      "the issuing region is not recognised: the seal certificate's issuer is "
                      f"in none of the trust lists this counter accepts (accepted: {accepted_en})",
                      accepted_regions=[s.trust_list.region_code for s in context.trust_lists])
    issuing = granted_among(placement.issuer_services, when)
    root = granted_among(placement.root_services, when)
    details = {"at": when, "issuing_ca": placement.issuer.subject_text}
    if issuing is None or root is None:
        return failed(code, "签发机构在该时间未被信任列表授权",
                      "the issuing CA or its root was not granted in the trust list at "
                      f"{when.isoformat()}", **details)
    tl = issuing.trust_list
    return passed(code, f"签发机构列于{tl.region_name}信任列表（第{tl.sequence_number}版）",
                  f"issuing CA granted in the trust list of {tl.region_name} "
                  f"({tl.region_code}, sequence {tl.sequence_number})",
                  **details, region_code=tl.region_code)


def trust_list_freshness(context: VerificationContext, now: dt.datetime) -> Check:
    """chain.trust_list_current: a list past its next update may miss a withdrawal."""
    code = "chain.trust_list_current"
    stale = [s.trust_list for s in context.trust_lists if s.trust_list.next_update < now]
    if stale:
        return undecided(code, "信任列表已过期，请同步最新信任列表",
                         "a trust list is past its next update; sync the current one",
                         stale=[f"{t.region_code}#{t.sequence_number}" for t in stale])
    return passed(code, "信任列表在有效期内", "the trust lists are current",
                  lists=[f"{s.trust_list.region_code}#{s.trust_list.sequence_number}"
                         for s in context.trust_lists])


