"""`certseal init` and `department add` end to end: real CLI process, real SoftHSM2 token,
certificates checked with openssl, key attributes with pkcs11-tool."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

CLI = [sys.executable, "-m", "certseal.cli"]
USCC = "11440100MB2C923971"


def run_cli(*args: str, env: dict | None = None, check: bool = True):
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("CERTSEAL_")}
    full_env.update(env or {})
    proc = subprocess.run([*CLI, *args], capture_output=True, text=True, env=full_env,
                          timeout=300)
    if check and proc.returncode != 0:
        raise AssertionError(f"certseal {args} failed ({proc.returncode}): {proc.stderr}")
    return proc


def openssl(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["openssl", *args], capture_output=True, text=True, timeout=60)


@pytest.fixture(scope="module")
def domain_home(tmp_path_factory) -> tuple[Path, dict]:
    home = tmp_path_factory.mktemp("domain") / "gd"
    out = run_cli("init", "--home", str(home), "--region", "440000", "--region-name", "广东省",
                  "--base-url", "https://pki.gd.example", "--json")
    return home, json.loads(out.stdout)


@pytest.fixture(scope="module")
def department(domain_home) -> dict:
    home, _ = domain_home
    out = run_cli("department", "add", "--home", str(home), "--name", "广州市市场监督管理局",
                  "--uscc", USCC, "--json")
    return json.loads(out.stdout)


def test_init_prints_the_interface_fields(domain_home):
    home, result = domain_home
    assert set(result) == {"root_certificate", "issuing_ca_certificate", "tsa_certificate",
                           "ocsp_certificate", "hsm_module", "token_label", "trust_list"}
    for key in ("root_certificate", "issuing_ca_certificate", "tsa_certificate",
                "ocsp_certificate", "trust_list"):
        assert Path(result[key]).is_file(), key
        assert Path(result[key]).is_relative_to(home)
    assert Path(result["hsm_module"]).is_file()


def test_every_certificate_chains_to_the_root(domain_home, department):
    _, result = domain_home
    root, issuing = result["root_certificate"], result["issuing_ca_certificate"]
    leaves = [(result["tsa_certificate"], "timestampsign"), (result["ocsp_certificate"], None),
              (department["seal_certificate"], None)]
    proc = openssl("verify", "-x509_strict", "-CAfile", root, issuing)
    assert proc.returncode == 0 and ": OK" in proc.stdout, proc.stderr
    for leaf, purpose in leaves:
        args = ["verify", "-x509_strict", "-CAfile", root, "-untrusted", issuing]
        if purpose:
            args += ["-purpose", purpose]
        proc = openssl(*args, leaf)
        assert proc.returncode == 0 and ": OK" in proc.stdout, (leaf, proc.stdout, proc.stderr)


def test_seal_certificate_profile(department):
    text = openssl("x509", "-in", department["seal_certificate"], "-noout", "-text",
                   "-nameopt", "utf8,sep_comma_plus_space").stdout
    assert "O=广州市市场监督管理局" in text or "O = 广州市市场监督管理局" in text
    assert f"NTRCN-{USCC}" in text
    assert "Digital Signature, Non Repudiation" in text
    assert "OCSP - URI:https://pki.gd.example/pki/ocsp" in text
    assert "CA Issuers - URI:https://pki.gd.example/pki/ca/issuing.crt" in text
    assert "URI:https://pki.gd.example/pki/crl/issuing.crl" in text
    serial = openssl("x509", "-in", department["seal_certificate"], "-noout", "-serial").stdout
    assert int(serial.split("=")[1], 16).bit_length() >= 64


def test_department_add_output(department):
    assert department["department_id"] == USCC
    assert re.fullmatch(r"440000\d{7}", department["seal_id"])
    assert department["api_key"].startswith("csk_")


def _pkcs11_objects(home: Path) -> str:
    pins = json.loads((home / "hsm-pins.json").read_text())
    env = dict(os.environ, SOFTHSM2_CONF=str(home / "softhsm2.conf"))
    proc = subprocess.run(
        ["pkcs11-tool", "--module", "/usr/lib/softhsm/libsofthsm2.so", "--token-label",
         "certseal", "--login", "--pin", pins["user_pin"], "--list-objects"],
        capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_every_private_key_is_sensitive_and_never_extractable(domain_home, department):
    home, _ = domain_home
    listing = _pkcs11_objects(home)
    blocks = [b for b in re.split(r"\n(?=\S)", listing) if b.startswith("Private Key Object")]
    labels = {re.search(r"label:\s+(\S+)", b).group(1) for b in blocks}
    assert {"root-ca", "issuing-ca", "tsa", "ocsp-signer", "trust-list-signer",
            f"seal-{department['seal_id']}"} <= labels
    for block in blocks:
        access = re.search(r"Access:\s+(.*)", block).group(1)
        assert "sensitive" in access and "never extractable" in access, block
        assert "always sensitive" in access, block


def test_pin_file_is_private_and_no_pin_is_printed(domain_home, department):
    home, result = domain_home
    pin_file = home / "hsm-pins.json"
    assert pin_file.stat().st_mode & 0o777 == 0o600
    pins = json.loads(pin_file.read_text())
    printed = json.dumps(result) + json.dumps(department)
    assert pins["user_pin"] not in printed and pins["so_pin"] not in printed
    assert pins["user_pin"] not in (home / "certseal.toml").read_text()


def test_init_again_refuses_and_changes_nothing(domain_home):
    home, _ = domain_home
    before = sorted((p.relative_to(home), p.stat().st_mtime_ns) for p in home.rglob("*")
                    if p.is_file())
    proc = run_cli("init", "--home", str(home), "--region", "440000", "--region-name", "广东省",
                   check=False)
    assert proc.returncode != 0
    assert proc.stderr.count("\n") == 1 and "already holds a trust domain" in proc.stderr
    after = sorted((p.relative_to(home), p.stat().st_mtime_ns) for p in home.rglob("*")
                   if p.is_file())
    assert before == after


def _db_rows(home: Path, sql: str) -> list:
    import sqlite3

    with sqlite3.connect(home / "certseal.db") as db:
        return db.execute(sql).fetchall()


def test_bad_uscc_is_one_clear_line_and_writes_nothing(domain_home):
    home, _ = domain_home
    keys_before = _pkcs11_objects(home)
    rows_before = _db_rows(home, "select count(*) from department")
    bad = USCC[:-1] + ("0" if USCC[-1] != "0" else "1")
    proc = run_cli("department", "add", "--home", str(home), "--name", "某局", "--uscc", bad,
                   check=False)
    assert proc.returncode != 0
    assert proc.stderr.count("\n") == 1 and "check character" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr
    assert _pkcs11_objects(home) == keys_before
    assert _db_rows(home, "select count(*) from department") == rows_before


def test_duplicate_department_refused(domain_home, department):
    home, _ = domain_home
    proc = run_cli("department", "add", "--home", str(home), "--name", "另一个局", "--uscc", USCC,
                   "--json", check=False)
    assert proc.returncode != 0
    assert json.loads(proc.stdout)["error"]["code"] == "department_exists"


def test_wrong_pin_is_one_clear_line(domain_home):
    home, _ = domain_home
    proc = run_cli("department", "add", "--home", str(home), "--name", "某局",
                   "--uscc", "91350100M000100Y43", env={"CERTSEAL_HSM_PIN": "not-the-pin"},
                   check=False)
    assert proc.returncode != 0
    assert proc.stderr.count("\n") == 1 and "PIN" in proc.stderr, proc.stderr
    assert "not-the-pin" not in proc.stderr
    assert _db_rows(home, "select count(*) from department where department_id="
                          "'91350100M000100Y43'") == [(0,)]


def test_missing_token_is_one_clear_line(domain_home):
    home, _ = domain_home
    proc = run_cli("department", "add", "--home", str(home), "--name", "某局",
                   "--uscc", "91350100M000100Y43",
                   env={"CERTSEAL_HSM_TOKEN_LABEL": "no-such-token"}, check=False)
    assert proc.returncode != 0
    assert proc.stderr.count("\n") == 1 and "no-such-token" in proc.stderr, proc.stderr


def test_init_failure_leaves_nothing(tmp_path):
    home = tmp_path / "broken"
    # A module path that does not exist: the token cannot be made; nothing may remain.
    proc = run_cli("init", "--home", str(home), "--region", "440000", "--region-name", "广东省",
                   env={"CERTSEAL_HSM_MODULE": str(tmp_path / "libnothing.so")}, check=False)
    assert proc.returncode != 0
    assert proc.stderr.count("\n") == 1, proc.stderr
    assert not home.exists()


def test_bad_region_code_refused(tmp_path):
    proc = run_cli("init", "--home", str(tmp_path / "x"), "--region", "44", "--region-name", "广东",
                   check=False)
    assert proc.returncode != 0 and "6-digit" in proc.stderr
    assert not (tmp_path / "x").exists()
