"""The rendered PDF is something pyHanko can sign at the layout's seal rectangle, and the
attachment survives the incremental update."""

import datetime as dt
import io

from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import fields, signers

from certs.catalogue import load_catalogue
from certs.document import extract_licence_data


def test_pyhanko_signs_at_the_seal_rectangle(rendered):
    path, data, _, _ = rendered["yyzz"]
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test seal")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(1)
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=1)).sign(key, hashes.SHA256()))
    signer = signers.SimpleSigner(
        signing_cert=asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER)),
        signing_key=asn1_keys.PrivateKeyInfo.load(key.private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption())),
        cert_registry=None,
    )
    seal = load_catalogue().get("yyzz").layout.seal
    writer = IncrementalPdfFileWriter(io.BytesIO(path.read_bytes()))
    out = signers.sign_pdf(
        writer,
        signers.PdfSignatureMetadata(field_name="Seal"),
        signer=signer,
        new_field_spec=fields.SigFieldSpec("Seal", on_page=0, box=seal),
    )
    signed = out.getvalue()
    reader = PdfFileReader(io.BytesIO(signed))
    assert len(reader.embedded_signatures) == 1
    assert extract_licence_data(signed)["data"] == data
