"""PAdES sealing checked by tools we did not write: pyHanko's validators and poppler."""

from __future__ import annotations

import asyncio
import io
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from asn1crypto import crl as asn1_crl
from asn1crypto import ocsp as asn1_ocsp
from cryptography import x509
from PIL import Image
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.fields import MDPPerm
from pyhanko.sign.validation import async_validate_pdf_signature
from pyhanko.sign.validation.dss import DocumentSecurityStore
from pyhanko.sign.validation.status import ModificationLevel, SignatureCoverageLevel
from pyhanko_certvalidator import ValidationContext
from seal_testing import BASE_URL, DEPARTMENT, REGION_NAME, USCC, SealDomain, assert_valid_b_lta

from ca.profiles import EsealProfile, PkiUrls, issue_certificate
from seal.pades import SealPlacement, async_seal_pdf, seal_pdf
from seal.sealing_errors import SealCertificateNotValid, SealingFailed, SealPlacementInvalid
from seal.signer import to_asn1
from seal.timestamping import InProcessTimeStamper

REASON = "电子证照签发"


def validate(pdf: bytes, root: x509.Certificate, **context: object):
    """pyHanko's own verdict on the document's first signature, trusting only `root`."""
    reader = PdfFileReader(io.BytesIO(pdf))
    signature = reader.embedded_signatures[0]
    vc = ValidationContext(trust_roots=[to_asn1(root)], allow_fetching=False, **context)
    return asyncio.run(async_validate_pdf_signature(signature, signer_validation_context=vc))


def test_sealed_licence_is_intact_valid_trusted_and_covers_the_whole_file(
        seal_domain: SealDomain, sealed_pdf: bytes) -> None:
    status = validate(sealed_pdf, seal_domain.certificates.root)
    assert status.intact and status.valid
    assert status.trusted, status.pretty_print_details()
    assert status.coverage is SignatureCoverageLevel.ENTIRE_FILE
    assert status.modification_level is ModificationLevel.NONE
    assert status.docmdp_ok
    assert status.md_algorithm == "sha256"
    assert status.pkcs7_signature_mechanism in ("sha256_ecdsa", "ecdsa")
    # The signature time-stamp comes from our TSA and checks out against the same root.
    ts = status.timestamp_validity
    assert ts is not None and ts.intact and ts.valid and ts.trusted
    assert ts.signing_cert.subject == to_asn1(seal_domain.certificates.tsa).subject
    assert abs(ts.timestamp - datetime.now(UTC)) < timedelta(minutes=5)
    assert status.signing_cert.subject == to_asn1(seal_domain.seal_certificate).subject


def test_sealed_licence_is_certified_against_changes(sealed_pdf: bytes) -> None:
    reader = PdfFileReader(io.BytesIO(sealed_pdf))
    signature = reader.embedded_signatures[0]
    assert signature.sig_object["/SubFilter"] == "/ETSI.CAdES.detached"
    assert signature.docmdp_level is MDPPerm.NO_CHANGES
    assert signature.sig_object["/Name"] == DEPARTMENT
    assert signature.sig_object["/Reason"] == REASON
    assert signature.sig_object["/Location"] == REGION_NAME


def test_validation_data_is_embedded_and_suffices_offline(
        seal_domain: SealDomain, sealed_pdf: bytes) -> None:
    reader = PdfFileReader(io.BytesIO(sealed_pdf))
    dss = DocumentSecurityStore.read_dss(reader)
    ocsps = [asn1_ocsp.OCSPResponse.load(r.get_object().data) for r in dss.ocsps]
    crls = [asn1_crl.CertificateList.load(r.get_object().data) for r in dss.crls]
    serials = {r["response_bytes"]["response"].parsed["tbs_response_data"]["responses"][0]
               ["cert_id"]["serial_number"].native for r in ocsps}
    assert seal_domain.seal_certificate.serial_number in serials
    issuing, root = seal_domain.certificates.issuing, seal_domain.certificates.root
    assert sorted(c.issuer.dump() for c in crls) == sorted(
        to_asn1(ca).subject.dump() for ca in (issuing, root))
    embedded = {c.dump() for c in dss.load_certs()}
    for certificate in (seal_domain.seal_certificate, issuing, seal_domain.certificates.tsa):
        assert to_asn1(certificate).dump() in embedded

    # Nothing but the root and what the PDF carries, and every certificate on the paths
    # must have revocation data (hard-fail): the signature and its time-stamp still check.
    vc = dss.as_validation_context({
        "trust_roots": [to_asn1(seal_domain.certificates.root)],
        "allow_fetching": False, "revocation_mode": "hard-fail",
    })
    signature = reader.embedded_signatures[0]
    status = asyncio.run(async_validate_pdf_signature(
        signature, signer_validation_context=vc, ts_validation_context=vc))
    assert status.bottom_line, status.pretty_print_details()
    assert status.revocation_details is None  # no revocation found for the signer
    assert status.timestamp_validity.trusted

    # Control: the same hard-fail check without the embedded data fails, so the check
    # above really depended on the DSS.
    bare = ValidationContext(trust_roots=[to_asn1(seal_domain.certificates.root)],
                             allow_fetching=False, revocation_mode="hard-fail",
                             crls=[], ocsps=[])
    assert not asyncio.run(async_validate_pdf_signature(
        signature, signer_validation_context=bare)).trusted


