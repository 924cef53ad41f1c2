"""Forgeries built from genuine licences, after the published attacks on PDF signatures
(Mladenov et al., "1 Trillion Dollar Refund", CCS 2019; Mainka et al., shadow attacks,
NDSS 2021; Rohlmann et al., Evil Annotation / Sneaky Signature, S&P 2021) and on signed
QR payloads. Each returns the forged bytes; the tests say what the verifier must answer.

Import as `import verify_forgeries` (tests/verify is on sys.path through pytest's rootdir
insertion for test modules)."""

from __future__ import annotations

import datetime as dt
import io
import re

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.generic import pdf_name, pdf_string
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

from certs.canonical import canonical_json
from certs.qr import QrClaims, decode_qr_payload, encode_qr_payload


def _byte_range(pdf: bytes) -> tuple[re.Match, list[int]]:
    match = re.search(rb"/ByteRange\s*\[\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*\]", pdf)
    assert match is not None
    return match, [int(v) for v in match.groups()]


def _writer(pdf: bytes) -> IncrementalPdfFileWriter:
    return IncrementalPdfFileWriter(io.BytesIO(pdf), strict=False)


def _out(writer: IncrementalPdfFileWriter) -> bytes:
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


# -- byte-level ---------------------------------------------------------------------------
def flip_signed_byte(pdf: bytes) -> bytes:
    """One changed byte inside the signed range, in the middle of the longest stream before
    the signature (so the file still parses and only the digest can tell)."""
    _, (_, first_len, _, _) = _byte_range(pdf)
    spans = [(m.end(), pdf.find(b"endstream", m.end()))
             for m in re.finditer(rb"(?<!end)stream\r?\n", pdf[:first_len])]
    spans = [(start, end) for start, end in spans if 0 < end < first_len]
    start, end = max(spans, key=lambda span: span[1] - span[0])
    position = (start + end) // 2
    return pdf[:position] + bytes([pdf[position] ^ 0x01]) + pdf[position + 1:]


def truncate_signed_range(pdf: bytes, keep: int = 4096) -> bytes:
    """Cut the file inside the second signed range: the ByteRange now claims bytes beyond
    the end of file."""
    _, (_, _, second_start, _) = _byte_range(pdf)
    return pdf[:second_start + 16] + b"\n%%EOF\n"


def empty_contents(pdf: bytes) -> bytes:
    """Universal Signature Forgery, variant 'Contents emptied': the signature value zeroed."""
    _, (_, first_len, second_start, _) = _byte_range(pdf)
    gap = pdf[first_len:second_start]  # b"<hex...>"
    return pdf[:first_len] + b"<" + b"0" * (len(gap) - 2) + b">" + pdf[second_start:]


def shrink_byte_range(pdf: bytes) -> bytes:
    """Universal Signature Forgery, variant 'ByteRange manipulated': the second range stops
    short, leaving the file's tail (where an attacker would put content) unsigned."""
    match, (a, b, c, d) = _byte_range(pdf)
    old = match.group(0)
    new = f"/ByteRange [{a} {b} {c} {d - 200}]".encode()
    new = new + b" " * (len(old) - len(new))
    assert len(new) == len(old)
    return pdf[:match.start()] + new + pdf[match.end():]


# -- incremental updates after signing ---------------------------------------------------------
def overlay_page_content(pdf: bytes) -> bytes:
    """Incremental Saving Attack: a new revision appends a content stream that paints a
    white box over a field and writes another value."""
    writer = _writer(pdf)
    font = writer.add_object(generic.DictionaryObject({
        pdf_name("/Type"): pdf_name("/Font"), pdf_name("/Subtype"): pdf_name("/Type1"),
        pdf_name("/BaseFont"): pdf_name("/Helvetica")}))
    stream = writer.add_object(generic.StreamObject(
        stream_data=b"q 1 1 1 rg 60 520 480 60 re f Q BT /FX 14 Tf 0 0 0 rg 70 540 Td "
                    b"(FORGED VALUE) Tj ET"))
    writer.add_stream_to_page(0, stream, resources=generic.DictionaryObject({
        pdf_name("/Font"): generic.DictionaryObject({pdf_name("/FX"): font})}))
    return _out(writer)


def replace_page_contents(pdf: bytes) -> bytes:
    """Shadow attack, 'replace' variant: the page's /Contents points at another stream."""
    writer = _writer(pdf)
    page_ref = writer.root["/Pages"]["/Kids"].raw_get(0)
    page = page_ref.get_object()
    page["/Contents"] = writer.add_object(generic.StreamObject(
        stream_data=b"BT /F1 24 Tf 72 700 Td (A DIFFERENT LICENCE) Tj ET"))
    writer.mark_update(page_ref)
    return _out(writer)


