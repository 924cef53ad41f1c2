"""Seal revocation, suspension and reinstatement as relying parties see them: the CLI runs
as a separate process while the server (another process's view: this test process) keeps
running with its OCSP cache warm; openssl judges OCSP answers and CRLs."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import httpx
import pytest
from status_testkit import certseal, certseal_json, openssl_ocsp, served_fresh_domain

from ca.store import status_history
from seal.errors import SealUnusable
from seal.registry import get_seal


@pytest.fixture
def served(tmp_path: Path):
    with served_fresh_domain(tmp_path / "home") as under_test:
        yield under_test


def _seal_pem(under_test) -> Path:
    return under_test.published / "seals" / f"{under_test.seal_id}.pem"


def _crl_text(under_test, tmp_path: Path) -> str:
    der = httpx.get(f"{under_test.base_url}/pki/crl/issuing.crl", timeout=10)
    assert der.status_code == 200
    crl = tmp_path / "issuing.crl"
    crl.write_bytes(der.content)
    chain = tmp_path / "chain.pem"
    chain.write_bytes((under_test.published / "issuing-ca.pem").read_bytes()
                      + (under_test.published / "root-ca.pem").read_bytes())
    done = subprocess.run(["openssl", "crl", "-inform", "DER", "-in", str(crl), "-CAfile",
                           str(chain), "-noout", "-text"], capture_output=True, text=True,
                          timeout=30)
    assert done.returncode == 0, done.stderr
    assert "verify OK" in done.stderr
    return done.stdout


def _serial(under_test) -> str:
    with under_test.domain.session() as session:
        return get_seal(session, under_test.seal_id).certificate_serial


def test_seal_revoke_by_another_process_reaches_ocsp_crl_and_issuance(served, tmp_path):
    seal_pem = _seal_pem(served)
    before = openssl_ocsp(served, seal_pem)
    assert "Response verify OK" in before
    assert f"{seal_pem}: good" in before
    assert "WARNING" not in before  # the nonce was echoed
    # Warm the server's cache the way RFC 5019 clients do (no nonce): it must not stick.
    assert f"{seal_pem}: good" in openssl_ocsp(served, seal_pem, nonce=False)
    assert served.domain.ocsp_responder().cached_count >= 1

    out = certseal_json(served.home, "seal", "revoke", served.seal_id,
                        "--reason", "keyCompromise", "--note", "laptop stolen")
    assert out["status"] == "revoked" and out["reason"] == "keyCompromise"

    after = openssl_ocsp(served, seal_pem)
    assert "Response verify OK" in after
    assert f"{seal_pem}: revoked" in after
    assert "Reason: keyCompromise" in after
    assert "WARNING" not in after
    cached = openssl_ocsp(served, seal_pem, nonce=False)
    assert "Response verify OK" in cached and f"{seal_pem}: revoked" in cached

    crl = _crl_text(served, tmp_path)
    assert f"Serial Number: {_serial(served)}" in crl
    assert "Key Compromise" in crl
    assert re.search(rf"CRL Number:\s+{out['crl_number']}\n", crl)

    with served.domain.session() as session:
        events = status_history(session, _serial(served))
    assert [(e.status, e.reason, e.note) for e in events[1:]] == [
        ("revoked", "keyCompromise", "laptop stolen")]
    assert events[0].status == "good"  # issuance: nothing was deleted or rewritten
    assert events[-1].actor.startswith("operator:")

    with pytest.raises(SealUnusable):
        served.issue("yyzz")


def test_seal_suspend_then_reinstate_flips_ocsp_and_the_crl(served, tmp_path):
    seal_pem = _seal_pem(served)
    assert f"{seal_pem}: good" in openssl_ocsp(served, seal_pem)
    assert f"{seal_pem}: good" in openssl_ocsp(served, seal_pem, nonce=False)  # cached

    certseal_json(served.home, "seal", "suspend", served.seal_id)
    for nonce in (True, False):
        held = openssl_ocsp(served, seal_pem, nonce=nonce)
        assert f"{seal_pem}: revoked" in held and "Reason: certificateHold" in held
    assert "Certificate Hold" in _crl_text(served, tmp_path)
    with pytest.raises(SealUnusable):
        served.issue("yyzz")

    certseal_json(served.home, "seal", "reinstate", served.seal_id)
    for nonce in (True, False):
        again = openssl_ocsp(served, seal_pem, nonce=nonce)
        assert "Response verify OK" in again and f"{seal_pem}: good" in again
    assert f"Serial Number: {_serial(served)}" not in _crl_text(served, tmp_path)
    assert served.issue("yyzz").licence.status == "valid"


def test_seal_revoke_refuses_hold_as_a_reason_and_a_second_revocation(served):
    refused = certseal(served.home, "seal", "revoke", served.seal_id, "--reason",
                       "certificateHold", check=False)
    assert refused.returncode != 0 and "certificateHold" in refused.stderr
    certseal_json(served.home, "seal", "revoke", served.seal_id, "--reason", "superseded")
    again = certseal(served.home, "seal", "revoke", served.seal_id, "--reason",
                     "keyCompromise", check=False)
    assert again.returncode == 1 and "already revoked" in again.stderr
    reinstated = certseal(served.home, "seal", "reinstate", served.seal_id, check=False)
    assert reinstated.returncode == 1 and "not on hold" in reinstated.stderr
