"""Drawing a licence as an A4 page that looks like the paper document of its type.

The page has no annotations or form fields: the seal room adds the signature field (the
visible e-seal) at ``layout.seal`` when it signs. ``document.finish`` then embeds the
machine-readable data and the PDF/A-4f metadata.
"""

from __future__ import annotations

import datetime as dt
import io
import re
from typing import Any

from reportlab import rl_config
from reportlab.lib.colors import Color, black, white
from reportlab.lib.pagesizes import A4
from reportlab.lib.utils import ImageReader
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.canvas import Canvas

from certs.catalogue import LayoutField, LicenceType
from certs.document import attachment_envelope, finish_document
from certs.errors import RenderError
from certs.fonts import FontSpec, register_font
from certs.licence_id import LicenceId
from certs.qr import make_qr_image

# ReportLab wraps every compressed stream (page, QR image) in ASCII85 by default, for
# 7-bit channels no PDF travels through any more, and encodes it in pure Python here (no
# rl_accel): off, streams are a fifth smaller and the encoding time is gone. A process-wide
# switch; certs is the only room that uses ReportLab.
rl_config.useA85 = 0

BORDER = Color(0.55, 0.12, 0.10)  # the deep red-brown of printed licence frames
INK = Color(0.08, 0.08, 0.08)
LABEL_WIDTH = 118.0
MAX_FIELD_SIZE, MIN_FIELD_SIZE = 13.0, 8.0
FOOTNOTE = "本证照由发证机关加盖电子印章，可扫描二维码离线核验真伪与状态"


def render_licence_pdf(
    licence_type: LicenceType,
    licence_id: LicenceId | str,
    data: dict[str, Any],
    issuer_name: str,
    issued_at: dt.datetime,
    qr_text: str,
    *,
    font: FontSpec | None = None,
) -> bytes:
    """An A4 PDF of the licence with its QR code and ``licence.json`` attached.

    ``data`` must already be validated (``validate_licence_data``).
    """
    font_name = register_font(font or FontSpec())
    page = _Page(font_name)
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=A4, initialFontName=font_name, initialFontSize=12,
                    pageCompression=1)
    page.draw(canvas, licence_type, str(licence_id), data, issuer_name, issued_at, qr_text)
    canvas.showPage()
    canvas.save()
    envelope = attachment_envelope(licence_type.code, licence_type.name, str(licence_id),
                                   issuer_name, issued_at, data)
    return finish_document(buffer.getvalue(), envelope,
                           title=f"{licence_type.name} {licence_id}", author=issuer_name,
                           subject=f"{licence_type.name} ({licence_type.name_en})",
                           keywords=(licence_type.name, licence_type.code, str(licence_id)),
                           created=issued_at)


def format_value(field: LayoutField, value: Any) -> str:
    if value is None:
        return ""
    if field.format == "date":
        return chinese_date(value)
    if field.format == "period" and isinstance(value, dict):
        start, end = value.get("起", ""), value.get("止", "")
        return f"{chinese_date(start)} 至 {chinese_date(end) if end != '长期' else '长期'}"
    return str(value)


def chinese_date(value: Any) -> str:
    try:
        day = value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))
    except ValueError:
        return str(value)
    return f"{day.year}年{day.month:02d}月{day.day:02d}日"


# Chinese line breaking (禁则, GB/T 15834 and the W3C "Requirements for Chinese Text
# Layout" 3.1.7): a line does not start with closing punctuation nor end with opening
# punctuation. Full-width forms first, then their half-width counterparts.
NOT_AT_LINE_START = frozenset("，。、；：？！）」』】〕〉》〗〙］｝”’．・…‥—～々〻"
                              ",.;:!?)]}%")
NOT_AT_LINE_END = frozenset("（「『【〔〈《〖〘［｛“‘([{")
# Kept whole: a run of Latin letters and digits (a street number, an identifier) and
# the doubled dash and ellipsis of Chinese punctuation (——, ……).
_UNITS = re.compile(r"[A-Za-z0-9]+|——|……|.", re.S)


