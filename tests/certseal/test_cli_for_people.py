"""The CLI as an operator meets it, run as a subprocess: --version, help written for
users (the tool and each sub-command), lines for people by default and one JSON object
with --json, errors as one line on stderr."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import domain_kit


def cli(*args, home=None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CERTSEAL_")}
    env["CERTSEAL_HSM_PIN"] = domain_kit.TEST_PIN_ENV["hsm_pin"]
    argv = [*map(str, args)] + (["--home", str(home)] if home is not None else [])
    proc = subprocess.run([sys.executable, "-m", "certseal.cli", *argv], capture_output=True,
                          text=True, env=env, timeout=120)
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc


def test_version():
    from importlib.metadata import version

    proc = cli("--version")
    assert proc.returncode == 0 and proc.stdout.strip() == f"certseal {version('certseal')}"


def test_help_is_written_for_users():
    from certseal.cli import build_parser

    proc = cli("--help")
    assert proc.returncode == 0
    assert "composition root" not in proc.stdout and "``" not in proc.stdout
    assert "licences" in proc.stdout and "--json" in proc.stdout and "examples:" in proc.stdout
    # Every sub-command's own --help says what it does (not only its usage line).
    parser = build_parser()
    commands = next(a for a in parser._actions if a.dest == "command").choices
    for name, sub in commands.items():
        assert sub.description, name
        proc = cli(name, "--help")
        first_words = " ".join(sub.description.split()[:3])
        assert proc.returncode == 0 and first_words in " ".join(proc.stdout.split()), name


def test_lines_for_people_by_default_and_json_on_request(trust_domain):
    proc = cli("licence-types", home=trust_domain.home)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.lstrip()[0] != "{" and "yyzz" in proc.stdout
    assert "营业执照" in proc.stdout and '"$schema"' not in proc.stdout
    proc = cli("licence-types", "--json", home=trust_domain.home)
    body = json.loads(proc.stdout)
    assert {t["code"] for t in body["types"]} >= {"yyzz"}
    assert all(isinstance(t["schema"], dict) for t in body["types"])

    proc = cli("trust-list", "show", home=trust_domain.home)
    assert proc.returncode == 0 and proc.stdout.startswith("trust lists:")
    assert "  - region code: 440000" in proc.stdout  # a list of objects, indented
    json.loads(cli("trust-list", "show", "--json", home=trust_domain.home).stdout)


def test_errors_are_one_line(tmp_path):
    proc = cli("issue", "--department", "X", "--type", "yyzz", "--data", tmp_path / "no.json",
               "--out", tmp_path / "x.pdf", home=tmp_path / "nohome")
    assert proc.returncode != 0 and proc.stdout == ""
    assert len(proc.stderr.strip().splitlines()) == 1
    assert proc.stderr.startswith("certseal: error:")
