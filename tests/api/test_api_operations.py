"""What operators and security reviewers look for: problem details for every refusal,
a body size limit, no stack traces, security headers and no CORS, Prometheus metrics,
JSON access logs free of secrets and personal data, readiness, and issuance as one
transaction."""

from __future__ import annotations

import json
import logging
import time

import httpx
import pytest
from sqlmodel import select

from certs.models import Licence, LicenceDocument
from certs.samples import sample_licence_data


def _is_problem(answer: httpx.Response, status: int, code: str) -> None:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    body = answer.json()
    assert body["status"] == status and body["code"] == code
    assert body["type"] == f"urn:certseal:error:{code}" and body["detail"]


def test_refusals_are_problem_details(served_api):
    with served_api.client() as anonymous, served_api.department as department:
        _is_problem(anonymous.get("/v1/me/licences"), 401, "authentication_required")
        _is_problem(anonymous.get("/no/such/route"), 404, "not_found")
        _is_problem(anonymous.delete("/healthz"), 405, "method_not_allowed")
        _is_problem(department.get("/v1/licences/ZZ-NOT-AN-ID"), 422, "invalid_identifier")
        _is_problem(department.post("/v1/licences", content=b"{not json",
                                    headers={"content-type": "application/json"}),
                    422, "invalid_request")


def test_a_body_over_the_limit_is_413_declared_or_streamed(trust_domain):
    import domain_kit

    from api.app import create_app

    app = create_app(trust_domain.domain.settings, domain=trust_domain.domain,
                     max_body_bytes=4096)
    with domain_kit.serving(trust_domain, app=app, port=domain_kit.free_port()) as url, \
            httpx.Client(base_url=url, headers={"Authorization":
                                                f"Bearer {trust_domain.api_key}"}) as client:
        big = json.dumps({"type": "yyzz", "data": {"x": "y" * 8000}}).encode()
        _is_problem(client.post("/v1/licences", content=big,
                                headers={"content-type": "application/json"}),
                    413, "request_too_large")

        def chunks():  # no Content-Length: the limit must hold on the stream itself
            for i in range(0, len(big), 1000):
                yield big[i:i + 1000]

        _is_problem(client.post("/v1/licences", content=chunks(),
                                headers={"content-type": "application/json"}),
                    413, "request_too_large")
        small = client.post("/v1/licences", json={"type": "yyzz",
                                                  "data": sample_licence_data("yyzz")})
        assert small.status_code == 201


def test_an_internal_error_is_a_500_problem_without_traceback(trust_domain, caplog):
    import domain_kit

    from api.app import create_app

    app = create_app(trust_domain.domain.settings, domain=trust_domain.domain)

    @app.get("/v1/boom")
    async def boom():
        raise RuntimeError("secret detail /srv/certseal/keys.py line 42")

    with domain_kit.serving(trust_domain, app=app, port=domain_kit.free_port()) as url, \
            caplog.at_level(logging.INFO):
        answer = httpx.get(url + "/v1/boom", headers={"X-Request-ID": "boom-1"})
    _is_problem(answer, 500, "internal_error")
    assert "secret detail" not in answer.text and "Traceback" not in answer.text
    assert "RuntimeError" not in answer.text and "keys.py" not in answer.text
    assert answer.headers["x-request-id"] == "boom-1"
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert "secret detail" not in caplog.text  # nor in the log: only type and frames
    assert any(getattr(r, "fields", {}).get("error", {}).get("type") == "RuntimeError"
               for r in caplog.records)


def test_security_headers_and_no_cors(served_api):
    licence_id = served_api.under_test.licences["yyzz"].licence_id
    with served_api.department as client:
        answers = [client.get("/healthz"), client.get(f"/v1/licences/{licence_id}"),
                   client.get(f"/v1/licences/{licence_id}/pdf"), client.get("/nope"),
                   client.get("/pki/trust-list")]
        preflight = client.options("/v1/licences", headers={
            "Origin": "https://evil.example", "Access-Control-Request-Method": "POST"})
        cross = client.get(f"/v1/licences/{licence_id}", headers={"Origin": "https://evil.example"})
    for answer in answers:
        headers = answer.headers
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["x-frame-options"] == "DENY"
        assert headers["referrer-policy"] == "no-referrer"
        assert "default-src 'none'" in headers["content-security-policy"]
        assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert answers[1].headers["cache-control"] == "no-store"
    for answer in (preflight, cross):
        assert not any(h.lower().startswith("access-control-") for h in answer.headers)
    assert preflight.status_code in (401, 405)


def test_metrics_count_issuance_by_outcome_and_route(served_api):
    with served_api.department as client:
        client.post("/v1/licences", json={"type": "yyzz", "data": sample_licence_data("yyzz")})
        client.post("/v1/licences", json={"type": "nosuch", "data": {}})
        exposition = client.get("/metrics")
    assert exposition.status_code == 200
    assert exposition.headers["content-type"].startswith("text/plain")
    text = exposition.text

    def value(prefix: str) -> float:
        lines = [ln for ln in text.splitlines() if ln.startswith(prefix)]
        assert lines, prefix
        return float(lines[0].rsplit(" ", 1)[1])

    assert value('certseal_issuance_total{outcome="issued"}') >= 1
    assert value('certseal_issuance_total{outcome="refused"}') >= 1
    assert value('certseal_issuance_duration_seconds_count{outcome="issued"}') >= 1
    assert value('certseal_http_requests_total{method="POST",route="/v1/licences",'
                 'status="201"}') >= 1
    assert "certseal_verification_total" in text or "certseal_verification" in text
    assert 'route="/v1/licences/{licence_id}' in text or "/v1/licences/{" not in text


