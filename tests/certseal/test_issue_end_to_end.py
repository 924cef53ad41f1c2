"""Issuing sealed licences end to end, judged by tools we did not write: poppler's pdfsig
with an NSS database that trusts only our root (it wants a live OCSP answer, so the
domain is served on loopback), pyHanko's own validator, pdffonts and zbarimg."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from certs.qr import decode_qr_payload
from certs.samples import sample_licence_data, sample_type_codes

TYPES = sample_type_codes()


def run(*args: str, env: dict | None = None, timeout: int = 120):
    return subprocess.run(list(args), capture_output=True, text=True, timeout=timeout,
                          env=env)


@pytest.fixture(scope="module")
def nss_db(served_domain, tmp_path_factory) -> str:
    directory = tmp_path_factory.mktemp("nss")
    assert run("certutil", "-N", "-d", f"sql:{directory}", "--empty-password").returncode == 0
    added = run("certutil", "-A", "-d", f"sql:{directory}", "-n", "certseal-root", "-t",
                "CT,C,C", "-i", str(served_domain.published / "root-ca.pem"))
    assert added.returncode == 0, added.stderr
    return f"sql:{directory}"


@pytest.fixture(scope="module")
def licence_files(served_domain, tmp_path_factory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("licences")
    files = {}
    for code, issued in served_domain.licences.items():
        files[code] = out / f"{code}.pdf"
        files[code].write_bytes(issued.pdf)
    return files


@pytest.mark.parametrize("code", TYPES)
def test_pdfsig_trusts_the_seal_and_it_covers_the_document(code, licence_files, nss_db):
    proc = run("pdfsig", "-nssdir", nss_db, str(licence_files[code]))
    assert proc.returncode == 0, proc.stderr
    # PAdES B-LTA: the seal, then the document time-stamp over the whole file.
    seal, archive = proc.stdout.split("Signature #")[1:]
    assert "Signature Field Name: Seal" in seal
    assert "Signature Validation: Signature is Valid." in seal
    assert "Certificate Validation: Certificate is Trusted." in seal
    assert "ETSI.CAdES.detached" in seal
    assert "Signature Field Name: SealArchiveTimestamp" in archive
    assert "Total document signed" in archive and "Not total" not in archive


@pytest.mark.parametrize("code", TYPES)
def test_pyhanko_validator_says_intact_trusted(code, licence_files, served_domain):
    proc = run(str(Path(sys.executable).parent / "pyhanko"), "sign", "validate", "--trust",
               str(served_domain.published / "root-ca.pem"), "--trust-replace",
               str(licence_files[code]))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    summary = proc.stdout.strip().splitlines()[-1]
    assert ":INTACT:TRUSTED," in summary
    assert "TIMESTAMP_TOKEN<INTACT:TRUSTED>" in summary
    assert summary.endswith("EXTENDED_WITH_LTA_UPDATES,ACCEPTABLE_MODIFICATIONS")


def test_pyhanko_validator_rejects_another_root(licence_files, tmp_path):
    import datetime as dt

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name.from_rfc4514_string("CN=certseal Root CA 440000,O=广东省,C=CN")
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now).not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    impostor = tmp_path / "impostor.pem"
    impostor.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    proc = run(str(Path(sys.executable).parent / "pyhanko"), "sign", "validate", "--trust",
               str(impostor), "--trust-replace", str(licence_files["yyzz"]))
    assert ":INTACT:TRUSTED," not in proc.stdout
    assert ":INTACT:UNTRUSTED" in proc.stdout


@pytest.mark.parametrize("code", TYPES)
def test_every_font_is_embedded(code, licence_files):
    proc = run("pdffonts", str(licence_files[code]))
    assert proc.returncode == 0, proc.stderr
    rows = proc.stdout.splitlines()[2:]
    assert rows, proc.stdout
    for row in rows:
        columns = row.split()
        # name type [encoding...] emb sub uni object ID: 'emb' is the 5th field from the end
        assert columns[-5] == "yes", row


@pytest.mark.parametrize("code", TYPES)
def test_qr_decodes_from_a_150_dpi_render(code, licence_files, served_domain, tmp_path):
    assert run("pdftoppm", "-r", "150", "-png", "-singlefile", str(licence_files[code]),
               str(tmp_path / "page")).returncode == 0
    proc = run("zbarimg", "--nodbus", "--quiet", "--raw", str(tmp_path / "page.png"))
    assert proc.returncode == 0, proc.stderr
    text = proc.stdout.strip()
    decoded = decode_qr_payload(text)
    assert decoded.claims.licence_id == served_domain.licences[code].licence_id
    assert decoded.claims.verify_url == served_domain.base_url + "/verify"


# -- the CLI on the same code path ---------------------------------------------------------
def cli(home: Path, *args: str):
    import domain_kit

    env = {k: v for k, v in os.environ.items() if not k.startswith("CERTSEAL_")}
    env["CERTSEAL_HSM_PIN"] = domain_kit.TEST_PIN_ENV["hsm_pin"]
    return run(sys.executable, "-m", "certseal.cli", *args, "--home", str(home), env=env,
               timeout=300)


def licence_count(under_test) -> int:
    """Rows in the licence table, on whichever database the domain uses."""
    with under_test.domain.engine.connect() as connection:
        return connection.exec_driver_sql("select count(*) from licence").scalar_one()


@pytest.fixture
def data_file(tmp_path) -> Path:
    path = tmp_path / "data.json"
    path.write_text(json.dumps(sample_licence_data("zyzgzs"), ensure_ascii=False), "utf-8")
    return path


def test_cli_issue_and_idempotent_retry(trust_domain, data_file, tmp_path):
    out = tmp_path / "licence.pdf"
    args = ("issue", "--department", trust_domain.department_id, "--type", "zyzgzs",
            "--data", str(data_file), "--out", str(out), "--idempotency-key", "cli-test-1",
            "--json")
    first = cli(trust_domain.home, *args)
    assert first.returncode == 0, first.stderr
    result = json.loads(first.stdout)
    assert result["status"] == "valid" and Path(result["pdf"]) == out.resolve()
    assert out.read_bytes().startswith(b"%PDF-")
    again = cli(trust_domain.home, *args[:-3], "--idempotency-key", "cli-test-1", "--force",
                "--json")
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["licence_id"] == result["licence_id"]
    assert json.loads(again.stdout)["replayed"] is True


def test_cli_licence_types_lists_the_shipped_types(trust_domain):
    proc = cli(trust_domain.home, "licence-types", "--json")
    assert proc.returncode == 0, proc.stderr
    types = {t["code"]: t for t in json.loads(proc.stdout)["types"]}
    assert set(TYPES) <= set(types)
    assert types["yyzz"]["name"] == "营业执照"
    assert "统一社会信用代码" in types["yyzz"]["schema"]["properties"]


BAD_INPUTS = {
    "bad holder identifier": ("zyzgzs", {"公民身份号码": "350102199005120029"}, "公民身份号码"),
    "missing field": ("yyzz", {"名称": None}, "名称"),
    "bad uscc in data": ("yyzz", {"统一社会信用代码": "91350100M000100Y44"}, "统一社会信用代码"),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_cli_bad_licence_data_names_the_field_and_writes_nothing(case, trust_domain, tmp_path):
    code, changes, field = BAD_INPUTS[case]
    data = sample_licence_data(code)
    for key, value in changes.items():
        if value is None:
            data.pop(key)
        else:
            data[key] = value
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data, ensure_ascii=False), "utf-8")
    out = tmp_path / "never.pdf"
    before = licence_count(trust_domain)
    proc = cli(trust_domain.home, "issue", "--department", trust_domain.department_id,
               "--type", code, "--data", str(path), "--out", str(out))
    assert proc.returncode == 1
    assert proc.stderr.count("\n") == 1 and field in proc.stderr, proc.stderr
    assert not out.exists()
    assert licence_count(trust_domain) == before


def test_cli_refuses_unknown_type_missing_department_and_unreadable_data(trust_domain,
                                                                         data_file, tmp_path):
    out = tmp_path / "x.pdf"
    unknown = cli(trust_domain.home, "issue", "--department", trust_domain.department_id,
                  "--type", "nosuchtype", "--data", str(data_file), "--out", str(out), "--json")
    assert unknown.returncode == 1
    assert json.loads(unknown.stdout)["error"]["code"] == "unknown_licence_type"
    nobody = cli(trust_domain.home, "issue", "--department", "91350100M000100Y43", "--type",
                 "zyzgzs", "--data", str(data_file), "--out", str(out), "--json")
    assert nobody.returncode == 1
    assert json.loads(nobody.stdout)["error"]["code"] == "department_not_found"
    garbage = tmp_path / "garbage.json"
    garbage.write_text("{not json", "utf-8")
    unreadable = cli(trust_domain.home, "issue", "--department", trust_domain.department_id,
                     "--type", "zyzgzs", "--data", str(garbage), "--out", str(out))
    assert unreadable.returncode == 3 and "not JSON" in unreadable.stderr
    assert not out.exists()


def test_cli_refuses_to_overwrite_output(trust_domain, data_file, tmp_path):
    out = tmp_path / "exists.pdf"
    out.write_bytes(b"keep me")
    proc = cli(trust_domain.home, "issue", "--department", trust_domain.department_id,
               "--type", "zyzgzs", "--data", str(data_file), "--out", str(out))
    assert proc.returncode == 1 and "refusing to overwrite" in proc.stderr
    assert out.read_bytes() == b"keep me"


def test_type_not_granted_is_refused_and_nothing_is_stored(fresh_domain):
    from certs.identifiers import make_uscc
    from seal.errors import LicenceTypeNotGranted

    other = fresh_domain.domain.add_department(name="福州市人力资源和社会保障局",
                                               uscc=make_uscc("11350100MB0000009"),
                                               licence_types=[])
    before = licence_count(fresh_domain)
    fresh_domain.department_id = other.department_id
    with pytest.raises(LicenceTypeNotGranted):
        fresh_domain.issue("zyzgzs")
    assert licence_count(fresh_domain) == before
