"""The trust list as ETSI TS 119 612 XML: exported and served beside the JWS, signed through
the HSM with XAdES, verified here by two XML-DSig implementations we did not write
(libxmlsec1 through python-xmlsec, and signxml), the same list as the JWS to the
microsecond, and imported with the same pin, sequence and history rules."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
from pathlib import Path

import domain_kit
import pytest
import xmlsec
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding
from fastapi.testclient import TestClient
from lxml import etree
from signxml import SignatureConfiguration, XMLVerifier

from api.app import create_app
from ca import tsl_xml
from ca.trustlist import TrustListError, read_trust_list
from certseal.cli import main
from certseal.settings import load_settings
from certseal.trust import (
    accepted_trust_lists,
    import_trust_list,
    publish_due_trust_list,
    served_trust_list,
    served_trust_list_xml,
    withdraw_service,
)

NS = {"tsl": tsl_xml.TSL, "ds": tsl_xml.DS, "xades": tsl_xml.XADES, "cs": tsl_xml.CS}


@pytest.fixture(scope="module")
def region(tmp_path_factory: pytest.TempPathFactory):
    home = tmp_path_factory.mktemp("tsl-xml")
    under_test = domain_kit.make_domain(home / "gd", issue_samples=False)
    yield under_test
    under_test.domain.close()


@pytest.fixture
def pin_env(monkeypatch):
    monkeypatch.setenv("CERTSEAL_HSM_PIN", domain_kit.TEST_PIN_ENV["hsm_pin"])


def signer_of(region) -> x509.Certificate:
    return x509.load_pem_x509_certificate(
        (region.published / "trust-list-signer.pem").read_bytes())


def export(capsys, region, out: Path, fmt: str) -> dict:
    status = main(["trust-list", "export", "--home", str(region.home), "--out", str(out),
                   "--format", fmt, "--json"])
    captured = capsys.readouterr()
    assert status == 0, captured.err
    return json.loads(captured.out)


def xmlsec_verify(data: bytes, certificate: x509.Certificate) -> None:
    """libxmlsec1's verdict on the enveloped signature (raises xmlsec.Error when bad)."""
    root = etree.fromstring(data)
    for element in root.iter():
        if element.get("Id"):
            xmlsec.tree.add_ids(element, ["Id"])
    context = xmlsec.SignatureContext()
    context.key = xmlsec.Key.from_memory(certificate.public_bytes(Encoding.PEM),
                                         xmlsec.constants.KeyDataFormatCertPem)
    context.verify(xmlsec.tree.find_node(root, xmlsec.constants.NodeSignature))