def test_pdfsig_says_cades_detached_and_valid(sealed_pdf: bytes, tmp_path: Path) -> None:
    path = tmp_path / "sealed.pdf"
    path.write_bytes(sealed_pdf)
    result = subprocess.run(["pdfsig", str(path)], capture_output=True, text=True,
                            timeout=30, check=False)
    out = result.stdout
    assert "Signature #1" in out and "Signature #2" not in out, out
    assert "Signature Type: ETSI.CAdES.detached" in out, out
    assert "Signature Validation: Signature is Valid." in out, out
    assert "Total document signed" in out, out
    assert f"Signer Certificate Common Name: {DEPARTMENT}" in out, out


def test_the_signature_widget_is_the_only_field_or_annotation_added(
        seal_domain: SealDomain, sealed_pdf: bytes) -> None:
    before = PdfFileReader(io.BytesIO(seal_domain.licence_pdf))
    assert "/AcroForm" not in before.root or not before.root["/AcroForm"].get("/Fields")
    reader = PdfFileReader(io.BytesIO(sealed_pdf))
    fields = reader.root["/AcroForm"]["/Fields"]
    assert len(fields) == 1
    field = fields[0].get_object()
    assert field["/FT"] == "/Sig" and field["/T"] == "Seal"
    for index in range(int(reader.root["/Pages"]["/Count"])):
        annots = reader.root["/Pages"]["/Kids"][index].get_object().get("/Annots", [])
        widgets = [a.get_object() for a in annots]
        if index == seal_domain.placement.page:
            assert len(widgets) == 1 and widgets[0]["/Subtype"] == "/Widget"
            assert [float(v) for v in widgets[0]["/Rect"]] == list(seal_domain.placement.box)
        else:
            assert widgets == []


def _red_share(png: Path, box: tuple[float, float, float, float],
               page_height: float, dpi: int) -> tuple[float, int]:
    """Share of seal-red pixels inside `box` (PDF points) and the count of such pixels
    outside it, on a page rendered at `dpi`."""
    image = Image.open(png).convert("RGB")
    scale = dpi / 72
    x1, y1, x2, y2 = box
    left, right = int(x1 * scale), int(x2 * scale)
    top, bottom = int((page_height - y2) * scale), int((page_height - y1) * scale)
    inside = outside = total_inside = 0
    pixels = image.load()
    for y in range(image.height):
        for x in range(image.width):
            r, g, b = pixels[x, y]
            red = r > 180 and g < 110 and b < 110
            if left <= x < right and top <= y < bottom:
                total_inside += 1
                inside += red
            else:
                outside += red
    return inside / total_inside, outside


def _render(pdf: bytes, directory: Path, name: str) -> Path:
    source = directory / f"{name}.pdf"
    source.write_bytes(pdf)
    subprocess.run(["pdftoppm", "-r", "80", "-png", "-f", "1", "-l", "1", "-singlefile",
                    str(source), str(directory / name)], check=True, timeout=60)
    return directory / f"{name}.png"


def test_the_red_seal_shows_at_the_layout_position_over_the_issuer(
        seal_domain: SealDomain, sealed_pdf: bytes, tmp_path: Path) -> None:
    page_height = 841.89  # A4
    box = seal_domain.placement.box
    sealed_share, sealed_outside = _red_share(
        _render(sealed_pdf, tmp_path, "sealed"), box, page_height, 80)
    plain_share, plain_outside = _red_share(
        _render(seal_domain.licence_pdf, tmp_path, "plain"), box, page_height, 80)
    assert plain_share == 0  # the unsigned page has no seal red there
    assert sealed_share > 0.10  # ring, name, star: a good part of the box is red
    assert sealed_outside == plain_outside  # and nothing red appeared elsewhere


