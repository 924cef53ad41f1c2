"""Every forgery of the generator (forgery_catalogue.py) is `invalid`, with exactly the
checks it was built to break, through the library, the HTTP API and the CLI; the genuine
licence it was built from stays `valid` on each path. The genuine is a licence of the
default level (B-LTA); the library path also builds every forgery from a one-revision B-LT
licence (older licences), with the same expectations."""

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
    """A licence of the default level (B-LTA)."""
    return trust_domain.licences["yyzz"].pdf


@pytest.fixture(scope="module")
def genuine_b_lt(trust_domain) -> bytes:
    """A licence of the older level, B-LT: one signed revision."""
    return trust_domain.issue_b_lt("yyzz").pdf


@pytest.fixture(scope="module")
def forged(genuine) -> dict[str, bytes]:
    return {forgery.name: forgery.build(genuine) for forgery in CATALOGUE}


@pytest.fixture(scope="module")
def forged_b_lt(genuine_b_lt) -> dict[str, bytes]:
    return {forgery.name: forgery.build(genuine_b_lt) for forgery in CATALOGUE
            if not forgery.needs_later_revisions}


def _revisions(pdf: bytes) -> tuple[int, list[str]]:
    from pyhanko.pdf_utils.reader import PdfFileReader

    reader = PdfFileReader(io.BytesIO(pdf), strict=False)
    return (reader.xrefs.total_revisions,
            [str(s.sig_object_type) for s in reader.embedded_signatures])


def test_the_genuine_licences_have_the_layouts_the_catalogue_is_built_on(genuine,
                                                                         genuine_b_lt):
    # render, seal, DSS and document time-stamp; render, seal with its DSS
    assert _revisions(genuine) == (3, ["/Sig", "/DocTimeStamp"])
    assert _revisions(genuine_b_lt) == (2, ["/Sig"])


def test_the_catalogue_covers_the_published_classes():
    assert {f.attack for f in CATALOGUE} == {"USF", "ISA", "SWA", "shadow", "EAA", "SSA",
                                             "truncation", "differential"}
    assert len({f.name for f in CATALOGUE}) == len(CATALOGUE)


def _stock_pyhanko_verdict(pdf: bytes):
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko_certvalidator import ValidationContext

    reader = PdfFileReader(io.BytesIO(pdf), strict=False)
    status = validate_pdf_signature(reader.embedded_signatures[0], skip_diff=False,
                                    signer_validation_context=ValidationContext(
                                        trust_roots=[], allow_fetching=False))
    return reader, (status.intact, status.valid, status.coverage, status.modification_level)


@pytest.mark.parametrize("name", ["swa-literal-contents-moved-tail",
                                  "swa-literal-contents-in-place"])
@pytest.mark.parametrize("level", ["B-LTA", "B-LT"])
def test_the_wrapping_premise_stock_pyhanko_accepts_these(name, level, forged, forged_b_lt,
                                                          genuine, genuine_b_lt):
    """What made them dangerous: pyHanko as shipped judges the seal's signature exactly as
    it judges the file the forgery was built from: intact, and covering the entire file
    with no modification (the moved tail and any B-LT licence), or its revision followed
    by nothing but LTA updates (in place, in a B-LTA licence)."""
    from forgery_catalogue import signed_revision
    from pyhanko.sign.diff_analysis import ModificationLevel
    from pyhanko.sign.validation.status import SignatureCoverageLevel

    pdf = (forged if level == "B-LTA" else forged_b_lt)[name]
    source = genuine if level == "B-LTA" else genuine_b_lt
    if name == "swa-literal-contents-moved-tail":
        source = signed_revision(source)
    reader, verdict = _stock_pyhanko_verdict(pdf)
    assert verdict == _stock_pyhanko_verdict(source)[1]
    assert verdict[:2] == (True, True)
    assert verdict[2:] in ((SignatureCoverageLevel.ENTIRE_FILE, ModificationLevel.NONE),
                           (SignatureCoverageLevel.ENTIRE_REVISION,
                            ModificationLevel.LTA_UPDATES))
    if name == "swa-literal-contents-moved-tail":
        # ... while the page it shows is the forger's.
        page = reader.root["/Pages"]["/Kids"][0]
        assert b"FORGED HOLDER" in page["/Contents"].data


def test_the_genuine_licences_are_valid(genuine, genuine_b_lt, verify_synced_offline):
    for pdf in (genuine, genuine_b_lt):
        report = verify_synced_offline(pdf)
        assert report.verdict == "valid", [c for c in report.checks if c.outcome != "passed"]


# Each forgery on both levels, except those built on the revisions after the seal's,
# which a one-revision B-LT licence does not have.
LEVELS = [pytest.param(forgery, level, id=f"{forgery}-{level}")
          for forgery in CATALOGUE for level in ("B-LTA", "B-LT")
          if level == "B-LTA" or not forgery.needs_later_revisions]


@pytest.mark.parametrize(("forgery", "level"), LEVELS)
def test_each_forgery_is_invalid_with_exactly_its_failed_checks(forgery: Forgery, level,
                                                                 forged, forged_b_lt,
                                                                 verify_synced_offline):
    data = (forged if level == "B-LTA" else forged_b_lt)[forgery.name]
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
