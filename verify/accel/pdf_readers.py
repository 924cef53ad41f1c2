"""Faster readers of PDF hex strings, names, bare tokens and integer arrays for pyHanko,
with pyHanko's own results: each is built around the original it replaces and hands
every input it does not fully understand to that original, from the same position.

- Hex strings: pyHanko reads one byte at a time; a licence's signature /Contents is
  16,384 hex digits (~8 ms a verification). The fast path takes the bytes up to the first
  ``>`` at once when they are hex digits and PDF whitespace and nothing else.
- Names and bare tokens (``/Type``, ``123``, ``true``): pyHanko reads them byte by byte
  through a generator and decodes names byte by byte (~40 us a small dictionary). The fast
  paths take up to 128 bytes at once, cut at the first delimiter, and turn names without
  ``#`` escapes or irregular bytes into text in one step.
- Arrays of plain integers (a font's /Widths, ~0.6 ms a licence): read with one regular
  expression when the whole array is integers and whitespace, with the same NumberObjects
  (each carrying the container reference ``read_object`` gives it) and the same position
  after ``]``.
"""

from __future__ import annotations

import binascii
import os
import re
from collections.abc import Callable

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.misc import PDF_DELIMITERS, PDF_WHITESPACE

_HEX_CHUNK = 64 * 1024
_PLAIN_HEX = re.compile(rb"[0-9a-fA-F" + re.escape(PDF_WHITESPACE) + rb"]*")
_SPACE = re.compile(rb"[" + re.escape(PDF_WHITESPACE) + rb"]+")

_TOKEN_CHUNK = 128
_DELIMITER = re.compile(rb"[" + re.escape(PDF_WHITESPACE + PDF_DELIMITERS) + rb"]")
_REGULAR = bytes(b for b in range(0x21, 0x7F) if b not in PDF_DELIMITERS + b"#")
_PLAIN_NAME = re.compile(rb"[" + re.escape(_REGULAR) + rb"]*")

_WS = rb"[" + re.escape(PDF_WHITESPACE) + rb"]"  # what read_non_whitespace skips
_INTEGER_ARRAY = re.compile(rb"\[" + _WS + rb"*(?:[+-]?[0-9]+(?:" + _WS + rb"+[+-]?[0-9]+)*)?"
                            + _WS + rb"*\]")
_INTEGER = re.compile(rb"[+-]?[0-9]+")
_ARRAY_CHUNK = 8192


def hex_string_reader(original: Callable) -> Callable:
    """A replacement of ``generic.read_hex_string_from_stream``."""

    def read_hex_string_from_stream(stream):
        start = stream.tell()
        stream.read(1)  # the opening "<"
        body = b""
        while True:
            chunk = stream.read(_HEX_CHUNK)
            end = chunk.find(b">")
            if end >= 0:
                body += chunk[:end]
                break
            body += chunk
            if len(chunk) < _HEX_CHUNK:  # no ">" before the end: pyHanko's reader says so
                stream.seek(start, os.SEEK_SET)
                return original(stream)
        if _PLAIN_HEX.fullmatch(body) is None:
            stream.seek(start, os.SEEK_SET)
            return original(stream)
        stream.seek(start + 1 + len(body) + 1, os.SEEK_SET)
        digits = _SPACE.sub(b"", body)
        if len(digits) % 2:
            digits += b"0"
        return generic.pdf_string(binascii.unhexlify(digits))

    return read_hex_string_from_stream


def token_reader(original: Callable) -> Callable:
    """A replacement of ``generic.read_until_delimiter``."""

    def read_until_delimiter(stream) -> bytes:
        start = stream.tell()
        chunk = stream.read(_TOKEN_CHUNK)
        found = _DELIMITER.search(chunk)
        if found is not None:
            end = found.start()
            stream.seek(start + end, os.SEEK_SET)  # pyHanko steps back onto the delimiter
            return chunk[:end]
        if len(chunk) < _TOKEN_CHUNK:  # the end of the stream: pyHanko stays there
            return chunk
        stream.seek(start, os.SEEK_SET)
        return original(stream)

    return read_until_delimiter


def name_decoder(original: Callable) -> Callable:
    """A replacement of ``generic._decode_name``."""

    def decode_name(name_bytes: bytes) -> generic.NameObject:
        if _PLAIN_NAME.fullmatch(name_bytes) is not None:
            return generic.NameObject("/" + name_bytes.decode("ascii"))
        return original(name_bytes)

    return decode_name


def array_reader(original: Callable) -> Callable:
    """A replacement of ``generic.ArrayObject.read_from_stream`` (the function inside the
    staticmethod)."""

    def read_array(stream, container_ref,
                   in_content_stream: generic.ContentOpReading = generic.ContentOpReading.NO):
        start = stream.tell()
        found = _INTEGER_ARRAY.match(stream.read(_ARRAY_CHUNK))
        if found is None:
            stream.seek(start, os.SEEK_SET)
            return original(stream, container_ref, in_content_stream)
        array = generic.ArrayObject()
        for token in _INTEGER.findall(found.group()):
            number = generic.NumberObject(token.decode("ascii"))
            number.container_ref = container_ref  # as read_object sets it on every element
            array.append(number)
        stream.seek(start + found.end(), os.SEEK_SET)
        return array

    return read_array
