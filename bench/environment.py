"""The trust domain a run measures, and `certseal serve` processes serving it.

The domain is built by the same code the tests use (tests/domain_kit.py: the real
``init``, onboarding and issuance) in a temporary home deleted at the end of the run.
Servers are real ``certseal serve`` subprocesses, each in its own process group, stopped
(TERM, then KILL) whatever happens.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
CERTSEAL = ROOT / ".venv" / "bin" / "certseal"
sys.path.insert(0, str(ROOT / "tests"))  # domain_kit: the tests' domain builder

import domain_kit  # noqa: E402

PIN_ENV = {"CERTSEAL_HSM_PIN": domain_kit.TEST_PIN_ENV["hsm_pin"],
           "CERTSEAL_HSM_SO_PIN": domain_kit.TEST_PIN_ENV["hsm_so_pin"]}


@contextlib.contextmanager
def bench_domain(keep: bool = False) -> Iterator[domain_kit.DomainUnderTest]:
    """A fresh domain (one department granted every sample type, one licence of each)."""
    top = Path(tempfile.mkdtemp(prefix="certseal-bench-"))
    under_test = domain_kit.make_domain(top / "home")
    try:
        yield under_test
    finally:
        under_test.domain.close()
        if not keep:
            shutil.rmtree(top, ignore_errors=True)


def serve_supports_workers() -> bool:
    out = subprocess.run([str(CERTSEAL), "serve", "--help"], capture_output=True, text=True,
                         timeout=60).stdout
    return "--workers" in out


@dataclass
class Server:
    process: subprocess.Popen
    base_url: str
    workers: int

    def worker_pids(self) -> list[int]:
        """The processes that answer requests: the children when uvicorn forks workers,
        else the server itself."""
        children = _children(self.process.pid)
        return children if self.workers > 1 and children else [self.process.pid]


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    found = []
    for child in (int(p) for p in text.split()):
        try:  # uvicorn's multiprocess supervisor may keep a helper: keep Python workers
            cmdline = Path(f"/proc/{child}/cmdline").read_bytes()
        except OSError:
            continue
        if (b"python" in cmdline or b"certseal" in cmdline) and b"resource_tracker" not in cmdline:
            found.append(child)
    return found


@contextlib.contextmanager
def serving(home: Path, port: int, *, workers: int = 1, start_timeout: float = 60.0,
            env: dict[str, str] | None = None) -> Iterator[Server]:
    """``certseal serve --home HOME --port PORT [--workers N]``, ready on /readyz (its
    verification pool started); ``env``: more environment for it."""
    command = [str(CERTSEAL), "serve", "--home", str(home), "--port", str(port)]
    if workers > 1:
        command += ["--workers", str(workers)]
    # One load generator on loopback stands in for a province's many relying parties:
    # the per-client OCSP limit (2,000/s, burst 20,000) would answer most of a full
    # run's 120,000 requests with 429. The limit itself is tested in tests/api.
    env = {**os.environ, **PIN_ENV, "CERTSEAL_RATE_LIMIT_OCSP": "off", **(env or {})}
    log = tempfile.TemporaryFile()
    process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT,
                               start_new_session=True, cwd=ROOT)
    server = Server(process, f"http://127.0.0.1:{port}", workers)
    try:
        deadline = time.monotonic() + start_timeout
        while True:
            if process.poll() is not None:
                log.seek(0)
                raise RuntimeError("certseal serve exited: "
                                   + log.read()[-2000:].decode(errors="replace"))
            try:
                if httpx.get(server.base_url + "/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"certseal serve not ready on port {port}")
            time.sleep(0.1)
        yield server
    finally:
        stop_group(process)
        log.close()


def stop_group(process: subprocess.Popen, grace: float = 10.0) -> None:
    """TERM the process group (server and its workers), KILL what is left after ``grace``."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)


def memory_kb(pid: int) -> dict[str, int]:
    """VmRSS (now) and VmHWM (peak) of a process in kB, from /proc (psutil is not ours)."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0])
    return values
