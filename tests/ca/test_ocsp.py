"""OCSP responder: checked with `openssl ocsp` over HTTP, and its contract in-process."""

from __future__ import annotations

import base64
import hashlib
import threading
import urllib.parse
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from asn1crypto import ocsp as asn1_ocsp
from conftest_protocols import NOW, Pki, build_pki, run, serving
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509 import ocsp

from ca.ocsp import (
    CertificateStatus,
    CertificateStatusFacts,
    OcspResponder,
    parse_get_path,
)
from ca.protocol_errors import OcspGetPathInvalid, ResponderMisconfigured

GOOD = CertificateStatusFacts(CertificateStatus.GOOD)


class StatusTable:
    """A CertificateStatusSource backed by a dict, as ca/store.py will be backed by the DB."""

    def __init__(self, statuses: dict[int, CertificateStatusFacts]) -> None:
        self.statuses = statuses
        self.reads = 0

    def status_of(self, serial: int) -> CertificateStatusFacts | None:
        self.reads += 1
        return self.statuses.get(serial)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture(scope="module")
def pki_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("ocsp-pki")


@pytest.fixture(scope="module")
def pki(pki_dir: Path) -> Pki:
    return build_pki(pki_dir)


@pytest.fixture
def table(pki: Pki) -> StatusTable:
    return StatusTable({pki.leaf.certificate.serial_number: GOOD})


def make_responder(pki: Pki, table: StatusTable, **options: object) -> OcspResponder:
    return OcspResponder(
        issuer=pki.issuing.certificate,
        signer=pki.ocsp_signer.certificate,
        signer_key=pki.ocsp_signer.key,
        statuses=table,
        **options,  # type: ignore[arg-type]
    )


@pytest.fixture
def responder(pki: Pki, table: StatusTable) -> OcspResponder:
    return make_responder(pki, table)


@pytest.fixture
def url(responder: OcspResponder):
    with serving(responder.respond, responder.respond_to_get, "application/ocsp-response") as u:
        yield u


def openssl_ocsp(pki_dir: Path, *args: str) -> str:
    """Run `openssl ocsp` with our trust settings; returns stdout and stderr together."""
    done = run(
        ["openssl", "ocsp", *args, "-CAfile", "root.pem", "-verify_other", "issuing.pem"],
        cwd=pki_dir,
    )
    return done.stdout + done.stderr


def request_der(
    pki: Pki,
    algorithm: hashes.HashAlgorithm = hashes.SHA1(),  # noqa: S303 - RFC 6960 CertID
    nonce: bytes | None = None,
    certificate: x509.Certificate | None = None,
) -> bytes:
    builder = ocsp.OCSPRequestBuilder().add_certificate(
        certificate or pki.leaf.certificate, pki.issuing.certificate, algorithm
    )
    if nonce is not None:
        builder = builder.add_extension(x509.OCSPNonce(nonce), critical=False)
    return builder.build().public_bytes(serialization.Encoding.DER)


# -- with openssl over HTTP ---------------------------------------------------------------


def test_openssl_verifies_a_good_answer_with_nonce_echoed(pki_dir: Path, url: str) -> None:
    out = openssl_ocsp(
        pki_dir, "-issuer", "issuing.pem", "-cert", "leaf.pem", "-url", url, "-nonce",
        "-reqout", "nonce.req", "-respout", "nonce.resp",
    )  # fmt: skip
    assert "Response verify OK" in out
    assert "leaf.pem: good" in out
    assert "WARNING" not in out and "Nonce Verify error" not in out
    sent = asn1_ocsp.OCSPRequest.load((pki_dir / "nonce.req").read_bytes())
    got = asn1_ocsp.OCSPResponse.load((pki_dir / "nonce.resp").read_bytes())
    assert got.nonce_value is not None
    assert got.nonce_value.native == sent.nonce_value.native


def test_openssl_without_nonce_gets_no_nonce(pki_dir: Path, url: str) -> None:
    out = openssl_ocsp(
        pki_dir, "-issuer", "issuing.pem", "-cert", "leaf.pem", "-url", url, "-no_nonce",
        "-respout", "plain.resp",
    )  # fmt: skip
    assert "Response verify OK" in out and "leaf.pem: good" in out
    assert asn1_ocsp.OCSPResponse.load((pki_dir / "plain.resp").read_bytes()).nonce_value is None


