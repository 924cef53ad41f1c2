"""The audit log records who did what to which subject, in the transaction of the act:
init, onboarding, issuance, licence and seal status changes; no secret or full resident
identity number ever lands in it; a failed act leaves no entry."""

from __future__ import annotations

import json
import sqlite3

import domain_kit
import pytest
from sqlmodel import Session, select

from ca.audit import acting_as, append_entry, mask_resident_ids, scrub
from ca.audit_models import AuditEntry
from certs.identifiers import make_uscc
from certs.samples import sample_licence_data
from certseal import audit, status
from certseal.db import transaction

PERSON_ID = sample_licence_data("zyzgzs")["公民身份号码"]


def entries(domain) -> list[AuditEntry]:
    with domain.session() as session:
        return list(session.exec(select(AuditEntry).order_by(AuditEntry.sequence)))


def newest(domain, action: str) -> AuditEntry:
    found = [e for e in entries(domain) if e.action == action]
    assert found, f"no {action} entry"
    return found[-1]


def test_init_and_onboarding_are_recorded(fresh_domain):
    log = entries(fresh_domain.domain)
    assert [e.sequence for e in log] == list(range(1, len(log) + 1))
    assert log[0].action == "domain.created" and log[0].subject == "440000"
    assert {e.subject for e in log if e.action == "key.generated"} >= {
        "root-ca", "issuing-ca", "tsa", "ocsp-signer", "trust-list-signer",
        f"seal-{fresh_domain.seal_id}"}
    department = newest(fresh_domain.domain, "department.created")
    assert department.subject == fresh_domain.department_id
    seal = newest(fresh_domain.domain, "seal.created")
    assert seal.subject == fresh_domain.seal_id
    assert json.loads(seal.details)["department"] == fresh_domain.department_id


def test_issue_and_licence_status_changes_are_recorded(fresh_domain):
    issued = fresh_domain.issue("zyzgzs")
    entry = newest(fresh_domain.domain, "licence.issued")
    assert entry.subject == issued.licence_id
    assert entry.actor == f"department:{fresh_domain.department_id}"
    details = json.loads(entry.details)
    assert details["type"] == "zyzgzs" and details["seal"] == fresh_domain.seal_id
    assert details["holder"] == PERSON_ID[:6] + "********" + PERSON_ID[-4:]

    for action, code in (("suspend", "licence.suspended"), ("reinstate", "licence.reinstated"),
                         ("revoke", "licence.revoked")):
        status.change_licence_status(fresh_domain.domain, issued.licence_id, action,
                                     reason=f"{action} for the test", actor="operator:alice")
        entry = newest(fresh_domain.domain, code)
        assert (entry.subject, entry.actor) == (issued.licence_id, "operator:alice")
        assert json.loads(entry.details) == {"reason": f"{action} for the test"}


def test_cli_issue_is_recorded_as_an_operator(fresh_domain):
    from seal.issuance import IssuanceRequest

    issued = fresh_domain.domain.issue_licence(IssuanceRequest(
        department_id=fresh_domain.department_id, type_code="yyzz",
        data=sample_licence_data("yyzz"), actor="cli"))
    entry = newest(fresh_domain.domain, "licence.issued")
    assert (entry.subject, entry.actor) == (issued.licence_id, "operator:cli")


def test_seal_status_changes_are_recorded(fresh_domain):
    domain, seal_id = fresh_domain.domain, fresh_domain.seal_id
    status.suspend_seal(domain, seal_id, actor="operator:bob", note="lost card")
    status.reinstate_seal(domain, seal_id, actor="operator:bob")
    status.revoke_seal(domain, seal_id, "keyCompromise", actor="operator:carol")
    log = [e for e in entries(domain) if e.action.startswith("seal.")][-3:]
    assert [(e.action, e.subject, e.actor) for e in log] == [
        ("seal.suspended", seal_id, "operator:bob"), ("seal.reinstated", seal_id, "operator:bob"),
        ("seal.revoked", seal_id, "operator:carol")]
    assert json.loads(log[0].details)["note"] == "lost card"
    assert json.loads(log[2].details)["reason"] == "keyCompromise"


