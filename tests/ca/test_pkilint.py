"""Every certificate profile we issue, every CRL and OCSP response, linted by DigiCert's
pkilint (a linter nobody here wrote): RFC 5280 / RFC 6960 for all, and ETSI EN 319 412
(legal-person / e-seal profile) for seal certificates. No ERROR and no FATAL finding,
except the few listed below, each a deliberate choice with its reason.

The domain is made with a public PKI base URL (nothing is fetched from it): ETSI's linter
rightly refuses the loopback address of the development default, and reserved names such
as .example, in certificates."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import domain_kit
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp

from ca.policies import EXAMPLE_POLICY_ARC
from certseal.domain import TrustDomain, init_trust_domain
from certseal.settings import load_settings

BIN = Path(sys.executable).parent
# (linter, code) findings accepted, and why.
ACCEPTED: dict[tuple[str, str], str] = {}


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    home = tmp_path_factory.mktemp("pkilint") / "home"
    settings = load_settings(home, region_code="440000", region_name="广东省",
                             base_url="http://pki.amr.gd.gov.cn", **domain_kit.TEST_PIN_ENV)
    init_trust_domain(settings)
    domain = TrustDomain.open(load_settings(home, **domain_kit.TEST_PIN_ENV))
    try:
        onboarded = domain.add_department(name=domain_kit.DEPARTMENT_NAME,
                                          uscc=domain_kit.DEPARTMENT_USCC,
                                          licence_types=["yyzz"])
        certificates = domain.certificates()
        out = home / "lint"
        out.mkdir()
        request = ocsp.OCSPRequestBuilder().add_certificate(
            onboarded.certificate, certificates.issuing, hashes.SHA256()).build()
        (out / "ocsp-good.der").write_bytes(domain.ocsp_responder().respond(
            request.public_bytes(serialization.Encoding.DER)))
        yield home / "published", out, onboarded.certificate
    finally:
        domain.close()


def _lint(tool: str, *args: str) -> list[dict]:
    done = subprocess.run([str(BIN / tool), "lint", "-s", "ERROR", "-f", "JSON", *args],
                          capture_output=True, text=True, timeout=120)
    assert done.stdout.startswith("{"), done.stderr  # its exit status counts findings
    findings = []
    for result in json.loads(done.stdout)["results"]:
        for message in result.get("finding_descriptions", []):
            findings.append({"validator": result.get("validator"), **message})
    return [f for f in findings if (tool, f.get("code")) not in ACCEPTED]


@pytest.mark.parametrize("name", ["root-ca", "issuing-ca", "tsa", "ocsp-signer",
                                  "trust-list-signer"])
def test_each_service_certificate_is_clean_under_rfc5280(published, name):
    directory, _, _ = published
    assert _lint("lint_pkix_cert", str(directory / f"{name}.pem")) == []


def test_the_seal_certificate_is_clean_under_rfc5280_and_etsi_legal_person(published):
    directory, _, seal = published
    path = directory / "seal.pem"
    path.write_bytes(seal.public_bytes(serialization.Encoding.PEM))
    assert _lint("lint_pkix_cert", str(path)) == []
    assert _lint("lint_etsi_cert", "-t", "NCP-LEGAL-PERSON-CERTIFICATE", str(path)) == []
    policies = seal.extensions.get_extension_for_class(x509.CertificatePolicies).value
    assert [p.policy_identifier.dotted_string for p in policies] == [EXAMPLE_POLICY_ARC + ".1"]


@pytest.mark.parametrize(("name", "kind"), [("root", "ARL"), ("issuing", "CRL")])
def test_each_crl_is_clean(published, name, kind):
    directory, _, _ = published
    assert _lint("lint_crl", "-t", kind, "-p", "PKIX", str(directory / "crl" / f"{name}.crl")) \
        == []


def test_an_ocsp_response_is_clean(published):
    _, out, _ = published
    assert _lint("lint_ocsp_response", str(out / "ocsp-good.der")) == []


def test_the_linter_does_find_errors(tmp_path):
    """The harness itself: a certificate with a policy arc beyond 32 bits is FATAL."""
    import datetime as dt

    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "x")])
    now = dt.datetime.now(dt.UTC)
    wide = x509.ObjectIdentifier("2.25.76975813561500034901715594575622416775")
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(1).not_valid_before(now)
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.CertificatePolicies([x509.PolicyInformation(wide, None)]),
                           False).sign(key, hashes.SHA256()))
    path = tmp_path / "wide-arc.pem"
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    assert any(f.get("severity") == "FATAL" for f in _lint("lint_pkix_cert", str(path)))