def wrap_text(text: str, fits) -> list[str]:
    """Lines of ``text`` (its own line breaks kept), each as long as ``fits(line)`` allows,
    broken by 禁则: when a break would put closing punctuation at the start of a line, or
    leave opening punctuation at the end of one, the characters around it move to the
    next line together (push-out, 追い出し), so lines end short rather than wrong. A line
    that cannot be broken so (nothing but punctuation, or what would move does not fit
    the next line) breaks where it fills: nothing is drawn past the margin."""
    lines: list[str] = []
    for paragraph in text.splitlines() or [""]:
        line: list[str] = []
        for unit in _units(paragraph, fits):
            if not line or fits("".join(line) + unit):
                line.append(unit)
                continue
            kept, carried = list(line), [unit]
            while len(kept) > 1 and (carried[0][0] in NOT_AT_LINE_START
                                     or kept[-1][-1] in NOT_AT_LINE_END):
                carried.insert(0, kept.pop())
            stuck = carried[0][0] in NOT_AT_LINE_START or kept[-1][-1] in NOT_AT_LINE_END
            if stuck or not fits("".join(carried)):
                kept, carried = line, [unit]  # no legal break, or past the margin
            lines.append("".join(kept))
            line = carried
        lines.append("".join(line))
    return lines


def _units(paragraph: str, fits) -> list[str]:
    units = []
    for unit in _UNITS.findall(paragraph):
        if len(unit) > 1 and not fits(unit):
            units.extend(unit)  # wider than a whole line: it has to break somewhere
        else:
            units.append(unit)
    return units


