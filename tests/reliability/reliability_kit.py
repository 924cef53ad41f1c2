"""Real processes for the reliability suites: `certseal serve --workers N` as a child
process group (so kill -9 takes the workers too), issuance clients, the database's
integrity checks, and licence verification the way a counter does it.

Import as `import reliability_kit` (pytest puts this directory on sys.path); the soak
command (scripts/soak) imports it the same way.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from sqlalchemy import text
from sqlalchemy.engine import Engine

REPO = Path(__file__).resolve().parents[2]
CERTSEAL = REPO / ".venv" / "bin" / "certseal"
if str(REPO / "tests") not in sys.path:
    sys.path.insert(0, str(REPO / "tests"))

import domain_kit  # noqa: E402  (tests/ must be on sys.path first, for scripts/soak)

LICENCE_TYPE = "zyzgzs"


def server_env(home: Path, **extra: str) -> dict[str, str]:
    env = {**os.environ, "CERTSEAL_HOME": str(home),
           "CERTSEAL_HSM_PIN": domain_kit.TEST_PIN_ENV["hsm_pin"],
           "CERTSEAL_HSM_SO_PIN": domain_kit.TEST_PIN_ENV["hsm_so_pin"], **extra}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)  # serve makes a fresh one per start
    return env


@dataclass
class ServerProcess:
    """`certseal serve` in a process group of its own, on loopback."""

    home: Path
    port: int
    workers: int = 2
    log_path: Path | None = None
    env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, ready_within: float = 60.0) -> float:
        """Start and wait for /readyz 200; seconds it took."""
        started = time.monotonic()
        log = (self.log_path or self.home / "serve.log").open("ab")
        self.process = subprocess.Popen(
            [str(CERTSEAL), "serve", "--home", str(self.home), "--host", "127.0.0.1",
             "--port", str(self.port), "--workers", str(self.workers)],
            env=server_env(self.home, **self.env), stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True)
        log.close()
        deadline = started + ready_within
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"certseal serve exited with {self.process.returncode}; "
                                   f"see {log.name}")
            try:
                if httpx.get(self.url + "/readyz", timeout=2).status_code == 200:
                    return time.monotonic() - started
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError("certseal serve did not become ready")

    def worker_pids(self) -> list[int]:
        """The uvicorn worker processes (children of the master, not its helpers)."""
        assert self.process is not None
        pids = []
        for pid in _children(self.process.pid):
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
            if b"resource_tracker" not in cmdline:
                pids.append(pid)
        return pids

    def kill9(self) -> None:
        """SIGKILL the whole group: master and workers die mid-whatever."""
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)
        _wait_group_gone(self.process.pid)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)
        except ProcessLookupError:
            pass
        _wait_group_gone(self.process.pid)


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        text_ = (task / "children").read_text().split()
        found += [int(p) for p in text_]
    return found


def _wait_group_gone(pgid: int, within: float = 15.0) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    raise RuntimeError(f"process group {pgid} still alive")


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


# -- clients -----------------------------------------------------------------------------
def issue(client: httpx.Client, api_key: str, key: str | None,
          data: dict | None = None) -> httpx.Response:
    from certs.samples import sample_licence_data

    headers = {"Authorization": f"Bearer {api_key}"}
    if key is not None:
        headers["Idempotency-Key"] = key
    return client.post("/v1/licences", headers=headers, json={
        "type": LICENCE_TYPE, "data": data or sample_licence_data(LICENCE_TYPE)})


def verify_pdf_verdict(home: Path, pdf: bytes, cache_dir: Path) -> str:
    """The verdict of a counter that trusts this region's published list (online: the
    served OCSP and status endpoints)."""
    from certseal.verifying import Verifier, trust_source
    from verify.inputs import verify_bytes

    counter = Verifier([trust_source(home / "published")], cache_dir=cache_dir)
    report = asyncio.run(verify_bytes(pdf, counter.context(offline=False)))
    return report.verdict.value


def audit_verify(home: Path) -> dict:
    done = subprocess.run([str(CERTSEAL), "audit", "verify", "--home", str(home), "--json"],
                          env=server_env(home), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, (done.returncode, done.stdout[-2000:], done.stderr[-2000:])
    return json.loads(done.stdout)


# -- the database's own word ---------------------------------------------------------------
INTEGRITY_QUERIES = {
    # A licence without its signed PDF is half-made.
    "licences_without_pdf": "SELECT count(*) FROM licence l LEFT JOIN licence_document d "
                            "ON d.licence_id = l.licence_id WHERE d.licence_id IS NULL",
    "pdfs_without_licence": "SELECT count(*) FROM licence_document d LEFT JOIN licence l "
                            "ON l.licence_id = d.licence_id WHERE l.licence_id IS NULL",
    "empty_pdfs": "SELECT count(*) FROM licence_document WHERE length(pdf) < 1000",
    "licence_ids_twice": "SELECT count(*) FROM (SELECT licence_id FROM licence "
                         "GROUP BY licence_id HAVING count(*) > 1) t",
    "status_indexes_twice": "SELECT count(*) FROM (SELECT department_id, status_index "
                            "FROM licence WHERE status_index IS NOT NULL "
                            "GROUP BY department_id, status_index HAVING count(*) > 1) t",
    "idempotency_keys_twice": "SELECT count(*) FROM (SELECT department_id, idempotency_key "
                              "FROM licence WHERE idempotency_key IS NOT NULL "
                              "GROUP BY department_id, idempotency_key "
                              "HAVING count(*) > 1) t",
    "certificate_serials_twice": "SELECT count(*) FROM (SELECT serial FROM "
                                 "ca_issued_certificate GROUP BY serial "
                                 "HAVING count(*) > 1) t",
    "licences_without_issued_entry": (
        "SELECT count(*) FROM licence l WHERE NOT EXISTS (SELECT 1 FROM "
        "licence_status_change c WHERE c.licence_id = l.licence_id AND c.from_status IS NULL)"),
}


def integrity_problems(engine: Engine) -> dict[str, int]:
    """Every check whose count is not zero (an empty dict: nothing half-made or twice)."""
    with engine.connect() as connection:
        counts = {name: connection.execute(text(sql)).scalar_one()
                  for name, sql in INTEGRITY_QUERIES.items()}
        counts.update(_licence_serial_problems(connection))
    return {name: count for name, count in counts.items() if count}


def _licence_serial_problems(connection) -> dict[str, int]:
    """The serial inside each licence identifier is used once per (type, issuer), and
    the counter has moved past every serial used (no reuse after a crash)."""
    from certs.licence_id import parse_licence_id

    rows = connection.execute(text("SELECT licence_id FROM licence")).scalars().all()
    seen: dict[tuple[str, str], list[tuple[int, int]]] = {}
    for licence_id in rows:
        parsed = parse_licence_id(licence_id)
        seen.setdefault((parsed.type_code, parsed.issuer_uscc), []).append(
            (parsed.serial, parsed.version))
    twice = sum(len(serials) - len(set(serials)) for serials in seen.values())
    counters = {(t, i): n for t, i, n in connection.execute(text(
        "SELECT type_code, issuer_uscc, last_serial FROM licence_serial")).all()}
    behind = sum(1 for key, serials in seen.items()
                 if counters.get(key) is None or counters[key] < max(serials)[0])
    return {"licence_serials_twice": twice, "serial_counters_behind": behind}


def footprint(engine: Engine) -> dict[str, int]:
    """What an issuance leaves behind: rows, audit entries and the counters it bumps."""
    with engine.connect() as connection:
        def one(sql: str) -> int:
            return int(connection.execute(text(sql)).scalar_one() or 0)

        return {
            "licences": one("SELECT count(*) FROM licence"),
            "documents": one("SELECT count(*) FROM licence_document"),
            "status_changes": one("SELECT count(*) FROM licence_status_change"),
            "audit_entries": one("SELECT count(*) FROM ca_audit_entry"),
            "licence_serials": one("SELECT sum(last_serial) FROM licence_serial"),
            "status_indexes": one("SELECT sum(next_index) FROM licence_status_index_counter"),
        }


COUNTERS = ("licence_serials", "status_indexes")


def nothing_written(before: dict[str, int], after: dict[str, int]) -> bool:
    """No licence, PDF, history or audit entry was added. The identifier counters may
    have moved on: issuance commits its serial and status index before the slow sealing
    (seal/issuance.py), so a failed issuance leaves a gap; never a reuse (counters only
    grow, and integrity_problems checks that none is used twice)."""
    rows_same = all(after[k] == before[k] for k in before if k not in COUNTERS)
    return rows_same and all(after[k] >= before[k] for k in COUNTERS)


def licence_count(engine: Engine) -> int:
    with engine.connect() as connection:
        return connection.execute(text("SELECT count(*) FROM licence")).scalar_one()


def audit_issued_count(engine: Engine) -> int:
    with engine.connect() as connection:
        return connection.execute(text(
            "SELECT count(*) FROM ca_audit_entry WHERE action = 'licence.issued'")).scalar_one()
