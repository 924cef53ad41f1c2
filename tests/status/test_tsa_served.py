"""The served time-stamp authority judged by `openssl ts -verify`."""

from __future__ import annotations

import subprocess

import httpx


def openssl(*args: str, cwd) -> subprocess.CompletedProcess:
    done = subprocess.run(["openssl", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=30)
    assert done.returncode == 0, done.stderr
    return done


def test_openssl_ts_verifies_a_token_from_pki_tsa(served_domain, tmp_path):
    (tmp_path / "data.bin").write_bytes(b"licence 91350102MA2Y0K1R0X sealed at noon")
    openssl("ts", "-query", "-data", "data.bin", "-sha256", "-cert", "-out", "q.tsq",
            cwd=tmp_path)
    reply = httpx.post(f"{served_domain.base_url}/pki/tsa",
                       content=(tmp_path / "q.tsq").read_bytes(),
                       headers={"Content-Type": "application/timestamp-query"}, timeout=30)
    assert reply.status_code == 200
    assert reply.headers["content-type"] == "application/timestamp-reply"
    (tmp_path / "r.tsr").write_bytes(reply.content)
    published = served_domain.published
    done = openssl("ts", "-verify", "-in", "r.tsr", "-queryfile", "q.tsq",
                   "-CAfile", str(published / "root-ca.pem"),
                   "-untrusted", str(published / "issuing-ca.pem"), cwd=tmp_path)
    assert "Verification: OK" in done.stdout
    # The same reply checked against other data must fail: the test can fail.
    (tmp_path / "other.bin").write_bytes(b"something else")
    wrong = subprocess.run(["openssl", "ts", "-verify", "-in", "r.tsr", "-data", "other.bin",
                            "-CAfile", str(published / "root-ca.pem"),
                            "-untrusted", str(published / "issuing-ca.pem")],
                           capture_output=True, text=True, cwd=tmp_path, timeout=30)
    assert "Verification: OK" not in wrong.stdout
