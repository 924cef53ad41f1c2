"""Kill -9 in the middle of concurrent issuance (real `certseal serve --workers 2`),
restart, replay every Idempotency-Key: nothing acknowledged is lost, nothing is half-made,
nothing is made twice, and the audit chain still verifies. The long version (several
rounds) is `scripts/soak --crash-rounds N`."""

from __future__ import annotations

import crash_drill
import domain_kit
import reliability_kit as kit

from certseal.db import make_engine


def test_kill_9_mid_issuance_then_replay_every_key(tmp_path):
    port = domain_kit.free_port()
    under_test = domain_kit.make_domain(tmp_path / "home", port=port, issue_samples=False)
    home = under_test.home
    engine = make_engine(under_test.domain.settings.effective_database_url)
    under_test.domain.close()  # the server processes own the token from here
    server = kit.ServerProcess(home, port, workers=2)
    try:
        server.start()
        result = crash_drill.fire_and_kill(server, under_test.api_key, engine, tag="crash",
                                           threads=8, per_thread=25, kill_after_acks=12)
        print("crash round:", result.summary())
        # The kill landed mid-flight: some answers were out, others not yet.
        assert len(result.acknowledged) >= 12
        assert len(result.attempted) > len(result.acknowledged)
        assert result.other_answers == []
        # Everything acknowledged was committed before its answer left.
        assert result.licences_after_kill >= len(result.acknowledged)

        crash_drill.restart_and_replay(server, under_test.api_key, result)
        print("after replay:", result.summary())
        assert result.replay_mismatches == []
        assert len(result.acknowledged) == len(result.attempted)  # every key has its licence
        # Each key yields exactly one licence; the kill lost none and made none twice.
        assert kit.licence_count(engine) == len(set(result.acknowledged.values())) \
            == len(result.attempted)
        assert result.replay_replayed >= result.licences_after_kill

        assert kit.integrity_problems(engine) == {}
        assert kit.audit_issued_count(engine) == kit.licence_count(engine)
        problems = crash_drill.check_licences(
            server, home, under_test.api_key, sorted(set(result.acknowledged.values())),
            tmp_path / "counter-cache")
        assert problems == {}
    finally:
        server.stop()
        engine.dispose()
    audit = kit.audit_verify(home)
    assert audit["intact"] is True, audit
