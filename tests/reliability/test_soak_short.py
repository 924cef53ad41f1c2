"""30 seconds of the soak (scripts/soak runs it for 10 minutes): mixed issue, download,
verify and OCSP at concurrency 8 against `certseal serve --workers 2` on loopback; not one
error, the database intact, worker memory not climbing."""

from __future__ import annotations

import json

import domain_kit
import reliability_kit as kit
import soak_load

from certseal.db import make_engine


def test_short_soak_has_no_errors_and_flat_memory(tmp_path):
    port = domain_kit.free_port()
    under_test = domain_kit.make_domain(tmp_path / "home", port=port, issue_samples=False)
    engine = make_engine(under_test.domain.settings.effective_database_url)
    under_test.domain.close()
    server = kit.ServerProcess(under_test.home, port, workers=2, env=soak_load.UNLIMITED)
    try:
        server.start()
        report = soak_load.run_soak(server, under_test.api_key, under_test.seal_id,
                                    seconds=30, concurrency=8, warm_up_seconds=10,
                                    sample_every=1.0)
    finally:
        server.stop()
    summary = report.summary()
    print(json.dumps(summary, indent=1))
    assert report.errors == []
    assert all(report.operations[kind] >= 10 for kind in soak_load.MIX), report.operations
    # Every verification judged fully valid (any other verdict is an error above).
    assert report.stale_status_list == 0
    assert report.operations["verify"] >= 5
    assert kit.integrity_problems(engine) == {}
    assert kit.licence_count(engine) == report.operations["issue"]
    engine.dispose()
    growth = report.rss_growth_kib()
    assert len(growth) == 2
    # Settled growth over 20 s of load stays within the heap's own warm-up noise (seen up
    # to ~35 MiB); a steady leak shows in scripts/soak's 10-minute run, not in 20 s.
    assert all(kib < 64 * 1024 for kib in growth.values()), growth
