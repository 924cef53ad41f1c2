"""The accelerator's hex-string reader gives pyHanko's own answers: same value, same stream
position after it, same error for malformed input."""

from __future__ import annotations

import io

import pytest
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.misc import PdfStreamError

from verify.accel.pdf_readers import hex_string_reader

_original = generic.read_hex_string_from_stream  # nothing installs on import
read_hex_string_from_stream = hex_string_reader(_original)

CASES = [
    b"<>", b"<00ff>", b"<0A1b2C3>", b"< 41 42\n43\r\t44 >tail", b"<4142% a comment\n43>",
    b"<41 42 zz>", b"<4142", b"<" + b"ab" * 40_000 + b">rest", b"<" + b"ab" * 40_000,
    b"<41\x0042\x0c>", b"<4g>", b"<41>>",
]


def _read(reader, data: bytes):
    stream = io.BytesIO(b"xx" + data)
    stream.seek(2)
    try:
        value = reader(stream)
    except PdfStreamError as exc:
        return "error", str(exc), stream.tell()
    return type(value).__name__, bytes(value.original_bytes), stream.tell()


@pytest.mark.parametrize("data", CASES, ids=range(len(CASES)))
def test_fast_hex_strings_read_as_pyhanko_reads_them(data):
    assert _original.__module__ == "pyhanko.pdf_utils.generic"
    assert _read(read_hex_string_from_stream, data) == _read(_original, data)
