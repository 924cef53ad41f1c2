"""`scripts/demo` as a newcomer runs it, on a port other than 8000: it prints where to go,
and its own sample licences verify as valid on its own server (the certificates name the
port it serves on). Run again on another port, the demo home is made again for that port."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import domain_kit
import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]


def _run_demo(home: Path, port: int, log: Path) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CERTSEAL_")}
    env.update(CERTSEAL_HOME=str(home), PORT=str(port))
    with log.open("wb") as out:
        return subprocess.Popen(["bash", str(ROOT / "scripts" / "demo")], cwd=ROOT, env=env,
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


def _wait_healthy(proc: subprocess.Popen, base_url: str, log: Path) -> None:
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        assert proc.poll() is None, log.read_text()
        try:
            if httpx.get(base_url + "/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.5)
    pytest.fail("the demo did not start:\n" + log.read_text())


def _stop(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def test_demo_on_any_port(tmp_path: Path):
    home = tmp_path / "demo-home"
    for round_ in range(2):
        port = domain_kit.free_port()
        base_url = f"http://127.0.0.1:{port}"
        log = tmp_path / f"demo-{round_}.log"
        proc = _run_demo(home, port, log)
        try:
            _wait_healthy(proc, base_url, log)
            printed = log.read_text()
            for line in (f"{base_url}/verify", f"{base_url}/me", f"{base_url}/docs",
                         str(home / "demo-licence-")):
                assert line in printed, printed
            if round_:
                assert "creating it again" in printed
            pdf = (home / "demo-licence-yyzz.pdf").read_bytes()
            report = httpx.post(base_url + "/v1/verify", content=pdf, timeout=60,
                                headers={"Content-Type": "application/pdf"}).json()
            assert report["verdict"] == "valid", [
                c for c in report["checks"] if c["outcome"] != "passed"]
        finally:
            _stop(proc)