def test_openssl_sees_revocation_once_invalidated(
    pki: Pki, pki_dir: Path, url: str, responder: OcspResponder, table: StatusTable
) -> None:
    query = ("-issuer", "issuing.pem", "-cert", "leaf.pem", "-url", url, "-no_nonce")
    assert "leaf.pem: good" in openssl_ocsp(pki_dir, *query)

    revoked_at = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
    table.statuses[pki.leaf.certificate.serial_number] = CertificateStatusFacts(
        CertificateStatus.REVOKED, revoked_at, x509.ReasonFlags.key_compromise
    )
    # The pre-produced answer stands until the status change is announced...
    assert "leaf.pem: good" in openssl_ocsp(pki_dir, *query)
    responder.invalidate(pki.leaf.certificate.serial_number)
    # ...and is replaced the moment it is.
    out = openssl_ocsp(pki_dir, *query)
    assert "Response verify OK" in out
    assert "leaf.pem: revoked" in out
    assert "Reason: keyCompromise" in out
    shown = f"{revoked_at:%b} {revoked_at.day:2d} {revoked_at:%H:%M:%S %Y} GMT"
    assert f"Revocation Time: {shown}" in out


def test_openssl_shows_hold_as_revoked_with_certificate_hold(
    pki: Pki, pki_dir: Path, url: str, table: StatusTable
) -> None:
    table.statuses[pki.leaf.certificate.serial_number] = CertificateStatusFacts(
        CertificateStatus.ON_HOLD, datetime.now(UTC) - timedelta(minutes=1)
    )
    out = openssl_ocsp(pki_dir, "-issuer", "issuing.pem", "-cert", "leaf.pem", "-url", url)
    assert "Response verify OK" in out
    assert "leaf.pem: revoked" in out and "Reason: certificateHold" in out


def test_openssl_sha256_cert_id(pki_dir: Path, url: str) -> None:
    out = openssl_ocsp(
        pki_dir, "-sha256", "-issuer", "issuing.pem", "-cert", "leaf.pem", "-url", url,
        "-reqout", "sha256.req", "-respout", "sha256.resp",
    )  # fmt: skip
    assert "Response verify OK" in out and "leaf.pem: good" in out
    sent = asn1_ocsp.OCSPRequest.load((pki_dir / "sha256.req").read_bytes())
    got = asn1_ocsp.OCSPResponse.load((pki_dir / "sha256.resp").read_bytes())
    sent_id = sent["tbs_request"]["request_list"][0]["req_cert"]
    got_id = got.basic_ocsp_response["tbs_response_data"]["responses"][0]["cert_id"]
    assert sent_id["hash_algorithm"]["algorithm"].native == "sha256"
    assert got_id.dump() == sent_id.dump()


def test_openssl_unknown_serial(pki_dir: Path, url: str) -> None:
    out = openssl_ocsp(pki_dir, "-issuer", "issuing.pem", "-serial", "0x7777777", "-url", url)
    assert "Response verify OK" in out
    assert "0x7777777: unknown" in out


def test_openssl_several_certificates_in_one_request(pki_dir: Path, url: str) -> None:
    out = openssl_ocsp(
        pki_dir, "-issuer", "issuing.pem", "-cert", "leaf.pem", "-serial", "0x4242",
        "-cert", "ocsp.pem", "-url", url,
    )  # fmt: skip
    assert "Response verify OK" in out
    assert "leaf.pem: good" in out and "0x4242: unknown" in out and "ocsp.pem: unknown" in out


def test_openssl_foreign_issuer_is_unauthorized(pki_dir: Path, url: str) -> None:
    out = openssl_ocsp(
        pki_dir, "-issuer", "foreign-ca.pem", "-cert", "foreign-leaf.pem", "-url", url
    )
    assert "Responder Error: unauthorized (6)" in out


def test_garbage_over_http_is_malformed_request(url: str) -> None:
    post = urllib.request.Request(url, data=b"\x30\x03garbage", method="POST")  # noqa: S310
    with urllib.request.urlopen(post, timeout=10) as answer:  # noqa: S310 - local test server
        body = answer.read()
    assert asn1_ocsp.OCSPResponse.load(body)["response_status"].native == "malformed_request"