def replace_attachment(pdf: bytes, new_data: dict) -> bytes:
    """Incremental Saving Attack on the machine-readable copy: licence.json replaced."""
    import json

    from pyhanko.pdf_utils.embed import EmbeddedFileObject, FileSpec

    writer = _writer(pdf)
    names_ref = writer.root.raw_get("/Names")
    names = names_ref.get_object()
    old_spec = names["/EmbeddedFiles"]["/Names"][1].get_object()
    envelope = json.loads(old_spec["/EF"]["/F"].get_object().data)
    envelope["data"] = new_data
    from certs.canonical import data_digest

    envelope["data_sha256"] = data_digest(new_data).hex()
    stream = EmbeddedFileObject.from_file_data(writer, canonical_json(envelope),
                                               mime_type="application/json")
    spec = FileSpec(file_spec_string="licence.json", embedded_data=stream).as_pdf_object()
    embedded = writer.add_object(generic.DictionaryObject({
        pdf_name("/Names"): generic.ArrayObject([pdf_string("licence.json"),
                                                 writer.add_object(spec)])}))
    names["/EmbeddedFiles"] = embedded
    writer.mark_update(names_ref)
    return _out(writer)


def cover_with_annotation(pdf: bytes, subtype: str = "/FreeText") -> bytes:
    """Evil Annotation: a second revision adds an annotation whose opaque appearance
    covers a field with other text."""
    writer = _writer(pdf)
    page_ref = writer.root["/Pages"]["/Kids"].raw_get(0)
    page = page_ref.get_object()
    rect = generic.ArrayObject([generic.FloatObject(v) for v in (60, 520, 540, 580)])
    appearance = writer.add_object(generic.StreamObject(
        dict_data={pdf_name("/Type"): pdf_name("/XObject"),
                   pdf_name("/Subtype"): pdf_name("/Form"),
                   pdf_name("/BBox"): generic.ArrayObject(
                       [generic.FloatObject(v) for v in (0, 0, 480, 60)])},
        stream_data=b"1 1 1 rg 0 0 480 60 re f"))
    annotation = writer.add_object(generic.DictionaryObject({
        pdf_name("/Type"): pdf_name("/Annot"), pdf_name("/Subtype"): pdf_name(subtype),
        pdf_name("/Rect"): rect, pdf_name("/Contents"): pdf_string("FORGED"),
        pdf_name("/DA"): pdf_string("/Helv 14 Tf 0 g"), pdf_name("/F"): generic.NumberObject(4),
        pdf_name("/AP"): generic.DictionaryObject({pdf_name("/N"): appearance}),
        pdf_name("/P"): page_ref}))
    annots = page.get("/Annots")
    if annots is None:
        page["/Annots"] = generic.ArrayObject([annotation])
    else:
        annots = annots.get_object()
        annots.append(annotation)
    writer.mark_update(page_ref)
    return _out(writer)


