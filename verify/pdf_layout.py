"""The layout of a genuine signed revision, checked on the raw bytes, deny by default.

A signature (or document time-stamp) dictionary carries ``/ByteRange [0 b c d]`` and a
``/Contents`` hex string. What the signature proves is only that the bytes ``[0, b)`` and
``[c, c + d)`` are the signer's; what a viewer shows is whatever a parser makes of the
whole file. The published attacks (Mladenov et al., CCS 2019: universal signature
forgery, incremental saving, signature wrapping) live in the distance between the two.
These rules close it for a file, independent of how lenient any PDF library is:

1. ``/ByteRange`` is exactly four direct non-negative integers ``[0 b c d]`` with
   ``0 < b < c`` and ``c + d`` within the file.
2. The gap ``[b, c)`` is exactly one hex string token, ``<`` hex digits ``>``, and it is
   the ``/Contents`` value of the very dictionary that carries this ``/ByteRange``, read
   from the signed bytes (the value the library validated is the same bytes).
3. That dictionary is one indirect object lying in the signed bytes (only its
   ``/Contents`` in the gap), introduced in the signed revision, with no duplicate keys.
4. The signed revision ends at ``c + d``: the signed bytes end with ``startxref N
   %%EOF``, ``N`` is where the signed revision's cross-reference data starts, and every
   cross-reference section and every object of the signed revision and those before it
   lies in the signed bytes, outside the gap, at exactly the offset its entry names.
5. A parser of the whole file sees the same first revisions as a parser of the signed
   bytes alone; every later revision starts where the one before it ends and lies wholly
   after ``c + d``; no hybrid cross-reference files.
6. Bytes after the signed revision that a viewer rebuilding a damaged cross-reference
   table would pick up (``N G obj`` headers, ``trailer`` dictionaries) are each exactly
   an object or trailer that a later revision declares; anything else there is a
   modification, wherever it hides (inside a stream, a comment, between revisions).

What a later revision may change is judged elsewhere (the difference analysis).
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.pdf_utils.xref import ObjStreamRef, XRefSectionType

from verify.pdf_syntax import (
    WHITESPACE,
    Dictionary,
    HexString,
    Name,
    SyntaxProblem,
    object_header_at,
    read_indirect_object,
)

_HEX_GAP = re.compile(rb"<[0-9A-Fa-f]*>")
_EOF_MARK = rb"startxref[\x00\t\n\x0c\r ]+(\d+)[\x00\t\n\x0c\r ]+%%EOF(?:\r\n|\r|\n)?"
_EOF = re.compile(_EOF_MARK)
_EOF_TAIL = re.compile(_EOF_MARK + rb"\Z")


class LayoutViolation(ValueError):
    """A signed revision that does not have the layout of a genuine one; ``rule`` names
    the rule broken (byte_range, gap, dictionary, signed_end, xref, objects, history,
    later, trailing)."""

    def __init__(self, rule: str, message: str) -> None:
        super().__init__(message)
        self.rule = rule


@dataclass(frozen=True)
class SignedRevision:
    """Where one signature's signed revision lies in the file."""

    byte_range: tuple[int, int, int, int]
    revision: int  # index of the signed revision, the oldest revision being 0
    reader: PdfFileReader = field(compare=False, repr=False)  # of the signed bytes alone

    @property
    def end(self) -> int:
        _, _, start2, length2 = self.byte_range
        return start2 + length2


def signed_revision_of(
    data: bytes,
    whole: PdfFileReader,
    sig_ref: generic.Reference,
    sig_object: generic.DictionaryObject,
    contents: bytes,
) -> SignedRevision:
    """Check rules 1-5 for the signature whose dictionary is ``sig_ref`` and whose
    ``/Contents`` the library read as ``contents``; LayoutViolation when one fails."""
    byte_range = _byte_range(sig_object, len(data))
    _, b, c, d = byte_range
    end = c + d
    if not _HEX_GAP.fullmatch(data, b, c):
        raise LayoutViolation("gap", "the gap in the byte range is not exactly one hex string")
    if (
        len(contents) * 2 + 2 != c - b
        or bytes.fromhex(data[b + 1 : c - 1].decode("ascii")) != contents
    ):
        raise LayoutViolation("gap", "the signature value read is not the hex string in the gap")
    if not _EOF_TAIL.search(data, max(0, end - 64), end):
        raise LayoutViolation("signed_end", "the signed bytes do not end with startxref and %%EOF")
    try:
        # Signed bytes that are the whole file are read by the whole file's reader.
        signed = whole if end == len(data) else PdfFileReader(io.BytesIO(data[:end]),
                                                              strict=False)
        revisions = signed.xrefs.total_revisions
        sig_offset = signed.xrefs.get_historical_ref(sig_ref, revisions - 1)
        introduced = signed.xrefs.get_last_change(sig_ref)
    except Exception as exc:  # the library cannot read the signed bytes on their own
        raise LayoutViolation(
            "signed_end", f"the signed bytes cannot be read on their own ({type(exc).__name__})"
        ) from None
    if introduced != revisions - 1:
        raise LayoutViolation(
            "dictionary", "the signature dictionary is not part of the signed revision"
        )
    if not isinstance(sig_offset, int) or not 0 <= sig_offset < b:
        raise LayoutViolation(
            "dictionary", "the signature dictionary does not start in the signed bytes"
        )
    _check_signature_dictionary(data, sig_offset, sig_ref, byte_range)
    declared = int(_EOF_TAIL.search(data, max(0, end - 64), end).group(1))
    if declared != signed.xrefs.get_startxref_for_revision(revisions - 1):
        raise LayoutViolation(
            "signed_end", "startxref at the end of the signed bytes is not the signed revision's"
        )
    for revision in range(revisions):
        _check_revision_within(signed, data, revision, low=0, high=end, gap=(b, c))
    _check_same_history(whole, signed, revisions)
    _check_later_revisions(data, whole, revisions, end)
    return SignedRevision(byte_range, revisions - 1, signed)


