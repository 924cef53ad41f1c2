"""Idempotency under concurrency, through the real HTTP stack: many identical requests
with one Idempotency-Key sent at the same moment give exactly one licence, and every
answer is 201 or 200 naming it; the same key with another body is 409. Once in one server
process, once across the two worker processes of `certseal serve --workers 2` (where only
the database's unique key can decide). On SQLite, and on PostgreSQL in its pass."""

from __future__ import annotations

import sys
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from sqlalchemy import func
from sqlmodel import select

from certs.models import Licence, LicenceSerial
from certs.samples import sample_licence_data

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "reliability"))
import reliability_kit

SIMULTANEOUS = 16


def _at_once(base_url: str, api_key: str, key: str, bodies: list[dict]) -> list[httpx.Response]:
    """One connection per request, all released by one barrier."""
    barrier = threading.Barrier(len(bodies))

    def send(body: dict) -> httpx.Response:
        with httpx.Client(base_url=base_url, timeout=120,
                          headers={"Authorization": f"Bearer {api_key}"}) as client:
            client.get("/healthz")  # the connection is open before the barrier
            barrier.wait(timeout=60)
            return client.post("/v1/licences", json=body, headers={"Idempotency-Key": key})

    with ThreadPoolExecutor(len(bodies)) as pool:
        return list(pool.map(send, bodies))


def _licences_with_key(domain, department_id: str, key: str) -> int:
    with domain.session() as session:
        return session.exec(select(func.count()).select_from(Licence).where(
            Licence.department_id == department_id, Licence.idempotency_key == key)).one()


def _assert_one_licence(answers: list[httpx.Response]) -> str:
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [200] * (len(answers) - 1) + [201], [a.text[:200] for a in answers]
    ids = {a.json()["licence_id"] for a in answers}
    assert len(ids) == 1
    assert [a.json()["replayed"] for a in answers].count(False) == 1
    return ids.pop()


def _body(**changes) -> dict:
    return {"type": "zyzgzs", "data": sample_licence_data("zyzgzs") | changes}


def _last_serial(domain, department_id: str) -> int:
    with domain.session() as session:
        row = session.get(LicenceSerial, ("zyzgzs", department_id))
        return row.last_serial if row else 0


def test_simultaneous_retries_in_one_process_give_one_licence(served_api):
    under_test = served_api.under_test
    key = "race-" + uuid.uuid4().hex
    serial_before = _last_serial(under_test.domain, under_test.department_id)
    answers = _at_once(served_api.base_url, under_test.api_key, key,
                       [_body()] * SIMULTANEOUS)
    licence_id = _assert_one_licence(answers)
    assert _licences_with_key(under_test.domain, under_test.department_id, key) == 1
    # In one process the retries wait for the first and replay it: one serial used, not
    # sixteen sealed and fifteen thrown away.
    assert _last_serial(under_test.domain, under_test.department_id) == serial_before + 1
    conflict = _at_once(served_api.base_url, under_test.api_key, key,
                        [_body(等级="二级/技师")] * 2)
    assert [a.status_code for a in conflict] == [409, 409]
    assert {a.json()["code"] for a in conflict} == {"idempotency_conflict"}
    with served_api.department as client:
        assert client.get(f"/v1/licences/{licence_id}").status_code == 200


def test_simultaneous_retries_across_worker_processes_give_one_licence(fresh_domain):
    server = reliability_kit.ServerProcess(fresh_domain.home, reliability_kit.domain_kit
                                           .free_port(), workers=2,
                                           env={"CERTSEAL_RATE_LIMIT_AUTH_FAILURES": "off"})
    server.start()
    try:
        keys = ["race-" + uuid.uuid4().hex for _ in range(3)]
        for key in keys:  # a few rounds: each split between the two workers differently
            answers = _at_once(server.url, fresh_domain.api_key, key,
                               [_body()] * SIMULTANEOUS)
            _assert_one_licence(answers)
            assert _licences_with_key(fresh_domain.domain, fresh_domain.department_id,
                                      key) == 1
        mixed = _at_once(server.url, fresh_domain.api_key, "race-" + uuid.uuid4().hex,
                         [_body()] * 4 + [_body(等级="二级/技师")] * 4)
        by_body = [sorted(a.status_code for a in mixed[:4]),
                   sorted(a.status_code for a in mixed[4:])]
        # Whichever body came first wins: its four are 201 + 200s, the others' 409.
        assert by_body in ([[200, 200, 200, 201], [409] * 4], [[409] * 4, [200, 200, 200, 201]]
                           ), by_body
    finally:
        server.stop()
    engine = fresh_domain.domain.engine
    assert reliability_kit.integrity_problems(engine) == {}
