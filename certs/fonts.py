"""The CJK TrueType face licences are printed in, registered once with ReportLab.

AR PL UMing (Debian fonts-arphic-uming) is a Ming/Song face, the formal look of Chinese
licences, and has TrueType outlines that ReportLab can subset-embed; Noto CJK in a TTC
has PostScript outlines and cannot be embedded by ReportLab.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont

from certs.errors import RenderError

DEFAULT_FONT_PATH = "/usr/share/fonts/truetype/arphic/uming.ttc"
DEFAULT_SUBFONT_INDEX = 0  # AR PL UMing CN (1: HK, 2: TW, 3: TW MBE)

_lock = threading.Lock()


@dataclass(frozen=True)
class FontSpec:
    path: str = DEFAULT_FONT_PATH
    subfont_index: int = DEFAULT_SUBFONT_INDEX


def register_font(spec: FontSpec) -> str:
    """Register the face with ReportLab (idempotent) and return its ReportLab name."""
    name = f"CertsCJK-{abs(hash((spec.path, spec.subfont_index))):x}"
    with _lock:
        if name in pdfmetrics.getRegisteredFontNames():
            return name
        if not Path(spec.path).is_file():
            raise RenderError(
                f"licence font {spec.path} not found: install fonts-arphic-uming or "
                "configure the path of a TrueType CJK font"
            )
        try:
            font = TTFont(name, spec.path, subfontIndex=spec.subfont_index)
        except Exception as exc:  # ReportLab raises TTFError and others for unusable files
            raise RenderError(f"licence font {spec.path} cannot be embedded: {exc}") from None
        _slice_large_tables_in_place(font)
        pdfmetrics.registerFont(font)
    return name


# ReportLab subsets the font anew for every document (the characters differ), and its
# subsetter reads the glyph table with ``face.get_table("glyf")``: a copy of the whole
# table (17 MB in UMing) to take a few hundred glyphs out of it, twice a licence. Handing
# it a view instead, whose slices copy only the glyphs asked for, makes the same subset
# (a test compares the bytes) at a fraction of the cost.
_LARGE_TABLES = frozenset({"glyf", "post"})


class _TableSlices:
    """A font table read in place; slicing it yields bytes, as slicing a copy would."""

    def __init__(self, view: memoryview) -> None:
        self._view = view

    def __getitem__(self, key: slice) -> bytes:
        return bytes(self._view[key])

    def __len__(self) -> int:
        return len(self._view)


def _table(face, tag: str):
    pos, length = face.get_table_pos(tag)
    if tag in _LARGE_TABLES:
        return _TableSlices(memoryview(face._ttf_data)[pos:pos + length])
    return face._ttf_data[pos:pos + length]


def _slice_large_tables_in_place(font: TTFont) -> None:
    font.face.get_table = partial(_table, font.face)
