"""Time-stamp authority: checked with `openssl ts` and pyHanko over HTTP, and in-process."""

from __future__ import annotations

import asyncio
import hashlib
import re
import urllib.request
from datetime import timedelta
from pathlib import Path

import pytest
from asn1crypto import cms, core, tsp
from asn1crypto import x509 as asn1_x509
from conftest_protocols import NOW, Pki, build_pki, run, serving
from cryptography.hazmat.primitives import serialization

from ca.protocol_errors import ResponderMisconfigured
from ca.tsa import TSA_POLICY_OID, TimeStampAuthority, rejection

DATA = "庚午年营业执照 licence body\n".encode()


@pytest.fixture(scope="module")
def pki_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("tsa-pki")
    (directory / "data.bin").write_bytes(DATA)
    return directory


@pytest.fixture(scope="module")
def pki(pki_dir: Path) -> Pki:
    return build_pki(pki_dir)


def make_tsa(pki: Pki, **options: object) -> TimeStampAuthority:
    return TimeStampAuthority(
        certificate=pki.tsa.certificate,
        chain=[pki.issuing.certificate],
        key=pki.tsa.key,
        **options,  # type: ignore[arg-type]
    )


@pytest.fixture(scope="module")
def authority(pki: Pki) -> TimeStampAuthority:
    return make_tsa(pki)


@pytest.fixture(scope="module")
def url(authority: TimeStampAuthority):
    with serving(authority.respond, content_type="application/timestamp-reply") as u:
        yield u


def post(url: str, body: bytes) -> bytes:
    request = urllib.request.Request(  # noqa: S310 - local test server
        url, data=body, method="POST", headers={"Content-Type": "application/timestamp-query"}
    )
    with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310
        return answer.read()


def openssl_ts(pki_dir: Path, *args: str) -> str:
    done = run(["openssl", "ts", *args], cwd=pki_dir)
    return done.stdout + done.stderr


def query(pki_dir: Path, name: str, *options: str) -> bytes:
    openssl_ts(pki_dir, "-query", "-data", "data.bin", *options, "-out", name)
    return (pki_dir / name).read_bytes()


def status(der: bytes) -> tuple[str, set[str] | None]:
    """(PKIStatus, PKIFailureInfo bits) of a TimeStampResp, with or without a token."""
    info = tsp.PKIStatusInfo.load(core.Sequence.load(der)[0].dump())
    return info["status"].native, info["fail_info"].native


# -- with openssl and pyHanko over HTTP ---------------------------------------------------


@pytest.mark.parametrize("digest", ["-sha256", "-sha384", "-sha512"])
def test_openssl_verifies_our_token(pki_dir: Path, url: str, digest: str) -> None:
    name = f"q{digest}.tsq"
    (pki_dir / f"r{digest}.tsr").write_bytes(post(url, query(pki_dir, name, digest, "-cert")))
    common = ("-in", f"r{digest}.tsr", "-CAfile", "root.pem", "-untrusted", "issuing.pem")
    assert "Verification: OK" in openssl_ts(pki_dir, "-verify", "-data", "data.bin", *common)
    # -queryfile also checks the nonce and the policy against the query
    assert "Verification: OK" in openssl_ts(pki_dir, "-verify", "-queryfile", name, *common)


def test_openssl_shows_our_policy_and_echoed_nonce(pki_dir: Path, url: str) -> None:
    (pki_dir / "n.tsr").write_bytes(post(url, query(pki_dir, "n.tsq", "-sha256", "-cert")))
    asked = openssl_ts(pki_dir, "-query", "-in", "n.tsq", "-text")
    shown = openssl_ts(pki_dir, "-reply", "-in", "n.tsr", "-text")
    assert "Status: Granted." in shown
    assert f"Policy OID: {TSA_POLICY_OID}" in shown
    nonce = re.search(r"Nonce: (0x[0-9A-F]+)", asked)
    assert nonce is not None
    assert f"Nonce: {nonce.group(1)}" in shown
    assert "TSA: DirName:/C=CN/O=certseal test/CN=Test Time-Stamp Authority" in shown


