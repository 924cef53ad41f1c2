"""The strict object reader behind the signature layout rules: spans of dictionary values,
references, nesting, and refusal of what a lenient parser would guess at."""

from __future__ import annotations

import pytest

from verify.pdf_syntax import (
    Dictionary,
    HexString,
    Name,
    Ref,
    SyntaxProblem,
    object_header_at,
    read_indirect_object,
)

SIGNATURE = (b"junk 39 0 obj\n<< /Contents <3082ABCD> /ByteRange [0 10 20 30]\n"
             b"/Type /Sig /Prop_Build << /App << /Name /x >> >> /Name (a \\) b (c))\n"
             b"/Reference [ 5 0 R << /Data 7 0 R >> ] % a comment\n>>\nendobj\n")


def test_a_signature_dictionary_is_read_with_the_span_of_each_value():
    offset = SIGNATURE.index(b"39 0 obj")
    obj = read_indirect_object(SIGNATURE, offset, len(SIGNATURE))
    assert (obj.idnum, obj.generation) == (39, 0)
    value = obj.value
    assert isinstance(value, Dictionary)
    assert value.entries[b"Contents"] == HexString(bytes.fromhex("3082ABCD"))
    start, end = value.spans[b"Contents"]
    assert SIGNATURE[start:end] == b"<3082ABCD>"
    assert value.entries[b"ByteRange"] == [0, 10, 20, 30]
    assert value.entries[b"Type"] == Name(b"Sig")
    assert value.entries[b"Reference"][0] == Ref(5, 0)
    assert value.entries[b"Reference"][1].entries[b"Data"] == Ref(7, 0)
    assert SIGNATURE[obj.end - 6:obj.end] == b"endobj"


@pytest.mark.parametrize("body", [
    b"<< /Contents <00> /Contents <01> >>",  # a duplicate key: which one wins?
    b"<< /Contents <0G> >>",  # not hex
    b"<< /Name (unterminated >>",
    b"<< 5 /Type >>",  # a key that is no name
    b"<< /A [1 2 >>",
    b"<< /A R >>",
    b"[" * 40 + b"]" * 40,  # nested past the bound
])
def test_malformed_objects_are_refused(body):
    data = b"1 0 obj\n" + body + b"\nendobj\n"
    with pytest.raises(SyntaxProblem):
        read_indirect_object(data, 0, len(data))


def test_an_object_must_end_with_endobj_within_its_bound():
    data = b"1 0 obj\n<< /A 1 >>\nendobj\n"
    with pytest.raises(SyntaxProblem):
        read_indirect_object(data, 0, len(data) - 4)
    with pytest.raises(SyntaxProblem):
        read_indirect_object(b"1 0 obj\n<< /A 1 >>\nstream\n", 0, 24)


def test_headers_are_found_only_exactly_at_their_offset():
    data = b"xx 12 0 obj\n<<>>\nendobj"
    assert object_header_at(data, 3) == (12, 0)
    assert object_header_at(data, 2) is None
    assert object_header_at(b"12 0 object", 0) is None


def test_object_headers_after_the_signed_revision_are_found_backwards_from_obj():
    from verify.pdf_layout import _object_headers

    data = (b"%%EOF\n12\n0\r\nobj << >> endobj 7 0 objstm 3 1 obj"
            b" stream 99999999999999999999999 0 obj 0 obj")
    found = list(_object_headers(data, 6))
    assert found == [(6, 12, 0), (data.index(b"3 1 obj"), 3, 1),
                     (data.index(b"99999"), -1, 0)]
