"""The database goes away under the served app: issuance answers 503
`database_unavailable`, nothing partial is left, and the same server works again by
itself once the database is back (no restart; PostgreSQL's pool pre-pings).

On PostgreSQL (the PostgreSQL pass of scripts/test) the domain's database stops accepting
connections and every connection to it is terminated, as when the server restarts or fails
over. On SQLite the meaningful outage is another process holding the write lock longer
than the busy timeout (a backup, a stuck migration); the test shortens the timeout from
30 s to 0.5 s so that it runs in seconds."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time

import domain_kit
import httpx
import pytest
import reliability_kit as kit
from sqlalchemy import event, text

from api.app import create_app
from certseal.db import make_engine
from certseal.domain import TrustDomain

ON_POSTGRES = bool(os.environ.get(domain_kit.TEST_DATABASE_ENV))


@contextlib.contextmanager
def postgres_down(database_url: str):
    name = database_url.rsplit("/", 1)[1]
    admin = make_engine(os.environ[domain_kit.TEST_DATABASE_ENV]).execution_options(
        isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false'))
            connection.execute(text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = :name AND pid <> pg_backend_pid()"), {"name": name})
        yield
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true'))
        admin.dispose()


@contextlib.contextmanager
def sqlite_write_locked(path: str):
    holder = sqlite3.connect(path, isolation_level=None)
    try:
        holder.execute("BEGIN EXCLUSIVE")
        yield
    finally:
        holder.execute("ROLLBACK")
        holder.close()


@pytest.fixture
def served(tmp_path):
    under_test = domain_kit.make_domain(tmp_path / "home", issue_samples=False)
    settings = under_test.domain.settings
    url = settings.effective_database_url
    engine = make_engine(url)
    if not ON_POSTGRES:
        @event.listens_for(engine, "connect")
        def _short_busy_timeout(dbapi_connection, _record) -> None:
            dbapi_connection.execute("PRAGMA busy_timeout=500")

    domain = TrustDomain(settings, engine=engine)
    under_test.domain.close()
    under_test.domain = domain
    app = create_app(settings, domain=domain)
    try:
        with domain_kit.serving(under_test, app=app) as base_url, \
                httpx.Client(base_url=base_url, timeout=60) as http:
            yield under_test, http, url
    finally:
        domain.close()


def test_database_outage_answers_503_leaves_nothing_and_recovers(served):
    under_test, http, url = served
    engine = under_test.domain.engine
    first = kit.issue(http, under_test.api_key, "before")
    assert first.status_code == 201
    licence_path = f"/v1/licences/{first.json()['licence_id']}"
    department = {"Authorization": f"Bearer {under_test.api_key}"}
    before = kit.footprint(engine)
    outage = (postgres_down(url) if ON_POSTGRES
              else sqlite_write_locked(engine.url.database))

    with outage:
        started = time.perf_counter()
        answer = kit.issue(http, under_test.api_key, "during")
        latency = time.perf_counter() - started
        assert answer.status_code == 503, answer.text
        assert answer.json()["code"] == "database_unavailable"
        assert "database" in answer.json()["detail"]
        assert answer.headers["content-type"].startswith("application/problem+json")
        assert kit.issue(http, under_test.api_key, "during").status_code == 503
        if ON_POSTGRES:  # reads fail too, and readiness says so
            assert http.get(licence_path, headers=department).json()["code"] \
                == "database_unavailable"
            ready = http.get("/readyz")
            assert ready.status_code == 503
            assert ready.json()["checks"] == {"database": False, "hsm": True,
                                            "verification": True}
        else:  # WAL: readers carry on while the writer is locked out
            assert http.get(licence_path, headers=department).status_code == 200
        print(f"{'postgresql' if ON_POSTGRES else 'sqlite'}: issuance 503 in "
              f"{latency * 1000:.0f} ms")
        assert latency < 10

    # Back by itself: same server, same pool.
    assert kit.nothing_written(before, kit.footprint(engine))
    assert http.get("/readyz").status_code == 200
    again = kit.issue(http, under_test.api_key, "during")
    assert again.status_code == 201, again.text
    assert again.json()["replayed"] is False
    serial_of = lambda answer: int(answer.json()["licence_id"].split("-")[2])  # noqa: E731
    assert serial_of(again) > serial_of(first)
    assert kit.footprint(engine)["licences"] == before["licences"] + 1
    assert kit.integrity_problems(engine) == {}
