"""Constants and the trust domain of the sealing tests (imported by conftest.py and tests)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from sqlalchemy.engine import Engine
from sqlmodel import Session

from ca.hierarchy import HierarchyKeys, TrustDomainCertificates
from ca.ocsp import OcspResponder
from ca.tsa import TimeStampAuthority
from hsm.keys import HsmPrivateKey
from hsm.token import Token
from seal.pades import SealMaterial, SealPlacement
from seal.validation_data import ValidationMaterial, gather_validation_material

REGION_CODE = "350000"
REGION_NAME = "福建省"
BASE_URL = "https://pki.example.fj.cn"
DEPARTMENT = "福州市市场监督管理局"
USCC = "91350100M000100Y43"  # the worked example of GB 32100


@dataclass(frozen=True)
class SealDomain:
    token: Token
    engine: Engine
    keys: HierarchyKeys
    certificates: TrustDomainCertificates
    seal_key: HsmPrivateKey
    seal_certificate: x509.Certificate
    tsa: TimeStampAuthority
    ocsp: OcspResponder
    issuing_crl: bytes
    root_crl: bytes
    licence_pdf: bytes
    placement: SealPlacement
    seal_image: bytes

    @property
    def chain(self) -> tuple[x509.Certificate, ...]:
        return (self.certificates.issuing, self.certificates.root)

    def material(self, key=None, certificate=None) -> SealMaterial:
        return SealMaterial(key=key or self.seal_key,
                            certificate=certificate or self.seal_certificate,
                            chain=self.chain, image_png=self.seal_image, seal_name=DEPARTMENT)

    def validation(self, certificate: x509.Certificate | None = None,
                   crls: tuple[bytes, ...] | None = None) -> ValidationMaterial:
        return gather_validation_material(
            seal_certificate=certificate or self.seal_certificate,
            chain=self.chain,
            ocsp_responder=self.ocsp.respond,
            crls=crls if crls is not None else (self.issuing_crl, self.root_crl),
            other_certificates=(self.certificates.tsa, self.certificates.ocsp),
        )

    def new_session(self) -> Session:
        return Session(self.engine, expire_on_commit=False)


def write_pem(path: Path, *certificates: x509.Certificate) -> Path:
    path.write_bytes(b"".join(c.public_bytes(Encoding.PEM) for c in certificates))
    return path


def assert_valid_b_lta(sealed: bytes, root: x509.Certificate) -> None:
    """The seal's signature validates trusting only ``root`` (no fetching) and what follows
    its revision is the document time-stamp PAdES allows under P=1."""
    import asyncio
    import io

    from asn1crypto import x509 as asn1_x509
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.diff_analysis import ModificationLevel
    from pyhanko.sign.validation import async_validate_pdf_signature
    from pyhanko_certvalidator import ValidationContext

    reader = PdfFileReader(io.BytesIO(sealed))
    seal_signature, archive = reader.embedded_signatures
    assert archive.sig_object["/Type"] == "/DocTimeStamp"
    vc = ValidationContext(trust_roots=[asn1_x509.Certificate.load(root.public_bytes(
        Encoding.DER))], allow_fetching=False)
    status = asyncio.run(async_validate_pdf_signature(seal_signature,
                                                      signer_validation_context=vc))
    assert status.bottom_line, status.pretty_print_details()
    assert status.modification_level <= ModificationLevel.LTA_UPDATES