def test_exported_xml_is_verified_by_standard_toolchains(region, tmp_path, capsys, pin_env):
    out = export(capsys, region, tmp_path / "gd.xml", "xml")
    signer = signer_of(region)
    # Export says which signer to expect: the published trust-list signer, pinned on import.
    assert out["format"] == "xml"
    assert out["signer_fingerprint"] == signer.fingerprint(hashes.SHA256()).hex(":").upper()
    data = (tmp_path / "gd.xml").read_bytes()

    xmlsec_verify(data, signer)
    verified = XMLVerifier().verify(data, x509_cert=signer,
                                    expect_config=SignatureConfiguration(expect_references=2))
    assert verified[0].signed_xml.tag == f"{{{tsl_xml.TSL}}}TrustServiceStatusList"

    root = etree.fromstring(data)
    assert root.get("TSLTag") == "http://uri.etsi.org/19612/TSLTag"
    info = root.find("tsl:SchemeInformation", NS)
    assert info.findtext("tsl:TSLType", namespaces=NS) == \
        "http://uri.etsi.org/TrstSvc/TrustedList/TSLType/CNlist"
    assert info.findtext("tsl:SchemeTerritory", namespaces=NS) == "CN"
    assert info.findtext("tsl:HistoricalInformationPeriod", namespaces=NS) == "65535"
    # Clause 5.1.3: whole seconds, UTC, "Z".
    issued = info.findtext("tsl:ListIssueDateTime", namespaces=NS)
    assert len(issued) == 20 and issued.endswith("Z")
    services = {s.findtext("tsl:ServiceInformation/tsl:ServiceTypeIdentifier", namespaces=NS)
                for s in root.iterfind(".//tsl:TSPService", NS)}
    assert services == {"http://uri.etsi.org/TrstSvc/Svctype/CA/PKC",
                        "http://uri.etsi.org/TrstSvc/Svctype/TSA",
                        "http://uri.etsi.org/TrstSvc/Svctype/Certstatus/OCSP"}
    statuses = {s.text for s in root.iterfind(".//tsl:ServiceStatus", NS)}
    assert statuses == {"http://uri.etsi.org/TrstSvc/TrustedList/Svcstatus/granted"}

    # Annex B / clause 5.7.1: enveloped, exclusive c14n, the signer alone in KeyInfo,
    # SigningCertificateV2 over it; made by the HSM's key (only it has the private half).
    signature = root.find("ds:Signature", NS)
    assert root[-1] is signature
    first = signature.find("ds:SignedInfo/ds:Reference", NS)
    assert first.get("URI") == ""
    assert [t.get("Algorithm") for t in first.iterfind("ds:Transforms/ds:Transform", NS)] == [
        "http://www.w3.org/2000/09/xmldsig#enveloped-signature",
        "http://www.w3.org/2001/10/xml-exc-c14n#"]
    assert signature.find("ds:SignedInfo/ds:SignatureMethod", NS).get("Algorithm") == \
        "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256"
    key_info = signature.findall("ds:KeyInfo/ds:X509Data/ds:X509Certificate", NS)
    assert [base64.b64decode(c.text) for c in key_info] == [signer.public_bytes(Encoding.DER)]
    cert_digest = signature.findtext(
        ".//xades:SignedSignatureProperties/xades:SigningCertificateV2/xades:Cert/"
        "xades:CertDigest/ds:DigestValue", namespaces=NS)
    assert base64.b64decode(cert_digest) == hashlib.sha256(
        signer.public_bytes(Encoding.DER)).digest()

    # A changed status breaks the signature for libxmlsec1 and for our reader alike.
    forged = data.replace(b"Svcstatus/granted</tsl:ServiceStatus>",
                          b"Svcstatus/withdrawn</tsl:ServiceStatus>", 1)
    assert forged != data
    with pytest.raises(xmlsec.Error):
        xmlsec_verify(forged, signer)
    with pytest.raises(TrustListError, match="does not verify"):
        tsl_xml.read_trust_list_xml(forged, signer)


def test_xml_and_jws_carry_the_same_list_to_the_microsecond(fresh_domain, tmp_path, capsys,
                                                            pin_env):
    signer = signer_of(fresh_domain)
    first = read_trust_list((fresh_domain.published / "trust-list.jws").read_bytes(), signer)
    at = first.trust_list.issued_at + dt.timedelta(minutes=5, microseconds=250_000)
    withdraw_service(fresh_domain.domain, "tsa", at=at, reason="key lost")
    jws = read_trust_list((fresh_domain.published / "trust-list.jws").read_bytes(), signer)
    xml = tsl_xml.read_trust_list_xml((fresh_domain.published / "trust-list.xml").read_bytes(),
                                      signer)
    assert xml.format == "xml" and xml.trust_list == jws.trust_list
    tsa = xml.trust_list.services_of("tsa")[0]
    assert [c.status for c in tsa.history] == ["granted", "withdrawn"]
    assert tsa.history[-1].since == at
    root = etree.fromstring(xml.document.encode())
    service = next(s for s in root.iterfind(".//tsl:TSPService", NS)
                   if s.findtext(".//tsl:ServiceTypeIdentifier", namespaces=NS).endswith("TSA"))
    # The standard field holds the second (rounded down), our extension the instant.
    assert service.findtext("tsl:ServiceInformation/tsl:StatusStartingTime",
                            namespaces=NS) == at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    exact = service.findtext("tsl:ServiceInformation//cs:StatusStartingTime", namespaces=NS)
    assert dt.datetime.fromisoformat(exact) == at and at.microsecond
    history = service.findall("tsl:ServiceHistory/tsl:ServiceHistoryInstance", NS)
    assert [h.findtext("tsl:ServiceStatus", namespaces=NS).rsplit("/", 1)[1]
            for h in history] == ["granted"]
    # History instances identify the key (clause 5.6.3), not the certificate.
    assert history[0].find(".//tsl:X509SKI", NS) is not None
    assert history[0].find(".//tsl:X509Certificate", NS) is None
    # The root and issuing CA are both CA/PKC, told apart by our additional information.
    marks = [u.text for u in root.iterfind(".//tsl:AdditionalServiceInformation/tsl:URI", NS)]
    assert sorted(marks) == [tsl_xml.ISSUING_CA_INFO, tsl_xml.ROOT_CA_INFO]


