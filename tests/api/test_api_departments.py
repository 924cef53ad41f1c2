"""Departments over HTTP: issuance (single, idempotent, batch), the limits of what a
department may do, and API key rotation."""

from __future__ import annotations

import statistics
import time
import uuid

from certs.samples import sample_licence_data


def _key() -> str:
    return "test-" + uuid.uuid4().hex


def test_issue_then_replay_then_conflict(served_api):
    body = {"type": "zyzgzs", "data": sample_licence_data("zyzgzs")}
    key = _key()
    with served_api.department as client:
        first = client.post("/v1/licences", json=body, headers={"Idempotency-Key": key})
        again = client.post("/v1/licences", json=body, headers={"Idempotency-Key": key})
        other = dict(body, data=sample_licence_data("zyzgzs") | {"等级": "二级/技师"})
        conflict = client.post("/v1/licences", json=other, headers={"Idempotency-Key": key})
        pdf = client.get(first.json()["pdf"])
    assert first.status_code == 201, first.text
    assert first.json()["replayed"] is False and first.json()["status"] == "valid"
    assert again.status_code == 200 and again.json()["replayed"] is True
    assert again.json()["licence_id"] == first.json()["licence_id"]
    assert conflict.status_code == 409 and conflict.json()["code"] == "idempotency_conflict"
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF-")


def test_bad_data_is_422_naming_the_field(served_api):
    data = sample_licence_data("zyzgzs") | {"公民身份号码": "350102199005120027"}
    with served_api.department as client:
        answer = client.post("/v1/licences", json={"type": "zyzgzs", "data": data})
        unknown = client.post("/v1/licences", json={"type": "nosuch", "data": {}})
        shapeless = client.post("/v1/licences", json={"type": "zyzgzs"})
    assert answer.status_code == 422 and answer.json()["field"] == "公民身份号码"
    assert unknown.status_code == 422 and unknown.json()["code"] == "unknown_licence_type"
    assert shapeless.status_code == 422 and shapeless.json()["code"] == "invalid_request"


def test_a_type_not_granted_is_403_and_another_departments_licence_404(served_api,
                                                                          other_department):
    mine = served_api.under_test.licences["yyzz"].licence_id
    with served_api.client(other_department.api_key) as client:
        refused = client.post("/v1/licences", json={"type": "zyzgzs",
                                                    "data": sample_licence_data("zyzgzs")})
        hidden = [client.get(f"/v1/licences/{mine}"), client.get(f"/v1/licences/{mine}/pdf")]
        granted = client.post("/v1/licences", json={"type": "yyzz",
                                                    "data": sample_licence_data("yyzz")})
    assert refused.status_code == 403, refused.text
    assert refused.json()["code"] == "licence_type_not_granted"
    assert [a.status_code for a in hidden] == [404, 404]
    assert {a.json()["code"] for a in hidden} == {"licence_not_found"}
    assert granted.status_code == 201
    with served_api.department as client:  # and the first department cannot see that one
        assert client.get(f"/v1/licences/{granted.json()['licence_id']}").status_code == 404


def test_a_wrong_or_missing_api_key_is_401(served_api):
    department = served_api.under_test
    key_id = department.api_key.split("_")[1]
    for token in (None, "csk_nosuch_secret", f"csk_{key_id}_wrongsecret", "csk_"):
        with served_api.client(token) as client:
            answer = client.post("/v1/licences", json={"type": "yyzz", "data": {}})
        assert answer.status_code == 401, token
        assert answer.headers["content-type"] == "application/problem+json"


