"""Wrong requests, careless or hostile, through the real HTTP stack: every one gets a clear
4xx naming the field (its key as the type defines it) and the rule broken, in the
language Accept-Language asks for, all problems at once; never a 500 or a traceback.
Text is normalised and refused when it hides characters; identifiers have one spelling;
JSON bodies are bounded (size, depth) before anything parses them, at every endpoint."""

from __future__ import annotations

import json
import unicodedata
import uuid

import httpx
import pytest
from sqlmodel import select

from certs.models import Licence
from certs.registry import licence_data
from certs.samples import sample_licence_data


def _key() -> str:
    return "bad-input-" + uuid.uuid4().hex


def _issue(client: httpx.Client, type_code: str, data: dict, **headers: str) -> httpx.Response:
    return client.post("/v1/licences", json={"type": type_code, "data": data},
                       headers=headers)


def _errors(answer: httpx.Response) -> dict[str, dict]:
    return {e["field"]: e for e in answer.json()["errors"]}


def _stored(served_api, licence_id: str) -> Licence:
    with served_api.under_test.domain.session() as session:
        return session.exec(select(Licence).where(Licence.licence_id == licence_id)).one()


CARELESS = sample_licence_data("yyzz") | {"名称": "福" * 64, "法定代表人": "",
                                          "住所": "x", "注册资本": 5, "多余": "?"}
CARELESS.pop("登记日期")


def test_every_broken_rule_of_the_data_is_named_at_once(served_api):
    with served_api.department as client:
        answer = _issue(client, "yyzz", CARELESS)
    assert answer.status_code == 422, answer.text
    body = answer.json()
    assert body["code"] == "invalid_licence_data"
    assert "iterable" not in answer.text and "Traceback" not in answer.text
    errors = _errors(answer)
    assert {f: e["rule"] for f, e in errors.items()} == {
        "名称": "max_length", "法定代表人": "blank", "注册资本": "type", "住所": "min_length",
        "登记日期": "required", "多余": "unknown_field"}
    assert errors["名称"]["limit"] == 60 and errors["名称"]["actual"] == 64
    assert errors["住所"]["limit"] == 2
    assert errors["注册资本"]["expected"] == "string"
    assert body["field"] == "名称"  # the first, as before
    for field in errors:
        assert field in body["detail"]


def test_another_issuing_authority_is_told_with_the_other_problems(served_api):
    data = CARELESS | {"登记机关": "国家市场监督管理总局"}
    with served_api.department as client:
        answer = _issue(client, "yyzz", data, **{"Accept-Language": "zh-Hans"})
    assert answer.status_code == 422, answer.text
    assert answer.json()["code"] == "issuing_authority_mismatch"
    errors = _errors(answer)
    assert errors["登记机关"]["rule"] == "issuing_authority"
    assert "国家市场监督管理总局" in errors["登记机关"]["message"]
    assert {"名称", "法定代表人", "注册资本", "住所", "登记日期", "多余"} < set(errors)


def test_a_short_resident_number_names_its_length(served_api):
    data = sample_licence_data("zyzgzs") | {"公民身份号码": "350102199005120"}
    with served_api.department as client:
        answer = _issue(client, "zyzgzs", data)
    assert answer.status_code == 422, answer.text
    error = _errors(answer)["公民身份号码"]
    assert (error["rule"], error["limit"], error["actual"]) == ("min_length", 18, 15)


@pytest.mark.parametrize(("accept", "language", "words"), [
    ("zh-CN,zh;q=0.9,en;q=0.8", "zh-Hans",
     ("长度不得超过 60 个字符", "为必填项", "不是该类证照的字段")),
    ("zh-TW", "zh-Hant", ("長度不得超過 60 個字元", "為必填項", "不是該類證照的欄位")),
    ("en;q=0.5, zh-Hant-HK;q=0.9", "zh-Hant", ("長度不得超過",)),
    ("en-GB", "en", ("must be at most 60 characters long", "is required")),
    ("fr, *;q=0.1", "en", ("must be at most 60 characters long",)),
])
def test_messages_follow_accept_language_and_the_code_does_not(served_api, accept, language,
                                                               words):
    with served_api.department as client:
        answer = _issue(client, "yyzz", CARELESS, **{"Accept-Language": accept})
    assert answer.status_code == 422
    body = answer.json()
    assert body["code"] == "invalid_licence_data"
    assert [e["rule"] for e in body["errors"]][:2] == ["max_length", "blank"]
    for word in words:
        assert word in body["detail"], body["detail"]
        assert any(word in e["message"] for e in body["errors"])
    assert answer.headers["content-language"] == language


