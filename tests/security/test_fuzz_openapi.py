"""schemathesis against the app's own OpenAPI description (/openapi.json): generated
requests for every operation, authenticated as a department of its own (or as a citizen
for /v1/me), must never get a 5xx, and documented answers must match their schema.

CI: OPENAPI_EXAMPLES examples an operation. Longer:
    HYPOTHESIS_PROFILE=long .venv/bin/pytest tests/security/test_fuzz_openapi.py
"""

from __future__ import annotations

import asyncio
import json
import os

import httpx
import pytest
import schemathesis
import security_kit as kit
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error, response_schema_conformance

from api.ratelimit import RateLimits
from certs.identifiers import make_uscc

PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "ci")
OPENAPI_EXAMPLES = int(os.environ.get("HYPOTHESIS_EXAMPLES", 300 if PROFILE == "long" else 8))


@schemathesis.serializer("application/ocsp-request", "application/timestamp-query",
                         "application/pdf", "image/png", "image/jpeg")
def as_bytes(ctx, value) -> bytes:
    """These bodies have no schema: whatever was generated, as bytes (the protocol parsers
    themselves are fuzzed in test_fuzz_parsers.py)."""
    return value if isinstance(value, bytes) else repr(value).encode()


@pytest.fixture(scope="session")
def fuzzed(trust_domain, security_idp):
    from api.app import create_app

    onboarded = trust_domain.domain.add_department(
        name="模糊测试部门", uscc=make_uscc("11440100MB0009105"), licence_types=["yyzz"])
    app = create_app(kit.oidc_settings(trust_domain, security_idp), domain=trust_domain.domain,
                     rate_limits=RateLimits(verify=None, ocsp=None, auth_failures=None))
    app.state.domain = trust_domain.domain
    tokens = {"department": onboarded.api_key,
              "citizen": security_idp.token(kit.CITIZEN_2, lifetime=3600)}
    return app, tokens


def fuzz_operation(operation, headers: dict[str, str]) -> None:
    @given(case=operation.as_strategy())
    @settings(max_examples=OPENAPI_EXAMPLES, deadline=None, derandomize=PROFILE != "long",
              suppress_health_check=list(HealthCheck), database=None)
    def no_5xx(case):
        case.call_and_validate(headers=headers,
                               checks=[not_a_server_error, response_schema_conformance])

    no_5xx()


def test_no_operation_answers_5xx(fuzzed):
    # schemathesis's own pytest integration does not run on pytest 9 yet: one hypothesis
    # run per operation instead.
    app, tokens = fuzzed
    operations = [result.ok() for result in
                  schemathesis.openapi.from_asgi("/openapi.json", app).get_all_operations()]
    assert len(operations) >= 20
    failures = []
    for operation in operations:
        who = "citizen" if operation.path.startswith("/v1/me") else "department"
        try:
            fuzz_operation(operation, {"Authorization": f"Bearer {tokens[who]}"})
        except (Exception, BaseExceptionGroup) as exc:  # collect them all, fail once
            failures.append(f"{operation.method.upper()} {operation.path}: {exc}"[:1500])
    assert failures == [], "\n\n".join(failures)


_leaves = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
_json = st.recursive(_leaves, lambda inner: st.lists(inner, max_size=4)
                     | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=40)
_bodies = (_json.map(lambda v: json.dumps(v).encode())
           | st.builds(lambda n, kind: kind * n, st.integers(0, 50_000),
                       st.sampled_from([b"[", b"{\"a\":", b"[1,", b"{\"data\":["]))
           | st.binary(max_size=300))


def test_any_body_at_any_endpoint_is_answered_below_500(fuzzed):
    """Whatever JSON-ish body reaches whichever operation takes one (nested, unclosed,
    NaN, garbage), under whichever JSON media type or none: a 4xx at worst."""
    app, tokens = fuzzed
    paths = [path.replace("{licence_id}", "YYZZ-91350100M000100Y43-0000000001-01X")
             for path, ops in app.openapi()["paths"].items() if "post" in ops]
    transport = httpx.ASGITransport(app=app)

    @given(st.sampled_from(paths), _bodies,
           st.sampled_from(["application/json", None, "application/problem+json",
                            "application/json; charset=utf-8"]))
    # Both were answered 500 (the recursion limit): deep JSON at /v1/verify, and licence
    # data nested 900 levels (under the parser's limit, over validation's).
    @example("/v1/verify", b"[" * 5000, "application/json")
    @example("/v1/licences", b'{"type": "yyzz", "data": {"a": ' + b"[" * 900 + b"]" * 900
             + b"}}", "application/json")
    @settings(max_examples=OPENAPI_EXAMPLES * 10, deadline=None, derandomize=PROFILE != "long",
              suppress_health_check=list(HealthCheck), database=None)
    def below_500(path, body, content_type):
        headers = {"Authorization": f"Bearer {tokens['department']}"}
        if content_type:
            headers["Content-Type"] = content_type

        async def post():
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
                return await c.post(path, content=body, headers=headers)

        answer = asyncio.run(post())
        assert answer.status_code < 500, (path, body[:80], answer.text[:300])

    below_500()
