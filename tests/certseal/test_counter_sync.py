"""A counter's home through the real CLI, as a subprocess: `trust-list import` into an empty
directory makes it (no CA, no HSM, no database), an unpinned list is refused unless the
operator says --trust-on-first-use, `certseal sync` fills its cache item by item with each
item's age, and after the network is gone `verify --offline` judges from what was synced:
a licence valid, a licence revoked before the sync invalid."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import domain_kit

from certseal.status import change_licence_status
from verify.limits import DEFAULT_LIMITS
from verify.pdf_qr import qr_texts_of_first_page


def cli(*args, check_json: bool = False) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "certseal.cli", *map(str, args)],
                          capture_output=True, text=True, timeout=120)
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc


def test_counter_home_syncs_then_verifies_offline(fresh_domain, tmp_path: Path):
    gd = fresh_domain
    time.sleep(1.1)  # status lists are signed to the second: licences after the grant
    kept = gd.issue("yyzz")
    revoked = gd.issue("yyzz")
    counter = tmp_path / "counter"
    exported = tmp_path / "gd.jws"
    with domain_kit.serving(gd):
        proc = cli("trust-list", "export", "--home", gd.home, "--out", exported, "--json")
        assert proc.returncode == 0, proc.stderr
        pin = json.loads(proc.stdout)["signer_fingerprint"]

        # Unpinned: refused in one line, and nothing is pinned or created.
        proc = cli("trust-list", "import", "--home", counter, exported)
        assert proc.returncode != 0
        assert proc.stderr.startswith("certseal: error:") and "--trust-on-first-use" in proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1
        assert not (counter / "trust-lists" / "440000" / "signer.pem").exists()

        proc = cli("trust-list", "import", "--home", counter, exported, "--fingerprint", pin,
                   "--json")
        assert proc.returncode == 0, proc.stderr
        assert json.loads(proc.stdout)["newly_pinned"] is True
        # A counter's home: trust lists only, no CA, token or database.
        assert sorted(p.name for p in counter.iterdir()) == ["trust-lists"]

        change_licence_status(gd.domain, revoked.licence_id, "revoke", reason="出具虚假材料",
                              actor="test")
        proc = cli("sync", "--home", counter, "--json")
        assert proc.returncode == 0, proc.stderr
        report = json.loads(proc.stdout)
        kinds = {(i["kind"], i["ok"]) for i in report["items"]}
        assert kinds == {("trust_list", True), ("status_list", True), ("seal_status", True)}
        assert report["failed"] == 0
        status_list = next(i for i in report["items"] if i["kind"] == "status_list")
        assert status_list["name"] == gd.department_id
        assert 0 <= status_list["age_seconds"] < 600
        seal = next(i for i in report["items"] if i["kind"] == "seal_status")
        assert seal["status"] == "good" and seal["age_seconds"] is not None

        proc = cli("sync", "--home", counter)  # people's output: one line an item, ages
        assert proc.returncode == 0, proc.stderr
        assert "✓ status list" in proc.stdout and " old" in proc.stdout
        assert "3 synced, 0 failed" in proc.stdout

    # The network is gone (the server stopped): the counter judges from its home.
    for data, verdict, exit_status in (
            (kept.pdf, "valid", 0), (revoked.pdf, "invalid", 1)):
        pdf = tmp_path / "licence.pdf"
        pdf.write_bytes(data)
        qr = qr_texts_of_first_page(data, DEFAULT_LIMITS)[0]
        for given in (pdf, qr):
            proc = cli("verify", "--home", counter, "--offline", "--json", given)
            body = json.loads(proc.stdout)
            assert (proc.returncode, body["verdict"]) == (exit_status, verdict), [
                c for c in body["checks"] if c["outcome"] != "passed"]
            if verdict == "invalid":
                assert next(c for c in body["checks"]
                            if c["code"] == "licence.status")["outcome"] == "failed"

    # Syncing now fails item by item, each said in one line, and the exit status says so.
    proc = cli("sync", "--home", counter, "--timeout", "2")
    assert proc.returncode == 1
    errors = proc.stderr.strip().splitlines()
    assert errors and all(line.startswith("certseal: error:") for line in errors)
    assert "✗ trust list" in proc.stdout


def test_sync_refuses_a_directory_that_is_no_home(tmp_path: Path):
    (tmp_path / "notes.txt").write_text("hello")
    proc = cli("sync", "--home", tmp_path)
    assert proc.returncode != 0 and "not a certseal home" in proc.stderr
    proc = cli("trust-list", "import", "--home", tmp_path, tmp_path / "notes.txt",
               "--trust-on-first-use")
    assert proc.returncode != 0 and "neither a certseal home nor empty" in proc.stderr