def test_tampering_one_signed_byte_breaks_integrity(
        seal_domain: SealDomain, sealed_pdf: bytes) -> None:
    reader = PdfFileReader(io.BytesIO(sealed_pdf))
    start, length, _, _ = reader.embedded_signatures[0].sig_object["/ByteRange"]
    # A byte of the page content stream inside the first signed range: the file still
    # parses, only its digest changes.
    stream_at = sealed_pdf.index(b"stream", start, start + length)
    position = stream_at + 40
    tampered = bytearray(sealed_pdf)
    tampered[position] ^= 0x01
    status = validate(bytes(tampered), seal_domain.certificates.root)
    assert not status.intact
    assert not status.bottom_line


@pytest.mark.parametrize("shift", [timedelta(days=-30), timedelta(days=30)],
                         ids=["expired", "not-yet-valid"])
def test_a_certificate_not_valid_at_signing_time_is_refused(
        seal_domain: SealDomain, shift: timedelta) -> None:
    # Valid for one day, placed 30 days before (expired) or after (not yet valid) now.
    certificate = issue_certificate(
        EsealProfile(DEPARTMENT, USCC, REGION_NAME, urls=PkiUrls(BASE_URL),
                     validity=timedelta(days=1)),
        subject_public_key=seal_domain.seal_key.public_key(),
        signing_key=seal_domain.keys.issuing.key,
        issuer_certificate=seal_domain.certificates.issuing,
        now=datetime.now(UTC) + shift,
    )
    calls: list[bytes] = []

    def tsa(request: bytes) -> bytes:
        calls.append(request)
        return seal_domain.tsa.respond(request)

    with pytest.raises(SealCertificateNotValid, match="seal certificate"):
        seal_pdf(seal_domain.licence_pdf, seal_domain.material(certificate=certificate),
                 seal_domain.placement, timestamper=InProcessTimeStamper(tsa),
                 validation=None, reason=REASON, location=REGION_NAME)
    assert calls == []  # refused before any time-stamp or signature was made


def test_validity_is_judged_at_the_given_signing_time(
        seal_domain: SealDomain, timestamper: InProcessTimeStamper) -> None:
    too_late = seal_domain.seal_certificate.not_valid_after_utc + timedelta(seconds=1)
    with pytest.raises(SealCertificateNotValid, match="expired"):
        seal_pdf(seal_domain.licence_pdf, seal_domain.material(), seal_domain.placement,
                 timestamper=timestamper, validation=None, reason=REASON,
                 location=REGION_NAME, signing_time=too_late)


def test_b_lt_refuses_to_seal_without_revocation_data_for_the_whole_chain(
        seal_domain: SealDomain, timestamper: InProcessTimeStamper) -> None:
    # Without the root's CRL nothing says the issuing CA is unrevoked: not B-LT.
    incomplete = seal_domain.validation(crls=(seal_domain.issuing_crl,))
    with pytest.raises(SealingFailed):
        seal_pdf(seal_domain.licence_pdf, seal_domain.material(), seal_domain.placement,
                 timestamper=timestamper, validation=incomplete, reason=REASON,
                 location=REGION_NAME)


def test_a_placement_beyond_the_last_page_is_refused(
        seal_domain: SealDomain, timestamper: InProcessTimeStamper) -> None:
    with pytest.raises(SealPlacementInvalid, match="page"):
        seal_pdf(seal_domain.licence_pdf, seal_domain.material(),
                 SealPlacement(page=3, box=(10, 10, 100, 100)), timestamper=timestamper,
                 validation=None, reason=REASON, location=REGION_NAME)
    with pytest.raises(ValueError, match="box"):
        SealPlacement(page=0, box=(100, 10, 10, 100))


def test_async_sealing_runs_from_an_event_loop_and_without_a_fixed_reservation(
        seal_domain: SealDomain, timestamper: InProcessTimeStamper) -> None:
    async def on_the_loop() -> bytes:
        return await async_seal_pdf(
            seal_domain.licence_pdf, seal_domain.material(), seal_domain.placement,
            timestamper=timestamper, validation=seal_domain.validation(), reason=REASON,
            location=REGION_NAME, bytes_reserved=None)

    sealed = asyncio.run(on_the_loop())
    status = validate(sealed, seal_domain.certificates.root)
    assert status.bottom_line and status.coverage is SignatureCoverageLevel.ENTIRE_FILE


