"""OCSP figures: our responder (POST /pki/ocsp of ``certseal serve``) against ``openssl
ocsp`` as a responder, both driven by ApacheBench (``ab``, Debian's apache2-utils) with
the same request shape, at concurrency 1 and 16, plus our answer rate at 16 while an idle
connection is held open (a single-threaded responder stalls behind it).

The baseline cannot respond for our issuing CA: its OCSP signing key lives in the HSM and
is not extractable, and ``openssl ocsp`` needs the key as a file. So the baseline responds
for a software CA of the same shape, built here: P-256 issuing CA, a delegated P-256 OCSP
signer (id-kp-OCSPSigning), and as many issued certificates as our issuing CA has, in an
``index.txt``. Every ``ab`` run is time-boxed: on timeout ab gets SIGINT (it prints what
it measured so far) and then SIGKILL; the responder is killed at the end whatever its state.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509 import ocsp
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from sqlalchemy import func, select

from ca.models import IssuedCertificate
from ca.store import get_certificate
from seal.registry import active_seal_of

OCSP_TYPE = "application/ocsp-request"


def ab_available() -> bool:
    return shutil.which("ab") is not None


@dataclass(frozen=True)
class AbResult:
    concurrency: int
    requested: int
    complete: int
    failed: int
    non_2xx: int
    rate_per_s: float
    p50_ms: float
    p99_ms: float
    timed_out: bool

    @property
    def all_answered(self) -> bool:
        return (not self.timed_out and self.complete == self.requested
                and self.failed == 0 and self.non_2xx == 0)

    def summary(self) -> dict:
        return {**self.__dict__, "all_answered": self.all_answered}


def run_ab(url: str, body: Path, *, requests: int, concurrency: int,
           timeout_s: float) -> AbResult:
    command = ["ab", "-q", "-n", str(requests), "-c", str(concurrency), "-s", "5",
               "-p", str(body), "-T", OCSP_TYPE, url]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               start_new_session=True)
    timed_out = False
    try:
        out, _ = process.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        timed_out = True
        process.send_signal(signal.SIGINT)  # ab prints its results so far on SIGINT
        try:
            out, _ = process.communicate(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            out, _ = process.communicate()
    text = out.decode(errors="replace")

    def number(pattern: str) -> float:
        match = re.search(pattern, text, re.MULTILINE)
        return float(match.group(1)) if match else 0.0

    # ab counts a response whose length differs from the first as failed ("Length"):
    # ECDSA signatures vary by a byte or two, so freshly signed answers differ. Not errors.
    length_mismatches = int(number(r"Length:\s+(\d+),\s+Exceptions"))
    return AbResult(
        concurrency=concurrency, requested=requests,
        complete=int(number(r"^Complete requests:\s+(\d+)")),
        failed=int(number(r"^Failed requests:\s+(\d+)")) - length_mismatches,
        non_2xx=int(number(r"^Non-2xx responses:\s+(\d+)")),
        rate_per_s=number(r"^Requests per second:\s+([\d.]+)"),
        p50_ms=number(r"^\s+50%\s+(\d+)"), p99_ms=number(r"^\s+99%\s+(\d+)"),
        timed_out=timed_out or "apr_pollset_poll: The timeout specified has expired" in text,
    )


def request_for(certificate: x509.Certificate, issuer: x509.Certificate) -> bytes:
    """A nonce-less request (as browsers and RFC 5019 clients send: cacheable answers)."""
    return (ocsp.OCSPRequestBuilder().add_certificate(certificate, issuer, hashes.SHA1())  # noqa: S303 (CertID hash RFC 5019 mandates)
            .build().public_bytes(serialization.Encoding.DER))


def our_request(under_test) -> bytes:
    domain = under_test.domain
    with domain.session() as session:
        seal = active_seal_of(session, under_test.department_id)
        certificate = x509.load_der_x509_certificate(
            get_certificate(session, seal.certificate_serial).der)
    return request_for(certificate, domain.certificates().issuing)


def check_answer(url: str, request: bytes) -> str:
    """POST one request and read the answer: "good" when it is a successful, signed
    answer saying good (so ab's figures count real answers, for both responders)."""
    import httpx

    response = httpx.post(url, content=request, headers={"Content-Type": OCSP_TYPE},
                          timeout=10)
    answer = ocsp.load_der_ocsp_response(response.content)
    if answer.response_status != ocsp.OCSPResponseStatus.SUCCESSFUL:
        return answer.response_status.name.lower()
    return answer.certificate_status.name.lower()


def in_process(under_test, request: bytes, count: int, budget_s: float):
    """The responder alone, no HTTP: what ``domain.ocsp_responder().respond`` costs (as
    the route calls it: the status-follow check included)."""
    from bench.measure import time_calls

    domain = under_test.domain
    return {
        "respond_only": time_calls(lambda: domain.ocsp_responder().respond(request), count,
                                   budget_s=budget_s),
    }


def issued_count(under_test) -> int:
    with under_test.domain.session() as session:
        return session.exec(select(func.count()).select_from(IssuedCertificate)).one()[0]


# -- the software CA of the same shape, and openssl's responder -------------------------
def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "certseal bench"),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _certificate(subject: str, key, issuer_name: x509.Name, issuer_key, *, ca: bool,
                 eku=None) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC)
    builder = (x509.CertificateBuilder().subject_name(_name(subject)).issuer_name(issuer_name)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - dt.timedelta(minutes=5))
               .not_valid_after(now + dt.timedelta(days=365))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if eku:
        builder = builder.add_extension(x509.ExtendedKeyUsage(eku), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def software_ca(directory: Path, certificates: int) -> dict[str, Path | bytes]:
    """Issuing CA, OCSP signer and ``certificates`` end-entity certificates (P-256)."""
    directory.mkdir(parents=True, exist_ok=True)
    curve = ec.SECP256R1()
    ca_key = ec.generate_private_key(curve)
    ca_cert = _certificate("bench issuing CA", ca_key, _name("bench issuing CA"), ca_key,
                           ca=True)
    signer_key = ec.generate_private_key(curve)
    signer = _certificate("bench OCSP signer", signer_key, ca_cert.subject, ca_key, ca=False,
                          eku=[ExtendedKeyUsageOID.OCSP_SIGNING])
    leaf_key = ec.generate_private_key(curve)
    leaves = [_certificate(f"bench end entity {i}", leaf_key, ca_cert.subject, ca_key,
                           ca=False) for i in range(max(1, certificates))]
    index = "".join(
        f"V\t{c.not_valid_after_utc:%y%m%d%H%M%S}Z\t\t{c.serial_number:X}\tunknown\t"
        f"/{c.subject.rfc4514_string().replace(',', '/')}\n" for c in [*leaves, signer])
    pem = serialization.Encoding.PEM
    paths = {"ca": directory / "ca.pem", "signer": directory / "ocsp.pem",
             "key": directory / "ocsp.key", "index": directory / "index.txt",
             "request": directory / "request.der"}
    paths["ca"].write_bytes(ca_cert.public_bytes(pem))
    paths["signer"].write_bytes(signer.public_bytes(pem))
    paths["key"].write_bytes(signer_key.private_bytes(
        pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    paths["index"].write_text(index)
    paths["request"].write_bytes(request_for(leaves[0], ca_cert))
    return paths


@contextlib.contextmanager
def openssl_responder(paths: dict, port: int) -> Iterator[str]:
    command = ["openssl", "ocsp", "-index", str(paths["index"]), "-port", str(port),
               "-rsigner", str(paths["signer"]), "-rkey", str(paths["key"]),
               "-CA", str(paths["ca"]), "-nmin", "60", "-ignore_err"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
    try:
        # Wait for the listening socket without connecting to it: a connection that
        # closes without a request leaves openssl's single-threaded responder stuck.
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not _listening(port):
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}/"
    finally:
        with contextlib.suppress(ProcessLookupError):
            process.kill()  # it may spin after a stall: no grace
        process.wait(timeout=5)


def _listening(port: int) -> bool:
    hex_port = f":{port:04X} "
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                if hex_port in fields[1] + " " and fields[3] == "0A":  # 0A: LISTEN
                    return True
    return False


@contextlib.contextmanager
def idle_connection(port: int) -> Iterator[socket.socket]:
    """A client that connects and says nothing (a slow or broken counter)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    try:
        yield sock
    finally:
        sock.close()


ROUNDS = 3


def compare(ours_url: str, ours_request: Path, baseline_url: str, baseline_request: Path,
            *, requests: int, timeout_s: float, ours_port: int) -> dict:
    """Ours and openssl at concurrency 1 and 16, interleaved (ours, openssl, ours, ...)
    over ROUNDS rounds so that load drift on a shared machine hits both alike; each
    figure is the run with the median rate of its ROUNDS (all rates are kept), and
    "all answered" must hold in every round. Then ours at 16 with an idle connection.
    Each responder first answers a warm-up run (its first answers are produced)."""
    answers = {"ours": check_answer(ours_url, ours_request.read_bytes()),
               "openssl": check_answer(baseline_url, baseline_request.read_bytes())}
    targets = {"ours": (ours_url, ours_request), "openssl": (baseline_url, baseline_request)}
    for url, body in targets.values():
        run_ab(url, body, requests=min(200, requests), concurrency=1, timeout_s=timeout_s)
    runs: dict[str, list[AbResult]] = {}
    for _ in range(ROUNDS):
        for concurrency in (1, 16):
            for name, (url, body) in targets.items():
                runs.setdefault(f"{name}_c{concurrency}", []).append(run_ab(
                    url, body, requests=requests, concurrency=concurrency,
                    timeout_s=timeout_s))
    results: dict[str, dict] = {}
    for key, rounds in runs.items():
        median = sorted(rounds, key=lambda r: r.rate_per_s)[len(rounds) // 2]
        results[key] = {**median.summary(),
                        "all_answered": all(r.all_answered for r in rounds),
                        "rounds_rate_per_s": [r.rate_per_s for r in rounds]}
    with idle_connection(ours_port):
        results["ours_c16_idle_connection"] = run_ab(
            ours_url, ours_request, requests=requests, concurrency=16,
            timeout_s=timeout_s).summary()
    return {"answers": answers, "rounds": ROUNDS, **results}
