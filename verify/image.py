"""Find the licence QR code in a picture: a scan, a screenshot or a phone photo (rotated,
blurred, noisy, in perspective), with zxing-cpp.

zxing-cpp already searches all orientations and perspective; what helps it on poor photos
is a few cheap preprocessing passes (greyscale, contrast stretch, downscale of huge photos,
upscale of small crops, sharpening, a global threshold). Passes run in order until one
finds a code, within a time budget.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable, Iterator

import zxingcpp
from PIL import Image, ImageFilter, ImageOps, UnidentifiedImageError

from certs.qr import PREFIX
from verify.errors import AmbiguousQrCodes, InputTooLarge, NoQrCode, UnusableInput
from verify.limits import DEFAULT_LIMITS, Limits

ACCEPTED_FORMATS = ("PNG", "JPEG")
_WORK_SIDE = 2000  # zxing is fastest and surest on a few megapixels


def open_image(data: bytes, limits: Limits = DEFAULT_LIMITS) -> Image.Image:
    if len(data) > limits.max_image_bytes:
        raise InputTooLarge(f"image larger than {limits.max_image_bytes} bytes")
    try:
        image = Image.open(io.BytesIO(data), formats=ACCEPTED_FORMATS)
        width, height = image.size
        if width * height > limits.max_image_pixels:
            raise InputTooLarge(f"image of {width}x{height} pixels is larger than "
                                f"{limits.max_image_pixels} pixels")
        image.load()
        image = ImageOps.exif_transpose(image) or image
    except InputTooLarge:
        raise
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError,
            SyntaxError) as exc:
        raise UnusableInput(f"not a readable PNG or JPEG image ({type(exc).__name__})") from None
    return image


def qr_texts_in(image: Image.Image) -> list[str]:
    """All QR texts zxing finds in ``image`` as given (one pass, no preprocessing)."""
    results = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)
    return [r.text for r in results if r.valid and r.text]


def _passes(grey: Image.Image) -> Iterator[Callable[[], Image.Image]]:
    yield lambda: grey
    yield lambda: ImageOps.autocontrast(grey, cutoff=1)
    side = max(grey.size)
    if side > _WORK_SIDE:
        yield lambda: _scaled(grey, _WORK_SIDE / side)
    if side < 800:
        yield lambda: _scaled(grey, 2.0)
    yield lambda: grey.filter(ImageFilter.UnsharpMask(radius=3, percent=200, threshold=2))
    yield lambda: _threshold(ImageOps.autocontrast(grey, cutoff=2))
    yield lambda: _threshold(grey.filter(ImageFilter.MedianFilter(3)))
    if side > 1000:
        yield lambda: _scaled(grey, 0.5)


def _scaled(image: Image.Image, factor: float) -> Image.Image:
    size = (max(1, int(image.width * factor)), max(1, int(image.height * factor)))
    return image.resize(size, Image.Resampling.LANCZOS)


def _threshold(image: Image.Image) -> Image.Image:
    histogram = image.histogram()
    total = sum(histogram)
    running, median = 0, 128
    for level, count in enumerate(histogram):
        running += count
        if running >= total / 2:
            median = level
            break
    # Paper is mostly white: cut between the median (paper) and black.
    cut = max(40, median // 2)
    return image.point(lambda v: 255 if v > cut else 0)


def find_qr_texts(image: Image.Image, budget_seconds: float) -> list[str]:
    """Distinct QR texts of the first preprocessing pass that finds any."""
    deadline = time.monotonic() + budget_seconds
    grey = image.convert("L")
    for make in _passes(grey):
        texts = qr_texts_in(make())
        if texts:
            return list(dict.fromkeys(texts))
        if time.monotonic() > deadline:
            break
    return []


def decode_qr_image(data: bytes, limits: Limits = DEFAULT_LIMITS) -> str:
    """The certseal licence QR text in a PNG/JPEG image.

    UnusableInput (NoQrCode, AmbiguousQrCodes, InputTooLarge) when there is not exactly one
    licence QR code to read; other QR codes beside ours are ignored.
    """
    image = open_image(data, limits)
    texts = find_qr_texts(image, limits.image_decode_seconds)
    ours = [t for t in texts if t.startswith(PREFIX)]
    if len(ours) > 1:
        raise AmbiguousQrCodes(f"{len(ours)} licence QR codes in one image: photograph only "
                               "the licence to verify")
    if not ours:
        if texts:
            raise NoQrCode(f"{len(texts)} QR code(s) found, none of them a licence QR code")
        raise NoQrCode("no QR code found in the image: photograph the code squarely, in focus")
    return ours[0]