def check_trailing_bytes(data: bytes, whole: PdfFileReader, first_end: int) -> None:
    """Rule 6 over everything after ``first_end`` (the end of the earliest signed
    revision): every object header and trailer there is one a revision declares."""
    xrefs = whole.xrefs
    declared: set[tuple[int, int, int]] = set()
    trailers: set[int] = set()
    for revision in range(xrefs.total_revisions):
        meta = xrefs.get_xref_container_info(revision)
        if meta.start_location >= first_end and meta.xref_section_type is XRefSectionType.STANDARD:
            # pyHanko's end location of a table is just past its "trailer" keyword.
            trailers.add(data.rfind(b"trailer", meta.start_location, meta.end_location))
        for ref in xrefs.explicit_refs_in_revision(revision):
            location = xrefs.get_historical_ref(ref, revision)
            if isinstance(location, int) and location >= first_end:
                declared.add((location, ref.idnum, ref.generation))
        if meta.stream_ref is not None and meta.start_location >= first_end:
            declared.add((meta.start_location, meta.stream_ref.idnum, meta.stream_ref.generation))
    for found in _object_headers(data, first_end):
        if found not in declared:
            raise LayoutViolation(
                "trailing",
                f"an object header at offset {found[0]} after the "
                "signed revision belongs to no revision",
            )
    at = data.find(b"trailer", first_end)
    while at >= 0:
        if at not in trailers and not data[at + 7 : at + 8].isalnum():
            raise LayoutViolation(
                "trailing",
                f"a trailer at offset {at} after the signed revision belongs to no revision",
            )
        at = data.find(b"trailer", at + 7)


_MAX_DIGITS = 20


def _object_headers(data: bytes, low: int):
    """Every "N G obj" header at or after ``low`` as (offset, N, G), found from each
    "obj" keyword backwards (a regular expression over megabytes of stream data is slow).
    A number too long to be an object number still counts, as (offset, -1, -1)."""
    at = data.find(b"obj", low)
    while at >= 0:
        if not data[at + 3 : at + 4].isalnum():
            header = _header_before(data, at, low)
            if header is not None:
                yield header
        at = data.find(b"obj", at + 3)


def _header_before(data: bytes, at: int, low: int) -> tuple[int, int, int] | None:
    numbers = []
    for _ in range(2):
        end = at
        while at > low and data[at - 1] in WHITESPACE:
            at -= 1
        if at == end:
            return None
        end = at
        while at > low and 48 <= data[at - 1] <= 57:
            at -= 1
        if at == end:
            return None
        numbers.append(int(data[at:end]) if end - at <= _MAX_DIGITS else -1)
    generation, number = numbers
    return at, number, generation


def _byte_range(sig_object: generic.DictionaryObject, size: int) -> tuple[int, int, int, int]:
    try:
        raw = sig_object.raw_get("/ByteRange")
    except KeyError:
        raise LayoutViolation("byte_range", "the signature has no /ByteRange") from None
    if (
        not isinstance(raw, generic.ArrayObject)
        or len(raw) != 4
        or not all(type(v) is generic.NumberObject for v in raw)
    ):
        raise LayoutViolation("byte_range", "/ByteRange is not four direct integers")
    a, b, c, d = (int(v) for v in raw)
    if a != 0 or not 0 < b < c or d < 0 or c + d > size:
        raise LayoutViolation(
            "byte_range",
            f"/ByteRange [{a} {b} {c} {d}] is not [0 b c d] within the file ({size} bytes)",
        )
    return a, b, c, d