def test_origin_names_actor_and_source_unless_the_call_does(fresh_domain):
    with acting_as("citizen:x", audit.http_source("203.0.113.9")):
        entry = audit.record(fresh_domain.domain, "licence.downloaded", subject="L-1")
        named = audit.record(fresh_domain.domain, "licence.downloaded", subject="L-2",
                             actor="department:D")
    assert (entry.actor, entry.source) == ("citizen:x", "http:203.0.113.9")
    assert (named.actor, named.source) == ("department:D", "http:203.0.113.9")
    outside = audit.record(fresh_domain.domain, "licence.downloaded", subject="L-3")
    assert outside.actor == "system" and outside.source.startswith("local@")


def test_no_secret_or_full_resident_id_in_any_entry(fresh_domain, tmp_path):
    domain = fresh_domain.domain
    onboarded = domain.add_department(name="福州市人力资源和社会保障局",
                                      uscc=make_uscc("12350100MB0000002"),
                                      licence_types=["zyzgzs"])
    issued = fresh_domain.issue("zyzgzs")
    # A careless caller passes secrets and a full identity number: they are scrubbed.
    with transaction(domain.engine) as session:
        append_entry(session, "licence.downloaded", subject=f"by {PERSON_ID}",
                     actor=audit.citizen_actor(PERSON_ID),
                     details={"api_key": onboarded.api_key, "user_pin": "domain-user-pin-31",
                              "nested": [{"holder": PERSON_ID}], "licence": issued.licence_id})
    database = sqlite3.connect(fresh_domain.home / "certseal.db")
    rows = database.execute("SELECT * FROM ca_audit_entry").fetchall()
    database.close()
    text = json.dumps(rows, ensure_ascii=False)
    assert issued.licence_id in text
    for secret in (onboarded.api_key, PERSON_ID, *domain_kit.TEST_PIN_ENV.values()):
        assert secret not in text
    assert "[redacted]" in text and PERSON_ID[:6] + "********" in text


def test_scrub_masks_only_valid_identity_numbers():
    assert mask_resident_ids(f"x{PERSON_ID}") == f"x{PERSON_ID}"  # not a whole number
    assert mask_resident_ids(f"id {PERSON_ID}.") == f"id {PERSON_ID[:6]}********{PERSON_ID[-4:]}."
    wrong_check = PERSON_ID[:-1] + ("1" if PERSON_ID[-1] != "1" else "2")
    assert mask_resident_ids(wrong_check) == wrong_check
    assert scrub({"Hsm-PIN": 1, "apiKey": "k", "token": "t", "reason": "fine"}) == {
        "Hsm-PIN": "[redacted]", "apiKey": "[redacted]", "token": "[redacted]",
        "reason": "fine"}
    with pytest.raises(TypeError):
        scrub({"when": object()})


def test_unknown_action_is_refused(fresh_domain):
    with Session(fresh_domain.domain.engine) as session, pytest.raises(ValueError, match="action"):
        append_entry(session, "licence.frobbed")


def test_failed_issuance_leaves_no_entry(fresh_domain, monkeypatch):
    before = len(entries(fresh_domain.domain))
    bad = dict(sample_licence_data("zyzgzs"), 公民身份号码="350102199005120029")
    with pytest.raises(Exception):  # noqa: B017 - any refusal will do; the log is the point
        fresh_domain.issue("zyzgzs", bad)
    assert len(entries(fresh_domain.domain)) == before

    # A failure after the entry was appended (the commit itself) takes the entry with it.
    def failing_commit(self):
        raise RuntimeError("disk full")

    monkeypatch.setattr(Session, "commit", failing_commit)
    with pytest.raises(RuntimeError, match="disk full"):
        fresh_domain.issue("zyzgzs")
    monkeypatch.undo()
    assert len(entries(fresh_domain.domain)) == before
    assert audit.verify(fresh_domain.domain).intact
