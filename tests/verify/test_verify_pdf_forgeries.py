"""Forgeries outside the generator's catalogue (test_verify_forgery_catalogue.py): a
changed signed byte, damaged signature field dictionaries, a re-signature by a twin of the
seal certificate, an unsealed render. Each comes out with exactly the checks it breaks."""

from __future__ import annotations

import io

import pytest
import verify_forgeries as forge
from cryptography.hazmat.primitives.serialization import Encoding
from PIL import Image, ImageDraw

from certs.licence_id import parse_licence_id
from certs.qr import kid_of_certificate
from certs.render import render_licence_pdf
from certs.samples import sample_licence_data
from verify.errors import UnusableInput


def failed_codes(report) -> set[str]:
    return {c.code for c in report.checks if c.outcome.value == "failed"}


@pytest.fixture(scope="module")
def genuine(trust_domain) -> bytes:
    return trust_domain.licences["yyzz"].pdf


def test_the_genuine_file_is_valid_so_each_forgery_below_is_judged_on_its_change(
        genuine, verify_synced_offline):
    assert verify_synced_offline(genuine).verdict == "valid"


def test_one_changed_byte_in_the_signed_range(genuine, verify_synced_offline):
    report = verify_synced_offline(forge.flip_signed_byte(genuine))
    assert report.verdict == "invalid"
    # pyHanko does not judge the chain of a signature that does not verify.
    assert failed_codes(report) == {"signature.integrity", "chain.trusted"}


@pytest.mark.parametrize("marker", [b"/FT /Sig", b"/AcroForm", b"/Fields"])
def test_a_changed_byte_in_the_signature_field_dictionaries(genuine, verify_synced_offline,
                                                           marker):
    """Damage where the signature field is declared: still a forgery, not an unsigned
    document (the file carries a signature's traces)."""
    at = genuine.find(marker)
    if at < 0:
        pytest.fail(f"{marker!r} not found in the genuine licence")
    forged = bytearray(genuine)
    forged[at + 2] ^= 0x01
    report = verify_synced_offline(bytes(forged))
    assert report.verdict == "invalid"
    assert failed_codes(report) == {"signature.integrity"}


def _seal_png() -> bytes:
    image = Image.new("RGBA", (200, 200), (0, 0, 0, 0))
    ImageDraw.Draw(image).ellipse((5, 5, 195, 195), outline=(200, 0, 0, 255), width=8)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def test_re_signature_by_a_self_signed_twin_of_the_seal_certificate(trust_domain,
                                                                    verify_synced_offline):
    """The attacker renders a licence of their own, signs its QR and seals it with a key
    whose self-signed certificate copies the department's subject, with a genuine
    time-stamp from the region's TSA: everything checks out except the chain."""
    from cryptography import x509

    from seal.pades import SealMaterial, SealPlacement, seal_pdf

    genuine = trust_domain.licences["yyzz"]
    services = trust_domain.domain.sealing_services()
    seal_cert = x509.load_pem_x509_certificate(
        trust_domain.domain.seal_certificate_path(trust_domain.seal_id).read_bytes())
    key, twin = forge.self_signed_twin(seal_cert)
    licence_type = trust_domain.domain.catalogue.get("yyzz")
    data = sample_licence_data("yyzz")
    data["名称"] = "冒名顶替有限公司"
    text = genuine_qr(genuine.pdf)
    qr = forge.qr_signed_by(text, key, kid_of_certificate(twin.public_bytes(Encoding.DER)))
    unsigned = render_licence_pdf(licence_type, parse_licence_id(genuine.licence_id), data,
                                  "广州市市场监督管理局", genuine.licence.issued_at, qr)
    forged = seal_pdf(unsigned, SealMaterial(key=key, certificate=twin, chain=(),
                                             image_png=_seal_png(), seal_name="Seal"),
                      SealPlacement(page=0, box=licence_type.layout.seal),
                      timestamper=services.timestamper, validation=None, reason="forged",
                      location="广东省")
    report = verify_synced_offline(forged)
    assert report.verdict == "invalid"
    # Its time-stamp is genuine but cannot be judged trusted either: the forger embedded
    # no revocation data for the TSA, and "at signing time" uses embedded data only. Its
    # QR claims the genuine data's digest beside the forger's data.
    assert failed_codes(report) == {"chain.trusted", "chain.trust_list", "timestamp.signature",
                                    "qr.matches_document"}


def genuine_qr(pdf: bytes) -> str:
    from verify.limits import DEFAULT_LIMITS
    from verify.pdf_qr import qr_texts_of_first_page

    (text,) = qr_texts_of_first_page(pdf, DEFAULT_LIMITS)
    return text


def test_an_unsealed_render_is_refused_as_not_signed(trust_domain, verify_offline):
    genuine = trust_domain.licences["yyzz"]
    licence_type = trust_domain.domain.catalogue.get("yyzz")
    unsigned = render_licence_pdf(licence_type, parse_licence_id(genuine.licence_id),
                                  sample_licence_data("yyzz"), "x", genuine.licence.issued_at,
                                  genuine_qr(genuine.pdf))
    with pytest.raises(UnusableInput, match="no signature"):
        verify_offline(unsigned)
