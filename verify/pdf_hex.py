"""A faster reader of PDF hex strings for pyHanko, same results.

pyHanko reads a hex string one byte at a time in Python; a sealed licence's signature
/Contents is 16,384 hex digits, which took ~8 ms of every PDF verification (as much as
the rest of parsing). The fast path takes the bytes up to the first ``>`` at once and is
used only when they are hex digits and PDF whitespace and nothing else: then pyHanko's
loop would yield exactly those digits and stop after that ``>``. Anything else (a
comment, a stray byte, no ``>`` before the end) goes to pyHanko's own reader from the
same position, so its errors and edge cases are unchanged.
"""

from __future__ import annotations

import binascii
import os
import re

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.misc import PDF_WHITESPACE

_original = generic.read_hex_string_from_stream
_CHUNK = 64 * 1024
_PLAIN = re.compile(rb"[0-9a-fA-F" + re.escape(PDF_WHITESPACE) + rb"]*")
_SPACE = re.compile(rb"[" + re.escape(PDF_WHITESPACE) + rb"]+")


def read_hex_string_from_stream(stream):
    start = stream.tell()
    stream.read(1)  # the opening "<"
    body = b""
    while True:
        chunk = stream.read(_CHUNK)
        end = chunk.find(b">")
        if end >= 0:
            body += chunk[:end]
            break
        body += chunk
        if len(chunk) < _CHUNK:  # no ">" before the end: pyHanko's reader says so
            stream.seek(start, os.SEEK_SET)
            return _original(stream)
    if _PLAIN.fullmatch(body) is None:
        stream.seek(start, os.SEEK_SET)
        return _original(stream)
    stream.seek(start + 1 + len(body) + 1, os.SEEK_SET)
    digits = _SPACE.sub(b"", body)
    if len(digits) % 2:
        digits += b"0"
    return generic.pdf_string(binascii.unhexlify(digits))


def install() -> None:
    """Make pyHanko's object reader use the fast path (idempotent)."""
    generic.read_hex_string_from_stream = read_hex_string_from_stream
