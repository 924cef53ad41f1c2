"""`certseal department list / show / suspend / reinstate` as a subprocess, and what a
suspension means over HTTP: the department's key no longer issues, nothing is stored, and
after reinstatement it issues again."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import domain_kit
import httpx
from sqlmodel import func, select

from certs.models import Licence
from certs.samples import sample_licence_data


def cli(home, *args) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CERTSEAL_")}
    env["CERTSEAL_HSM_PIN"] = domain_kit.TEST_PIN_ENV["hsm_pin"]
    proc = subprocess.run([sys.executable, "-m", "certseal.cli", *map(str, args),
                           "--home", str(home)], capture_output=True, text=True, env=env,
                          timeout=120)
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc


def _licences(under_test) -> int:
    with under_test.domain.session() as session:
        return session.exec(select(func.count()).select_from(Licence)).one()


def _issue(base_url: str, api_key: str) -> httpx.Response:
    return httpx.post(f"{base_url}/v1/licences", timeout=60,
                      headers={"Authorization": f"Bearer {api_key}"},
                      json={"type": "yyzz", "data": sample_licence_data("yyzz")})


def test_list_show_suspend_reinstate(fresh_domain):
    gd, dept = fresh_domain, fresh_domain.department_id
    proc = cli(gd.home, "department", "list", "--json")
    assert proc.returncode == 0, proc.stderr
    [row] = json.loads(proc.stdout)["departments"]
    assert (row["department_id"], row["status"]) == (dept, "active")
    assert "yyzz" in row["licence_types"]
    proc = cli(gd.home, "department", "list")
    assert proc.stdout.startswith(dept) and "active" in proc.stdout

    with domain_kit.serving(gd) as base_url:
        assert _issue(base_url, gd.api_key).status_code == 201
        before = _licences(gd)

        proc = cli(gd.home, "department", "suspend", dept, "--reason", "审计中", "--json")
        assert proc.returncode == 0 and json.loads(proc.stdout)["status"] == "suspended"
        refused = _issue(base_url, gd.api_key)
        assert refused.status_code in (401, 403), refused.text
        assert _licences(gd) == before
        # Not twice; an unknown department is one clear line.
        proc = cli(gd.home, "department", "suspend", dept, "--reason", "again")
        assert proc.returncode != 0 and "is suspended" in proc.stderr
        proc = cli(gd.home, "department", "show", "11440100MB2C92397X")
        assert proc.returncode != 0 and len(proc.stderr.strip().splitlines()) == 1

        proc = cli(gd.home, "department", "show", dept, "--json")
        shown = json.loads(proc.stdout)
        assert shown["status"] == "suspended" and shown["active_api_keys"] == 1
        assert shown["seals"][0]["seal_id"] == gd.seal_id
        assert [(h["action"], h["reason"]) for h in shown["history"]] == [("suspended", "审计中")]
        assert "history:" in cli(gd.home, "department", "show", dept).stdout

        proc = cli(gd.home, "department", "reinstate", dept, "--reason", "审计完成")
        assert proc.returncode == 0, proc.stderr
        assert _issue(base_url, gd.api_key).status_code == 201
        assert _licences(gd) == before + 1
    # The changes are in the tamper-evident log.
    assert cli(gd.home, "audit", "verify").returncode == 0
