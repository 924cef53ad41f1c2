"""The accelerator's name, token and integer-array readers give pyHanko's own answers: same
value, same stream position after it, same error, for any bytes at any position (property
tests against pyHanko's readers), and the same objects for a whole sealed licence."""

from __future__ import annotations

import io

from hypothesis import example, given, settings
from hypothesis import strategies as st
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.reader import PdfFileReader

from verify import accel
from verify.accel import pdf_readers

# pyHanko's own (nothing installs on import), and the accelerator's built around them.
_original_read_until_delimiter = generic.read_until_delimiter
_original_decode_name = generic._decode_name
_original_read_array = generic.ArrayObject.__dict__["read_from_stream"].__func__
read_until_delimiter = pdf_readers.token_reader(_original_read_until_delimiter)
decode_name = pdf_readers.name_decoder(_original_decode_name)
read_array = pdf_readers.array_reader(_original_read_array)


def _outcome(reader, stream: io.BytesIO):
    try:
        value = reader(stream)
    except Exception as exc:  # the error itself is compared
        return "error", type(exc).__name__, str(exc), stream.tell()
    return type(value).__name__, value, stream.tell()


# Token bytes: mostly regular characters, with delimiters, whitespace, '#' and bytes
# outside ASCII mixed in; long runs cross the fast path's 128-byte window.
_TOKEN_BYTES = st.binary(max_size=400) | st.lists(
    st.sampled_from([b"a", b"Z", b"0", b"#", b"#41", b"/", b" ", b"\n", b"\x00", b"(",
                     b"]", b">", b"%", b"\xe4", b"\x7f", b"~", b"!"]),
    max_size=300).map(b"".join)


@settings(max_examples=800, deadline=None)
@given(_TOKEN_BYTES, st.integers(min_value=0, max_value=5))
@example(b"Type/Page", 0)
@example(b"x" * 127 + b"/", 0)
@example(b"x" * 128 + b"/", 0)
@example(b"x" * 128, 0)
@example(b"x" * 300, 0)
@example(b"", 0)
def test_tokens_read_as_pyhanko_reads_them(data, start):
    start = min(start, len(data))
    ours, theirs = io.BytesIO(data), io.BytesIO(data)
    ours.seek(start)
    theirs.seek(start)
    assert (_outcome(read_until_delimiter, ours)
            == _outcome(_original_read_until_delimiter, theirs))


@settings(max_examples=800, deadline=None)
@given(_TOKEN_BYTES)
@example(b"Type")
@example(b"A#20B")
@example(b"A#2")
@example(b"A#zz")
@example(b"caf\xc3\xa9")
@example(b"\xe4")
@example(b"a(b")
@example(b"")
def test_names_decode_as_pyhanko_decodes_them(name_bytes):
    assert (_outcome(lambda _: decode_name(name_bytes), io.BytesIO())
            == _outcome(lambda _: _original_decode_name(name_bytes), io.BytesIO()))


def test_a_sealed_licence_reads_the_same(trust_domain):
    pdf = trust_domain.licences["yyzz"].pdf

    def every_object() -> list:
        reader = PdfFileReader(io.BytesIO(pdf), strict=False)
        found = []
        for revision in range(reader.xrefs.total_revisions):
            for ref in reader.xrefs.explicit_refs_in_revision(revision):
                obj = reader.get_object(ref)
                found.append((ref, repr(obj), getattr(obj, "encoded_data", None)))
        return found

    shipped = every_object()
    assert accel.install()
    try:
        fast = every_object()
    finally:
        accel.uninstall()
    assert fast == shipped and len(fast) > 20


# Arrays: integers and whitespace mostly (the fast path), with what must fall back mixed in
# (references, reals, signs alone, commas, comments, names, nested arrays, truncation).
_ARRAY_BYTES = st.lists(st.sampled_from(
    [b"0", b"7", b"500", b"1000", b"-3", b"+4", b"007", b"12345678901234567890", b" ",
     b"\n", b"\r\n", b"\t", b"\x00", b"\f", b"  ", b"-", b"+", b".", b"1.5", b",", b"R",
     b" 0 R", b"%c\n", b"/N", b"[", b"]", b"(s)", b"<>", b"x"]),
    max_size=60).map(lambda parts: b"[" + b"".join(parts)) | st.binary(max_size=200).map(
    lambda b: b"[" + b)


class _Container:
    """What read_object passes down as container_ref (compared by identity)."""


def _array_outcome(read, data: bytes, container):
    stream = io.BytesIO(data)
    try:
        value = read(stream, container)
    except Exception as exc:  # the error itself is compared
        return "error", type(exc).__name__, str(exc), stream.tell()
    return ("array", [(type(v).__name__, v, getattr(v, "container_ref", None) is container)
                      for v in value], type(value).__name__, stream.tell())


@settings(max_examples=1500, deadline=None)
@given(_ARRAY_BYTES, st.binary(max_size=8))
@example(b"[]", b"")
@example(b"[ 500 1000 ]", b" R")
@example(b"[1 0 R]", b"")
@example(b"[1 0]", b" R ")
@example(b"[5-3]", b"")
@example(b"[1 2", b"")
@example(b"[" + b"1 " * 5000 + b"]", b"")
def test_arrays_read_as_pyhanko_reads_them(data, tail):
    data += tail
    container = _Container()
    ours = _array_outcome(read_array, data, container)
    theirs = _array_outcome(_original_read_array, data, container)
    assert ours == theirs