@pytest.mark.parametrize("urlsafe", [True, False])
def test_get_form_verifies_with_openssl(pki_dir: Path, url: str, urlsafe: bool) -> None:
    out = openssl_ocsp(pki_dir, "-issuer", "issuing.pem", "-cert", "leaf.pem", "-reqout", "get.req")
    der = (pki_dir / "get.req").read_bytes()
    if urlsafe:
        segment = base64.urlsafe_b64encode(der).decode().rstrip("=")
    else:
        segment = urllib.parse.quote(base64.b64encode(der).decode(), safe="")
    with urllib.request.urlopen(url + segment, timeout=10) as answer:  # noqa: S310 - local test
        (pki_dir / "get.resp").write_bytes(answer.read())
    # With -cert, openssl would build (and nonce-check) a new request; -reqin alone checks ours.
    out = openssl_ocsp(pki_dir, "-reqin", "get.req", "-respin", "get.resp", "-resp_text")
    assert "Response verify OK" in out and "Cert Status: good" in out
    assert "WARNING" not in out and "Nonce Verify error" not in out


# -- the contract in-process --------------------------------------------------------------


def load(der: bytes) -> ocsp.OCSPResponse:
    return ocsp.load_der_ocsp_response(der)


def test_response_fields_and_signature(pki: Pki, table: StatusTable) -> None:
    clock = Clock(NOW + timedelta(microseconds=123456))
    responder = make_responder(pki, table, clock=clock, validity=timedelta(hours=1))
    answer = load(responder.respond(request_der(pki, nonce=b"n" * 16)))
    assert answer.response_status is ocsp.OCSPResponseStatus.SUCCESSFUL
    assert answer.certificate_status is ocsp.OCSPCertStatus.GOOD
    assert answer.this_update_utc == NOW and answer.produced_at_utc == NOW
    assert answer.next_update_utc == NOW + timedelta(hours=1)
    assert answer.serial_number == pki.leaf.certificate.serial_number
    assert (
        answer.responder_key_hash
        == hashlib.sha1(  # noqa: S324 - RFC 6960 KeyHash
            pki.ocsp_signer.certificate.public_key().public_bytes(
                serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
            )
        ).digest()
    )
    assert answer.responder_name is None
    assert answer.certificates == [pki.ocsp_signer.certificate]
    assert answer.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce == b"n" * 16
    pki.ocsp_signer.certificate.public_key().verify(
        answer.signature, answer.tbs_response_bytes, ec.ECDSA(hashes.SHA256())
    )


def test_revoked_answer_carries_time_and_reason(pki: Pki, table: StatusTable) -> None:
    revoked_at = NOW - timedelta(days=2)
    table.statuses[pki.leaf.certificate.serial_number] = CertificateStatusFacts(
        CertificateStatus.REVOKED, revoked_at, x509.ReasonFlags.superseded
    )
    answer = load(make_responder(pki, table, clock=Clock(NOW)).respond(request_der(pki)))
    assert answer.certificate_status is ocsp.OCSPCertStatus.REVOKED
    assert answer.revocation_time_utc == revoked_at
    assert answer.revocation_reason is x509.ReasonFlags.superseded


def test_revoked_without_reason_omits_it(pki: Pki, table: StatusTable) -> None:
    table.statuses[pki.leaf.certificate.serial_number] = CertificateStatusFacts(
        CertificateStatus.REVOKED, NOW, None
    )
    answer = load(make_responder(pki, table, clock=Clock(NOW)).respond(request_der(pki)))
    assert answer.certificate_status is ocsp.OCSPCertStatus.REVOKED
    assert answer.revocation_reason is None


def status_of(der: bytes) -> str:
    return asn1_ocsp.OCSPResponse.load(der)["response_status"].native


def test_foreign_issuer_in_any_position_is_unauthorized(pki: Pki, responder: OcspResponder) -> None:
    foreign = asn1_ocsp.OCSPRequest.load(
        ocsp.OCSPRequestBuilder()
        .add_certificate(pki.foreign_leaf.certificate, pki.foreign_ca.certificate, hashes.SHA256())
        .build()
        .public_bytes(serialization.Encoding.DER)
    )
    ours = asn1_ocsp.OCSPRequest.load(request_der(pki))
    mixed = asn1_ocsp.OCSPRequest(
        {
            "tbs_request": {
                "request_list": [
                    ours["tbs_request"]["request_list"][0],
                    foreign["tbs_request"]["request_list"][0],
                ]
            }
        }
    ).dump()
    assert status_of(responder.respond(foreign.dump())) == "unauthorized"
    assert status_of(responder.respond(mixed)) == "unauthorized"


