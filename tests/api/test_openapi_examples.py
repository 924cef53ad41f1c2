"""The OpenAPI document is what a department's developer starts from: every example request
body it shows must pass the server's own validation (posted to its endpoint: no 422), and
the licence types with their schemas are public at GET /v1/licence-types."""

from __future__ import annotations

import uuid

from certs.samples import sample_licence_data


def _resolve(document: dict, schema: dict) -> dict:
    while "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def _example_bodies(document: dict):
    """(method, path, body) for each JSON request body whose fields all carry examples."""
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            content = operation.get("requestBody", {}).get("content", {})
            if "application/json" not in content:
                continue
            schema = _resolve(document, content["application/json"]["schema"])
            media = content["application/json"]
            if "example" in media:
                yield method, path, media["example"]
                continue
            properties = schema.get("properties", {})
            body = {name: _resolve(document, p)["examples"][0]
                    for name, p in properties.items() if _resolve(document, p).get("examples")}
            if body and set(schema.get("required", [])) <= set(body):
                yield method, path, body


def test_every_example_request_passes_validation(served_api):
    document = served_api.client().get("/openapi.json").json()
    examples = list(_example_bodies(document))
    assert ("post", "/v1/licences") in {(m, p) for m, p, _ in examples}
    holder = sample_licence_data("zyzgzs")["公民身份号码"]
    licence_id = served_api.under_test.licences["zyzgzs"].licence_id
    tried = []
    for method, path, body in examples:
        client = (served_api.citizen(holder) if path.startswith("/v1/me/")
                  else served_api.department)
        url = path.replace("{licence_id}", licence_id).replace("{id}", licence_id)
        if "{" in url or path.endswith("/amend"):
            continue  # would change a shared licence; its body model is the one checked here
        answer = client.request(method, url, json=body,
                                headers={"Idempotency-Key": uuid.uuid4().hex})
        tried.append((method, path, answer.status_code))
        assert answer.status_code != 422, (method, path, answer.text)
    assert ("post", "/v1/licences", 201) in tried


def test_licence_types_are_public_with_their_schemas(served_api):
    answer = served_api.client().get("/v1/licence-types")  # no credentials
    assert answer.status_code == 200
    body = answer.json()
    assert body == served_api.under_test.domain.catalogue.to_json()  # what the CLI prints
    codes = {t["code"] for t in body["types"]}
    assert {"yyzz", "zyzgzs"} <= codes
    yyzz = next(t for t in body["types"] if t["code"] == "yyzz")
    assert yyzz["schema"]["type"] == "object" and yyzz["schema"]["properties"]
    assert "/v1/licence-types" in served_api.client().get("/openapi.json").json()["paths"]