def test_batch_reports_each_item_and_one_bad_item_stops_nothing(served_api):
    good = {"type": "zyzgzs", "data": sample_licence_data("zyzgzs")}
    bad_id = sample_licence_data("zyzgzs") | {"公民身份号码": "350102199005120027"}
    keys = [_key() for _ in range(4)]
    items = [dict(good, idempotency_key=keys[0]),
             {"type": "zyzgzs", "data": bad_id, "idempotency_key": keys[1]},
             {"type": "nosuch", "data": {}, "idempotency_key": keys[2]},
             dict(good, idempotency_key=keys[3])]
    with served_api.department as client:
        first = client.post("/v1/licences:batch", json={"items": items})
        retried = client.post("/v1/licences/batch", json={"items": items})
        too_many = client.post("/v1/licences:batch",
                               json={"items": [dict(good, idempotency_key=_key())] * 101})
    assert first.status_code == 200, first.text
    report = first.json()
    assert (report["issued"], report["replayed"], report["failed"]) == (2, 0, 2)
    outcomes = [(r["index"], r["outcome"]) for r in report["results"]]
    assert outcomes == [(0, "issued"), (1, "failed"), (2, "failed"), (3, "issued")]
    assert report["results"][1]["problem"]["status"] == 422
    assert report["results"][1]["problem"]["field"] == "公民身份号码"
    assert report["results"][2]["problem"]["code"] == "unknown_licence_type"
    again = retried.json()
    assert (again["issued"], again["replayed"], again["failed"]) == (0, 2, 2)
    assert [r["licence_id"] for r in again["results"]] == \
        [r["licence_id"] for r in report["results"]]
    assert too_many.status_code == 422


def test_keys_rotate_old_key_dies_and_the_last_key_stays(trust_domain, tmp_path):
    """On a department of its own, so revoking keys disturbs no other test."""
    import api_kit
    import domain_kit

    from api.app import create_app
    from certs.identifiers import make_uscc

    onboarded = trust_domain.domain.add_department(
        name="珠海市市场监督管理局", uscc=make_uscc("11440400MB0000077"), licence_types=["yyzz"])
    app = create_app(trust_domain.domain.settings, domain=trust_domain.domain)
    with domain_kit.serving(trust_domain, app=app, port=domain_kit.free_port()) as url:
        api = api_kit.ApiUnderTest(url, trust_domain, None)
        old_id = onboarded.api_key.split("_")[1]
        with api.client(onboarded.api_key) as old:
            created = old.post("/v1/departments/me/api-keys")
            assert created.status_code == 201, created.text
            new_key = created.json()["api_key"]
            listed = old.get("/v1/departments/me/api-keys").json()["keys"]
            assert {k["key_id"] for k in listed} == {old_id, created.json()["key_id"]}
            assert all("secret" not in str(k) and "sha256" not in str(k) for k in listed)
        with api.client(new_key) as new, api.client(onboarded.api_key) as old:
            assert new.delete(f"/v1/departments/me/api-keys/{old_id}").status_code == 204
            assert old.get("/v1/departments/me/api-keys").status_code == 401
            again = new.delete(f"/v1/departments/me/api-keys/{old_id}")
            assert again.status_code == 409
            assert again.json()["code"] == "api_key_already_revoked"
            last = new.delete(f"/v1/departments/me/api-keys/{created.json()['key_id']}")
            assert last.status_code == 409 and last.json()["code"] == "last_active_api_key"
            foreign = trust_domain.api_key.split("_")[1]
            assert new.delete(f"/v1/departments/me/api-keys/{foreign}").status_code == 404
            assert new.post("/v1/licences", json={
                "type": "yyzz", "data": sample_licence_data("yyzz")}).status_code == 201


def test_issuance_latency_over_http(served_api, record_property):
    """20 issuances through HTTP, one after another: p50 and p95 for the report."""
    durations = []
    with served_api.department as client:
        for _ in range(20):
            started = time.perf_counter()
            answer = client.post("/v1/licences", json={
                "type": "zyzgzs", "data": sample_licence_data("zyzgzs")})
            durations.append(time.perf_counter() - started)
            assert answer.status_code == 201
    durations.sort()
    p50, p95 = statistics.median(durations), durations[int(0.95 * len(durations)) - 1]
    record_property("issuance_p50_ms", round(p50 * 1000, 1))
    print(f"\nissuance over HTTP: p50 {p50 * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms")
    assert p50 < 2.0  # a signature through SoftHSM plus a PDF render: well under a second