class _Page:
    def __init__(self, font: str) -> None:
        self.font = font

    def draw(self, c: Canvas, t: LicenceType, licence_id: str, data: dict[str, Any],
             issuer_name: str, issued_at: dt.datetime, qr_text: str) -> None:
        layout = t.layout
        width, height = A4
        self._frame(c, width, height)
        # Title: large, letter-spaced, centred, as on the printed forms.
        title_size = 38 if len(layout.title) <= 5 else 32
        self._spaced_centre(c, layout.title, width / 2, height - 112, title_size,
                            spacing=title_size * 0.45, color=INK)
        if layout.subtitle:
            self._spaced_centre(c, layout.subtitle, width / 2, height - 142, 11, 1.0, INK)
        # Header line(s): the identifying number above the fields.
        x0, y1 = layout.fields_box[0], layout.fields_box[3]
        y = y1 + 16
        for field in layout.header_fields:
            c.setFillColor(INK)
            c.setFont(self.font, 12)
            text = f"{field.label}  {format_value(field, data.get(field.key))}"
            c.drawString(x0, y, text)
            y += 18
        self._fields(c, layout.fields, data, layout.fields_box)
        self._qr(c, qr_text, layout.qr)
        self._issuer(c, layout.seal, layout.issuer_label, issuer_name, issued_at)
        c.setFont(self.font, 8.5)
        c.setFillColor(INK)
        c.drawCentredString(width / 2, 52, f"电子证照标识：{licence_id}")
        c.drawCentredString(width / 2, 40, FOOTNOTE)

    def _frame(self, c: Canvas, width: float, height: float) -> None:
        c.setStrokeColor(BORDER)
        c.setLineWidth(3.2)
        c.rect(22, 22, width - 44, height - 44)
        c.setLineWidth(0.8)
        c.rect(29, 29, width - 58, height - 58)
        # corner blocks, a plain echo of the ornamental corners of printed licences
        c.setFillColor(BORDER)
        for cx, cy in ((29, 29), (width - 29, 29), (29, height - 29), (width - 29, height - 29)):
            c.rect(cx - 4, cy - 4, 8, 8, stroke=0, fill=1)

    def _spaced_centre(self, c: Canvas, text: str, cx: float, y: float, size: float,
                       spacing: float, color: Color) -> None:
        total = stringWidth(text, self.font, size) + spacing * (len(text) - 1)
        obj = c.beginText(cx - total / 2, y)
        obj.setFont(self.font, size)
        obj.setCharSpace(spacing)
        obj.setFillColor(color)
        obj.textOut(text)
        obj.setCharSpace(0)  # Tc outlives BT/ET in the graphics state: reset it
        c.drawText(obj)

    def _label(self, c: Canvas, label: str, x: float, y: float, size: float) -> None:
        """Short labels are spread across the label column (名　　称), longer ones set tight."""
        c.setFont(self.font, size)
        natural = stringWidth(label, self.font, size)
        span = LABEL_WIDTH - 18
        if 1 < len(label) <= 4 and natural < span:
            gap = (span - natural) / (len(label) - 1)
            obj = c.beginText(x, y)
            obj.setFont(self.font, size)
            obj.setCharSpace(gap)
            obj.textOut(label)
            obj.setCharSpace(0)
            c.drawText(obj)
        else:
            # long labels (法定代表人（负责人）) shrink to stay clear of the value column
            fitted = min(size, size * (LABEL_WIDTH - 8) / natural)
            c.setFont(self.font, fitted)
            c.drawString(x, y, label)

    def _wrap(self, text: str, size: float, width: float) -> list[str]:
        return wrap_text(text, lambda line: stringWidth(line, self.font, size) <= width)

    def _fields(self, c: Canvas, fields: tuple[LayoutField, ...], data: dict[str, Any],
                box: tuple[float, float, float, float]) -> None:
        x0, y0, x1, y1 = box
        value_x = x0 + LABEL_WIDTH
        present = [(f, format_value(f, data.get(f.key))) for f in fields if f.key in data]
        size = MAX_FIELD_SIZE
        while True:
            leading, gap = size * 1.5, size * 0.75
            blocks = [(f, self._wrap(v, size, x1 - value_x)) for f, v in present]
            needed = sum(len(lines) * leading + gap for _, lines in blocks)
            if needed <= y1 - y0 or size <= MIN_FIELD_SIZE:
                break
            size -= 0.5
        if needed > y1 - y0:
            raise RenderError("licence data does not fit the layout's field box")
        y = y1 - size
        c.setFillColor(INK)
        for field, lines in blocks:
            self._label(c, field.label, x0, y, size)
            c.setFont(self.font, size)
            for line in lines:
                c.drawString(value_x, y, line)
                y -= leading
            y -= gap

    def _qr(self, c: Canvas, qr_text: str, qr) -> None:
        # 8-bit grey, as verify.pdf_qr reads it back; black and white only, so it looks as
        # RGB did, with a third of the pixel bytes to hash and compress
        image = make_qr_image(qr_text, box_size=4, mode="L")
        c.setFillColor(white)
        c.drawImage(ImageReader(image), qr.x, qr.y, qr.size, qr.size)
        if qr.caption:
            c.setFillColor(black)
            c.setFont(self.font, 9)
            c.drawCentredString(qr.x + qr.size / 2, qr.y - 10, qr.caption)

    def _issuer(self, c: Canvas, seal, label: str, issuer_name: str,
                issued_at: dt.datetime) -> None:
        sx0, sy0, sx1, sy1 = seal
        cx, cy = (sx0 + sx1) / 2, (sy0 + sy1) / 2
        c.setFillColor(INK)
        c.setFont(self.font, 13)
        c.drawRightString(sx0 - 6, cy + 8, label)
        # the issuer name sits under the seal and must not run into the label on its left
        size = min(14.0, 14.0 * (sx1 - sx0) / stringWidth(issuer_name, self.font, 14))
        c.setFont(self.font, size)
        c.drawCentredString(cx, cy + 8, issuer_name)
        c.setFont(self.font, 13)
        c.drawCentredString(cx, cy - 22, chinese_date(issued_at.date()))