def request_for_serial(pki: Pki, serial: int, issuer_key_hash: bytes | None = None) -> bytes:
    """A SHA-256 CertID request for any serial under our issuer (or a forged key hash)."""
    name_hash = hashlib.sha256(pki.issuing.certificate.subject.public_bytes()).digest()
    key_hash = (
        issuer_key_hash
        or ocsp.load_der_ocsp_request(request_der(pki, hashes.SHA256())).issuer_key_hash
    )
    cert_id = {
        "hash_algorithm": {"algorithm": "sha256"},
        "issuer_name_hash": name_hash,
        "issuer_key_hash": key_hash,
        "serial_number": serial,
    }
    request = {"tbs_request": {"request_list": [{"req_cert": cert_id}]}}
    return asn1_ocsp.OCSPRequest(request).dump()


def test_our_issuer_name_with_another_key_is_unauthorized(
    pki: Pki, responder: OcspResponder
) -> None:
    serial = pki.leaf.certificate.serial_number
    assert status_of(responder.respond(request_for_serial(pki, serial))) == "successful"
    forged = request_for_serial(pki, serial, issuer_key_hash=b"\x01" * 32)
    assert status_of(responder.respond(forged)) == "unauthorized"


@pytest.mark.parametrize(
    "bad",
    [
        b"",
        b"\x00",
        b"\x30\x80\x00\x00",
        b"\xff" * 100,
        b"x" * 100_000,
        "not bytes",
        None,
    ],
)
def test_malformed_input_never_raises(responder: OcspResponder, bad: object) -> None:
    assert status_of(responder.respond(bad)) == "malformed_request"  # type: ignore[arg-type]


def test_truncated_trailing_and_oversized_nonce_requests_are_malformed(
    pki: Pki, responder: OcspResponder
) -> None:
    good = request_der(pki)
    assert status_of(responder.respond(good)) == "successful"
    assert status_of(responder.respond(good[:-3])) == "malformed_request"
    assert status_of(responder.respond(good + b"\x00")) == "malformed_request"
    too_long_nonce = request_der(pki, nonce=b"n" * 33)
    assert status_of(responder.respond(too_long_nonce)) == "malformed_request"
    empty_list = asn1_ocsp.OCSPRequest({"tbs_request": {"request_list": []}}).dump()
    assert status_of(responder.respond(empty_list)) == "malformed_request"


def test_status_source_failure_is_internal_error(pki: Pki) -> None:
    class Broken:
        def status_of(self, serial: int) -> CertificateStatusFacts | None:
            raise RuntimeError("database is down")

    responder = make_responder(pki, StatusTable({}))
    responder._statuses = Broken()  # the wiring a store failure would produce
    assert status_of(responder.respond(request_der(pki))) == "internal_error"


def test_responses_without_nonce_are_cached_and_nonce_ones_fresh(
    pki: Pki, table: StatusTable
) -> None:
    clock = Clock(NOW)
    responder = make_responder(pki, table, clock=clock)
    first = responder.respond(request_der(pki))
    clock.now += timedelta(minutes=10)
    assert responder.respond(request_der(pki)) == first
    assert table.reads == 1
    # SHA-256 CertIDs are cached on their own: a response must echo the CertID it was asked.
    sha256 = responder.respond(request_der(pki, hashes.SHA256()))
    assert load(sha256).hash_algorithm.name == "sha256"
    assert responder.cached_count == 2

    with_nonce = [responder.respond(request_der(pki, nonce=n)) for n in (b"a" * 16, b"b" * 16)]
    assert table.reads == 4 and responder.cached_count == 2
    nonces = [
        load(d).extensions.get_extension_for_class(x509.OCSPNonce).value.nonce for d in with_nonce
    ]
    assert nonces == [b"a" * 16, b"b" * 16]
    assert load(with_nonce[0]).this_update_utc == NOW + timedelta(minutes=10)


def test_cache_is_refreshed_shortly_before_next_update(pki: Pki, table: StatusTable) -> None:
    clock = Clock(NOW)
    responder = make_responder(
        pki, table, clock=clock, validity=timedelta(hours=1), refresh_margin=timedelta(minutes=5)
    )
    first = responder.respond(request_der(pki))
    clock.now = NOW + timedelta(minutes=54, seconds=59)
    assert responder.respond(request_der(pki)) == first
    clock.now = NOW + timedelta(minutes=55)
    renewed = load(responder.respond(request_der(pki)))
    assert renewed.this_update_utc == NOW + timedelta(minutes=55)
    assert renewed.next_update_utc == NOW + timedelta(minutes=115)


