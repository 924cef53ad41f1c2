"""The seal's visible image: a round red official seal drawn from the department's name,
and its PDF form (image XObject streams) encoded once per image for every seal it stamps.

A department may register its own scanned seal image instead; this is the default so that
every seal has an appearance from the moment it is created.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont, UnidentifiedImageError
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.content import PdfContent, ResourceType
from pyhanko.pdf_utils.generic import pdf_name
from pyhanko.pdf_utils.images import pil_image
from pyhanko.pdf_utils.layout import BoxConstraints
from pyhanko.pdf_utils.writer import BasePdfFileWriter, PdfFileWriter

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


# -- the image in a PDF -----------------------------------------------------------------------
# pyHanko turns a PIL image into an image XObject (plus a soft mask for its alpha channel)
# and Flate-compresses both on every signature: ~8 ms a seal for a 480 px image. The
# encoded streams depend only on the PNG, so they are built once per distinct image and
# each sealed PDF gets fresh stream objects around the same encoded bytes. Keyed by the
# PNG's content: a new seal image is a new key, never a stale hit.
@dataclass(frozen=True)
class _EncodedStream:
    entries: tuple[tuple[str, object], ...]  # the stream dictionary (no /Length, /SMask)
    data: bytes  # encoded as /Filter says

    def stream(self) -> generic.StreamObject:
        return generic.StreamObject(
            generic.DictionaryObject({pdf_name(k): _copied(v) for k, v in self.entries}),
            encoded_data=self.data,
        )


@dataclass(frozen=True)
class SealImageXObject:
    """The seal image as PDF image XObject streams, encoded once."""

    width: int
    height: int
    image: _EncodedStream
    soft_mask: _EncodedStream | None

    def add_to(self, writer: BasePdfFileWriter) -> generic.IndirectObject:
        """Add fresh stream objects holding the encoded bytes to `writer`."""
        image = self.image.stream()
        if self.soft_mask is not None:
            image[pdf_name("/SMask")] = writer.add_object(self.soft_mask.stream())
        return writer.add_object(image)


def _stream_of(stream: generic.StreamObject) -> _EncodedStream:
    entries = tuple((str(k), _copied(v)) for k, v in stream.items()
                    if k not in ("/Length", "/SMask"))
    return _EncodedStream(entries, bytes(stream.encoded_data))


def _copied(value: object) -> object:
    # Names, numbers and strings are immutable; arrays and dictionaries are not, and every
    # PDF must get its own so that no writer can change another document's objects.
    if isinstance(value, generic.DictionaryObject):
        return generic.DictionaryObject({k: _copied(v) for k, v in value.items()})
    if isinstance(value, generic.ArrayObject):
        return generic.ArrayObject([_copied(v) for v in value])
    return value


@lru_cache(maxsize=32)
def seal_image_xobject(image_png: bytes) -> SealImageXObject:
    """The XObject form of `image_png` (cached by content; ValueError if unreadable).

    RGBA/LA/PA images keep their alpha as a soft mask; anything else becomes RGBA first."""
    try:
        image = Image.open(io.BytesIO(image_png))
        image.load()
    except (UnidentifiedImageError, OSError) as exc:
        raise ValueError("image_png: not a readable image") from exc
    if image.mode not in ("RGBA", "LA", "PA"):
        image = image.convert("RGBA")
    scratch = PdfFileWriter()
    stream = pil_image(image, scratch).get_object()
    soft_mask = stream.get("/SMask")
    return SealImageXObject(
        width=image.width, height=image.height, image=_stream_of(stream),
        soft_mask=_stream_of(soft_mask.get_object()) if soft_mask is not None else None,
    )


class SealImageContent(PdfContent):
    """A PdfContent drawing the seal image XObject over the unit square scaled to its box
    (as pyHanko's PdfImage does), from the streams encoded once.

    One instance per signature: pyHanko sets its writer and resources while rendering."""

    def __init__(self, xobject: SealImageXObject) -> None:
        super().__init__(box=BoxConstraints(xobject.width, xobject.height))
        self._xobject = xobject

    def render(self) -> bytes:
        name = "/ImgSeal"
        self.set_resource(category=ResourceType.XOBJECT, name=pdf_name(name),
                          value=self._xobject.add_to(self.writer))
        return b"q %g 0 0 %g 0 0 cm %s Do Q" % (self.box.width, self.box.height,
                                                 name.encode("ascii"))