def test_access_log_is_json_without_secrets_or_personal_data(served_api, caplog):
    holder_id = served_api.under_test.licences["zyzgzs"].licence.holder_identifier
    pin = served_api.under_test.domain.settings.user_pin()
    api_key = served_api.under_test.api_key
    data = sample_licence_data("zyzgzs")
    with caplog.at_level(logging.DEBUG):
        with served_api.department as department:
            issued = department.post("/v1/licences", json={"type": "zyzgzs", "data": data},
                                     headers={"Idempotency-Key": "log-" + holder_id})
            department.post("/v1/licences", json={
                "type": "zyzgzs", "data": data | {"公民身份号码": holder_id[:-1] + "0"}})
            department.get(f"/v1/licences/{issued.json()['licence_id']}?pin={pin}")
        with served_api.citizen(holder_id) as citizen:
            citizen.get("/v1/me/licences", params={"id": holder_id})
        with served_api.client(f"csk_x_{pin}") as forger:
            forger.get("/v1/me/licences")
    assert issued.status_code in (200, 201)
    # The test's own HTTP client logs its URLs (with our planted query strings): only the
    # service's records count.
    server_records = [r for r in caplog.records if not r.name.startswith(("httpx", "httpcore"))]
    text = "\n".join(logging.Formatter("%(name)s %(message)s %(fields)s", defaults={
        "fields": ""}).format(r) for r in server_records)
    # The secret part may itself hold "_" (URL-safe base64): split at the first two only.
    for secret in (api_key, api_key.split("_", 2)[2], pin, holder_id, data["姓名"]):
        assert secret not in text
    lines = [r for r in caplog.records if r.name == "certseal.access"]
    assert len(lines) >= 5
    for record in lines:
        entry = json.loads(record.getMessage())
        assert set(entry) == {"event", "method", "route", "status", "duration_ms",
                              "request_id"}
    assert {json.loads(r.getMessage())["route"] for r in lines} >= {
        "/v1/licences", "/v1/licences/{licence_id}", "/v1/me/licences"}


def test_the_json_formatter_writes_one_object_a_line():
    from api.logging import JsonFormatter, log_request

    records = []

    class Keep(logging.Handler):
        def emit(self, record):
            records.append(self.format(record))

    handler = Keep()
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("certseal.access")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        log_request(method="GET", route="/healthz", status=200, duration_ms=1.234,
                    request_id="r1")
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    entry = json.loads(records[-1])
    assert entry["route"] == "/healthz" and entry["status"] == 200 and "\n" not in records[-1]
    assert entry["level"] == "info" and entry["ts"].endswith("+00:00")


def test_readyz_reports_database_hsm_and_verification_pool(served_api):
    deadline = time.monotonic() + 30  # the pool's workers start beside the server
    while (answer := httpx.get(served_api.base_url + "/readyz")).status_code != 200:
        assert time.monotonic() < deadline, answer.text
        time.sleep(0.1)
    assert answer.json()["checks"] == {"database": True, "hsm": True, "verification": True}


def test_issuance_stores_record_and_pdf_in_one_transaction(served_api, monkeypatch):
    """A failure after the licence row and its PDF were written (before commit) leaves
    neither behind, on SQLite and on PostgreSQL alike."""
    import seal.issuance

    real_record = seal.issuance.record_licence

    def record_then_fail(session, **kwargs):
        real_record(session, **kwargs)
        session.flush()
        raise RuntimeError("disk full")

    monkeypatch.setattr(seal.issuance, "record_licence", record_then_fail)
    data = sample_licence_data("zyzgzs") | {"证书编号": "2435010000399999"}
    with served_api.department as client:
        answer = client.post("/v1/licences", json={"type": "zyzgzs", "data": data},
                             headers={"Idempotency-Key": "one-transaction"})
    _is_problem(answer, 500, "internal_error")
    with served_api.under_test.domain.session() as session:
        stored = session.exec(select(Licence).where(
            Licence.idempotency_key == "one-transaction")).all()
        documents = session.exec(select(LicenceDocument)).all()
        ids = {lic.licence_id for lic in session.exec(select(Licence)).all()}
    assert stored == []
    assert {d.licence_id for d in documents} == ids  # no PDF without its record
    monkeypatch.undo()
    with served_api.department as client:
        again = client.post("/v1/licences", json={"type": "zyzgzs", "data": data},
                            headers={"Idempotency-Key": "one-transaction"})
    assert again.status_code == 201  # the key was not burnt by the failed attempt


@pytest.mark.parametrize("path", ["/openapi.json"])
def test_openapi_lists_the_new_routes(served_api, path):
    spec = httpx.get(served_api.base_url + path).json()
    for route in ("/v1/licences", "/v1/licences:batch", "/v1/me/licences",
                  "/v1/departments/me/api-keys", "/v1/departments/me/api-keys/{key_id}",
                  "/v1/licences/{licence_id}/pdf"):
        assert route in spec["paths"], route
