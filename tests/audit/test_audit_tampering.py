"""`certseal audit verify` on a real home: intact passes (exit 0); each kind of tampering
done straight in the SQLite file is named at the right entry (exit 1): an edit, a removal,
a swap, an insertion, a truncated tail, and a forger's rewrite with recomputed hashes that
only the time-stamped checkpoints can catch."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import domain_kit
import pytest

from ca.audit import entry_hash
from certseal import audit, status

CLI = Path(sys.executable).with_name("certseal")


@pytest.fixture(scope="module")
def pristine(tmp_path_factory) -> Path:
    """A home with 20 entries and three checkpoints (at 13, 17 and 19):
    1-7 init (domain, keys, first trust list), 8-10 onboarding, 11-12 issued, 13 revoked,
    14 checkpoint, 15 issued, 16-17 seal suspended and reinstated, 18 checkpoint,
    19 issued, 20 checkpoint."""
    under_test = domain_kit.make_domain(tmp_path_factory.mktemp("audit") / "home",
                                        issue_samples=False)
    domain = under_test.domain
    first = under_test.issue("yyzz")
    under_test.issue("zyzgzs")
    status.change_licence_status(domain, first.licence_id, "revoke", reason="test",
                                 actor="operator:test")
    audit.checkpoint(domain)
    under_test.issue("spjyxkz")
    status.suspend_seal(domain, under_test.seal_id, actor="operator:test")
    status.reinstate_seal(domain, under_test.seal_id, actor="operator:test")
    audit.checkpoint(domain)
    under_test.issue("yyzz")
    audit.checkpoint(domain)
    domain.close()
    return under_test.home


@pytest.fixture
def home(pristine: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "home"
    shutil.copytree(pristine, copy)
    return copy


def run_verify(home: Path) -> tuple[int, dict, str]:
    env = dict(os.environ, CERTSEAL_HSM_PIN=domain_kit.TEST_PIN_ENV["hsm_pin"])
    done = subprocess.run([str(CLI), "audit", "verify", "--home", str(home), "--json"],
                          capture_output=True, text=True, env=env, timeout=60)
    return done.returncode, json.loads(done.stdout), done.stderr


def tamper(home: Path, *statements: str, params=()) -> None:
    database = sqlite3.connect(home / "certseal.db")
    with database:
        for statement in statements:
            database.execute(statement, params)
    database.close()


def rows(home: Path) -> list[tuple]:
    database = sqlite3.connect(home / "certseal.db")
    found = database.execute(
        "SELECT sequence, at, actor, action, subject, source, details, prev_hash, entry_hash"
        " FROM ca_audit_entry ORDER BY sequence").fetchall()
    database.close()
    return found


def first_problem(home: Path) -> dict:
    code, report, stderr = run_verify(home)
    assert code == 1, report
    assert not report["intact"] and "tampered" in stderr
    return report["first_problem"]


def test_pristine_log_verifies(pristine: Path):
    code, report, _ = run_verify(pristine)
    assert code == 0, report
    assert report["intact"] and report["entries"] == 20 and report["head_sequence"] == 20
    assert report["checkpoints"] == 3 and report["last_checkpoint_sequence"] == 19
    actions = [r[3] for r in rows(pristine)]
    assert actions[6] == "trust_list.published"
    assert actions[10:20] == ["licence.issued", "licence.issued", "licence.revoked",
                             "audit.checkpointed", "licence.issued", "seal.suspended",
                             "seal.reinstated", "audit.checkpointed", "licence.issued",
                             "audit.checkpointed"]


def test_edited_details_named_at_that_entry(home: Path):
    tamper(home, "UPDATE ca_audit_entry SET details = replace(details, 'zyzgzs', 'yyzz')"
                 " WHERE sequence = 12")
    problem = first_problem(home)
    assert (problem["sequence"], problem["kind"]) == (12, "edited")


def test_removed_entry_named(home: Path):
    tamper(home, "DELETE FROM ca_audit_entry WHERE sequence = 12")
    problem = first_problem(home)
    assert (problem["sequence"], problem["kind"]) == (12, "removed")


def test_swapped_entries_named_as_reordered(home: Path):
    tamper(home, "UPDATE ca_audit_entry SET sequence = -1 WHERE sequence = 11",
           "UPDATE ca_audit_entry SET sequence = 11 WHERE sequence = 12",
           "UPDATE ca_audit_entry SET sequence = 12 WHERE sequence = -1")
    problem = first_problem(home)
    assert (problem["sequence"], problem["kind"]) == (11, "reordered")


def test_inserted_entry_named(home: Path):
    prev = rows(home)[10]  # entry 11
    # Renumber 12..20 one up, from the top (sequence is the primary key).
    for s in range(20, 11, -1):
        tamper(home, "UPDATE ca_audit_entry SET sequence = sequence + 1 WHERE sequence = ?",
               params=(s,))
    forged = dict(sequence=12, at=prev_at(prev), actor="operator:mallory",
                  action="licence.revoked", subject="X", source="cli@elsewhere", details="{}",
                  prev_hash=prev[8])
    tamper(home, "INSERT INTO ca_audit_entry VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
           params=(12, prev[1], "operator:mallory", "licence.revoked", "X", "cli@elsewhere",
                   "{}", prev[8], entry_hash(**forged)))
    problem = first_problem(home)
    assert (problem["sequence"], problem["kind"]) == (12, "inserted")


def prev_at(row: tuple):
    from datetime import UTC, datetime

    return datetime.fromisoformat(row[1]).replace(tzinfo=UTC)


def test_truncated_tail_caught_by_head_and_checkpoint(home: Path):
    seventeen = rows(home)[16]
    # The forger also moves the chain head back: only the checkpoints remain.
    tamper(home, "DELETE FROM ca_audit_entry WHERE sequence > 17")
    tamper(home, "UPDATE ca_audit_head SET sequence = 17, entry_hash = ?",
           params=(seventeen[8],))
    code, report, _ = run_verify(home)
    assert code == 1
    assert report["first_problem"]["kind"] == "removed"
    assert report["first_problem"]["sequence"] == 18
    assert any("checkpoint 3" in p["message"] and p["sequence"] == 19
               for p in report["problems"])


def test_rewrite_with_recomputed_hashes_caught_by_the_time_stamps(home: Path):
    """A forger without the TSA key edits entry 15 and recomputes every hash after it:
    the chain is consistent again, but not the head hashes the TSA signed at 17 and 19."""
    database = sqlite3.connect(home / "certseal.db")
    prev_hash = None
    with database:
        for row in rows(home)[14:]:
            sequence, _, actor, action, subject, source, details, old_prev, _ = row
            if sequence == 15:
                details = details.replace("spjyxkz", "yyzz")
            prev = prev_hash or old_prev
            new_hash = entry_hash(sequence=sequence, at=prev_at(row), actor=actor,
                                  action=action, subject=subject, source=source,
                                  details=details, prev_hash=prev)
            database.execute("UPDATE ca_audit_entry SET details = ?, prev_hash = ?, "
                             "entry_hash = ? WHERE sequence = ?",
                             (details, prev, new_hash, sequence))
            prev_hash = new_hash
        database.execute("UPDATE ca_audit_head SET entry_hash = ?", (prev_hash,))
    database.close()
    problem = first_problem(home)
    # Checkpoint 1 (entry 13) still matches: the rewrite lies in 14..17.
    assert problem["kind"] == "edited" and problem["sequence"] == 14
    assert "checkpoint 2" in problem["message"] and "14..17" in problem["message"]


def test_forged_checkpoint_hash_caught_by_its_token(home: Path):
    tamper(home, "UPDATE ca_audit_checkpoint SET head_hash = ? WHERE id = 2",
           params=("ab" * 32,))
    problem = first_problem(home)
    assert problem["kind"] == "checkpoint" and problem["sequence"] == 17
    assert "another head hash" in problem["message"]


def test_deleted_checkpoint_noticed(home: Path):
    tamper(home, "DELETE FROM ca_audit_checkpoint WHERE id = 2")
    problem = first_problem(home)
    assert problem["kind"] == "checkpoint" and problem["sequence"] == 18


def test_checkpoint_and_show_from_the_cli(home: Path):
    env = dict(os.environ, CERTSEAL_HSM_PIN=domain_kit.TEST_PIN_ENV["hsm_pin"])
    done = subprocess.run([str(CLI), "audit", "checkpoint", "--home", str(home), "--json"],
                          capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    made = json.loads(done.stdout)
    assert made["sequence"] == 20 and made["checkpoint"] == 4
    done = subprocess.run([str(CLI), "audit", "show", "--home", str(home), "--json",
                           "--limit", "2"], capture_output=True, text=True, env=env, timeout=60)
    shown = json.loads(done.stdout)["entries"]
    assert [e["sequence"] for e in shown] == [20, 21]
    assert shown[1]["action"] == "audit.checkpointed"
    assert shown[1]["actor"] == "operator:cli" and shown[1]["source"].startswith("cli@")
    assert run_verify(home)[0] == 0
