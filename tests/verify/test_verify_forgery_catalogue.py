"""Every forgery of the generator (forgery_catalogue.py) is `invalid`, with exactly the
checks it was built to break, through the library, the HTTP API and the CLI; the genuine
licence it was built from stays `valid` on each path."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from forgery_catalogue import CATALOGUE, Forgery

CERTSEAL = str(Path(sys.executable).with_name("certseal"))
# Checks a report holds besides a forgery's failures; none of them may fail.
ALWAYS = "chain.trust_list_current"
# A short sample of the classes for the CLI in the fast tier; the slow tier runs all.
CLI_SAMPLE = ("swa-literal-contents-moved-tail", "isa-overlay-page-content",
              "differential-duplicate-object-number")


def failed_codes(report) -> set[str]:
    return {c.code for c in report.checks if c.outcome.value == "failed"}


def failed_codes_json(body: dict) -> set[str]:
    return {c["code"] for c in body["checks"] if c["outcome"] == "failed"}


@pytest.fixture(scope="module")
def genuine(trust_domain) -> bytes:
    return trust_domain.licences["yyzz"].pdf


@pytest.fixture(scope="module")
def forged(genuine) -> dict[str, bytes]:
    return {forgery.name: forgery.build(genuine) for forgery in CATALOGUE}


def test_the_catalogue_covers_the_published_classes():
    assert {f.attack for f in CATALOGUE} == {"USF", "ISA", "SWA", "shadow", "EAA", "SSA",
                                             "truncation", "differential"}
    assert len({f.name for f in CATALOGUE}) == len(CATALOGUE)


@pytest.mark.parametrize("name", ["swa-literal-contents-moved-tail",
                                  "swa-literal-contents-in-place"])
def test_the_wrapping_premise_stock_pyhanko_accepts_these(name, forged):
    """What made them dangerous: pyHanko as shipped finds the signature intact and
    covering the entire file, with no modification after signing."""
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.diff_analysis import ModificationLevel
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko.sign.validation.status import SignatureCoverageLevel
    from pyhanko_certvalidator import ValidationContext

    reader = PdfFileReader(io.BytesIO(forged[name]), strict=False)
    status = validate_pdf_signature(reader.embedded_signatures[0], skip_diff=False,
                                    signer_validation_context=ValidationContext(
                                        trust_roots=[], allow_fetching=False))
    assert status.intact and status.valid
    assert status.coverage is SignatureCoverageLevel.ENTIRE_FILE
    assert status.modification_level is ModificationLevel.NONE
    if name == "swa-literal-contents-moved-tail":
        # ... while the page it shows is the forger's.
        page = reader.root["/Pages"]["/Kids"][0]
        assert b"FORGED HOLDER" in page["/Contents"].data


def test_the_genuine_licence_is_valid(genuine, verify_synced_offline):
    report = verify_synced_offline(genuine)
    assert report.verdict == "valid", [c for c in report.checks if c.outcome != "passed"]


@pytest.mark.parametrize("forgery", CATALOGUE, ids=str)
def test_each_forgery_is_invalid_with_exactly_its_failed_checks(forgery: Forgery, forged,
                                                                 verify_synced_offline):
    data = forged[forgery.name]
    report = verify_synced_offline(data)
    assert report.verdict == "invalid", report.checks
    assert failed_codes(report) == forgery.failed, [
        (c.code, c.message_en) for c in report.checks if c.outcome.value == "failed"]
    if forgery.rule is not None:
        assert report.check("signature.layout").details["rule"] == forgery.rule, \
            report.check("signature.layout").message_en


@pytest.mark.parametrize("forgery", CATALOGUE, ids=str)
def test_each_forgery_is_invalid_through_the_api(forgery: Forgery, forged, served_domain):
    answer = httpx.post(served_domain.base_url + "/v1/verify", timeout=60,
                        content=forged[forgery.name],
                        headers={"Content-Type": "application/pdf"})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["verdict"] == "invalid"
    assert failed_codes_json(body) == forgery.failed


def _cli(served_domain, path: Path) -> tuple[int, dict]:
    done = subprocess.run([CERTSEAL, "verify", "--json", "--trust-list",
                           str(served_domain.published), str(path)],
                          capture_output=True, timeout=120)
    return done.returncode, json.loads(done.stdout)


@pytest.mark.parametrize("name", CLI_SAMPLE)
def test_a_sample_of_forgeries_is_invalid_through_the_cli(name, forged, served_domain,
                                                          tmp_path):
    path = tmp_path / f"{name}.pdf"
    path.write_bytes(forged[name])
    status, body = _cli(served_domain, path)
    expected = next(f for f in CATALOGUE if f.name == name)
    assert (status, body["verdict"]) == (1, "invalid")
    assert failed_codes_json(body) == expected.failed


@pytest.mark.slow
@pytest.mark.parametrize("forgery", CATALOGUE, ids=str)
def test_each_forgery_is_invalid_through_the_cli(forgery: Forgery, forged, served_domain,
                                                 tmp_path):
    path = tmp_path / "forged.pdf"
    path.write_bytes(forged[forgery.name])
    status, body = _cli(served_domain, path)
    assert (status, body["verdict"]) == (1, "invalid")
    assert failed_codes_json(body) == forgery.failed


def test_the_genuine_licence_is_valid_through_the_api_and_the_cli(genuine, served_domain,
                                                                 tmp_path):
    answer = httpx.post(served_domain.base_url + "/v1/verify", timeout=60, content=genuine,
                        headers={"Content-Type": "application/pdf"})
    assert answer.json()["verdict"] == "valid", answer.text
    path = tmp_path / "genuine.pdf"
    path.write_bytes(genuine)
    assert _cli(served_domain, path)[0] == 0
