"""A licence of the default level (PAdES B-LTA), judged by tools we did not write:
pyHanko's AdES validator (ETSI EN 319 102-1) offline, pyHanko's classic validator and
poppler's pdfsig with the domain served (both want live answers), qpdf's structural check;
and the revision after the seal holds revision data produced after the signature
time-stamp. A B-LT licence (one revision, the older level) beside it shows why B-LTA is
the default: offline, the AdES validator finds no proof of existence for it."""

from __future__ import annotations

import asyncio
import hashlib
import io
import subprocess
import sys
from pathlib import Path

import domain_kit
import pytest
from asn1crypto import ocsp as asn1_ocsp
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation.dss import DocumentSecurityStore

PYHANKO = str(Path(sys.executable).with_name("pyhanko"))


def run(*args: str, timeout: int = 120) -> subprocess.CompletedProcess:
    return subprocess.run(list(args), capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def domain(tmp_path_factory):
    """A domain of its own whose PKI URLs nobody serves until a test serves it: what the
    AdES validator judges offline is only what the licence carries."""
    under_test = domain_kit.make_domain(tmp_path_factory.mktemp("level") / "home",
                                        issue_samples=False)
    yield under_test
    under_test.domain.close()


@pytest.fixture(scope="module")
def licences(domain, tmp_path_factory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("licences")
    files = {"B-LTA": out / "default.pdf", "B-LT": out / "b-lt.pdf"}
    files["B-LTA"].write_bytes(domain.issue("yyzz").pdf)
    files["B-LT"].write_bytes(domain.issue_b_lt("yyzz").pdf)
    return files


@pytest.fixture(scope="module")
def root(domain) -> str:
    return str(domain.published / "root-ca.pem")


def test_the_default_level_is_b_lta(domain, licences):
    from certseal.settings import Settings

    assert Settings.model_fields["pades_level"].default == "B-LTA"
    assert domain.domain.settings.pades_level == "B-LTA"
    reader = PdfFileReader(io.BytesIO(licences["B-LTA"].read_bytes()))
    assert [s.sig_object_type for s in reader.embedded_signatures] == ["/Sig",
                                                                       "/DocTimeStamp"]


def _ades_offline(pdf: Path, root: str):
    """pyHanko's AdES validation as `pyhanko sign adesverify` runs it (revocation data
    required, no freshness bound), with fetching off: local knowledge only."""
    from pyhanko.keys import load_cert_from_pemder
    from pyhanko.sign.diff_analysis import DEFAULT_DIFF_POLICY
    from pyhanko.sign.validation.ades import ades_lta_validation
    from pyhanko.sign.validation.policy_decl import (
        PdfSignatureValidationSpec,
        RevinfoOnlineFetchingRule,
        RevocationInfoGatheringSpec,
        SignatureValidationSpec,
    )
    from pyhanko_certvalidator.context import CertValidationPolicySpec
    from pyhanko_certvalidator.ltv.types import ValidationTimingInfo
    from pyhanko_certvalidator.policy_decl import (
        REQUIRE_REVINFO,
        CertRevTrustPolicy,
        FreshnessReqType,
    )
    from pyhanko_certvalidator.registry import SimpleTrustManager

    policy = CertValidationPolicySpec(
        trust_manager=SimpleTrustManager.build(trust_roots=[load_cert_from_pemder(root)]),
        revinfo_policy=CertRevTrustPolicy(
            REQUIRE_REVINFO, freshness=None,
            freshness_req_type=FreshnessReqType.MAX_DIFF_REVOCATION_VALIDATION))
    spec = PdfSignatureValidationSpec(
        SignatureValidationSpec(policy, revinfo_gathering_policy=RevocationInfoGatheringSpec(
            online_fetching_rule=RevinfoOnlineFetchingRule.LOCAL_ONLY)),
        diff_policy=DEFAULT_DIFF_POLICY)
    reader = PdfFileReader(io.BytesIO(pdf.read_bytes()))
    (seal,) = reader.embedded_regular_signatures
    return asyncio.run(ades_lta_validation(seal, spec,
                                           timing_info=ValidationTimingInfo.now()))


def test_the_ades_validator_passes_the_default_level_offline(licences, root):
    from pyhanko.sign.validation.ades import AdESIndeterminate, AdESPassed

    result = _ades_offline(licences["B-LTA"], root)
    assert result.ades_subindic is AdESPassed.OK, result.failure_msg
    assert result.api_status.bottom_line
    # One revision, no document time-stamp: nothing proves the signature existed before
    # its validation data could age, so offline it cannot be decided.
    older = _ades_offline(licences["B-LT"], root)
    assert older.ades_subindic is AdESIndeterminate.NO_POE, older.failure_msg


def test_pyhanko_adesverify_cli_trusts_it_offline(licences, root):
    proc = run(PYHANKO, "sign", "adesverify", "--trust", root, "--trust-replace",
               str(licences["B-LTA"]))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    summary = proc.stdout.strip().splitlines()[-1]
    assert ":INTACT:TRUSTED,TIMESTAMP_TOKEN<INTACT:TRUSTED>," in summary, summary
    assert "EXTENDED_WITH_LTA_UPDATES" in summary and "ACCEPTABLE_MODIFICATIONS" in summary
    assert "No document timestamps after signature" not in proc.stderr


def test_revocation_data_after_the_seal_postdates_its_time_stamp(domain, licences):
    """The DSS is in the revision after the seal's: OCSP answers for the seal's and the
    TSA's certificates whose nonce is the SHA-256 of the signature time-stamp token (so
    they were made after it) and whose thisUpdate is not before its genTime; the document
    time-stamp after them."""
    from cryptography import x509

    reader = PdfFileReader(io.BytesIO(licences["B-LTA"].read_bytes()))
    seal, archive = reader.embedded_signatures
    assert "/DSS" not in reader.get_historical_root(seal.signed_revision)
    token = next(a["values"][0] for a in seal.signer_info["unsigned_attrs"]
                 if a["type"].native == "signature_time_stamp_token")
    gen_time = token["content"]["encap_content_info"]["content"].parsed["gen_time"].native
    nonce = hashlib.sha256(token.dump()).digest()
    seal_serial = x509.load_pem_x509_certificate(
        domain.domain.seal_certificate_path(domain.seal_id).read_bytes()).serial_number
    tsa_serial = x509.load_pem_x509_certificate(
        (domain.published / "tsa.pem").read_bytes()).serial_number
    answered = {}
    for ref in DocumentSecurityStore.read_dss(reader).ocsps:
        data = asn1_ocsp.OCSPResponse.load(ref.get_object().data)["response_bytes"][
            "response"].parsed["tbs_response_data"]
        (single,) = data["responses"]
        assert [e["extn_value"].native for e in data["response_extensions"]
                if e["extn_id"].native == "nonce"] == [nonce]
        assert single["this_update"].native >= gen_time
        assert single["cert_status"].name == "good"
        answered[single["cert_id"]["serial_number"].native] = single["this_update"].native
    assert set(answered) == {seal_serial, tsa_serial}
    archive_time = archive.signed_data["encap_content_info"]["content"].parsed[
        "gen_time"].native
    assert all(this_update <= archive_time for this_update in answered.values())


def test_qpdf_finds_no_structural_problem(licences):
    for pdf in licences.values():
        proc = run("qpdf", "--check", str(pdf))
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert "No syntax or stream encoding errors found" in proc.stdout


@pytest.fixture(scope="module")
def served(domain):
    with domain_kit.serving(domain):
        yield domain


def test_pyhanko_classic_validation_and_pdfsig_with_live_answers(served, licences, root,
                                                                 tmp_path):
    proc = run(PYHANKO, "sign", "validate", "--trust", root, "--trust-replace",
               str(licences["B-LTA"]))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    summary = proc.stdout.strip().splitlines()[-1]
    assert ":INTACT:TRUSTED,TIMESTAMP_TOKEN<INTACT:TRUSTED>," in summary, summary
    assert summary.endswith("EXTENDED_WITH_LTA_UPDATES,ACCEPTABLE_MODIFICATIONS")

    nss = tmp_path / "nss"
    nss.mkdir()
    assert run("certutil", "-N", "-d", f"sql:{nss}", "--empty-password").returncode == 0
    assert run("certutil", "-A", "-d", f"sql:{nss}", "-n", "root", "-t", "CT,C,C", "-i",
               root).returncode == 0
    proc = run("pdfsig", "-nssdir", f"sql:{nss}", str(licences["B-LTA"]))
    assert proc.returncode == 0, proc.stderr
    seal, archive = proc.stdout.split("Signature #")[1:]
    assert "Signature Field Name: Seal" in seal and "ETSI.CAdES.detached" in seal
    assert "Signature Validation: Signature is Valid." in seal
    assert "Certificate Validation: Certificate is Trusted." in seal
    assert "Not total document signed" in seal  # its revision; the time-stamp's follows
    assert "Signature Field Name: SealArchiveTimestamp" in archive
    assert "Total document signed" in archive and "Not total" not in archive
