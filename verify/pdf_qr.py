"""The QR code drawn on a licence's first page, read from the page's image XObjects (the
renderer draws it as an image), so no rasteriser is needed. Only the signed revision's
bytes are given here, so a QR added after signing is never the one judged."""

from __future__ import annotations

import io

from PIL import Image
from pyhanko.pdf_utils.reader import PdfFileReader

from certs.qr import PREFIX
from verify.image import qr_texts_in
from verify.limits import Limits

_MODES = {"/DeviceRGB": ("RGB", 3), "/DeviceGray": ("L", 1)}


def qr_texts_of_first_page(pdf: bytes | PdfFileReader, limits: Limits) -> list[str]:
    """Distinct licence QR texts found in the first page's images ([] when unreadable);
    ``pdf`` as bytes or a pyHanko reader of them."""
    try:
        reader = (pdf if isinstance(pdf, PdfFileReader)
                  else PdfFileReader(io.BytesIO(pdf), strict=False))
        page = reader.root["/Pages"]["/Kids"][0].get_object()
        xobjects = page["/Resources"]["/XObject"]
        streams = [ref.get_object() for ref in xobjects.values()]
    except Exception:  # malformed page tree: no QR found
        return []
    texts: list[str] = []
    for stream in streams[:16]:
        image = _image_of(stream, limits)
        if image is None:
            continue
        texts += [t for t in qr_texts_in(image) if t.startswith(PREFIX)]
    return list(dict.fromkeys(texts))


def _image_of(stream, limits: Limits) -> Image.Image | None:
    try:
        if stream.get("/Subtype") != "/Image" or int(stream.get("/BitsPerComponent", 0)) != 8:
            return None
        width, height = int(stream["/Width"]), int(stream["/Height"])
        if not (0 < width * height <= limits.max_qr_xobject_pixels):
            return None
        mode, channels = _MODES.get(str(stream.get("/ColorSpace")), (None, 0))
        if mode is None:
            return None
        raw = stream.data
        if len(raw) != width * height * channels:
            return None
        return Image.frombytes(mode, (width, height), raw)
    except Exception:  # undecodable stream: skip it
        return None