def test_openssl_md5_query_is_rejected_with_bad_alg(pki_dir: Path, url: str) -> None:
    (pki_dir / "md5.tsr").write_bytes(post(url, query(pki_dir, "md5.tsq", "-md5")))
    assert status((pki_dir / "md5.tsr").read_bytes()) == ("rejection", {"bad_alg"})
    shown = openssl_ts(pki_dir, "-reply", "-in", "md5.tsr", "-text")
    assert "Status: Rejected." in shown
    assert "unrecognized or unsupported algorithm identifier" in shown


def test_garbage_over_http_is_bad_data_format(url: str) -> None:
    assert status(post(url, b"GET / HTTP/1.0\r\n\r\n")) == ("rejection", {"bad_data_format"})


def test_pyhanko_gets_and_validates_a_token(pki: Pki, url: str) -> None:
    from pyhanko.sign.timestamps import HTTPTimeStamper
    from pyhanko.sign.validation.generic_cms import validate_tst_signed_data
    from pyhanko.sign.validation.status import TimestampSignatureStatus
    from pyhanko_certvalidator import ValidationContext

    digest = hashlib.sha256(DATA).digest()
    token = asyncio.run(HTTPTimeStamper(url).async_timestamp(digest, "sha256"))

    def load(cert):  # cryptography -> asn1crypto
        return asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))

    context = ValidationContext(
        trust_roots=[load(pki.root.certificate)],
        other_certs=[load(pki.issuing.certificate)],
        allow_fetching=False,
        revocation_mode="soft-fail",
    )
    result = asyncio.run(
        validate_tst_signed_data(token["content"], context, lambda _algorithm: digest)
    )
    verdict = TimestampSignatureStatus(**result)
    assert verdict.intact and verdict.valid and verdict.trusted, verdict


# -- the contract in-process --------------------------------------------------------------


def request(**fields: object) -> bytes:
    base: dict[str, object] = {
        "version": "v1",
        "message_imprint": {
            "hash_algorithm": {"algorithm": "sha256"},
            "hashed_message": hashlib.sha256(DATA).digest(),
        },
        "nonce": 0x1234567890ABCDEF,
        "cert_req": True,
    }
    base.update(fields)
    return tsp.TimeStampReq(base).dump()


def token_of(der: bytes) -> cms.SignedData:
    response = tsp.TimeStampResp.load(der)
    assert response["status"]["status"].native == "granted"
    return response["time_stamp_token"]["content"]


def test_token_contents(pki: Pki) -> None:
    authority = make_tsa(
        pki,
        clock=lambda: NOW + timedelta(microseconds=999_999),
        serial_numbers=lambda: 4242,
        accuracy=timedelta(seconds=2, milliseconds=5),
    )
    signed_data = token_of(authority.respond(request()))
    tst_info = signed_data["encap_content_info"]["content"].parsed
    assert signed_data["encap_content_info"]["content_type"].native == "tst_info"
    assert tst_info["policy"].dotted == TSA_POLICY_OID
    assert tst_info["serial_number"].native == 4242
    assert tst_info["gen_time"].native == NOW
    assert tst_info["accuracy"].native == {"seconds": 2, "millis": 5, "micros": None}
    assert tst_info["nonce"].native == 0x1234567890ABCDEF
    assert tst_info["message_imprint"]["hashed_message"].native == hashlib.sha256(DATA).digest()

    tsa_der = pki.tsa.certificate.public_bytes(serialization.Encoding.DER)
    issuing_der = pki.issuing.certificate.public_bytes(serialization.Encoding.DER)
    # CertificateSet is a DER SET OF, so its order is the encoding's, not ours.
    assert {c.chosen.dump() for c in signed_data["certificates"]} == {tsa_der, issuing_der}
    signer_info = signed_data["signer_infos"][0]
    attributes = {a["type"].native: a["values"][0] for a in signer_info["signed_attrs"]}
    assert attributes["content_type"].native == "tst_info"
    assert attributes["signing_time"].native == NOW
    assert (
        attributes["message_digest"].native
        == hashlib.sha256(signed_data["encap_content_info"]["content"].contents).digest()
    )
    ess = attributes["signing_certificate_v2"]["certs"][0]
    assert ess["cert_hash"].native == hashlib.sha256(tsa_der).digest()
    assert ess["issuer_serial"]["serial_number"].native == pki.tsa.certificate.serial_number
    assert signer_info["signature_algorithm"]["algorithm"].native == "sha256_ecdsa"