def test_request_schema_errors_name_the_field_and_rule_in_the_language(served_api):
    with served_api.department as client:
        answers = {
            "no data": client.post("/v1/licences", json={"type": "yyzz"},
                                   headers={"Accept-Language": "zh-Hans"}),
            "data not an object": client.post("/v1/licences", json={"type": "yyzz",
                                                                    "data": [1]}),
            "long type": client.post("/v1/licences", json={"type": "y" * 40, "data": {}}),
            "long key": client.post("/v1/licences", json={"type": "yyzz", "data": {}},
                                    headers={"Idempotency-Key": "k" * 200}),
            "not JSON": client.post("/v1/licences", content=b"{not json",
                                    headers={"content-type": "application/json"}),
        }
    rules = {name: [(e["field"], e["rule"]) for e in a.json()["errors"]]
             for name, a in answers.items()}
    assert {a.status_code for a in answers.values()} == {422}
    assert rules == {"no data": [("data", "required")],
                     "data not an object": [("data", "type")],
                     "long type": [("type", "max_length")],
                     "long key": [("Idempotency-Key", "max_length")],
                     "not JSON": [("body", "json_invalid")]}
    assert answers["no data"].json()["detail"] == "data：为必填项"
    assert {a.json()["code"] for a in answers.values()} == {"invalid_request"}


def test_hidden_characters_are_refused_and_text_is_normalised(served_api):
    hidden = {
        "right-to-left override": "福州\u202e司公限有",
        "NUL": "福州\x00数字",
        "escape sequence": "福州\x1b[31m数字",
        "zero-width space": "福州\u200b数字",
        "zero-width joiner": "福州\u200d数字",
        "byte-order mark": "\ufeff福州数字",
        "no-break space": "福州\u00a0数字",
        "variation selector": "福州\ufe0f数字",
        "Hangul filler": "福州\u3164数字",
        "line break": "福州\n数字",
    }
    with served_api.department as client:
        for what, name in hidden.items():
            answer = _issue(client, "yyzz", sample_licence_data("yyzz") | {"名称": name})
            assert answer.status_code == 422, what
            error = _errors(answer)["名称"]
            assert error["rule"] == "invisible_character", what
            assert error["character"].startswith("U+"), what
            raw = [c for c in name if unicodedata.category(c)[0] in "CZ" and c != " "]
            assert all(c not in answer.text for c in raw), what  # never echoed raw
        decomposed = unicodedata.normalize("NFD", "Café Zürich 福州")
        data = sample_licence_data("yyzz") | {"名称": "  福州\u3000数字科技 ",
                                              "住所": decomposed + "路1号"}
        issued = _issue(client, "yyzz", data)
    assert issued.status_code == 201, issued.text
    stored = licence_data(_stored(served_api, issued.json()["licence_id"]))
    assert stored["名称"] == "福州\u3000数字科技"
    assert stored["住所"] == unicodedata.normalize("NFC", decomposed) + "路1号"


def test_identifiers_have_one_spelling_in_data_tokens_and_paths(served_api):
    rid = "35010219800101053X"
    fancy = "３５０１０２１９８００１０１０５３ｘ "  # full-width, lower-case x, a space
    data = sample_licence_data("zyzgzs") | {"公民身份号码": fancy, "出生日期": "1980-01-01",
                                            "性别": "男"}
    with served_api.department as client:
        issued = _issue(client, "zyzgzs", data)
        assert issued.status_code == 201, issued.text
        licence_id = issued.json()["licence_id"]
        by_lower_id = client.get(f"/v1/licences/{licence_id.lower()}")
    assert _stored(served_api, licence_id).holder_identifier == rid
    assert by_lower_id.status_code == 200
    for sub in (rid, rid.lower(), "３５０１０２１９８００１０１０５３Ｘ", f" {rid} "):
        with served_api.citizen(sub) as citizen:
            mine = citizen.get("/v1/me/licences")
        assert mine.status_code == 200, (sub, mine.text)
        assert licence_id in {x["licence_id"] for x in mine.json()["licences"]}, sub
    with served_api.citizen(rid[:6] + "\u200b" + rid[6:]) as citizen:
        assert citizen.get("/v1/me/licences").status_code == 403


def _deep(levels: int) -> bytes:
    return b'{"type": "yyzz", "data": {"x": ' + b"[" * levels + b"]" * levels + b"}}"


def _post_routes(app) -> list[str]:
    """Every operation that takes a body (from the app's own OpenAPI description)."""
    paths = ["/v1/licences/batch"]  # an alias kept out of the description
    for path, operations in app.openapi()["paths"].items():
        if {"post", "put", "patch"} & set(operations):
            paths.append(path.replace("{licence_id}", "YYZZ-91350100M000100Y43-0000000001-01X"))
    return paths


@pytest.mark.parametrize("content_type", ["application/json", None,
                                          "application/merge-patch+json"])
