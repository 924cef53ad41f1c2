"""Citizens over HTTP: OpenID Connect tokens checked strictly (signature, algorithm, key,
issuer, audience, time), and a holder sees and downloads only their own licences."""

from __future__ import annotations

import json
import time

import api_kit
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.utils import base64url_encode


@pytest.fixture(scope="module")
def holder_id(served_api) -> str:
    """The sample vocational certificate (zyzgzs) is held by a person."""
    return served_api.under_test.licences["zyzgzs"].licence.holder_identifier


def _unsigned(payload: dict, alg: str = "none") -> str:
    header = base64url_encode(json.dumps({"alg": alg, "typ": "JWT"}).encode()).decode()
    body = base64url_encode(json.dumps(payload).encode()).decode()
    return f"{header}.{body}."


def _claims(sub: str, **changes) -> dict:
    now = int(time.time())
    return {"iss": api_kit.ISSUER, "aud": api_kit.AUDIENCE, "sub": sub, "iat": now,
            "exp": now + 300, **changes}


def _refused_tokens(idp: api_kit.IdentityProvider, sub: str) -> dict[str, str]:
    stranger_rsa = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    stranger_ec = ec.generate_private_key(ec.SECP256R1())
    rsa_public_pem = idp.rsa_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    # HS256 keyed with the provider's public key: the classic algorithm confusion. PyJWT
    # refuses to sign with a PEM public key as HMAC secret, so build the MAC by hand.
    import hashlib
    import hmac
    header = base64url_encode(json.dumps({"alg": "HS256", "kid": "rsa-1"}).encode())
    body = base64url_encode(json.dumps(_claims(sub)).encode())
    mac = hmac.new(rsa_public_pem, header + b"." + body, hashlib.sha256).digest()
    hs256_confused = b".".join([header, body, base64url_encode(mac)]).decode()
    now = time.time()
    return {
        "expired": idp.token(sub, now=now - 3600, lifetime=600),
        "not yet valid": idp.token(sub, nbf=int(now + 600)),
        "issued in the future": idp.token(sub, now=now + 600),
        "wrong audience": idp.token(sub, audience="another-service"),
        "wrong issuer": idp.token(sub, issuer="https://evil.example.test/"),
        "wrong key, right kid": idp.token(sub, key=stranger_rsa),
        "wrong EC key": idp.token(sub, key=stranger_ec, alg="ES256", kid="ec-1"),
        "unknown kid": idp.token(sub, key=stranger_rsa, kid="rsa-2"),
        "alg none": _unsigned(_claims(sub)),
        "alg None": _unsigned(_claims(sub), alg="None"),
        "HS256 with the public key": hs256_confused,
        "RS256 header on the EC key": idp.token(sub, kid="ec-1"),
        "RS384": idp.token(sub, alg="RS384"),
        "no exp": jwt.encode({k: v for k, v in _claims(sub).items() if k != "exp"},
                             idp.rsa_key, algorithm="RS256", headers={"kid": "rsa-1"}),
        "no aud": jwt.encode({k: v for k, v in _claims(sub).items() if k != "aud"},
                             idp.rsa_key, algorithm="RS256", headers={"kid": "rsa-1"}),
        "garbage": "not-a-jwt",
        "tampered payload": _tamper(idp.token(sub), api_kit.NOBODY_ID, sub),
    }


def _tamper(token: str, new_sub: str, old_sub: str) -> str:
    header, body, signature = token.split(".")
    claims = json.loads(jwt.utils.base64url_decode(body))
    claims["sub"] = new_sub if claims["sub"] == old_sub else old_sub
    return ".".join([header, base64url_encode(json.dumps(claims).encode()).decode(),
                     signature])


def test_a_holder_lists_only_their_own_licences(served_api, holder_id):
    with served_api.citizen(holder_id) as client:
        answer = client.get("/v1/me/licences")
    assert answer.status_code == 200, answer.text
    licences = answer.json()["licences"]
    expected = served_api.under_test.licences["zyzgzs"].licence_id
    assert expected in {entry["licence_id"] for entry in licences}
    assert all(entry["type"] == "zyzgzs" for entry in licences)
    others = {served_api.under_test.licences[c].licence_id for c in ("yyzz", "spjyxkz")}
    assert not others & {entry["licence_id"] for entry in licences}


def test_a_citizen_holding_nothing_gets_an_empty_list(served_api):
    with served_api.citizen(api_kit.NOBODY_ID) as client:
        answer = client.get("/v1/me/licences")
    assert answer.status_code == 200 and answer.json() == {"licences": []}


def test_an_es256_token_is_accepted_too(served_api, holder_id):
    token = served_api.idp.token(holder_id, alg="ES256", kid="ec-1")
    with served_api.client(token) as client:
        assert client.get("/v1/me/licences").status_code == 200


def test_a_lowercase_x_in_the_subject_is_the_same_holder(served_api):
    # GB 11643 numbers may end in X; providers are not consistent about its case.
    from certs.identifiers import make_resident_id
    from certs.samples import sample_licence_data

    with_x = next(n for i in range(100)
                  if (n := make_resident_id(f"11010519800101{i:03d}")).endswith("X"))
    data = sample_licence_data("zyzgzs") | {"公民身份号码": with_x, "出生日期": "1980-01-01"}
    issued = served_api.under_test.issue("zyzgzs", data)
    with served_api.citizen(with_x.lower()) as client:
        listed = client.get("/v1/me/licences").json()["licences"]
    assert [entry["licence_id"] for entry in listed] == [issued.licence_id]


