"""A rendered licence meets the PDF/A-4f clauses our checker reads (tests/pdfa_checks.py),
and its XMP packet is the one, complete metadata record (PDF/A-4 has no /Info)."""

from __future__ import annotations

import datetime as dt
import io

import pdfa_checks
import pikepdf
import pytest
from certs_testkit import ISSUED_AT

from certs.catalogue import load_catalogue
from certs.samples import SAMPLE_ISSUER_NAME, sample_type_codes

CODES = sample_type_codes()


def _mutated(pdf: bytes, change) -> bytes:
    document = pikepdf.open(io.BytesIO(pdf))
    change(document)
    out = io.BytesIO()
    document.save(out, static_id=True)
    return out.getvalue()


@pytest.mark.parametrize("code", CODES)
def test_rendered_licence_meets_the_pdfa_4f_clauses(rendered, code):
    found = pdfa_checks.check_pdfa4f(rendered[code][0].read_bytes())
    assert found.problems == []
    assert found.shown_glyphs > 100  # the text was really read, glyph by glyph


@pytest.mark.parametrize("code", CODES)
def test_xmp_carries_all_the_metadata_and_there_is_no_info_dictionary(rendered, code):
    path, _data, _qr, licence_id = rendered[code]
    licence_type = load_catalogue().get(code)
    document = pikepdf.open(path)
    assert "/Info" not in document.trailer
    meta = document.open_metadata()
    assert meta.pdfa_status == "4F"
    assert meta["dc:title"] == f"{licence_type.name} {licence_id}"
    assert meta["dc:creator"] == [SAMPLE_ISSUER_NAME]
    assert meta["dc:description"] == f"{licence_type.name} ({licence_type.name_en})"
    assert meta["pdf:Keywords"] == f"{licence_type.name}; {code}; {licence_id}"
    assert meta["pdf:Producer"].startswith("pyHanko")
    assert meta["pdf:Trapped"] == "False"
    assert meta["xmp:CreatorTool"] == "certseal"
    assert dt.datetime.fromisoformat(meta["xmp:CreateDate"]) == ISSUED_AT
    assert dt.datetime.fromisoformat(meta["xmp:ModifyDate"]) >= ISSUED_AT


def test_the_checker_finds_what_it_claims_to_check(rendered):
    """Each mutation breaks one clause of a genuine render; the checker names it."""
    genuine = rendered["yyzz"][0].read_bytes()

    def info(d):
        d.trailer.Info = d.make_indirect(pikepdf.Dictionary(Title=pikepdf.String("x")))

    def part(d):
        with d.open_metadata(set_pikepdf_as_editor=False) as meta:
            meta["pdfaid:part"] = "3"

    def interpolate(d):
        for image in d.pages[0].Resources.XObject.values():
            image.Interpolate = True

    def widths(d):
        font = next(iter(d.pages[0].Resources.Font.values()))
        font.Widths = pikepdf.Array([w + 50 for w in font.Widths])

    def notdef(d):
        d.pages[0].Contents.write(d.pages[0].Contents.read_bytes().replace(
            b"BT", b"BT /F1+0 12 Tf <00> Tj", 1))

    def annotation(d):
        d.pages[0].Annots = d.make_indirect(pikepdf.Array([d.make_indirect(pikepdf.Dictionary(
            Type=pikepdf.Name.Annot, Subtype=pikepdf.Name.Text,
            Rect=pikepdf.Array([10, 10, 50, 50])))]))

    def attachment(d):
        spec = d.Root.Names.EmbeddedFiles.Names[1]
        del spec["/AFRelationship"]

    cases = {"6.1.3-4": info, "6.7.3": part, "6.2.7.1-3": interpolate, "6.2.10.5": widths,
             "6.2.10.4.1-2/6.2.10.9": notdef, "6.3.2-1": annotation, "6.9-4": attachment}
    for clause, change in cases.items():
        problems = pdfa_checks.check_pdfa4f(_mutated(genuine, change)).problems
        assert any(p.startswith(clause) for p in problems), (clause, problems)
    header = genuine.replace(b"%PDF-2.0", b"%PDF-1.7", 1)
    assert any(p.startswith("6.1.2") for p in pdfa_checks.check_pdfa4f(header).problems)
