"""The CJK TrueType face licences are printed in, registered once with ReportLab.

AR PL UMing (Debian fonts-arphic-uming) is a Ming/Song face, the formal look of Chinese
licences, and has TrueType outlines that ReportLab can subset-embed; Noto CJK in a TTC
has PostScript outlines and cannot be embedded by ReportLab.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
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
        pdfmetrics.registerFont(font)
    return name
