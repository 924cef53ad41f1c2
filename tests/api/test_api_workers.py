"""Several worker processes, as `certseal serve --workers N` will run them: uvicorn
imports `api.app:app_from_env` in each worker, which opens its own trust domain (and
PKCS#11 session) after the fork, and /metrics adds up every worker's numbers."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import domain_kit
import httpx

from certs.samples import sample_licence_data


def test_two_workers_issue_concurrently_and_share_metrics(trust_domain, tmp_path):
    port = domain_kit.free_port()
    metrics_dir = tmp_path / "prometheus"
    metrics_dir.mkdir()
    env = {**os.environ, "CERTSEAL_HOME": str(trust_domain.home),
           "CERTSEAL_HSM_PIN": domain_kit.TEST_PIN_ENV["hsm_pin"],
           "CERTSEAL_HSM_SO_PIN": domain_kit.TEST_PIN_ENV["hsm_so_pin"],
           "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)}
    log = (tmp_path / "server.log").open("w+")
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--factory", "api.app:app_from_env",
         "--host", "127.0.0.1", "--port", str(port), "--workers", "2", "--no-access-log"],
        env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(url + "/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        else:
            raise AssertionError("workers did not become ready")

        def issue(_: int) -> httpx.Response:
            return httpx.post(url + "/v1/licences", timeout=60,
                              headers={"Authorization": f"Bearer {trust_domain.api_key}"},
                              json={"type": "zyzgzs", "data": sample_licence_data("zyzgzs")})

        with ThreadPoolExecutor(6) as pool:
            answers = list(pool.map(issue, range(12)))
        assert [a.status_code for a in answers] == [201] * 12, [a.text for a in answers]
        assert len({a.json()["licence_id"] for a in answers}) == 12
        exposition = httpx.get(url + "/metrics", timeout=10).text
        issued = [ln for ln in exposition.splitlines()
                  if ln.startswith('certseal_issuance_total{outcome="issued"}')]
        assert issued and float(issued[0].rsplit(" ", 1)[1]) == 12
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    log.seek(0)
    lines = [json.loads(ln) for ln in log.read().splitlines() if ln.startswith("{")]
    requests = [entry for entry in lines if entry.get("event") == "request"]
    assert len([e for e in requests if e["route"] == "/v1/licences"]) == 12
    assert list(metrics_dir.glob("counter_*.db"))  # the workers' numbers went through files
