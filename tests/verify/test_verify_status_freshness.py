"""Online verification judges a licence by a current status list: one issued or revoked
after the counter last fetched the list is not answered from the stale copy."""

from __future__ import annotations

from certs.qr import decode_qr_payload
from certseal import status
from verify.limits import DEFAULT_LIMITS
from verify.pdf_qr import qr_texts_of_first_page


def qr_of(pdf: bytes) -> str:
    (text,) = qr_texts_of_first_page(pdf, DEFAULT_LIMITS)
    return text


def test_a_licence_issued_after_the_last_fetch_is_judged_on_a_fresh_list(served_domain,
                                                                        verify_online):
    first = served_domain.issue("zyzgzs")
    assert verify_online(qr_of(first.pdf).encode()).verdict == "valid"  # the list is held
    later = served_domain.issue("zyzgzs")
    assert decode_qr_payload(qr_of(later.pdf)).claims.status_index > \
        decode_qr_payload(qr_of(first.pdf)).claims.status_index
    report = verify_online(qr_of(later.pdf).encode())
    assert report.verdict == "valid", [(c.code, c.outcome, c.message_en) for c in report.checks]
    assert report.check("licence.status").outcome == "passed"


def test_a_revocation_after_the_last_fetch_is_seen_at_once(served_domain, verify_online):
    issued = served_domain.issue("zyzgzs")
    qr = qr_of(issued.pdf).encode()
    assert verify_online(qr).verdict == "valid"
    status.change_licence_status(served_domain.domain, issued.licence_id, "revoke",
                                 reason="test", actor="operator:test")
    report = verify_online(qr)
    assert report.verdict == "invalid"
    assert report.check("licence.status").outcome == "failed"


def test_a_sync_alone_lets_a_counter_judge_a_qr_offline(served_domain, synced_counter):
    """After one sync (status lists and the seal certificates' status), the counter
    judges a QR code valid with no network and no earlier online verification."""
    import asyncio

    from verify.inputs import verify_bytes

    qr = qr_of(served_domain.licences["yyzz"].pdf).encode()
    report = asyncio.run(verify_bytes(qr, synced_counter.context(offline=True)))
    assert report.verdict == "valid", [(c.code, c.outcome, c.message_en)
                                       for c in report.checks]
    assert report.check("revocation.now").outcome == "passed"
