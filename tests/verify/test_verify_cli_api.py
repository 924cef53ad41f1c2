"""`certseal verify` (exit status 0/1/2/3, one JSON object) and POST /v1/verify (no
credentials; report JSON; 413 and 422 for unusable uploads), run for real."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import verify_forgeries as forge

from verify.limits import DEFAULT_LIMITS
from verify.pdf_qr import qr_texts_of_first_page

CERTSEAL = str(Path(sys.executable).with_name("certseal"))


def certseal_verify(*args: str, stdin: bytes | None = None) -> tuple[int, dict]:
    done = subprocess.run([CERTSEAL, "verify", "--json", *args], capture_output=True,
                          input=stdin, timeout=60)
    try:
        return done.returncode, json.loads(done.stdout)
    except json.JSONDecodeError:
        raise AssertionError(f"certseal verify printed no report (exit {done.returncode}): "
                             f"{done.stderr.decode(errors='replace')}") from None


@pytest.fixture(scope="module")
def files(trust_domain, tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    genuine = trust_domain.licences["spjyxkz"].pdf
    paths = {"genuine": root / "genuine.pdf", "forged": root / "forged.pdf",
             "garbage": root / "garbage.bin", "empty": root / "empty.pdf"}
    paths["genuine"].write_bytes(genuine)
    paths["forged"].write_bytes(forge.overlay_page_content(genuine))
    paths["garbage"].write_bytes(b"\x00\x01 not a licence " * 50)
    paths["empty"].write_bytes(b"")
    return paths


def test_cli_exit_status_follows_the_verdict(served_domain, files):
    trust = ["--trust-list", str(served_domain.published)]
    status, body = certseal_verify(*trust, str(files["genuine"]))
    assert (status, body["verdict"]) == (0, "valid"), body
    assert body["signer"]["uscc"] == served_domain.department_id
    status, body = certseal_verify(*trust, str(files["forged"]))
    assert (status, body["verdict"]) == (1, "invalid")
    # Offline with no home (so no cache, no synced status list): cannot decide.
    status, body = certseal_verify(*trust, "--offline", str(files["genuine"]))
    assert (status, body["verdict"]) == (2, "indeterminate")


def test_cli_takes_the_qr_text_as_argument_and_on_stdin(served_domain):
    (text,) = qr_texts_of_first_page(served_domain.licences["yyzz"].pdf, DEFAULT_LIMITS)
    trust = ["--trust-list", str(served_domain.published / "trust-list.jws")]
    status, body = certseal_verify(*trust, text)
    assert (status, body["verdict"], body["kind"]) == (0, "valid", "qr"), body
    status, body = certseal_verify(*trust, "-", stdin=text.encode())
    assert status == 0 and body["licence"]["licence_id"] == served_domain.licences[
        "yyzz"].licence_id


def test_cli_home_caches_for_a_later_offline_run(served_domain, tmp_path, files):
    """A counter's home: the published directory copied over, then online once, offline
    afterwards with the cached OCSP answer and status list."""
    import shutil

    home = tmp_path / "counter"
    shutil.copytree(served_domain.published, home / "published")
    assert certseal_verify("--home", str(home), str(files["genuine"]))[0] == 0
    status, body = certseal_verify("--home", str(home), "--offline", str(files["genuine"]))
    assert (status, body["verdict"]) == (0, "valid"), body
    assert any(p.suffix == ".jwt" for p in (home / "verify-cache" / "status").iterdir())


@pytest.mark.parametrize("name", ["garbage", "empty"])
def test_cli_unusable_input_exits_3_with_a_clear_error(trust_domain, files, name):
    status, body = certseal_verify("--trust-list", str(trust_domain.published),
                                   str(files[name]))
    assert status == 3
    assert body["error"]["code"] == "unusable_input" and body["error"]["message"]


def test_cli_without_any_trust_list_exits_3(files, tmp_path, monkeypatch):
    monkeypatch.delenv("CERTSEAL_HOME", raising=False)
    status, body = certseal_verify(str(files["genuine"]))
    assert status == 3 and body["error"]["code"] == "verifier_not_configured"
    status, body = certseal_verify("--trust-list", str(tmp_path / "missing.jws"),
                                   str(files["genuine"]))
    assert status == 3


def test_cli_refuses_a_tampered_trust_list(trust_domain, tmp_path, files):
    import shutil

    copy = tmp_path / "published"
    shutil.copytree(trust_domain.published, copy)
    jws = (copy / "trust-list.jws").read_text().strip()
    head, payload, signature = jws.split(".")
    (copy / "trust-list.jws").write_text(f"{head}.{payload[:-4]}AAAA.{signature}")
    status, body = certseal_verify("--trust-list", str(copy), str(files["genuine"]))
    assert status == 3 and "trust list" in body["error"]["message"]


# -- HTTP ----------------------------------------------------------------------------------
def test_api_verifies_an_uploaded_pdf_without_credentials(served_domain, files):
    with open(files["genuine"], "rb") as f:
        answer = httpx.post(served_domain.base_url + "/v1/verify", timeout=30,
                            files={"file": ("licence.pdf", f, "application/pdf")})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["verdict"] == "valid"
    assert "*" in body["licence"]["holder_id_masked"]
    # Every field as sealed, for the clerk to compare with the paper: what the uploader's
    # own file holds (its embedded licence.json), nothing the service adds.
    from certs.document import extract_licence_data

    with open(files["genuine"], "rb") as f:
        sealed = extract_licence_data(f.read())["data"]
    assert body["licence"]["data"].keys() == sealed.keys()


def test_api_verifies_qr_text_and_raw_uploads(served_domain, files):
    pdf = served_domain.licences["zyzgzs"].pdf
    (text,) = qr_texts_of_first_page(pdf, DEFAULT_LIMITS)
    answer = httpx.post(served_domain.base_url + "/v1/verify", json={"qr": text}, timeout=30)
    assert answer.status_code == 200 and answer.json()["verdict"] == "valid"
    answer = httpx.post(served_domain.base_url + "/v1/verify", content=files[
        "forged"].read_bytes(), headers={"Content-Type": "application/pdf"}, timeout=30)
    assert answer.status_code == 200 and answer.json()["verdict"] == "invalid"


@pytest.mark.parametrize("kwargs", [
    {"files": {"file": ("x.bin", b"\x00garbage" * 10, "application/octet-stream")}},
    {"json": {"qr": "not a payload"}},
    {"json": {"nothing": 1}},
    {"content": b"", "headers": {"Content-Type": "application/pdf"}},
])
def test_api_unusable_uploads_are_422(served_domain, kwargs):
    answer = httpx.post(served_domain.base_url + "/v1/verify", timeout=30, **kwargs)
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert answer.json()["detail"]


def test_api_upload_size_limit_is_413(served_domain):
    too_big = b"%PDF-1.7\n" + b"0" * (13 * 1024 * 1024)
    answer = httpx.post(served_domain.base_url + "/v1/verify", content=too_big, timeout=60,
                        headers={"Content-Type": "application/pdf"})
    assert answer.status_code == 413
    # (the app-wide body limit may answer before the route does)
    assert answer.json()["code"] in {"input_too_large", "request_too_large"}


def test_a_long_argument_is_never_a_traceback(trust_domain):
    """QR text is base45 (it holds '/'): a run of it longer than a file name may be must
    still be read as text, and any other long argument is refused cleanly (exit 3)."""
    trust = ["--trust-list", str(trust_domain.published / "trust-list.jws")]
    status, body = certseal_verify(*trust, "CSL1:" + "A" * 300 + "/" + "B" * 300)
    assert status == 3 and body["error"]["code"]
    done = subprocess.run([CERTSEAL, "verify", *trust, "x" * 300], capture_output=True,
                          timeout=60)
    assert done.returncode == 3 and b"Traceback" not in done.stderr
