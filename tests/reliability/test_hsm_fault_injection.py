"""HSM faults injected at the PKCS#11 boundary (hsm.faults) under the real app served on
loopback: a dropped session is reopened without the client noticing; a failing or absent
device answers 503 `hsm_unavailable`, leaves nothing behind, and the same server issues
again once the device is back."""

from __future__ import annotations

import time

import domain_kit
import httpx
import pytest
import reliability_kit as kit

from hsm import faults


@pytest.fixture
def served(tmp_path):
    under_test = domain_kit.make_domain(tmp_path / "home", issue_samples=False)
    try:
        with domain_kit.serving(under_test) as base_url, \
                httpx.Client(base_url=base_url, timeout=60) as http:
            yield under_test, http
    finally:
        faults.disarm()
        under_test.domain.close()


def _issue(under_test, http, key):
    return kit.issue(http, under_test.api_key, key)


@pytest.mark.parametrize("kind", ["session_invalid", "session_closed", "device_removed"])
def test_a_dropped_session_or_device_reset_is_recovered_within_the_request(served, kind):
    under_test, http = served
    assert _issue(under_test, http, "warm-up").status_code == 201
    with faults.failing(kind, times=1, only="sign with key") as fault:
        answer = _issue(under_test, http, f"after-{kind}")
    assert fault.raised == 1  # the fault did fire inside this issuance
    assert answer.status_code == 201, answer.text
    assert answer.json()["replayed"] is False


@pytest.mark.parametrize("kind", ["device_error", "device_removed", "token_not_present",
                                  "general_error"])
def test_a_failing_device_answers_503_writes_nothing_and_recovers(served, kind):
    under_test, http = served
    engine = under_test.domain.engine
    first = _issue(under_test, http, "before")
    assert first.status_code == 201
    before = kit.footprint(engine)

    # Fail only the signatures: the identifier and status index are already allocated
    # when the device fails, so this checks that no record, PDF or audit entry follows.
    with faults.failing(kind, times=None, only="sign with key") as fault:
        started = time.perf_counter()
        answer = _issue(under_test, http, "during")
        latency = time.perf_counter() - started
        assert answer.status_code == 503, answer.text
        body = answer.json()
        assert body["code"] == "hsm_unavailable"
        assert "try again" in body["detail"]
        assert answer.headers["content-type"].startswith("application/problem+json")
        assert kit.nothing_written(before, kit.footprint(engine))
        assert fault.raised >= 1
        print(f"{kind}: 503 in {latency * 1000:.1f} ms")
        assert latency < 5
        # The same key is refused the same way while the device stays sick.
        assert _issue(under_test, http, "during").status_code == 503
        assert kit.nothing_written(before, kit.footprint(engine))
        fault.clear()
        # Back, without a restart: the key that failed now issues (not a replay), under a
        # serial never used before (the failures may have left a gap, never a reuse).
        again = _issue(under_test, http, "during")
    assert again.status_code == 201, again.text
    assert again.json()["replayed"] is False
    serial_of = lambda answer: int(answer.json()["licence_id"].split("-")[2])  # noqa: E731
    assert serial_of(again) > serial_of(first)
    after = kit.footprint(engine)
    assert after["licences"] == before["licences"] + 1
    assert kit.integrity_problems(engine) == {}


def test_readiness_follows_an_absent_token(served):
    under_test, http = served
    # The verification pool starts beside the server: ready within a bounded wait.
    deadline = time.monotonic() + 30
    while http.get("/readyz").status_code != 200 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert http.get("/readyz").status_code == 200
    with faults.failing("token_not_present", times=None) as fault:
        answer = http.get("/readyz")
        assert answer.status_code == 503
        # Verification needs no HSM: its pool stays ready.
        assert answer.json()["checks"] == {"database": True, "hsm": False, "verification": True}
        fault.clear()
        assert http.get("/readyz").status_code == 200
    assert _issue(under_test, http, "ready-again").status_code == 201


def test_every_pkcs11_operation_passes_the_fault_point(served):
    under_test, http = served
    with faults.failing("device_error", times=0) as fault:  # armed, never fires
        assert _issue(under_test, http, "observed").status_code == 201
    assert fault.raised == 0
    assert any(what.startswith("sign with key 'seal-") for what in fault.seen), fault.seen
