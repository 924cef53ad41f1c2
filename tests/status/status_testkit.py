"""Shared by the status tests: a fresh domain served over HTTP, the CLI as a separate
process, and `openssl ocsp` against the served responder.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import domain_kit


@contextlib.contextmanager
def served_fresh_domain(home: Path) -> Iterator[domain_kit.DomainUnderTest]:
    under_test = domain_kit.make_domain(home, issue_samples=False)
    try:
        with domain_kit.serving(under_test):
            yield under_test
    finally:
        under_test.domain.close()


def cli_env() -> dict[str, str]:
    env = dict(os.environ)
    env["CERTSEAL_HSM_PIN"] = domain_kit.TEST_PIN_ENV["hsm_pin"]
    env["CERTSEAL_HSM_SO_PIN"] = domain_kit.TEST_PIN_ENV["hsm_so_pin"]
    return env


def certseal(home: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """The real CLI in a process of its own (its own OCSP cache, its own HSM login)."""
    done = subprocess.run([sys.executable, "-m", "certseal.cli", *args, "--home", str(home),
                           "--json"], capture_output=True, text=True, env=cli_env(),
                          timeout=120)
    if check:
        assert done.returncode == 0, done.stderr + done.stdout
    return done


def certseal_json(home: Path, *args: str) -> dict:
    return json.loads(certseal(home, *args).stdout)


def openssl_ocsp(under_test: domain_kit.DomainUnderTest, certificate: Path, *,
                 nonce: bool = True) -> str:
    """`openssl ocsp` as any relying party runs it; stdout and stderr. Without a nonce the
    server answers from its pre-produced cache (RFC 5019)."""
    published = under_test.published
    done = subprocess.run(
        ["openssl", "ocsp", "-issuer", str(published / "issuing-ca.pem"),
         "-cert", str(certificate), "-url", f"{under_test.base_url}/pki/ocsp",
         "-CAfile", str(published / "root-ca.pem"),
         "-verify_other", str(published / "issuing-ca.pem"),
         *([] if nonce else ["-no_nonce"])],
        capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    return done.stdout + done.stderr
