"""A small software PKI and a local HTTP server for the OCSP and TSA tests.

root -> issuing CA -> {OCSP signer (OCSPSigning, ocsp-nocheck), TSA (timeStamping, critical),
leaf}; plus an unrelated "foreign" CA with its own leaf, for requests we must refuse.
Plain software keys stand in for the HSM: the responders only call `key.sign(...)`.
"""

from __future__ import annotations

import http.server
import subprocess
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Issued:
    certificate: x509.Certificate
    key: ec.EllipticCurvePrivateKey
    pem_path: Path


@dataclass(frozen=True)
class Pki:
    root: Issued
    issuing: Issued
    ocsp_signer: Issued
    tsa: Issued
    leaf: Issued
    foreign_ca: Issued
    foreign_leaf: Issued


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "certseal test"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _issue(
    directory: Path,
    file_stem: str,
    common_name: str,
    serial: int,
    issuer: Issued | None,
    *,
    ca: bool,
    eku: tuple[list[x509.ObjectIdentifier], bool] | None = None,
    ocsp_nocheck: bool = False,
) -> Issued:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = _name(common_name)
    signing_key = issuer.key if issuer else key
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.certificate.subject if issuer else subject)
        .public_key(key.public_key())
        .serial_number(serial)
        # Real wall-clock validity: openssl checks certificates against its own clock.
        .not_valid_before(datetime.now(UTC) - timedelta(days=1))
        .not_valid_after(datetime.now(UTC) + timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.KeyUsage(
                digital_signature=not ca,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=ca,
                crl_sign=ca,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
    )
    if issuer:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()),
            critical=False,
        )
    if eku:
        usages, critical = eku
        builder = builder.add_extension(x509.ExtendedKeyUsage(usages), critical=critical)
    if ocsp_nocheck:
        builder = builder.add_extension(x509.OCSPNoCheck(), critical=False)
    certificate = builder.sign(signing_key, hashes.SHA256())
    pem_path = directory / f"{file_stem}.pem"
    pem_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return Issued(certificate, key, pem_path)


def build_pki(directory: Path) -> Pki:
    root = _issue(directory, "root", "Test Root CA", 1, None, ca=True)
    issuing = _issue(directory, "issuing", "Test Issuing CA", 2, root, ca=True)
    ocsp_signer = _issue(
        directory,
        "ocsp",
        "Test OCSP Signer",
        0x0C5,
        issuing,
        ca=False,
        eku=([ExtendedKeyUsageOID.OCSP_SIGNING], False),
        ocsp_nocheck=True,
    )
    tsa = _issue(
        directory,
        "tsa",
        "Test Time-Stamp Authority",
        0x75A,
        issuing,
        ca=False,
        eku=([ExtendedKeyUsageOID.TIME_STAMPING], True),
    )
    leaf = _issue(directory, "leaf", "Test E-Seal", 0x1EAF01, issuing, ca=False)
    foreign_ca = _issue(directory, "foreign-ca", "Foreign CA", 3, None, ca=True)
    foreign_leaf = _issue(directory, "foreign-leaf", "Foreign Leaf", 0x1EAF01, foreign_ca, ca=False)
    return Pki(root, issuing, ocsp_signer, tsa, leaf, foreign_ca, foreign_leaf)


Handler = Callable[[bytes], bytes]


@contextmanager
def serving(
    post: Handler, get: Callable[[str], bytes] | None = None, content_type: str = ""
) -> Iterator[str]:
    """Serve `post` (body -> body) and `get` (path after '/' -> body) on 127.0.0.1; yields URL."""

    class _Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            self._reply(post(body))

        def do_GET(self) -> None:
            if get is None:
                self.send_error(405)
                return
            self._reply(get(self.path.lstrip("/")))

        def _reply(self, answer: bytes) -> None:
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run an openssl command; returns the completed process with stdout and stderr text."""
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=30, check=False)