def test_invalidate_drops_only_that_serial_and_invalidate_all_drops_all(
    pki: Pki, table: StatusTable
) -> None:
    other = x509.random_serial_number()
    table.statuses[other] = GOOD
    responder = make_responder(pki, table, clock=Clock(NOW))
    responder.preproduce(pki.leaf.certificate.serial_number)
    responder.preproduce(other)
    assert responder.cached_count == 4
    responder.invalidate(other)
    assert responder.cached_count == 2
    reads = table.reads
    responder.respond(request_der(pki, hashes.SHA256()))
    assert table.reads == reads  # served from what preproduce signed
    responder.invalidate_all()
    assert responder.cached_count == 0


def test_status_change_during_signing_does_not_poison_the_cache(pki: Pki) -> None:
    serial = pki.leaf.certificate.serial_number
    responder: OcspResponder

    class ChangesWhileRead:
        """Revokes the certificate (and announces it) right after answering 'good'."""

        def __init__(self) -> None:
            self.facts = GOOD

        def status_of(self, asked: int) -> CertificateStatusFacts | None:
            answer = self.facts
            if answer is GOOD:
                self.facts = CertificateStatusFacts(
                    CertificateStatus.REVOKED, NOW, x509.ReasonFlags.key_compromise
                )
                responder.invalidate(asked)
            return answer

    responder = make_responder(pki, StatusTable({}), clock=Clock(NOW))
    responder._statuses = ChangesWhileRead()
    assert load(responder.respond(request_der(pki))).certificate_status is ocsp.OCSPCertStatus.GOOD
    assert responder.cached_count == 0
    again = load(responder.respond(request_der(pki)))
    assert again.certificate_status is ocsp.OCSPCertStatus.REVOKED
    assert again.serial_number == serial


def test_cache_is_bounded(pki: Pki, table: StatusTable) -> None:
    responder = make_responder(pki, table, clock=Clock(NOW), max_cached=3)
    for serial in range(1, 6):
        responder.respond(request_for_serial(pki, serial))
    assert responder.cached_count == 3


def test_concurrent_answers_and_invalidations(pki: Pki, table: StatusTable) -> None:
    responder = make_responder(pki, table)
    requests = [
        request_der(pki),
        request_der(pki, hashes.SHA256()),
        request_der(pki, nonce=b"z" * 20),
    ]
    failures: list[BaseException] = []

    def ask() -> None:
        try:
            for i in range(60):
                answer = load(responder.respond(requests[i % 3]))
                assert answer.certificate_status is ocsp.OCSPCertStatus.GOOD
                if i % 7 == 0:
                    responder.invalidate(pki.leaf.certificate.serial_number)
                if i % 29 == 0:
                    responder.invalidate_all()
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert failures == []


def test_misconfigured_signer_is_refused(pki: Pki, table: StatusTable) -> None:
    with pytest.raises(ResponderMisconfigured, match="signer_key"):
        OcspResponder(
            issuer=pki.issuing.certificate, signer=pki.ocsp_signer.certificate,
            signer_key=pki.leaf.key, statuses=table,
        )  # fmt: skip
    with pytest.raises(ResponderMisconfigured, match="not issued by"):
        OcspResponder(
            issuer=pki.foreign_ca.certificate, signer=pki.ocsp_signer.certificate,
            signer_key=pki.ocsp_signer.key, statuses=table,
        )  # fmt: skip
    with pytest.raises(ResponderMisconfigured, match="OCSPSigning"):
        OcspResponder(
            issuer=pki.issuing.certificate, signer=pki.leaf.certificate,
            signer_key=pki.leaf.key, statuses=table,
        )  # fmt: skip


def test_status_facts_are_consistent() -> None:
    with pytest.raises(ValueError, match="revoked_at"):
        CertificateStatusFacts(CertificateStatus.REVOKED)
    with pytest.raises(ValueError, match="revoked_at"):
        CertificateStatusFacts(CertificateStatus.GOOD, NOW)


def test_parse_get_path_variants(pki: Pki) -> None:
    der = request_der(pki, nonce=b"\xfb\xff" * 8)  # bytes whose base64 uses + and /
    standard = base64.b64encode(der).decode()
    assert "+" in standard or "/" in standard
    assert parse_get_path(standard) == der
    assert parse_get_path(urllib.parse.quote(standard, safe="")) == der
    assert parse_get_path(base64.urlsafe_b64encode(der).decode().rstrip("=")) == der
    assert parse_get_path(standard.replace("+", " ")) == der
    for bad in ("", "!!!!", "%ff%fe", "a"):
        with pytest.raises(OcspGetPathInvalid):
            parse_get_path(bad)


def test_get_with_bad_path_is_malformed(responder: OcspResponder) -> None:
    assert status_of(responder.respond_to_get("%%%")) == "malformed_request"