def test_json_depth_and_size_are_bounded_before_parsing_at_every_endpoint(served_api,
                                                                          content_type):
    from api.app import create_app

    paths = _post_routes(create_app(served_api.under_test.domain.settings,
                                    domain=served_api.under_test.domain))
    assert "/v1/licences" in paths and "/v1/verify" in paths and len(paths) >= 8
    headers = {"Accept-Language": "en"} | ({"content-type": content_type}
                                           if content_type else {})
    deep, unclosed = _deep(100_000), b"[" * 200_000
    big = json.dumps({"type": "yyzz", "data": {"x": "y" * (1024 * 1024)}}).encode()
    with served_api.department as client:
        for path in paths:
            if content_type is None and path.startswith(("/v1/verify", "/pki/")):
                continue  # raw documents: a PDF, an image, DER
            for name, body in (("deep", deep), ("unclosed", unclosed), ("big", big)):
                answer = client.post(path, content=body, headers=headers)
                assert answer.status_code in (413, 422), (path, name, answer.text[:300])
                error = answer.json()["errors"][0]
                assert error["rule"] == {"big": "too_large"}.get(name, "json_too_deep"), path
            shallow = client.post(path, content=_deep(30), headers=headers)
            assert shallow.status_code < 500, (path, shallow.text[:300])
            assert shallow.json().get("errors", [{}])[0].get("rule") != "json_too_deep"


def test_utf16_json_is_refused_as_not_utf8(served_api):
    body = json.dumps({"type": "yyzz", "data": {}}).encode("utf-16")
    with served_api.department as client:
        answer = client.post("/v1/licences", content=body,
                             headers={"content-type": "application/json"})
    assert answer.status_code == 422 and answer.json()["errors"][0]["rule"] == "json_invalid"


def test_nan_and_lone_surrogates_are_refused_naming_the_field(served_api):
    with served_api.department as client:
        nan = client.post("/v1/licences", content=b'{"type": "yyzz", "data": {"x": NaN}}',
                          headers={"content-type": "application/json"})
        surrogate = client.post(
            "/v1/licences", content=b'{"type": "yyzz", "data": {"\\u540d\\u79f0": "\\ud800"}}',
            headers={"content-type": "application/json"})
    assert nan.status_code == 422, nan.text
    assert surrogate.status_code == 422, surrogate.text
    assert _errors(surrogate)["名称"]["rule"] == "invisible_character"


def test_a_batch_reports_malformed_items_and_issues_the_rest(served_api):
    good = {"type": "zyzgzs", "data": sample_licence_data("zyzgzs"),
            "idempotency_key": _key()}
    items = [good, 7, {"type": "zyzgzs", "data": "nope", "idempotency_key": _key()},
             {"type": "yyzz", "data": CARELESS, "idempotency_key": _key()},
             {"type": "zyzgzs", "data": {}, "idempotency_key": "\x07bell"},
             dict(good, idempotency_key=_key())]
    with served_api.department as client:
        answer = client.post("/v1/licences:batch", json={"items": items},
                             headers={"Accept-Language": "zh-Hans"})
    assert answer.status_code == 200, answer.text
    report = answer.json()
    assert (report["issued"], report["failed"]) == (2, 4)
    results = report["results"]
    assert [r["outcome"] for r in results] == ["issued", "failed", "failed", "failed",
                                               "failed", "issued"]
    assert results[1]["problem"]["errors"][0]["rule"] == "type"
    assert results[2]["problem"]["errors"][0] == {"field": "data", "rule": "type",
                                                  "message": "应为对象", "expected": "object"}
    assert {e["field"] for e in results[3]["problem"]["errors"]} == {
        "名称", "法定代表人", "注册资本", "住所", "登记日期", "多余"}
    assert results[4]["problem"]["errors"][0]["rule"] == "printable"


def test_a_status_change_reason_hiding_characters_is_refused(served_api):
    """The reason is shown to clerks (and kept in the audit trail): the same hygiene as
    licence data, through HTTP, and in the domain function the CLI calls."""
    from certs.text import RefusedText
    from certseal.status import change_licence_status

    with served_api.department as client:
        issued = _issue(client, "yyzz", sample_licence_data("yyzz"))
        assert issued.status_code == 201, issued.text
        licence_id = issued.json()["licence_id"]
        answer = client.post(f"/v1/licences/{licence_id}/suspend",
                             json={"reason": "核查\u202e中"})
        assert answer.status_code == 422, answer.text
        error = _errors(answer)["reason"]
        assert error["rule"] == "invisible_character"
        assert error["character"].startswith("U+202E") and "\u202e" not in answer.text
        assert _stored(served_api, licence_id).status == "valid"
        with pytest.raises(RefusedText):
            change_licence_status(served_api.under_test.domain, licence_id, "suspend",
                                  reason="核查\x1b[2J中", actor="operator:test")
        answer = client.post(f"/v1/licences/{licence_id}/suspend",
                             json={"reason": "  核查中\u3000"})
        assert answer.status_code == 200, answer.text
        assert answer.json()["reason"] == "核查中"
