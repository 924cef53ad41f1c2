"""Rate limits per client address: verification, OCSP, authentication failures. Each
limit triggers (429 problem+json with Retry-After), spares other clients and other
routes, and recovers once its bucket refills."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
import security_kit as kit

from api.app import create_app
from api.ratelimit import Rate, RateLimits, TokenBuckets

# Refills a token a second: slow enough that a loaded machine cannot refill the bucket
# while the burst is being spent (0.25 s a token did, in a CI rehearsal), fast enough to
# see the recovery.
LOW = Rate(per_second=1.0, burst=3)
REFILLED = 1.1  # seconds: one token back


def run(app, calls, client_address: str = "192.0.2.10"):
    """Requests through the app in process, as if from `client_address`."""
    async def go():
        transport = httpx.ASGITransport(app=app, client=(client_address, 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://certseal") as c:
            return [await call(c) for call in calls]
    return asyncio.run(go())


def app_with(trust_domain, **limits):
    app = create_app(trust_domain.domain.settings, domain=trust_domain.domain,
                     rate_limits=RateLimits(**{"verify": None, "ocsp": None,
                                               "auth_failures": None, **limits}))
    app.state.domain = trust_domain.domain  # what the lifespan does when served
    return app


def assert_limited(answer: httpx.Response, code: str) -> None:
    assert answer.status_code == 429, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["code"] == code
    assert 1 <= int(answer.headers["retry-after"]) <= 60


def verify_qr(c):
    return c.post("/v1/verify", json={"qr": "CSL1:not-a-licence"})


def test_verification_is_limited_per_client_and_recovers(trust_domain):
    app = app_with(trust_domain, verify=LOW)
    first = run(app, [verify_qr] * 4)
    assert [a.status_code for a in first[:3]] == [422, 422, 422]  # judged, not limited
    assert_limited(first[3], "rate_limited")
    # Another client, and other routes of the same client, are not affected.
    assert [a.status_code for a in run(app, [verify_qr], "192.0.2.11")] == [422]
    assert run(app, [lambda c: c.get("/pki/trust-list")])[0].status_code == 200
    time.sleep(REFILLED)
    assert run(app, [verify_qr])[0].status_code == 422


def test_ocsp_is_limited_get_and_post_alike_and_recovers(trust_domain):
    app = app_with(trust_domain, ocsp=LOW)
    der = kit.tsa_request_der()  # any body: the limit comes before the parser

    def post(c):
        return c.post("/pki/ocsp", content=der,
                      headers={"Content-Type": "application/ocsp-request"})

    answers = run(app, [post, post, lambda c: c.get("/pki/ocsp/MAA="), post])
    assert [a.status_code for a in answers[:3]] == [200, 200, 200]
    assert answers[0].headers["content-type"] == "application/ocsp-response"
    assert_limited(answers[3], "rate_limited")
    assert run(app, [lambda c: c.get("/pki/ca/issuing.crt")])[0].status_code == 200
    time.sleep(REFILLED)
    assert run(app, [post])[0].status_code == 200


def test_authentication_failures_are_limited_and_a_right_key_still_works(trust_domain):
    app = app_with(trust_domain, auth_failures=LOW)
    right = trust_domain.api_key
    wrong = right[:-4] + "AAAA"

    def keys(token):
        return lambda c: c.get("/v1/departments/me/api-keys",
                               headers={"Authorization": f"Bearer {token}"})

    anonymous = [lambda c: c.get("/v1/departments/me/api-keys")] * 5
    # Requests without credentials guess nothing and spend nothing.
    assert {a.status_code for a in run(app, anonymous)} == {401}
    assert run(app, [keys(right)])[0].status_code == 200
    answers = run(app, [keys(wrong)] * 3 + [keys(wrong), keys(right), keys(wrong)])
    assert [a.status_code for a in answers[:3]] == [401, 401, 401]
    # Budget spent: wrong keys are refused 429 ...
    assert_limited(answers[3], "too_many_authentication_failures")
    assert_limited(answers[5], "too_many_authentication_failures")
    # ... but the right key is still looked at, and served: whoever shares the address
    # cannot lock its department out.
    assert answers[4].status_code == 200
    assert run(app, [lambda c: c.get("/pki/trust-list")])[0].status_code == 200
    assert run(app, [keys(wrong)], "192.0.2.99")[0].status_code == 401  # another client
    time.sleep(3 * REFILLED)  # enough for any deficit the six tries left
    assert run(app, [keys(wrong)])[0].status_code == 401  # refilled


def test_token_buckets_refill_at_the_rate_and_cap_at_the_burst():
    now = [100.0]
    buckets = TokenBuckets(Rate(per_second=2.0, burst=2), max_keys=2, clock=lambda: now[0])
    assert [buckets.take("a") for _ in range(2)] == [0.0, 0.0]
    assert buckets.take("a") == pytest.approx(0.5)
    now[0] += 0.5
    assert buckets.take("a") == 0.0 and buckets.take("a") > 0
    now[0] += 3600  # never more than the burst, however long the pause
    assert [buckets.take("a") for _ in range(3)][2] > 0
    buckets.take("b"), buckets.take("c")  # "a" is forgotten: a full bucket again
    assert buckets.take("a") == 0.0


def test_limits_come_from_the_environment_or_refuse_to_start():
    limits = RateLimits.from_environ({"CERTSEAL_RATE_LIMIT_VERIFY": "2.5/s:7",
                                      "CERTSEAL_RATE_LIMIT_OCSP": "off"})
    assert limits.verify == Rate(2.5, 7) and limits.ocsp is None
    assert limits.auth_failures == RateLimits().auth_failures
    for bad in ("10", "-1/s:3", "1/s:0", "fast"):
        with pytest.raises(ValueError):
            RateLimits.from_environ({"CERTSEAL_RATE_LIMIT_VERIFY": bad})
