"""Faster readers of PDF names and bare tokens for pyHanko, same results.

pyHanko reads a name (``/Type``) or a bare token (``123``, ``true``, an operator) one
byte at a time through a generator, and decodes names byte by byte: about 40 us for a
small dictionary, most of reading a licence's objects (the bomb check reads them all,
validation and the difference analysis most). The fast paths take up to 128 bytes at
once and cut at the first delimiter, and turn names without ``#`` escapes or irregular
bytes into text in one step; anything else (a token running past 128 bytes, an escape,
a byte pyHanko refuses) goes to pyHanko's own code from the same position, so its
results, stream positions and errors are unchanged (tests/verify/test_verify_pdf_tokens.py).

Arrays of plain integers (a font's /Widths: hundreds of numbers, ~0.6 ms of a licence's
bomb check) are read with one regular expression when the whole array is integers
separated by whitespace: the same NumberObjects (each with the container reference
pyHanko's ``read_object`` gives it), the same position after ``]``. Anything else (a
reference, a real, a comment, a name, an array past 8 kB) is read by pyHanko.
"""

from __future__ import annotations

import os
import re

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.misc import PDF_DELIMITERS, PDF_WHITESPACE

_original_read_until_delimiter = generic.read_until_delimiter
_original_decode_name = generic._decode_name
_original_read_array = generic.ArrayObject.__dict__["read_from_stream"]  # the staticmethod
_CHUNK = 128
_DELIMITER = re.compile(rb"[" + re.escape(PDF_WHITESPACE + PDF_DELIMITERS) + rb"]")
_REGULAR = bytes(b for b in range(0x21, 0x7F) if b not in PDF_DELIMITERS + b"#")
_PLAIN_NAME = re.compile(rb"[" + re.escape(_REGULAR) + rb"]*")


def read_until_delimiter(stream) -> bytes:
    start = stream.tell()
    chunk = stream.read(_CHUNK)
    found = _DELIMITER.search(chunk)
    if found is not None:
        end = found.start()
        stream.seek(start + end, os.SEEK_SET)  # pyHanko steps back onto the delimiter
        return chunk[:end]
    if len(chunk) < _CHUNK:  # the end of the stream: pyHanko stays there
        return chunk
    stream.seek(start, os.SEEK_SET)
    return _original_read_until_delimiter(stream)


def decode_name(name_bytes: bytes) -> generic.NameObject:
    if _PLAIN_NAME.fullmatch(name_bytes) is not None:
        return generic.NameObject("/" + name_bytes.decode("ascii"))
    return _original_decode_name(name_bytes)


_WS = rb"[ \n\r\t\f\x00]"  # misc.PDF_WHITESPACE, what read_non_whitespace skips
_INTEGER_ARRAY = re.compile(rb"\[" + _WS + rb"*(?:[+-]?[0-9]+(?:" + _WS + rb"+[+-]?[0-9]+)*)?"
                            + _WS + rb"*\]")
_INTEGER = re.compile(rb"[+-]?[0-9]+")
_ARRAY_CHUNK = 8192


def read_array(stream, container_ref,
               in_content_stream: generic.ContentOpReading = generic.ContentOpReading.NO):
    start = stream.tell()
    found = _INTEGER_ARRAY.match(stream.read(_ARRAY_CHUNK))
    if found is None:
        stream.seek(start, os.SEEK_SET)
        return _original_read_array.__func__(stream, container_ref, in_content_stream)
    array = generic.ArrayObject()
    for token in _INTEGER.findall(found.group()):
        number = generic.NumberObject(token.decode("ascii"))
        number.container_ref = container_ref  # as read_object sets it on every element
        array.append(number)
    stream.seek(start + found.end(), os.SEEK_SET)
    return array


def install() -> None:
    """Make pyHanko's object reader use the fast paths (idempotent)."""
    generic.read_until_delimiter = read_until_delimiter
    generic._decode_name = decode_name
    generic.ArrayObject.read_from_stream = staticmethod(read_array)


def uninstall() -> None:
    """pyHanko's own readers again (a baseline measuring pyHanko as shipped)."""
    generic.read_until_delimiter = _original_read_until_delimiter
    generic._decode_name = _original_decode_name
    generic.ArrayObject.read_from_stream = _original_read_array
