"""Bounds on the work a hostile input can cause. Genuine licences are ~170 kB with one
signature in two revisions; these limits are far above that and far below harm."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Limits:
    max_pdf_bytes: int = 8 * 1024 * 1024
    max_image_bytes: int = 12 * 1024 * 1024
    max_image_pixels: int = 40_000_000  # a 48 MP phone photo is refused; 12 MP is fine
    max_qr_text_chars: int = 1200
    max_revisions: int = 8
    max_objects: int = 20_000
    max_stream_bytes: int = 32 * 1024 * 1024  # one decoded stream (a zip bomb is refused)
    max_decoded_bytes: int = 128 * 1024 * 1024  # all decoded streams together
    max_signatures: int = 4
    max_qr_xobject_pixels: int = 4_000_000  # an image XObject we decode to find the QR
    image_decode_seconds: float = 3.0  # budget for the preprocessing passes on a photo
    verify_seconds: float = 20.0  # wall-clock budget of one verification
    ocsp_timeout_seconds: float = 3.0
    status_timeout_seconds: float = 3.0


DEFAULT_LIMITS = Limits()
