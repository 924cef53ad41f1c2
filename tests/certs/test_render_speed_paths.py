"""What the faster render paths must keep: the font subset ReportLab would have made, and
the QR image as the exact pixels of the symbol, embedded as 8-bit grey."""

import io

from pyhanko.pdf_utils.reader import PdfFileReader
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont

from certs.fonts import DEFAULT_FONT_PATH, FontSpec, register_font
from certs.qr import make_qr_image


def test_font_subset_bytes_equal_reportlabs_own():
    ours = pdfmetrics.getFont(register_font(FontSpec())).face
    stock = TTFont("StockUMing", DEFAULT_FONT_PATH, subfontIndex=0).face
    assert ours.get_table != stock.get_table  # the in-place tables are in use
    text = "营业执照名称类型法定代表人注册资本成立日期住所经营范围（）；，。0123456789ABCYZ年月日"
    samples = [
        [ord(ch) for ch in text],
        list(range(0x4E00, 0x4E00 + 255)),  # a full 256-glyph subset of common hanzi
        [0x20, 0xA0, 0x3000, 0xFF08, 0xFF09, 0x2014, 0x9F98],
    ]
    for subset in samples:
        assert ours.makeSubset(subset) == stock.makeSubset(subset)
    assert ours.get_table("head") == stock.get_table("head")
    glyf_ours, glyf_stock = ours.get_table("glyf"), stock.get_table("glyf")
    assert len(glyf_ours) == len(glyf_stock)
    assert glyf_ours[1000:1400] == glyf_stock[1000:1400]


def test_qr_embedded_as_grey_pixels_of_the_symbol(rendered):
    path, _data, qr_text, _id = rendered["yyzz"]
    reader = PdfFileReader(io.BytesIO(path.read_bytes()))
    page = reader.root["/Pages"]["/Kids"][0].get_object()
    images = [x.get_object() for x in page["/Resources"]["/XObject"].values()]
    images = [x for x in images if x["/Subtype"] == "/Image"]
    assert len(images) == 1
    image = images[0]
    expected = make_qr_image(qr_text, box_size=4, mode="L")
    assert image["/ColorSpace"] == "/DeviceGray" and image["/BitsPerComponent"] == 8
    assert (image["/Width"], image["/Height"]) == expected.size
    assert image.data == expected.tobytes()


def test_page_streams_are_flate_only(rendered):
    # no ASCII85 layer (rl_config.useA85 off): smaller streams, no pure-Python encoding
    reader = PdfFileReader(io.BytesIO(rendered["yyzz"][0].read_bytes()))
    page = reader.root["/Pages"]["/Kids"][0].get_object()
    streams = [page["/Contents"].get_object(),
               *(x.get_object() for x in page["/Resources"]["/XObject"].values())]
    for stream in streams:
        assert list(stream["/Filter"]) == ["/FlateDecode"]
