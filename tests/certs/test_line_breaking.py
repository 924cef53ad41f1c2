"""Chinese line breaking (禁则) in the rendered values: no line starts with closing
punctuation nor ends with opening punctuation. Judged on the text as drawn: each line's
position and characters read back from the page's content stream (pikepdf, through the
fonts' ToUnicode maps), and poppler's pdftotext -layout."""

from __future__ import annotations

import io
import re
import subprocess

import pikepdf
import pytest
from certs_testkit import ISSUED_AT
from pdfa_checks import to_unicode_map
from reportlab.pdfbase.pdfmetrics import stringWidth

from certs.catalogue import load_catalogue
from certs.fonts import FontSpec, register_font
from certs.render import (
    LABEL_WIDTH,
    NOT_AT_LINE_END,
    NOT_AT_LINE_START,
    render_licence_pdf,
    wrap_text,
)
from certs.samples import SAMPLE_ISSUER_NAME, sample_licence_data
from certs.validation import validate_licence_data


def at_most(n: int):
    return lambda line: len(line) <= n


@pytest.mark.parametrize(("text", "width", "lines"), [
    ("软件开发信息系统；集成", 8, ["软件开发信息系", "统；集成"]),      # ； pushed out with 统
    ("软件开发信息系统。」集成", 8, ["软件开发信息系", "统。」集成"]),  # two closers in a row
    ("软件开发信息系（集成服务", 8, ["软件开发信息系", "（集成服务"]),  # （ never ends a line
    ("数据处理（存储）服务", 5, ["数据处理", "（存储）服", "务"]),
    ("五四路158号环球广场", 5, ["五四路", "158号环", "球广场"]),       # 158 kept whole
    ("好好好……好", 4, ["好好", "好……好"]),                      # …… whole, never first
    ("；；；；；；；", 3, ["；；；", "；；；", "；"]),  # no legal break: fills, nothing overflows
    ("第一段\n第二段", 10, ["第一段", "第二段"]),
])
def test_wrap_text_breaks_by_kinsoku(text, width, lines):
    assert wrap_text(text, at_most(width)) == lines
    assert "".join(lines) == text.replace("\n", "")


def drawn_lines(pdf: bytes) -> list[tuple[float, float, float, str]]:
    """(x, y, font size, text) of every BT..ET block of the first page, as drawn."""
    document = pikepdf.open(io.BytesIO(pdf))
    page = document.pages[0]
    maps = {name: to_unicode_map(font.ToUnicode.read_bytes())
            for name, font in page.Resources.Font.items()}
    lines, text, font, size, x, y = [], "", None, 0.0, 0.0, 0.0
    for operands, operator in pikepdf.parse_content_stream(page):
        op = str(operator)
        if op == "BT":
            text = ""
        elif op == "Tm":
            x, y = float(operands[4]), float(operands[5])
        elif op == "Tf":
            font, size = str(operands[0]), float(operands[1])
        elif op == "Tj":
            text += "".join(maps[font][code] for code in bytes(operands[0]))
        elif op == "ET" and text:
            lines.append((x, y, size, text))
    return lines


def greedy(text: str, fits) -> list[str]:
    """How lines broke before 禁则: wherever the next character did not fit."""
    lines, line = [], ""
    for char in text:
        if line and not fits(line + char):
            lines.append(line)
            line = char
        else:
            line += char
    return [*lines, line]


def test_a_rendered_value_breaks_by_kinsoku_where_plain_wrapping_would_not():
    licence_type = load_catalogue().get("yyzz")
    font = register_font(FontSpec())
    x0, _y0, x1, _y1 = licence_type.layout.fields_box
    value_x, width = x0 + LABEL_WIDTH, x1 - (x0 + LABEL_WIDTH)
    per_line = int(width // stringWidth("经", font, 13))
    # A closer exactly where a line fills, and an opener at the end of the next one.
    scope = "经" * per_line + "；" + "营" * (per_line - 2) + "（" + "范围）。"
    data = validate_licence_data(licence_type, sample_licence_data("yyzz") | {"经营范围": scope})
    pdf = render_licence_pdf(licence_type, "YYZZ-TEST", data, SAMPLE_ISSUER_NAME, ISSUED_AT,
                             "https://verify.example/v/x")
    values = [(y, size, text) for x, y, size, text in drawn_lines(pdf)
              if abs(x - value_x) < 0.01 and text[0] in "经营；（范围）。"]
    assert "".join(text for _, _, text in values) == scope  # all of it, in order
    size = values[0][1]
    assert size == 13  # the box is not crowded: the break positions above hold
    assert [y for y, _, _ in values] == sorted((y for y, _, _ in values), reverse=True)
    drawn = [text for _, _, text in values]
    fits = lambda line: stringWidth(line, font, size) <= width  # noqa: E731
    plain = greedy(scope, fits)
    assert plain[1][0] == "；" and plain[1][-1] == "（"  # the case is a real one ...
    assert drawn != plain and len(drawn) == 3            # ... and was broken otherwise
    for line in drawn:
        assert line[0] not in NOT_AT_LINE_START and line[-1] not in NOT_AT_LINE_END, drawn
        assert fits(line)


def test_no_line_of_a_rendered_sample_breaks_the_rules(rendered, tmp_path):
    for code, (path, *_rest) in rendered.items():
        layout = subprocess.run(["pdftotext", "-layout", str(path), "-"], check=True,
                                capture_output=True, text=True, timeout=60).stdout
        for line in layout.splitlines():
            for segment in re.split(r"\s{2,}", line.strip()):
                if segment:
                    assert segment[0] not in NOT_AT_LINE_START, (code, line)
                    assert segment[-1] not in NOT_AT_LINE_END, (code, line)
        for _x, _y, _size, text in drawn_lines(path.read_bytes()):
            assert text[0] not in NOT_AT_LINE_START and text[-1] not in NOT_AT_LINE_END, text
