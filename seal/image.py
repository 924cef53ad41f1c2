"""The seal's visible image: a round red official seal drawn from the department's name.

A department may register its own scanned seal image instead; this is the default so that
every seal has an appearance from the moment it is created.
"""

from __future__ import annotations

import io
import math
from functools import lru_cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

SEAL_RED = (220, 20, 20, 255)
CJK_FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/arphic/uming.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
)


@lru_cache(maxsize=1)
def _font_path() -> str:
    for candidate in CJK_FONT_CANDIDATES:
        if Path(candidate).is_file():
            return candidate
    raise FileNotFoundError(
        "no CJK TrueType font found (install fonts-arphic-uming): " + ", ".join(CJK_FONT_CANDIDATES)
    )


def _font(size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(_font_path(), size)


def _star(draw: ImageDraw.ImageDraw, cx: float, cy: float, r: float) -> None:
    points = []
    for i in range(10):
        radius = r if i % 2 == 0 else r * 0.382
        angle = -math.pi / 2 + i * math.pi / 5
        points.append((cx + radius * math.cos(angle), cy + radius * math.sin(angle)))
    draw.polygon(points, fill=SEAL_RED)


def render_seal_image(name: str, footer: str = "电子印章", size: int = 480) -> bytes:
    """PNG bytes (transparent background) of a round seal carrying ``name`` on its arc."""
    if not name.strip():
        raise ValueError("seal name must not be empty")
    scale = 2  # draw large and downsample for smooth edges
    canvas = size * scale
    image = Image.new("RGBA", (canvas, canvas), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    c = canvas / 2
    ring = canvas * 0.035
    draw.ellipse((ring, ring, canvas - ring, canvas - ring), outline=SEAL_RED,
                 width=int(ring))
    _star(draw, c, c, canvas * 0.14)

    chars = list(name.strip())
    glyph = int(canvas * (0.13 if len(chars) <= 12 else 0.10))
    font = _font(glyph)
    text_radius = c - ring * 2 - glyph * 0.75
    sweep = min(240.0, 20.0 * len(chars))  # degrees of arc the name occupies
    step = sweep / max(len(chars) - 1, 1)
    start = -90 - sweep / 2
    for i, ch in enumerate(chars):
        angle = math.radians(start + i * step) if len(chars) > 1 else math.radians(-90)
        tile = Image.new("RGBA", (glyph * 2, glyph * 2), (0, 0, 0, 0))
        ImageDraw.Draw(tile).text((glyph, glyph), ch, font=font, fill=SEAL_RED, anchor="mm",
                                     stroke_width=3, stroke_fill=SEAL_RED)
        tile = tile.rotate(-math.degrees(angle) - 90, resample=Image.BICUBIC)
        x = c + text_radius * math.cos(angle) - glyph
        y = c + text_radius * math.sin(angle) - glyph
        image.alpha_composite(tile, (int(x), int(y)))

    if footer:
        footer_font = _font(int(canvas * 0.075))
        draw.text((c, c + canvas * 0.27), footer, font=footer_font, fill=SEAL_RED, anchor="mm",
                  stroke_width=2, stroke_fill=SEAL_RED)

    image = image.resize((size, size), Image.LANCZOS)
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()
