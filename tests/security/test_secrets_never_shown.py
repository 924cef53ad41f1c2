"""Secrets never leave: a whole flow with real processes — `certseal init` (PINs generated
into the home's PIN file), `department add`, `certseal serve` with citizens' sign-in,
issuance over HTTP, a wrong API key, a citizen token that fails, a licence read and a
verification, `department add` with a wrong PIN — capturing every line the CLI and the
server print (the server's JSON log included) and every response body. None may contain
a PIN, an API key (whole or its secret part) or the holder's full resident identity
number, except where the product must show it once: the key in `department add`'s output
and in the key-creation response.

Private keys never leave the HSM: tests/certseal/test_cli_init.py
(`test_every_private_key_is_sensitive_and_never_extractable`) checks every key on the
token with pkcs11-tool (CKA_SENSITIVE true, CKA_EXTRACTABLE false).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import httpx
import security_kit as kit

from certs.identifiers import make_uscc
from certs.samples import sample_licence_data

CLI = [sys.executable, "-m", "certseal.cli"]
USCC = make_uscc("11440100MB0009103")
WRONG_PIN = "wrong-pin-77613"


def environment(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CERTSEAL_")}
    return {**env, **extra}


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=300,
                          env=env or environment())


def secret_part(api_key: str) -> str:
    return api_key.split("_", 2)[2]


def test_no_pin_key_or_identity_number_in_any_output(tmp_path, security_idp):
    import domain_kit

    home = tmp_path / "home"
    port = domain_kit.free_port()
    seen: list[str] = []  # everything printed or answered that must hold no secret

    init = cli("init", "--home", str(home), "--region", "440000", "--region-name", "广东省",
               "--base-url", f"http://127.0.0.1:{port}", "--json")
    assert init.returncode == 0, init.stderr
    seen += [init.stdout, init.stderr]
    pins = json.loads((home / "hsm-pins.json").read_text())

    added = cli("department", "add", "--home", str(home), "--name", "安全测试部门C",
                "--uscc", USCC, "--types", "zyzgzs", "--json")
    assert added.returncode == 0, added.stderr
    api_key = json.loads(added.stdout)["api_key"]
    assert api_key in added.stdout  # shown this once, on purpose
    seen.append(added.stderr)

    wrong_pin = cli("department", "add", "--home", str(home), "--name", "另一部门",
                    "--uscc", make_uscc("11440100MB0009104"), "--json",
                    env=environment(CERTSEAL_HSM_PIN=WRONG_PIN))
    assert wrong_pin.returncode != 0
    seen += [wrong_pin.stdout, wrong_pin.stderr]

    data = sample_licence_data("zyzgzs")
    identity_number = data["公民身份号码"]
    server_env = environment(
        CERTSEAL_OIDC_ISSUER=kit.api_kit.ISSUER, CERTSEAL_OIDC_AUDIENCE=kit.api_kit.AUDIENCE,
        CERTSEAL_OIDC_JWKS=str(security_idp.jwks_path))
    server = subprocess.Popen(
        [*CLI, "serve", "--home", str(home), "--port", str(port)], env=server_env,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    created_key = ""
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_until_up(base, server)
        department = {"Authorization": f"Bearer {api_key}"}
        wrong_key = {"Authorization": f"Bearer {api_key[:-6]}XXXXXX"}
        citizen_ok = {"Authorization": f"Bearer {security_idp.token(identity_number)}"}
        citizen_bad = {"Authorization": "Bearer " + security_idp.token(
            identity_number, audience="not-us")}
        with httpx.Client(base_url=base, timeout=60) as client:
            issued = client.post("/v1/licences", headers=department,
                                 json={"type": "zyzgzs", "data": data})
            assert issued.status_code == 201, issued.text
            licence_id = issued.json()["licence_id"]
            refused_data = dict(data, 公民身份号码=identity_number[:-1] + "0")
            answers = [
                issued,
                client.post("/v1/licences", headers=department,  # bad check digit, 422
                            json={"type": "zyzgzs", "data": refused_data}),
                client.post("/v1/licences", headers=wrong_key,
                            json={"type": "zyzgzs", "data": data}),
                client.get(f"/v1/licences/{licence_id}", headers=department),
                client.get("/v1/me/licences", headers=citizen_ok),
                client.get("/v1/me/licences", headers=citizen_bad),
                client.get(f"/v1/licences/{licence_id}", headers=citizen_bad),
                client.get("/v1/departments/me/api-keys", headers=department),
                client.post("/v1/verify", content=client.get(
                    f"/v1/licences/{licence_id}/pdf", headers=department).content,
                    headers={"Content-Type": "application/pdf"}),
            ]
            rotated = client.post("/v1/departments/me/api-keys", headers=department)
            created_key = rotated.json()["api_key"]
        assert [a.status_code for a in answers] == [201, 422, 401, 200, 200, 401, 401, 200,
                                                    200]
        assert answers[4].json()["licences"][0]["licence_id"] == licence_id
        seen += [f"{a.status_code} {a.headers} {a.text}" for a in answers]
        seen.append(str(rotated.headers))
    finally:
        server.terminate()
        log, _ = server.communicate(timeout=30)
    assert '"event"' in log or "request" in log, log[-2000:]  # we did capture its log
    seen.append(log)

    secrets = {"user PIN": pins["user_pin"], "SO PIN": pins["so_pin"],
               "wrong PIN": WRONG_PIN, "API key": api_key,
               "API key secret": secret_part(api_key),
               "presented wrong key secret": secret_part(api_key)[:-6] + "XXXXXX",
               "created API key secret": secret_part(created_key),
               "resident identity number": identity_number}
    haystack = "\n".join(seen)
    leaks = [name for name, value in secrets.items() if value and value in haystack]
    assert leaks == []


def _wait_until_up(base: str, server: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert server.poll() is None, server.stdout.read() if server.stdout else ""
        try:
            if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise AssertionError("certseal serve did not start")


def test_a_failed_sign_in_names_no_token_content(security_idp):
    token = security_idp.token(kit.CITIZEN_1, audience="not-us")
    from api.auth_oidc import InvalidToken, JwksSource, OidcVerifier

    verifier = OidcVerifier(issuer=kit.api_kit.ISSUER, audience=kit.api_kit.AUDIENCE,
                            jwks=JwksSource(str(security_idp.jwks_path)))
    try:
        verifier.holder(token)
    except InvalidToken as exc:
        assert kit.CITIZEN_1 not in exc.reason and token not in exc.reason
    else:
        raise AssertionError("a token for another audience was accepted")

