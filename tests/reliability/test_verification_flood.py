"""The flood of issue 13 against a real `certseal serve` on loopback: many concurrent
POST /v1/verify of 5 MB PDFs from one address (Retry-After ignored), while /healthz,
OCSP, the TSA and issuance are measured from another client; then the server must be
idle within seconds of the flood's clients leaving. The default run is a short flood;
the issue's own (200 clients) is marked slow. bench/run --only flood prints the same
figures."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import domain_kit
import pytest
import reliability_kit as kit

from certs.samples import sample_licence_data

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))  # the harness is not an installed package: bench/ at the root

from bench import flood  # noqa: E402
from bench.ocsp import our_request  # noqa: E402

UNLIMITED_VERIFY = {"CERTSEAL_RATE_LIMIT_VERIFY": "off", "CERTSEAL_RATE_LIMIT_OCSP": "off"}
QUEUE_SECONDS, BUDGET_SECONDS = 5.0, 20.0
LINK_MBPS = 1000  # the flood's uploads together, as through one gigabit link


def flooded(tmp_path: Path, *, clients: int, seconds: float) -> dict:
    port = domain_kit.free_port()
    under_test = domain_kit.make_domain(tmp_path / "home", port=port, issue_samples=False)
    try:
        pdf = tmp_path / "flood.pdf"
        pdf.write_bytes(flood.flood_pdf(under_test.issue("yyzz").pdf))
        probes = flood.standard_probes(our_request(under_test), flood.tsa_request(),
                                       under_test.api_key,
                                       {"type": "yyzz", "data": sample_licence_data("yyzz")})
    finally:
        under_test.domain.close()
    # One uvicorn worker: the server process answers everything, beside its pool.
    server = kit.ServerProcess(under_test.home, port, workers=1, env=UNLIMITED_VERIFY)
    try:
        server.start()
        result = flood.run_flood(server.url, server.process.pid, pdf, probes,
                                 clients=clients, seconds=seconds, mbps=LINK_MBPS)
    finally:
        server.stop()
    print(json.dumps(result, indent=1))
    return result


def assert_held(result: dict) -> None:
    probes, answers = result["probes"], result["flood"]
    for name, probe in probes.items():
        assert probe["errors"] == 0, (name, probe)
        assert probe["count"] >= 5, (name, probe)
    # The issue's 100 ms, unless the machine alone (the same probes just before the
    # flood: other people's work shares it) already gave more than a third of that.
    # (Verified in the server's threads instead, OCSP p99 was 5.8 s, quiet 0.3 s.)
    for name in ("ocsp", "healthz"):
        limit = max(100.0, 3 * result["quiet_probes"][name]["p99_ms"])
        assert probes[name]["p99_ms"] < limit, (name, probes[name], limit)
    # The flood was verified as fast as the pool goes, and the rest refused, not queued.
    assert answers.get("200", {}).get("count", 0) >= 1, answers
    assert answers.get("503", {}).get("count", 0) >= 1, answers
    assert set(answers) <= {"200", "503"}, answers
    for kind, figures in answers.items():  # nobody waited for ages (the issue saw 87 s)
        assert figures["max_ms"] < (QUEUE_SECONDS + BUDGET_SECONDS + 10) * 1000, kind
    # "Within seconds" (the issue saw minutes); 10 s leaves room for a loaded machine.
    assert result["seconds_to_idle"] is not None and result["seconds_to_idle"] < 10, result
    assert result["memory_peak"]["pool_mb"] < 1024, result["memory_peak"]


def test_a_short_flood_leaves_the_other_endpoints_answering(tmp_path):
    assert_held(flooded(tmp_path, clients=30, seconds=8))


@pytest.mark.slow
def test_the_issues_flood_of_200_clients(tmp_path):
    assert_held(flooded(tmp_path, clients=200, seconds=30))