def test_archive_timestamp_makes_b_lta(
        seal_domain: SealDomain, timestamper: InProcessTimeStamper) -> None:
    sealed = seal_pdf(seal_domain.licence_pdf, seal_domain.material(), seal_domain.placement,
                      timestamper=timestamper, validation=seal_domain.validation(),
                      reason=REASON, location=REGION_NAME, archive_timestamp=True,
                      ocsp_responder=seal_domain.ocsp.respond)
    # The seal's revision no longer ends the file, but what follows is allowed under P=1.
    assert_valid_b_lta(sealed, seal_domain.certificates.root)


def test_b_lta_embeds_answers_given_after_the_signature_time_stamp(
        seal_domain: SealDomain, timestamper: InProcessTimeStamper) -> None:
    import hashlib

    from asn1crypto import cms

    validation = seal_domain.validation()
    sealed = seal_pdf(seal_domain.licence_pdf, seal_domain.material(), seal_domain.placement,
                      timestamper=timestamper, validation=validation,
                      reason=REASON, location=REGION_NAME, archive_timestamp=True,
                      ocsp_responder=seal_domain.ocsp.respond)
    reader = PdfFileReader(io.BytesIO(sealed))
    seal_signature, archive = reader.embedded_signatures
    # Nothing but the signature in its revision: the DSS comes in the next one, with the
    # document time-stamp over it.
    signed = reader.get_historical_root(seal_signature.signed_revision)
    assert "/DSS" not in signed
    assert archive.signed_revision == seal_signature.signed_revision + 1
    assert "/DSS" in reader.get_historical_root(archive.signed_revision)
    token = next(a["values"][0] for a in seal_signature.signer_info["unsigned_attrs"]
                 if a["type"].native == "signature_time_stamp_token")
    assert isinstance(token, cms.ContentInfo)
    gen_time = token["content"]["encap_content_info"]["content"].parsed["gen_time"].native
    nonce = hashlib.sha256(token.dump()).digest()
    dss = DocumentSecurityStore.read_dss(reader)
    said = {}
    for ref in dss.ocsps:
        data = asn1_ocsp.OCSPResponse.load(ref.get_object().data)["response_bytes"][
            "response"].parsed["tbs_response_data"]
        (single,) = data["responses"]
        nonces = [e["extn_value"].native for e in data["response_extensions"]
                  if e["extn_id"].native == "nonce"]
        said[single["cert_id"]["serial_number"].native] = (nonces, single["this_update"].native)
    certs = seal_domain.certificates
    assert set(said) == {seal_domain.seal_certificate.serial_number, certs.tsa.serial_number}
    for nonces, this_update in said.values():
        assert nonces == [nonce] and this_update >= gen_time
    # The answers the pre-signing check used are not embedded: they predate the token.
    assert not set(validation.ocsp_responses) & {r.get_object().data for r in dss.ocsps}


def test_b_lta_needs_a_responder_for_the_later_answers(
        seal_domain: SealDomain, timestamper: InProcessTimeStamper) -> None:
    with pytest.raises(ValueError, match="ocsp_responder"):
        seal_pdf(seal_domain.licence_pdf, seal_domain.material(), seal_domain.placement,
                 timestamper=timestamper, validation=seal_domain.validation(),
                 reason=REASON, location=REGION_NAME, archive_timestamp=True)


def test_sealing_keeps_the_licence_pdfa_4f_with_no_info_dictionary(
        seal_domain: SealDomain, sealed_pdf: bytes, timestamper: InProcessTimeStamper) -> None:
    import pdfa_checks
    import pikepdf

    lta = seal_pdf(seal_domain.licence_pdf, seal_domain.material(), seal_domain.placement,
                   timestamper=timestamper, validation=seal_domain.validation(),
                   reason=REASON, location=REGION_NAME, archive_timestamp=True,
                   ocsp_responder=seal_domain.ocsp.respond)
    for sealed in (sealed_pdf, lta):
        found = pdfa_checks.check_pdfa4f(sealed)
        assert found.problems == [] and found.shown_glyphs > 100
        document = pikepdf.open(io.BytesIO(sealed))
        # PDF 2.0 from the header on: sealing had no reason to write a catalog /Version
        assert document.pdf_version == "2.0" and "/Version" not in document.Root
        assert "/Info" not in document.trailer
        meta = document.open_metadata()
        assert meta.pdfa_status == "4F" and meta["dc:creator"] == [DEPARTMENT]
        created = datetime.fromisoformat(meta["xmp:CreateDate"])
        assert datetime.fromisoformat(meta["xmp:ModifyDate"]) > created  # sealing updated it
