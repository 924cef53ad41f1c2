"""The OCSP fast path (api/ocsp_fast.py): a repeated nonce-less request is answered from
the pre-produced cache without the route or a signature, with the same bytes, headers,
log line and metrics as the route; a status committed behind the server's back (as the
CLI in another process does) shows in the very next answer; everything else still gets
the route's answers (415, 413, malformedRequest, a nonce answered afresh)."""

from __future__ import annotations

import asyncio
import base64
import logging
from urllib.parse import quote

import domain_kit
import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp

from api.app import create_app
from api.ratelimit import Rate, RateLimits
from ca.store import get_certificate
from seal.registry import get_seal

OCSP_REQUEST = {"Content-Type": "application/ocsp-request"}


def _app(under_test):
    app = create_app(under_test.domain.settings, domain=under_test.domain,
                     rate_limits=RateLimits(verify=None, ocsp=None, auth_failures=None))
    app.state.domain = under_test.domain  # what the lifespan does when served
    return app


def _run(app, calls):
    async def go():
        transport = httpx.ASGITransport(app=app, client=("192.0.2.20", 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://certseal") as c:
            return [await call(c) for call in calls]
    return asyncio.run(go())


def _seal(under_test) -> tuple[x509.Certificate, int]:
    with under_test.domain.session() as session:
        serial = get_seal(session, under_test.seal_id).certificate_serial
        der = get_certificate(session, serial).der
    return x509.load_der_x509_certificate(der), int(serial, 16)


def _request(under_test, *, nonce: bool = False) -> bytes:
    certificate, _ = _seal(under_test)
    builder = ocsp.OCSPRequestBuilder().add_certificate(
        certificate, under_test.domain.certificates().issuing, hashes.SHA1())  # noqa: S303 (CertID)
    if nonce:
        builder = builder.add_extension(x509.OCSPNonce(b"n" * 16), critical=False)
    return builder.build().public_bytes(serialization.Encoding.DER)


def _post(der: bytes, headers: dict | None = None):
    return lambda c: c.post("/pki/ocsp", content=der, headers=headers or OCSP_REQUEST)


def _get(der: bytes):
    return lambda c: c.get("/pki/ocsp/" + quote(base64.b64encode(der).decode(), safe=""))


def _status(answer: httpx.Response) -> str:
    parsed = ocsp.load_der_ocsp_response(answer.content)
    assert parsed.response_status == ocsp.OCSPResponseStatus.SUCCESSFUL
    return parsed.certificate_status.name.lower()


class _Counting:
    """Counts the responder's signing answers (respond), to tell the route from the cache."""

    def __init__(self, responder) -> None:
        self.calls = 0
        self._respond = responder.respond

    def __call__(self, der):
        self.calls += 1
        return self._respond(der)


def test_a_repeated_request_is_served_from_the_cache_like_the_route(fresh_domain,
                                                                     monkeypatch, caplog):
    app, der = _app(fresh_domain), _request(fresh_domain)
    responder = fresh_domain.domain.ocsp_responder()
    counting = _Counting(responder)
    monkeypatch.setattr(responder, "respond", counting)

    first, second, by_get = _run(app, [_post(der), _post(der), _get(der)])
    assert counting.calls == 1  # only the first went through the route; GET hit the cache
    for answer in (first, second, by_get):
        assert answer.status_code == 200
        assert answer.headers["content-type"] == "application/ocsp-response"
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert "default-src 'none'" in answer.headers["content-security-policy"]
        assert len(answer.headers["x-request-id"]) >= 16
        assert _status(answer) == "good"
    assert second.content == first.content == by_get.content  # the pre-produced answer
    assert by_get.headers["cache-control"].startswith("public, no-transform, must-revalidate")
    assert "cache-control" not in second.headers

    with caplog.at_level(logging.INFO, logger="certseal.access"):
        _run(app, [_post(der)])
    lines = [r.fields for r in caplog.records if getattr(r, "fields", None)]
    assert lines and lines[-1]["route"] == "/pki/ocsp" and lines[-1]["status"] == 200
    metrics = _run(app, [lambda c: c.get("/metrics")])[0].text
    assert 'route="/pki/ocsp",status="200"} 3.0' in metrics
    assert 'route="/pki/ocsp/{encoded:path}",status="200"} 1.0' in metrics


def test_a_revocation_committed_elsewhere_shows_in_the_next_answer(fresh_domain, monkeypatch):
    app, der = _app(fresh_domain), _request(fresh_domain)
    _, serial = _seal(fresh_domain)
    assert [_status(a) for a in _run(app, [_post(der), _post(der), _get(der)])] == [
        "good", "good", "good"]
    # Another process's view: its own engine, no invalidate() on our responder.
    domain_kit.revoke_elsewhere(fresh_domain.domain, serial)
    assert [_status(a) for a in _run(app, [_post(der), _get(der), _post(der)])] == [
        "revoked", "revoked", "revoked"]


def test_what_the_cache_cannot_answer_gets_the_routes_answer(fresh_domain):
    app, der = _app(fresh_domain), _request(fresh_domain)
    _run(app, [_post(der)])  # warm: a cached answer exists for these bytes
    wrong_type, too_big, malformed, malformed_get, with_nonce = _run(app, [
        _post(der, {"Content-Type": "application/octet-stream"}),
        _post(b"\x30" * (64 * 1024 + 1)),
        _post(b"not DER"),
        lambda c: c.get("/pki/ocsp/!!!"),
        _post(_request(fresh_domain, nonce=True)),
    ])
    assert wrong_type.status_code == 415
    assert wrong_type.headers["content-type"] == "application/problem+json"
    assert wrong_type.json()["code"] == "unsupported_media_type"
    assert too_big.status_code == 413 and too_big.json()["code"] == "request_too_large"
    for answer in (malformed, malformed_get):
        assert answer.status_code == 200
        assert (ocsp.load_der_ocsp_response(answer.content).response_status
                == ocsp.OCSPResponseStatus.MALFORMED_REQUEST)
    # A nonce asks for freshness: signed afresh, echoing it.
    fresh = ocsp.load_der_ocsp_response(with_nonce.content)
    assert fresh.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce == b"n" * 16


def test_before_the_responder_is_built_the_route_builds_it(fresh_domain):
    fresh_domain.domain.close()  # drops the responder; the next answer rebuilds it
    assert fresh_domain.domain.built_ocsp_responder() is None
    app, der = _app(fresh_domain), _request(fresh_domain)
    assert [_status(a) for a in _run(app, [_post(der), _post(der)])] == ["good", "good"]
    assert fresh_domain.domain.built_ocsp_responder() is not None


# -- the fast path sits outermost: it does the other layers' part itself -----------------
def _limited_app(under_test, **settings):
    app = create_app(under_test.domain.settings, domain=under_test.domain, **settings)
    app.state.domain = under_test.domain
    return app


def test_a_cached_answer_carries_the_stacks_headers_in_the_stacks_order(fresh_domain,
                                                                        monkeypatch):
    app, der = _app(fresh_domain), _request(fresh_domain)
    responder = fresh_domain.domain.ocsp_responder()
    counting = _Counting(responder)
    monkeypatch.setattr(responder, "respond", counting)
    by_stack, by_fast_path = _run(app, [_post(der), _post(der, {
        **OCSP_REQUEST, "X-Request-Id": "counter-7.a_b"})])
    assert counting.calls == 1  # the first through the whole stack, the second not
    assert by_stack.content == by_fast_path.content
    assert by_stack.headers.keys() == by_fast_path.headers.keys()  # names and order
    for name, value in by_stack.headers.items():
        if name != "x-request-id":
            assert by_fast_path.headers[name] == value, name
    assert by_fast_path.headers["x-request-id"] == "counter-7.a_b"  # a plain token is kept
    # Anything else is replaced by a fresh id, as the request observer does.
    odd = _run(app, [_post(der, {**OCSP_REQUEST, "X-Request-Id": "a b\"c"})])[0]
    assert odd.headers["x-request-id"] != "a b\"c" and len(odd.headers["x-request-id"]) == 32


def test_cached_answers_spend_the_same_ocsp_budget_and_the_stack_answers_429(fresh_domain,
                                                                           monkeypatch):
    der = _request(fresh_domain)
    _run(_app(fresh_domain), [_post(der)])  # an answer is cached for these bytes
    app = _limited_app(fresh_domain, rate_limits=RateLimits(
        verify=None, auth_failures=None, ocsp=Rate(per_second=0.001, burst=3)))
    responder = fresh_domain.domain.ocsp_responder()
    counting = _Counting(responder)
    monkeypatch.setattr(responder, "respond", counting)

    answers = _run(app, [_post(der), _get(der), _post(der), _post(der), _get(der)])
    assert counting.calls == 0  # the first three were cache hits
    assert [a.status_code for a in answers] == [200, 200, 200, 429, 429]
    for refused in answers[3:]:
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.json()["code"] == "rate_limited"
        assert int(refused.headers["retry-after"]) >= 1
        assert refused.headers["x-content-type-options"] == "nosniff"
        assert refused.headers["x-request-id"]
    # Another client has its own budget, served from the cache.
    other = _run_as(app, "192.0.2.99", [_post(der)])[0]
    assert other.status_code == 200 and counting.calls == 0
    metrics = _run(app, [lambda c: c.get("/metrics")])[0].text
    # Counted by the stack's observer, as before (a refusal precedes routing).
    for method in ("POST", "GET"):
        assert f'method="{method}",route="unmatched",status="429"}} 1.0' in metrics
    assert 'method="POST",route="/pki/ocsp",status="200"} 3.0' in metrics
    assert 'method="GET",route="/pki/ocsp/{encoded:path}",status="200"} 1.0' in metrics


def test_the_apps_body_limit_holds_for_requests_the_cache_could_answer(fresh_domain):
    der = _request(fresh_domain)
    _run(_app(fresh_domain), [_post(der)])  # an answer is cached for these bytes
    app = _limited_app(fresh_domain, max_body_bytes=len(der) - 1)
    too_big = _run(app, [_post(der)])[0]
    assert too_big.status_code == 413 and too_big.json()["code"] == "request_too_large"
    # Exactly at the limit, the cache answers.
    at_limit = _limited_app(fresh_domain, max_body_bytes=len(der))
    assert _status(_run(at_limit, [_post(der)])[0]) == "good"


def test_requests_presenting_credentials_go_through_the_stack(fresh_domain, monkeypatch):
    app, der = _app(fresh_domain), _request(fresh_domain)
    _run(app, [_post(der)])
    responder = fresh_domain.domain.ocsp_responder()
    counting = _Counting(responder)
    monkeypatch.setattr(responder, "respond", counting)
    answer = _run(app, [_post(der, {**OCSP_REQUEST, "Authorization": "Bearer csk_nope"})])[0]
    assert _status(answer) == "good" and counting.calls == 1  # the route, not the cache
    _run(app, [_post(der)])
    assert counting.calls == 1


def test_a_failure_inside_the_fast_path_leaves_the_answer_to_the_stack(fresh_domain,
                                                                       monkeypatch):
    app, der = _app(fresh_domain), _request(fresh_domain)
    _run(app, [_post(der)])
    responder = fresh_domain.domain.ocsp_responder()

    def broken(_der):
        raise RuntimeError("cache lookup failed")

    monkeypatch.setattr(responder, "cached_answer", broken)
    assert [_status(a) for a in _run(app, [_post(der), _get(der)])] == ["good", "good"]


def test_other_requests_pass_the_fast_path_untouched(fresh_domain):
    app = _app(fresh_domain)
    health, missing = _run(app, [lambda c: c.get("/healthz"), lambda c: c.get("/pki/nope")])
    assert health.status_code == 200 and health.headers["x-request-id"]
    assert health.headers["x-frame-options"] == "DENY"
    assert missing.status_code == 404


def _run_as(app, address, calls):
    async def go():
        transport = httpx.ASGITransport(app=app, client=(address, 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://certseal") as c:
            return [await call(c) for call in calls]
    return asyncio.run(go())


def test_get_answers_carry_rfc5019_caching_headers_from_the_answer(fresh_domain):
    """ETag = SHA-256 of the answer, Last-Modified = producedAt, Expires = nextUpdate,
    max-age up to nextUpdate (capped at 300 s), and a 304 for a matching If-None-Match:
    the same through the route (first request) and the fast path (cached answer)."""
    import datetime as dt
    import hashlib
    from email.utils import parsedate_to_datetime

    app, der = _app(fresh_domain), _request(fresh_domain)
    path = "/pki/ocsp/" + quote(base64.b64encode(der).decode(), safe="")
    first, again = _run(app, [_get(der), _get(der)])  # the route, then the fast path
    for answer in (first, again):
        assert answer.status_code == 200
        parsed = ocsp.load_der_ocsp_response(answer.content)
        assert answer.headers["etag"] == '"' + hashlib.sha256(answer.content).hexdigest() + '"'
        assert parsedate_to_datetime(answer.headers["last-modified"]) == \
            parsed.produced_at_utc.replace(microsecond=0)
        expires = parsedate_to_datetime(answer.headers["expires"])
        assert expires == parsed.next_update_utc.replace(microsecond=0)
        control = answer.headers["cache-control"]
        assert control.startswith("public, no-transform, must-revalidate, max-age=")
        max_age = int(control.rsplit("=", 1)[1])
        left = (parsed.next_update_utc - dt.datetime.now(dt.UTC)).total_seconds()
        assert 0 <= max_age <= min(300, left + 1)
    assert again.content == first.content
    etag = first.headers["etag"]
    for revalidated in _run(app, [
            lambda c: c.get(path, headers={"If-None-Match": etag}),  # route or fast path
            lambda c: c.get(path, headers={"If-None-Match": f'"0", {etag}'})]):
        assert revalidated.status_code == 304 and revalidated.content == b""
        assert revalidated.headers["etag"] == etag
        assert "content-length" not in revalidated.headers or \
            revalidated.headers["content-length"] == "0"
    other = _run(app, [lambda c: c.get(path, headers={"If-None-Match": '"0"'})])[0]
    assert other.status_code == 200 and other.content == first.content
    # POST answers are not for HTTP caches.
    (posted,) = _run(app, [_post(der)])
    assert "etag" not in posted.headers and "cache-control" not in posted.headers


def test_an_unsuccessful_answer_is_not_cached(fresh_domain):
    app = _app(fresh_domain)
    (answer,) = _run(app, [lambda c: c.get("/pki/ocsp/" + quote(
        base64.b64encode(b"0\x03\x02\x01\x00").decode(), safe=""))])
    assert answer.status_code == 200
    assert answer.headers["cache-control"] == "no-store" and "etag" not in answer.headers