# -- signatures by someone else -----------------------------------------------------------
def self_signed_twin(genuine: x509.Certificate) -> tuple[ec.EllipticCurvePrivateKey,
                                                         x509.Certificate]:
    """A self-signed certificate that copies the genuine seal certificate's subject, key
    usage and validity: only the issuer's signature differs."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(genuine.subject).issuer_name(genuine.subject)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=365))
        .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=True,
                                     key_encipherment=False, data_encipherment=False,
                                     key_agreement=False, key_cert_sign=True, crl_sign=False,
                                     encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return key, certificate


def stranger(name: str = "伪造市市场监督管理局") -> tuple[ec.EllipticCurvePrivateKey,
                                                          x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    certificate = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
                   .public_key(key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now - dt.timedelta(days=1))
                   .not_valid_after(now + dt.timedelta(days=30))
                   .sign(key, hashes.SHA256()))
    return key, certificate


# -- QR payloads ---------------------------------------------------------------------------
def qr_with_changed_claim(text: str, **changes) -> str:
    """Decode, change a claim, re-encode keeping the original signature bytes."""
    import zlib

    import base45
    import cbor2

    from certs.qr import PREFIX

    cose = cbor2.loads(zlib.decompress(base45.b45decode(text[len(PREFIX):])))
    protected, unprotected, payload, signature = cose.value
    claims = cbor2.loads(payload)
    keys = {"licence_id": 1, "holder_name": 3, "valid_until": 6}
    for name, value in changes.items():
        claims[keys[name]] = value
    forged = cbor2.dumps(cbor2.CBORTag(18, [protected, unprotected, cbor2.dumps(claims),
                                            signature]))
    return PREFIX + base45.b45encode(zlib.compress(forged, 9)).decode("ascii")


def qr_signed_by(text: str, key: ec.EllipticCurvePrivateKey, kid: bytes) -> str:
    """The same claims, signed by another key that claims key id ``kid``."""
    claims = decode_qr_payload(text).claims
    fields = {**claims.__dict__, "kid": kid}
    return encode_qr_payload(QrClaims(**fields),
                             sign=lambda m: key.sign(m, ec.ECDSA(hashes.SHA256())))


def add_second_signature(pdf: bytes) -> bytes:
    """Sneaky Signature: the forger signs the sealed document again (an approval
    signature with a visible field) in an incremental update."""
    from asn1crypto import keys as asn1_keys
    from asn1crypto import x509 as asn1_x509
    from cryptography.hazmat.primitives import serialization
    from pyhanko.sign import signers
    from pyhanko.sign.fields import SigFieldSpec
    from pyhanko_certvalidator.registry import SimpleCertificateStore

    key, certificate = stranger("验讫")
    signer = signers.SimpleSigner(
        signing_cert=asn1_x509.Certificate.load(
            certificate.public_bytes(serialization.Encoding.DER)),
        signing_key=asn1_keys.PrivateKeyInfo.load(key.private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption())),
        cert_registry=SimpleCertificateStore())
    from unittest import mock

    writer = _writer(pdf)
    out = io.BytesIO()
    # The forger's tool ignores the certification's "no changes" (pyHanko honours it).
    with mock.patch("pyhanko.sign.validation.read_certification_data", return_value=None):
        signers.PdfSigner(
            signers.PdfSignatureMetadata(field_name="Approval"), signer,
            new_field_spec=SigFieldSpec("Approval", on_page=0, box=(60, 520, 540, 580)),
        ).sign_pdf(writer, output=out)
    return out.getvalue()


# -- signature wrapping and shadow attacks ----------------------------------------------------
def signature_wrapping(pdf: bytes) -> bytes:
    """Signature Wrapping Attack (Mladenov et al.): a new object is inserted between the end
    of /Contents' hex string and the second signed range, and the ByteRange numbers are
    rewritten in place (same length, padded with spaces) so the second range starts after
    the inserted bytes; the signed bytes themselves are unchanged."""
    match, (a, b, c, d) = _byte_range(pdf)
    inserted = (b"\n999 0 obj\n<< /Length 44 >>\nstream\n"
                b"BT /F1 24 Tf 72 700 Td (WRAPPED) Tj ET\nendstream\nendobj\n")
    old = match.group(0)
    new = f"/ByteRange [{a} {b} {c + len(inserted)} {d}]".encode()
    assert len(new) <= len(old)
    new = new + b" " * (len(old) - len(new))
    rewritten = pdf[:match.start()] + new + pdf[match.end():]
    return rewritten[:c] + inserted + rewritten[c:]


def _overwrite(writer: IncrementalPdfFileWriter, ref, obj) -> None:
    """Give the object number of ``ref`` a new body in the next revision (a shadow
    attack's 'same object number, other content')."""
    writer.objects[(ref.generation, ref.idnum)] = obj


def hide_page_object(pdf: bytes) -> bytes:
    """Shadow attack 'hide': a new revision overwrites the page's XObject (the QR code
    and seal artwork live there) with an empty form XObject of the same object number."""
    writer = _writer(pdf)
    page = writer.root["/Pages"]["/Kids"][0]
    xobjects = page["/Resources"]["/XObject"]
    for name in list(xobjects.keys()):
        ref = xobjects.raw_get(name)
        _overwrite(writer, ref, generic.StreamObject(
            dict_data={pdf_name("/Type"): pdf_name("/XObject"),
                       pdf_name("/Subtype"): pdf_name("/Form"),
                       pdf_name("/BBox"): generic.ArrayObject(
                           [generic.FloatObject(v) for v in (0, 0, 1, 1)])},
            stream_data=b""))
    return _out(writer)


def hide_and_replace_page(pdf: bytes) -> bytes:
    """Shadow attack 'hide-and-replace': a new revision overwrites both the page's content
    stream and its font resources (same object numbers) with the forger's own."""
    writer = _writer(pdf)
    page = writer.root["/Pages"]["/Kids"][0]
    contents_ref = page.raw_get("/Contents")
    fonts_ref = page["/Resources"].raw_get("/Font")
    font = generic.DictionaryObject({
        pdf_name("/Type"): pdf_name("/Font"), pdf_name("/Subtype"): pdf_name("/Type1"),
        pdf_name("/BaseFont"): pdf_name("/Helvetica")})
    _overwrite(writer, fonts_ref, generic.DictionaryObject({pdf_name("/F1"): font}))
    _overwrite(writer, contents_ref, generic.StreamObject(
        stream_data=b"BT /F1 24 Tf 72 700 Td (A DIFFERENT LICENCE) Tj ET"))
    return _out(writer)
