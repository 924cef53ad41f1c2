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
    """A licence of the default level, B-LTA (seal's revision, then DSS and document
    time-stamp)."""
    return trust_domain.licences["yyzz"].pdf


@pytest.fixture(scope="module")
def genuine_b_lt(trust_domain) -> bytes:
    return trust_domain.issue_b_lt("yyzz").pdf


def test_the_genuine_file_is_valid_so_each_forgery_below_is_judged_on_its_change(
        genuine, genuine_b_lt, verify_synced_offline):
    assert verify_synced_offline(genuine).verdict == "valid"
    assert verify_synced_offline(genuine_b_lt).verdict == "valid"


@pytest.mark.parametrize("level", ["B-LTA", "B-LT"])
def test_one_changed_byte_in_the_signed_range(genuine, genuine_b_lt, verify_synced_offline,
                                              level):
    report = verify_synced_offline(forge.flip_signed_byte(
        genuine if level == "B-LTA" else genuine_b_lt))
    assert report.verdict == "invalid"
    # pyHanko does not judge the chain of a signature that does not verify; a document
    # time-stamp covers the seal's revision too.
    assert failed_codes(report) == {"signature.integrity", "chain.trusted"} | (
        {"timestamp.document"} if level == "B-LTA" else set())


_SIGNED_REVISION_CHANGED = frozenset({"signature.integrity", "chain.trusted",
                                      "signature.modifications", "timestamp.document"})
FIELD_DAMAGE = [
    # (level, marker, which occurrence, failed checks). At B-LTA the catalogue and its
    # /AcroForm and /Fields are declared twice: in the seal's revision and again in the
    # last one (which adds the document time-stamp's field).
    ("B-LT", b"/FT /Sig", "first", {"signature.integrity"}),
    ("B-LT", b"/AcroForm", "first", {"signature.integrity"}),
    ("B-LT", b"/Fields", "first", {"signature.integrity"}),
    ("B-LTA", b"/FT /Sig", "first", {"signature.integrity"}),  # the seal's field
    ("B-LTA", b"/AcroForm", "last", {"signature.integrity"}),  # as the file reads now
    ("B-LTA", b"/Fields", "last", {"signature.integrity"}),
    # The seal's revision damaged under a later one that reads fine: its signature, the
    # document time-stamp over it and the difference analysis all see it.
    ("B-LTA", b"/AcroForm", "first", _SIGNED_REVISION_CHANGED),
    ("B-LTA", b"/Fields", "first", _SIGNED_REVISION_CHANGED),
    # The document time-stamp's field no longer a signature field: the last revision then
    # adds a form field, which no rule allows after the seal.
    ("B-LTA", b"/FT /Sig", "last", {"signature.modifications"}),
]


@pytest.mark.parametrize(("level", "marker", "which", "expected"), FIELD_DAMAGE,
                         ids=[f"{lv}-{m.decode()}-{w}" for lv, m, w, _ in FIELD_DAMAGE])
def test_a_changed_byte_in_the_signature_field_dictionaries(genuine, genuine_b_lt,
                                                           verify_synced_offline, level,
                                                           marker, which, expected):
    """Damage where the signature field is declared: still a forgery, not an unsigned
    document (the file carries a signature's traces)."""
    pdf = genuine if level == "B-LTA" else genuine_b_lt
    assert pdf.count(marker) == (1 if level == "B-LT" else 2)
    at = pdf.find(marker) if which == "first" else pdf.rfind(marker)
    forged = bytearray(pdf)
    forged[at + 2] ^= 0x01
    report = verify_synced_offline(bytes(forged))
    assert report.verdict == "invalid"
    assert failed_codes(report) == expected


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
