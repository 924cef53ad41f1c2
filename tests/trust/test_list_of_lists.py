"""A national list of lists (the EU LOTL pattern) on loopback: three regions (Guangdong,
Shanghai, Fujian) and a national operator, each a home made by the real init and served
by the real app; a counter that pins only the national list recognises every region it
names, fetches their ETSI XML lists from the pointers, verifies their licences, and stops
recognising the region the national operator withdraws."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import domain_kit
import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes

from ca import tsl_xml
from ca.trustlist import TrustListError
from certseal.cli import main
from certseal.list_of_lists import name_region, withdraw_region
from certseal.settings import load_settings
from certseal.trust import (
    accepted_trust_lists,
    export_trust_list,
    import_trust_list,
    refresh_trust_lists,
)
from verify.context import VerificationContext
from verify.pdf import verify_pdf
from verify.report import Verdict
from verify.revocation import OcspStatusSource
from verify.status_lists import StatusListSource

REGIONS = (("440000", "广东省", "11440100MB2C923971"),
           ("310000", "上海市", "11310000MB2C92397Q"),
           ("350000", "福建省", "91350100M000100Y43"))
NATIONAL = ("100000", "国家电子证照信任服务")


@pytest.fixture(scope="module")
def country(tmp_path_factory: pytest.TempPathFactory):
    base = tmp_path_factory.mktemp("lotl")
    regions = {code: domain_kit.make_domain(base / code, region=code, region_name=name,
                                            department_name=f"{name}市场监督管理局",
                                            department_uscc=uscc, issue_samples=False)
               for code, name, uscc in REGIONS}
    national = domain_kit.make_domain(base / "national", region=NATIONAL[0],
                                      region_name=NATIONAL[1], issue_samples=False)
    with (domain_kit.serving(regions["440000"]), domain_kit.serving(regions["310000"]),
          domain_kit.serving(regions["350000"]), domain_kit.serving(national)):
        yield regions, national
    for d in (*regions.values(), national):
        d.domain.close()


def signer_fingerprint(region) -> str:
    pem = (region.published / "trust-list-signer.pem").read_bytes()
    return x509.load_pem_x509_certificate(pem).fingerprint(hashes.SHA256()).hex()


def verdict(counter, pdf: bytes):
    """What the counter makes of a licence, online, from the lists it accepts now."""
    accepted = accepted_trust_lists(counter)
    status_lists = StatusListSource(
        issuing_cas=lambda: [s.certificate for signed in accepted.lists
                             for s in signed.trust_list.services_of("issuing-ca")],
        base_url_of=accepted.base_url_of, cache_dir=counter.home / "status-lists")
    context = VerificationContext(
        trust_lists=accepted.lists, licence_status=status_lists,
        certificate_status=OcspStatusSource(cache_dir=counter.home / "ocsp-cache"))
    return asyncio.run(verify_pdf(pdf, context)), accepted


def clerk_verdict(counter, pdf: bytes, tmp: Path, capsys) -> tuple[int, str]:
    """`certseal verify --home COUNTER FILE --json` as a clerk runs it."""
    path = tmp / "licence.pdf"
    path.write_bytes(pdf)
    try:
        status = main(["verify", "--home", str(counter.home), str(path), "--json"])
    except SystemExit as exit_:
        status = exit_.code
    return status, json.loads(capsys.readouterr().out)["verdict"]


def test_counter_pinned_to_the_national_list_recognises_the_regions_it_names(
        country, tmp_path, capsys, monkeypatch):
    regions, national = country
    monkeypatch.setenv("CERTSEAL_HSM_PIN", domain_kit.TEST_PIN_ENV["hsm_pin"])

    # The national operator names each region from its exported list and the signer
    # fingerprint the region gave it; a wrong fingerprint is refused.
    gd_xml = tmp_path / "gd.xml"
    export_trust_list(regions["440000"].domain, gd_xml, format="xml")
    with pytest.raises(TrustListError, match="not by the expected signer"):
        name_region(national.domain, gd_xml.read_bytes(), signer_fingerprint="11" * 32)
    status = main(["list-of-lists", "add", "--home", str(national.home), str(gd_xml),
                   "--signer-fingerprint", signer_fingerprint(regions["440000"]), "--json"])
    assert status == 0 and json.loads(capsys.readouterr().out)["regions"] == ["440000"]
    for code in ("310000", "350000"):
        jws = tmp_path / f"{code}.jws"  # either form names the region
        export_trust_list(regions[code].domain, jws)
        published = name_region(national.domain, jws.read_bytes(),
                                signer_fingerprint=signer_fingerprint(regions[code]))
    assert published.regions == ("310000", "350000", "440000")

    # The counter takes the national list as served, pinning the national signer only.
    served = httpx.get(f"{national.base_url}/pki/list-of-lists.xml", timeout=5)
    assert served.headers["content-type"].startswith(tsl_xml.MEDIA_TYPE)
    counter = load_settings(tmp_path / "counter")
    imported = import_trust_list(counter, served.content,
                                 signer_fingerprint=signer_fingerprint(national))
    assert imported.kind == "list-of-lists" and imported.newly_pinned
    assert imported.regions == ("310000", "350000", "440000")
    assert not list((counter.home / "trust-lists").glob("[34]*0000/signer.pem"))

    # One refresh fetches every named region's XML list from its pointer.
    refreshed = refresh_trust_lists(counter)
    assert sorted((o.region_code, o.outcome) for o in refreshed.outcomes) == [
        ("100000", "unchanged"), ("310000", "updated"), ("350000", "updated"),
        ("440000", "updated")], [o.message for o in refreshed.outcomes]
    accepted = accepted_trust_lists(counter)
    assert sorted(s.trust_list.region_code for s in accepted.lists) == [
        "310000", "350000", "440000"]
    assert {s.format for s in accepted.lists} == {"xml"}

    gd_licence = regions["440000"].issue("yyzz").pdf
    fj_licence = regions["350000"].issue("yyzz").pdf
    for pdf, code in ((gd_licence, "440000"), (fj_licence, "350000")):
        report, _ = verdict(counter, pdf)
        assert report.verdict is Verdict.VALID, [c.to_json() for c in report.checks]
        assert report.trust.region_code == code
        assert clerk_verdict(counter, pdf, tmp_path, capsys) == (0, "valid")
    assert main(["trust-list", "show", "--home", str(counter.home), "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert [(n["operator_code"], n["regions"]) for n in shown["lists_of_lists"]] == [
        ("100000", ["310000", "350000", "440000"])]

    # The national operator withdraws Fujian; the counter's next refresh takes the new list
    # and Fujian's licences are refused, Guangdong's still valid.
    withdrawn = withdraw_region(national.domain, "350000", reason="scheme suspended")
    assert withdrawn.regions == ("310000", "440000")
    status = main(["list-of-lists", "export", "--home", str(national.home),
                   "--out", str(tmp_path / "national.xml"), "--json"])
    exported = json.loads(capsys.readouterr().out)
    assert status == 0 and exported["regions"] == ["310000", "440000"]
    assert exported["sequence_number"] == withdrawn.sequence_number
    assert exported["signer_fingerprint"].replace(":", "").lower() == \
        signer_fingerprint(national)
    refreshed = refresh_trust_lists(counter)
    assert ("100000", "updated") in [(o.region_code, o.outcome) for o in refreshed.outcomes]
    assert "350000" not in [o.region_code for o in refreshed.outcomes]
    report, accepted = verdict(counter, fj_licence)
    assert report.verdict is Verdict.INVALID
    assert report.check("chain.trust_list").outcome == "failed"
    assert any("no longer names region 350000" in w for w in accepted.warnings)
    assert verdict(counter, gd_licence)[0].verdict is Verdict.VALID
    assert clerk_verdict(counter, fj_licence, tmp_path, capsys) == (1, "invalid")
    assert clerk_verdict(counter, gd_licence, tmp_path, capsys) == (0, "valid")

    # Fujian's list handed to the counter directly does not undo the withdrawal.
    fj_now = httpx.get(f"{regions['350000'].base_url}/pki/trust-list.xml", timeout=5).content
    with pytest.raises(TrustListError, match="no longer names it"):
        import_trust_list(counter, fj_now)
    assert "350000" not in [s.trust_list.region_code
                            for s in accepted_trust_lists(counter).lists]


def test_region_list_signed_by_another_signer_than_the_pointer_names(country, tmp_path):
    regions, national = country
    counter = load_settings(tmp_path / "counter")
    import_trust_list(counter, httpx.get(f"{national.base_url}/pki/list-of-lists.xml",
                                         timeout=5).content,
                      signer_fingerprint=signer_fingerprint(national))
    # Shanghai's list re-signed by Guangdong's signer, claiming to be Shanghai's.
    shanghai = tsl_xml.read_trust_list_xml(
        httpx.get(f"{regions['310000'].base_url}/pki/trust-list.xml", timeout=5).content,
        x509.load_pem_x509_certificate(
            (regions["310000"].published / "trust-list-signer.pem").read_bytes())).trust_list
    gd = regions["440000"]
    forged = tsl_xml.sign_trust_list_xml(
        shanghai, gd.domain.token().private_key("trust-list-signer"),
        x509.load_pem_x509_certificate((gd.published / "trust-list-signer.pem").read_bytes()))
    with pytest.raises(TrustListError, match="does not name as its signer"):
        import_trust_list(counter, forged)
    assert not list((counter.home / "trust-lists" / "310000").glob("0*"))