def _check_signature_dictionary(
    data: bytes, offset: int, ref: generic.Reference, byte_range: tuple[int, int, int, int]
) -> None:
    _, b, c, d = byte_range
    try:
        obj = read_indirect_object(data, offset, c + d)
    except SyntaxProblem as exc:
        raise LayoutViolation(
            "dictionary", f"the signature dictionary is not well-formed: {exc}"
        ) from None
    if (obj.idnum, obj.generation) != (ref.idnum, ref.generation):
        raise LayoutViolation(
            "dictionary", "the signature dictionary's offset holds another object"
        )
    value = obj.value
    if not isinstance(value, Dictionary):
        raise LayoutViolation("dictionary", "the signature object is not a dictionary")
    kind = value.entries.get(b"Type")
    if kind not in (Name(b"Sig"), Name(b"DocTimeStamp")):
        raise LayoutViolation(
            "dictionary", "the signature dictionary's /Type is not /Sig or /DocTimeStamp"
        )
    contents = value.entries.get(b"Contents")
    if not isinstance(contents, HexString) or value.spans[b"Contents"] != (b, c):
        raise LayoutViolation(
            "dictionary", "the hex string in the gap is not this dictionary's /Contents"
        )
    listed = value.entries.get(b"ByteRange")
    if listed != list(byte_range):
        raise LayoutViolation(
            "dictionary", "the dictionary read from the signed bytes carries another /ByteRange"
        )
    start, stop = value.spans[b"ByteRange"]
    if not (stop <= b or start >= c):
        raise LayoutViolation("dictionary", "/ByteRange lies in the gap")


def _check_revision_within(
    reader: PdfFileReader,
    data: bytes,
    revision: int,
    *,
    low: int,
    high: int,
    gap: tuple[int, int] | None,
) -> None:
    xrefs = reader.xrefs
    meta = xrefs.get_xref_container_info(revision)
    if meta.xref_section_type not in (XRefSectionType.STANDARD, XRefSectionType.STREAM):
        raise LayoutViolation("xref", "hybrid cross-reference sections are not accepted")
    declared = meta.declared_startxref
    if meta.xref_section_type is XRefSectionType.STANDARD:
        # pyHanko's start location is just past the "xref" keyword.
        in_place = data.startswith(b"xref", declared) and not data[
            declared + 4 : meta.start_location
        ].strip(WHITESPACE)
    else:
        in_place = declared == meta.start_location
    if not in_place:
        raise LayoutViolation(
            "xref", f"revision {revision}'s cross-reference data is not where its pointer says"
        )
    _within(declared, meta.end_location, low, high, gap, "cross-reference data")
    for ref in xrefs.explicit_refs_in_revision(revision):
        location = xrefs.get_historical_ref(ref, revision)
        expected = (ref.idnum, ref.generation)
        if isinstance(location, ObjStreamRef):
            expected = (location.obj_stream_id, 0)
            location = xrefs.get_historical_ref(generic.Reference(*expected), revision)
            if not isinstance(location, int) or location < low:
                raise LayoutViolation(
                    "objects",
                    f"object {ref.idnum} of revision {revision} lies in an "
                    "object stream outside that revision",
                )
        elif not isinstance(location, int):
            continue
        _within(location, location + 1, low, high, gap, f"object {ref.idnum}")
        if object_header_at(data, location) != expected:
            raise LayoutViolation(
                "objects", f"object {ref.idnum}'s entry does not point at its object header"
            )


def _within(
    start: int, end: int, low: int, high: int, gap: tuple[int, int] | None, what: str
) -> None:
    if not (low <= start and end <= high):
        raise LayoutViolation("objects", f"{what} lies outside its revision's bytes")
    if gap is not None and start < gap[1] and end > gap[0]:
        raise LayoutViolation("objects", f"{what} lies in the signature's gap")


def _check_same_history(whole: PdfFileReader, signed: PdfFileReader, revisions: int) -> None:
    if whole.xrefs.total_revisions < revisions:
        raise LayoutViolation("history", "the file has fewer revisions than its signed bytes")
    for revision in range(revisions):
        if whole.xrefs.get_startxref_for_revision(
            revision
        ) != signed.xrefs.get_startxref_for_revision(revision):
            raise LayoutViolation(
                "history", f"revision {revision} of the file is not the one signed"
            )
        refs = signed.xrefs.explicit_refs_in_revision(revision)
        if whole.xrefs.explicit_refs_in_revision(revision) != refs or any(
            whole.xrefs.get_historical_ref(r, revision)
            != signed.xrefs.get_historical_ref(r, revision)
            for r in refs
        ):
            raise LayoutViolation(
                "history", f"revision {revision} of the file is not the one signed"
            )


def _check_later_revisions(data: bytes, whole: PdfFileReader, first_later: int, end: int) -> None:
    xrefs = whole.xrefs
    previous_end = end
    for revision in range(first_later, xrefs.total_revisions):
        meta = xrefs.get_xref_container_info(revision)
        _check_revision_within(whole, data, revision, low=previous_end, high=len(data), gap=None)
        starts = [meta.start_location] + [
            loc
            for ref in xrefs.explicit_refs_in_revision(revision)
            if isinstance(loc := xrefs.get_historical_ref(ref, revision), int)
        ]
        if data[previous_end : min(starts)].strip(WHITESPACE):
            raise LayoutViolation(
                "later", f"revision {revision} does not start where the one before it ends"
            )
        eof = _EOF.search(data, meta.start_location)
        if eof is None or int(eof.group(1)) != meta.declared_startxref:
            raise LayoutViolation(
                "later", f"revision {revision} does not end with its startxref and %%EOF"
            )
        previous_end = eof.end()
    if data[previous_end:].strip(WHITESPACE):
        raise LayoutViolation("later", "bytes follow the last revision")
