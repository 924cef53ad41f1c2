"""A seal certificate's place in the accepted trust lists: issued by a listed issuing CA
that chains to a listed root, both ``granted`` at the moment that matters."""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import NameOID

from verify.context import VerificationContext
from verify.kept import ByIdentity
from verify.report import Check, SignerFacts, TrustFacts, failed, passed, undecided

_ORG_ID_PREFIX = "NTRCN-"  # ETSI EN 319 412-1 semantics identifier for a Chinese USCC


@dataclass(frozen=True)
class Placement:
    """Where a certificate's issuer sits in the trust lists (None parts: not found)."""

    issuer: x509.Certificate | None
    root: x509.Certificate | None
    trust: TrustFacts | None


@functools.lru_cache(maxsize=1024)
def _signer_facts(certificate: x509.Certificate) -> SignerFacts:
    """What the report says of a signer (read from its certificate alone, so kept)."""
    def first(oid) -> str | None:
        values = certificate.subject.get_attributes_for_oid(oid)
        return str(values[0].value) if values else None

    org_id = first(NameOID.ORGANIZATION_IDENTIFIER)
    uscc = org_id[len(_ORG_ID_PREFIX):] if org_id and org_id.startswith(_ORG_ID_PREFIX) else None
    return SignerFacts(
        department_name=first(NameOID.ORGANIZATION_NAME) or first(NameOID.COMMON_NAME),
        uscc=uscc,
        certificate_subject=certificate.subject.rfc4514_string(),
        certificate_sha256=certificate.fingerprint(hashes.SHA256()).hex(":").upper(),
        certificate_serial=format(certificate.serial_number, "x"),
    )


signer_facts = ByIdentity(_signer_facts)


@functools.lru_cache(maxsize=1024)
def _subject_text(certificate: x509.Certificate) -> str:
    """The subject as RFC 4514 text (a fact of the certificate alone, so kept)."""
    return certificate.subject.rfc4514_string()


subject_text = ByIdentity(_subject_text)


@functools.lru_cache(maxsize=4096)
def _issued_by(child: x509.Certificate, parent: x509.Certificate) -> bool:
    """Whether ``parent`` signed ``child``: a fact of the two certificates' bytes alone
    (certificates hash and compare by DER), so the answer is kept; whether either is
    trusted is judged afresh from the trust lists of each context."""
    try:
        child.verify_directly_issued_by(parent)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def place(certificate: x509.Certificate, context: VerificationContext) -> Placement:
    """Find the listed issuing CA that signed ``certificate`` and the listed root above it
    (once per certificate and context: it depends on the context's trust lists alone)."""
    # Keyed by identity first (hashing a certificate hashes its DER), held with the
    # certificate so the id stays its own; another object of the same certificate (a PDF's
    # signer, read anew each time) is found by value.
    held = context.remembered(("placement-of", id(certificate)), lambda: (
        certificate, context.remembered(("placement", certificate),
                                        lambda: _place(certificate, context))))
    if held[0] is certificate:
        return held[1]
    return context.remembered(("placement", certificate), lambda: _place(certificate, context))


def _place(certificate: x509.Certificate, context: VerificationContext) -> Placement:
    for issuing in context.services("issuing-ca"):
        ca = issuing.service.certificate
        if not _issued_by(certificate, ca):
            continue
        for root in context.services("root-ca"):
            if root.trust_list is issuing.trust_list and _issued_by(ca, root.service.certificate):
                tl = issuing.trust_list
                return Placement(ca, root.service.certificate, TrustFacts(
                    region_code=tl.region_code, region_name=tl.region_name,
                    trust_list_sequence=tl.sequence_number, trust_list_issued_at=tl.issued_at,
                    trust_list_next_update=tl.next_update,
                    issuing_ca=ca.subject.rfc4514_string()))
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
    issuing = context.granted_at(placement.issuer, "issuing-ca", when)
    root = context.granted_at(placement.root, "root-ca", when)
    details = {"at": when, "issuing_ca": subject_text(placement.issuer)}
    if issuing is None or root is None:
        return failed(code, "签发机构在该时间未被信任列表授权",
                      "the issuing CA or its root was not granted in the trust list at "
                      f"{when.isoformat()}", **details)
    tl = issuing.trust_list
    zh, en = _granted_messages(tl)
    return passed(code, zh, en, **details, region_code=tl.region_code)


def _granted_text(tl) -> tuple[str, str]:
    return (f"签发机构列于{tl.region_name}信任列表（第{tl.sequence_number}版）",
            f"issuing CA granted in the trust list of {tl.region_name} "
            f"({tl.region_code}, sequence {tl.sequence_number})")


_granted_messages = ByIdentity(_granted_text)  # per trust list object (frozen)


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