def test_no_certificates_unless_asked(authority: TimeStampAuthority) -> None:
    signed_data = token_of(authority.respond(request(cert_req=False)))
    assert signed_data["certificates"].native is None


def test_our_policy_asked_for_is_granted_another_is_refused(
    authority: TimeStampAuthority,
) -> None:
    token_of(authority.respond(request(req_policy=TSA_POLICY_OID)))
    refused = authority.respond(request(req_policy="1.3.6.1.4.1.4146.2.2"))
    assert status(refused) == ("rejection", {"unaccepted_policy"})


@pytest.mark.parametrize(
    ("fields", "failure"),
    [
        (
            {
                "message_imprint": {
                    "hash_algorithm": {"algorithm": "1.2.3.4"},
                    "hashed_message": b"x" * 32,
                }
            },
            "bad_alg",
        ),
        (
            {
                "message_imprint": {
                    "hash_algorithm": {"algorithm": "sha1"},
                    "hashed_message": b"x" * 20,
                }
            },
            "bad_alg",
        ),
        (
            {
                "message_imprint": {
                    "hash_algorithm": {"algorithm": "sha256"},
                    "hashed_message": b"x" * 20,
                }
            },
            "bad_data_format",
        ),
        ({"version": 2}, "bad_request"),
        ({"nonce": -5}, "bad_data_format"),
        ({"nonce": 1 << 600}, "bad_data_format"),
        (
            {"extensions": [{"extn_id": "2.5.29.19", "extn_value": b"\x30\x00"}]},
            "unaccepted_extensions",
        ),
    ],
)
def test_refusals_carry_the_failure_bit(
    authority: TimeStampAuthority, fields: dict[str, object], failure: str
) -> None:
    assert status(authority.respond(request(**fields))) == ("rejection", {failure})


@pytest.mark.parametrize(
    "bad", [b"", b"\x30", b"\x30\x00", b"\xff" * 64, b"x" * 100_000, "text", None]
)
def test_garbage_is_bad_data_format_never_an_exception(
    authority: TimeStampAuthority, bad: object
) -> None:
    assert status(authority.respond(bad)) == ("rejection", {"bad_data_format"})  # type: ignore[arg-type]


def test_trailing_bytes_are_bad_data_format(authority: TimeStampAuthority) -> None:
    assert status(authority.respond(request() + b"\x00")) == ("rejection", {"bad_data_format"})


def test_signing_failure_is_system_failure(pki: Pki) -> None:
    def broken_clock():
        raise OSError("clock source lost")

    authority = make_tsa(pki, clock=broken_clock)
    assert status(authority.respond(request())) == ("rejection", {"system_failure"})


def test_rejection_is_decodable_by_openssl(pki_dir: Path) -> None:
    (pki_dir / "rej.tsr").write_bytes(rejection("unaccepted_policy", "reqPolicy: no"))
    shown = openssl_ts(pki_dir, "-reply", "-in", "rej.tsr", "-text")
    assert "Status: Rejected." in shown and "reqPolicy: no" in shown
    assert "requested TSA policy is not supported" in shown


def test_tsa_certificate_must_be_fit_for_time_stamping(pki: Pki) -> None:
    with pytest.raises(ResponderMisconfigured, match="critical and only timeStamping"):
        TimeStampAuthority(
            certificate=pki.ocsp_signer.certificate, chain=[], key=pki.ocsp_signer.key
        )
    with pytest.raises(ResponderMisconfigured, match="does not match"):
        TimeStampAuthority(certificate=pki.tsa.certificate, chain=[], key=pki.leaf.key)
    with pytest.raises(ResponderMisconfigured, match="chain"):
        TimeStampAuthority(
            certificate=pki.tsa.certificate, chain=[pki.root.certificate], key=pki.tsa.key
        )
