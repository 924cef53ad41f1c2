import io
import subprocess

import pytest
import zxingcpp
from PIL import Image
from pyhanko.pdf_utils.reader import PdfFileReader

from certs.catalogue import load_catalogue
from certs.document import extract_licence_data
from certs.errors import AttachmentError, RenderError
from certs.fonts import FontSpec
from certs.render import format_value
from certs.samples import sample_type_codes

CODES = sample_type_codes()


def run(*args) -> str:
    return subprocess.run(args, check=True, capture_output=True, text=True, timeout=60).stdout


@pytest.mark.parametrize("code", CODES)
def test_pyhanko_reads_it_with_attachment_and_no_annotations(rendered, code):
    path, data, _, licence_id = rendered[code]
    reader = PdfFileReader(io.BytesIO(path.read_bytes()))
    root = reader.root
    assert reader.input_version == (2, 0)
    af = root["/AF"]
    assert af[0].get_object()["/AFRelationship"] == "/Data"
    assert root["/OutputIntents"][0].get_object()["/S"] == "/GTS_PDFA1"
    page = reader.root["/Pages"]["/Kids"][0].get_object()
    assert "/Annots" not in page and "/AcroForm" not in root
    envelope = extract_licence_data(path.read_bytes())
    assert envelope["data"] == data and envelope["licence_id"] == str(licence_id)


@pytest.mark.parametrize("code", CODES)
def test_fonts_embedded_as_subsets(rendered, code):
    lines = run("pdffonts", str(rendered[code][0])).splitlines()[2:]
    assert lines
    for line in lines:
        name, *_rest = line.split()
        emb, sub = line.split()[-5], line.split()[-4]
        assert "+" in name and emb == "yes" and sub == "yes", line


@pytest.mark.parametrize("code", CODES)
def test_text_extracts_in_chinese(rendered, code):
    path, data, _, licence_id = rendered[code]
    text = run("pdftotext", str(path), "-").replace(" ", "")
    licence_type = load_catalogue().get(code)
    assert licence_type.layout.title in text
    for field in (*licence_type.layout.header_fields, *licence_type.layout.fields):
        if field.key in data:
            value = format_value(field, data[field.key]).replace(" ", "")
            # long values wrap: every wrapped piece is there in order
            assert value[:8] in text.replace("\n", ""), field.key
    assert str(licence_id) in text.replace("\n", "")


@pytest.mark.parametrize("code", CODES)
def test_attachment_listed_by_pdfdetach(rendered, code, tmp_path):
    path = rendered[code][0]
    assert "licence.json" in run("pdfdetach", "-list", str(path))
    run("pdfdetach", "-save", "1", "-o", str(tmp_path / "out.json"), str(path))
    assert (tmp_path / "out.json").read_bytes().startswith(b'{"data":')


@pytest.mark.parametrize("code", CODES)
def test_qr_decodes_from_a_150_dpi_render(rendered, code, tmp_path):
    path, _, qr_text, _ = rendered[code]
    run("pdftoppm", "-r", "150", "-png", "-singlefile", str(path), str(tmp_path / "page"))
    png = tmp_path / "page.png"
    zbar = run("zbarimg", "--nodbus", "--quiet", "--raw", str(png)).strip()
    assert zbar == qr_text
    assert [r.text for r in zxingcpp.read_barcodes(Image.open(png))] == [qr_text]


def test_missing_font_is_a_clear_error(rendered):
    from certs.render import render_licence_pdf

    _path, data, qr_text, licence_id = rendered["yyzz"]
    with pytest.raises(RenderError, match="not found"):
        render_licence_pdf(load_catalogue().get("yyzz"), licence_id, data, "机关",
                           __import__("datetime").datetime.now(), qr_text,
                           font=FontSpec(path="/nonexistent/font.ttc"))


def test_extract_refuses_pdfs_without_licence_data(tmp_path):
    from reportlab.pdfgen.canvas import Canvas

    buffer = io.BytesIO()
    Canvas(buffer).save()
    with pytest.raises(AttachmentError):
        extract_licence_data(buffer.getvalue())
    with pytest.raises(AttachmentError):
        extract_licence_data(b"not a pdf")