def test_the_holder_reads_and_downloads_their_licence(served_api, holder_id):
    licence_id = served_api.under_test.licences["zyzgzs"].licence_id
    with served_api.citizen(holder_id) as client:
        record = client.get(f"/v1/licences/{licence_id}")
        pdf = client.get(f"/v1/licences/{licence_id}/pdf")
    assert record.status_code == 200 and record.json()["licence_id"] == licence_id
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.content == served_api.under_test.licences["zyzgzs"].pdf


def test_someone_elses_licence_is_not_found_for_a_citizen(served_api, holder_id):
    company_licence = served_api.under_test.licences["yyzz"].licence_id
    mine = served_api.under_test.licences["zyzgzs"].licence_id
    with served_api.citizen(holder_id) as holder, \
            served_api.citizen(api_kit.NOBODY_ID) as stranger:
        answers = [holder.get(f"/v1/licences/{company_licence}"),
                   holder.get(f"/v1/licences/{company_licence}/pdf"),
                   stranger.get(f"/v1/licences/{mine}"),
                   stranger.get(f"/v1/licences/{mine}/pdf")]
    for answer in answers:
        assert answer.status_code == 404, answer.text
        assert answer.json()["code"] == "licence_not_found"
        assert answer.headers["content-type"] == "application/problem+json"


def test_the_company_holding_a_business_licence_sees_it(served_api):
    licence = served_api.under_test.licences["yyzz"].licence
    with served_api.citizen(licence.holder_identifier) as client:
        listed = client.get("/v1/me/licences").json()["licences"]
    assert licence.licence_id in {entry["licence_id"] for entry in listed}


def test_every_bad_token_is_refused_with_401(served_api, holder_id):
    tokens = _refused_tokens(served_api.idp, holder_id)
    for name, token in tokens.items():
        for path in ("/v1/me/licences",
                     f"/v1/licences/{served_api.under_test.licences['zyzgzs'].licence_id}/pdf"):
            with served_api.client(token) as client:
                answer = client.get(path)
            assert answer.status_code == 401, f"{name} on {path}: {answer.status_code}"
            body = answer.json()
            assert body["code"] in ("invalid_token", "invalid_credentials"), name
            assert answer.headers["www-authenticate"].startswith("Bearer"), name


def test_no_token_at_all_is_401(served_api):
    with served_api.client() as client:
        answer = client.get("/v1/me/licences")
    assert answer.status_code == 401
    assert answer.json()["code"] == "authentication_required"


def test_a_subject_that_is_no_holder_identifier_is_403(served_api):
    with served_api.client(served_api.idp.token("user-8812")) as client:
        answer = client.get("/v1/me/licences")
    assert answer.status_code == 403 and answer.json()["code"] == "not_a_holder"


def test_a_department_key_cannot_list_as_a_holder_nor_a_citizen_issue(served_api, holder_id):
    with served_api.department as department:
        assert department.get("/v1/me/licences").status_code == 403
    with served_api.citizen(holder_id) as citizen:
        answer = citizen.post("/v1/licences", json={"type": "zyzgzs", "data": {}})
    assert answer.status_code == 401 and answer.json()["code"] == "invalid_credentials"


def test_the_jwks_is_reread_when_the_provider_rotates_its_key(identity_provider, tmp_path,
                                                               holder_id):
    from api.auth_oidc import InvalidToken, JwksSource, OidcVerifier

    idp = api_kit.make_identity_provider(tmp_path)
    verifier = OidcVerifier(issuer=api_kit.ISSUER, audience=api_kit.AUDIENCE,
                            jwks=JwksSource(str(idp.jwks_path), min_refresh=0))
    assert verifier.holder(idp.token(holder_id)).identifier == holder_id
    rotated = api_kit.make_identity_provider(tmp_path, "rsa-2", "ec-2")  # new jwks.json
    assert verifier.holder(rotated.token(holder_id, kid="rsa-2")).identifier == holder_id
    with pytest.raises(InvalidToken):
        verifier.holder(idp.token(holder_id))  # the old key is gone from the set


def test_token_lifetime_skew_and_nbf_are_bounded(served_api, holder_id):
    """A token valid for a century is refused; so is one whose clock is off by more than
    the allowed skew; nbf is honoured, with the same bounded skew."""
    idp = served_api.idp
    now = time.time()
    refused = {
        "a century": idp.token(holder_id, lifetime=100 * 365 * 24 * 3600),
        "a day": idp.token(holder_id, lifetime=24 * 3600),
        "issued long ago, valid a while yet": idp.token(holder_id, now=now - 5 * 3600,
                                                        lifetime=5 * 3600 + 300),
        "issued 2 minutes ahead": idp.token(holder_id, now=now + 120),
        "not before in 2 minutes": idp.token(holder_id, nbf=int(now + 120)),
        "expired 2 minutes ago": idp.token(holder_id, now=now - 600, lifetime=480),
        "exp as text, a century": jwt.encode(
            _claims(holder_id, exp=str(int(now) + 10**9)), idp.rsa_key, algorithm="RS256",
            headers={"kid": "rsa-1"}),
    }
    accepted = {
        "four hours": idp.token(holder_id, lifetime=4 * 3600),
        "issued 10 s ahead (skew)": idp.token(holder_id, now=now + 10),
        "not before 10 s from now (skew)": idp.token(holder_id, nbf=int(now + 10)),
        "not before a minute ago": idp.token(holder_id, nbf=int(now - 60)),
    }
    for name, token in refused.items():
        with served_api.client(token) as client:
            answer = client.get("/v1/me/licences")
        assert answer.status_code == 401, (name, answer.text)
        assert answer.json()["code"] == "invalid_token", name
    for name, token in accepted.items():
        with served_api.client(token) as client:
            assert client.get("/v1/me/licences").status_code == 200, name
    with served_api.client(refused["a century"]) as client:
        assert "lives" in client.get("/v1/me/licences").json()["detail"]
