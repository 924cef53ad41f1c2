"""Eight threads appending in their own transactions at once: one unbroken chain, no
fork, no gap, nothing lost."""

from __future__ import annotations

import itertools
import threading

from sqlmodel import select

from ca.audit import append_entry
from ca.audit_models import AuditEntry
from certseal import audit
from certseal.db import transaction

THREADS, EACH = 8, 10


def test_concurrent_appends_make_one_chain(fresh_domain):
    domain = fresh_domain.domain
    with domain.session() as session:
        before = len(list(session.exec(select(AuditEntry))))
    start = threading.Barrier(THREADS)
    errors: list[BaseException] = []

    def work(worker: int) -> None:
        try:
            start.wait()
            for n in range(EACH):
                with transaction(domain.engine) as session:
                    # A read first, as real flows do before their first write.
                    session.exec(select(AuditEntry).limit(1)).all()
                    append_entry(session, "licence.downloaded", subject=f"w{worker}-{n}",
                                 actor=f"citizen:w{worker}")
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    with domain.session() as session:
        log = list(session.exec(select(AuditEntry).order_by(AuditEntry.sequence)))
    assert len(log) == before + THREADS * EACH
    assert [e.sequence for e in log] == list(range(1, len(log) + 1))
    assert all(b.prev_hash == a.entry_hash for a, b in itertools.pairwise(log))
    assert {e.subject for e in log[before:]} == {f"w{w}-{n}" for w in range(THREADS)
                                                  for n in range(EACH)}
    result = audit.verify(domain)
    assert result.intact, result.problems