def test_xml_import_pins_and_follows_sequence_like_jws(region, tmp_path, capsys, pin_env):
    signer = signer_of(region)
    xml_out = tmp_path / "gd.xml"
    export(capsys, region, xml_out, "xml")
    export(capsys, region, tmp_path / "gd.jws", "jws")
    counter = load_settings(tmp_path / "counter")

    with pytest.raises(TrustListError, match="not by the expected signer"):
        import_trust_list(counter, xml_out.read_bytes(), signer_fingerprint="00" * 32)
    first = import_trust_list(counter, xml_out.read_bytes(),
                              signer_fingerprint=signer.fingerprint(hashes.SHA256()).hex())
    assert first.newly_pinned and first.path.suffix == ".xml"
    assert first.source_url == f"{region.base_url}/pki/trust-list.xml"
    # The JWS of the same publication is the same list: a no-op, not a rival.
    same = import_trust_list(counter, (tmp_path / "gd.jws").read_bytes())
    assert same.unchanged and same.sequence_number == first.sequence_number
    (accepted,) = accepted_trust_lists(counter).lists
    assert accepted.format == "xml" and accepted.trust_list.region_code == "440000"

    # A withdrawal, as XML: a higher sequence, history kept, the older list refused after.
    at = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(hours=1)
    withdraw_service(region.domain, "ocsp", at=at, reason="responder retired")
    newer = (region.published / "trust-list.xml").read_bytes()
    result = import_trust_list(counter, newer)
    assert result.sequence_number == first.sequence_number + 1
    (accepted,) = accepted_trust_lists(counter).lists
    ocsp = accepted.trust_list.services_of("ocsp")[0]
    assert ocsp.status_at(at - dt.timedelta(seconds=1)) == "granted"
    assert ocsp.status_at(at) == "withdrawn"
    with pytest.raises(TrustListError, match="older than the held sequence"):
        import_trust_list(counter, xml_out.read_bytes())

    # Signed by someone else under the region's name: refused by the pin.
    impostor = domain_kit.make_domain(tmp_path / "fake", issue_samples=False)
    try:
        impostor.domain.publish_trust_list()
        with pytest.raises(TrustListError, match="not by the pinned list signer"):
            import_trust_list(counter, (impostor.published / "trust-list.xml").read_bytes())
    finally:
        impostor.domain.close()


def test_reader_refuses_unknown_critical_extensions(region):
    """Clause 5.3.17: a list carrying a critical extension we do not know is refused, even
    when its signature verifies."""
    key = region.domain.token().private_key("trust-list-signer")
    signer = signer_of(region)
    trust_list = tsl_xml.read_trust_list_xml(
        (region.published / "trust-list.xml").read_bytes(), signer).trust_list

    root = tsl_xml.trust_list_element(trust_list)
    scheme = root.find("tsl:SchemeInformation/tsl:SchemeExtensions", NS)
    critical = etree.SubElement(scheme, f"{{{tsl_xml.TSL}}}Extension", Critical="true")
    etree.SubElement(critical, "{urn:example:other}Rule")
    signed = tsl_xml._sign(root, key, signer, trust_list.issued_at)
    xmlsec_verify(signed, signer)
    with pytest.raises(TrustListError, match="critical extension"):
        tsl_xml.read_trust_list_xml(signed, signer)



def test_served_xml_is_the_current_publication_with_etag_and_digest(region):
    signer = signer_of(region)
    with TestClient(create_app(region.domain.settings, domain=region.domain)) as client:
        answer = client.get("/pki/trust-list.xml")
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("application/vnd.etsi.tsl+xml")
        xml = tsl_xml.read_trust_list_xml(answer.content, signer).trust_list
        jws = read_trust_list(client.get("/pki/trust-list").content, signer).trust_list
        assert xml == jws
        again = client.get("/pki/trust-list.xml", headers={"If-None-Match": answer.headers["etag"]})
        assert again.status_code == 304
        digest = client.get("/pki/trust-list.sha2")
        assert digest.text.strip() == hashlib.sha256(answer.content).hexdigest()
        assert client.get("/pki/list-of-lists.xml").status_code == 404

    # Re-signed once half its validity has passed, as the JWS is: both forms move together.
    halfway = xml.issued_at + (xml.next_update - xml.issued_at) / 2
    assert publish_due_trust_list(region.domain, now=halfway)
    later = tsl_xml.read_trust_list_xml(served_trust_list_xml(region.domain),
                                        signer).trust_list
    assert later.sequence_number == xml.sequence_number + 1
    assert later == read_trust_list(served_trust_list(region.domain), signer).trust_list
