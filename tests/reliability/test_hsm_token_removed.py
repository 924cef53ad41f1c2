"""The real SoftHSM2 token made unavailable under a running `certseal serve --workers 2`:
its directory moved away (gone), or emptied (a slot without the token), then put back.
Issuance answers 503 `hsm_unavailable` and /readyz 503 meanwhile, nothing is written,
and both workers issue again once the token is back, without a restart."""

from __future__ import annotations

import shutil
import time

import domain_kit
import httpx
import pytest
import reliability_kit as kit

from certseal.db import make_engine


@pytest.mark.parametrize("how", ["moved_away", "emptied"])
def test_token_directory_gone_then_back_without_restart(tmp_path, how):
    port = domain_kit.free_port()
    under_test = domain_kit.make_domain(tmp_path / "home", port=port, issue_samples=False)
    engine = make_engine(under_test.domain.settings.effective_database_url)
    under_test.domain.close()
    tokens = under_test.home / "tokens"
    away = tmp_path / "tokens-away"
    server = kit.ServerProcess(under_test.home, port, workers=2)
    try:
        server.start()
        pids = server.worker_pids()
        with httpx.Client(base_url=server.url, timeout=60) as http:
            # Several requests, so that both workers have opened the token.
            assert [kit.issue(http, under_test.api_key, f"up-{n}").status_code
                    for n in range(4)] == [201] * 4
            before = kit.footprint(engine)

            shutil.move(tokens, away)
            if how == "emptied":
                tokens.mkdir(mode=0o700)
            latencies = []
            for n in range(6):
                started = time.perf_counter()
                answer = kit.issue(http, under_test.api_key, f"gone-{n}")
                latencies.append(time.perf_counter() - started)
                assert answer.status_code == 503, answer.text
                assert answer.json()["code"] == "hsm_unavailable"
            ready = http.get("/readyz")
            assert ready.status_code == 503
            assert ready.json()["checks"]["hsm"] is False
            assert kit.nothing_written(before, kit.footprint(engine))
            print(f"{how}: 503 median {sorted(latencies)[3] * 1000:.1f} ms, "
                  f"max {max(latencies) * 1000:.1f} ms")
            assert max(latencies) < 5

            if how == "emptied":
                tokens.rmdir()
            shutil.move(away, tokens)
            assert http.get("/readyz").status_code == 200
            answers = [kit.issue(http, under_test.api_key, f"gone-{n}") for n in range(6)]
            assert [a.status_code for a in answers] == [201] * 6, [a.text for a in answers]
            assert all(a.json()["replayed"] is False for a in answers)
        assert server.worker_pids() == pids  # no worker was restarted to get here
        assert kit.footprint(engine)["licences"] == before["licences"] + 6
        assert kit.integrity_problems(engine) == {}
    finally:
        if away.exists():
            shutil.rmtree(tokens, ignore_errors=True)
            shutil.move(away, tokens)
        server.stop()
        engine.dispose()
