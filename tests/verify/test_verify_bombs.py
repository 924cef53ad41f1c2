"""A decompression bomb is refused before anything inflates it in full."""

from __future__ import annotations

import io
import zlib

import pytest
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

from verify.errors import InputTooLarge


def with_stream(pdf: bytes, inflated_size: int) -> bytes:
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf), strict=False)
    stream = generic.StreamObject({generic.NameObject("/Filter"):
                                   generic.NameObject("/FlateDecode")},
                                  encoded_data=zlib.compress(b"\0" * inflated_size, 9))
    writer.root["/CertsealBomb"] = writer.add_object(stream)
    writer.update_root()
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def test_a_stream_inflating_past_the_limit_is_refused(trust_domain, verify_offline):
    bomb = with_stream(trust_domain.licences["yyzz"].pdf, 64 * 1024 * 1024)
    assert len(bomb) < 400_000  # small on the wire
    with pytest.raises(InputTooLarge, match="inflates"):
        verify_offline(bomb)


def test_a_large_but_bounded_stream_is_only_an_unsigned_change(trust_domain, verify_offline):
    changed = with_stream(trust_domain.licences["yyzz"].pdf, 1024 * 1024)
    report = verify_offline(changed)
    assert report.verdict == "invalid"  # a change after signing, judged as such


def test_verification_past_its_time_budget_is_refused(trust_domain, counter):
    import asyncio
    import dataclasses

    from verify.errors import TooComplex
    from verify.inputs import verify_bytes

    context = counter.context(offline=True)
    tight = dataclasses.replace(context, limits=dataclasses.replace(context.limits,
                                                                    verify_seconds=0.0))
    with pytest.raises(TooComplex):
        asyncio.run(verify_bytes(trust_domain.licences["yyzz"].pdf, tight))


# Every filter chain pyHanko decodes is bounded, not only a plain /FlateDecode: the
# abbreviation /Fl, ASCII encodings in front of deflate, deflate applied twice.

def _with_filtered_stream(pdf: bytes, filters: list[str], encoded: bytes) -> bytes:
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf), strict=False)
    names = [generic.NameObject(f) for f in filters]
    stream = generic.StreamObject({generic.NameObject("/Filter"):
                                   generic.ArrayObject(names) if len(names) > 1 else names[0]},
                                  encoded_data=encoded)
    writer.root["/CertsealBomb"] = writer.add_object(stream)
    writer.update_root()
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _deflated(size: int) -> bytes:
    return zlib.compress(b"\0" * size, 9)


@pytest.mark.parametrize("filters, encode", [
    (["/Fl"], _deflated),
    (["/ASCIIHexDecode", "/FlateDecode"], lambda n: _deflated(n).hex().encode() + b">"),
    (["/AHx", "/Fl"], lambda n: _deflated(n).hex().encode() + b">"),
    (["/FlateDecode", "/FlateDecode"], lambda n: zlib.compress(_deflated(n), 9)),
], ids=["Fl", "AHx-Flate", "AHx-Fl", "Flate-Flate"])
def test_bombs_behind_other_filter_spellings_and_chains_are_refused(
        trust_domain, verify_offline, filters, encode):
    bomb = _with_filtered_stream(trust_domain.licences["yyzz"].pdf, filters,
                                 encode(64 * 1024 * 1024))
    assert len(bomb) < 600_000
    with pytest.raises(InputTooLarge, match="inflates"):
        verify_offline(bomb)


def test_the_same_bomb_is_refused_again_once_its_size_is_kept(trust_domain, verify_offline):
    """The decoded size is kept per encoded bytes; the kept answer still refuses."""
    bomb = with_stream(trust_domain.licences["yyzz"].pdf, 40 * 1024 * 1024)
    for _ in range(2):
        with pytest.raises(InputTooLarge, match="inflates"):
            verify_offline(bomb)


def test_streams_together_past_the_total_are_refused(trust_domain, counter):
    """Each below the per-stream limit, together above the total (a tightened limit)."""
    import dataclasses

    from verify.inputs import verify_blocking

    pdf = trust_domain.licences["yyzz"].pdf
    for _ in range(3):
        pdf = with_stream(pdf, 3 * 1024 * 1024 + len(pdf) % 997)  # distinct streams
    context = counter.context(offline=True)
    tight = dataclasses.replace(context, limits=dataclasses.replace(
        context.limits, max_stream_bytes=4 * 1024 * 1024, max_decoded_bytes=8 * 1024 * 1024))
    with pytest.raises(InputTooLarge, match="streams inflate past"):
        verify_blocking(pdf, tight)
    assert verify_blocking(pdf, context).verdict == "invalid"  # only a change after signing


def test_decoded_sizes_are_counted_exactly():
    from verify.pdf import _decode_bounded

    payload = bytes(range(256)) * 5000
    limit = 10 * 1024 * 1024
    assert _decode_bounded(zlib.compress(payload), ("/FlateDecode",), limit) == len(payload)
    assert _decode_bounded(zlib.compress(zlib.compress(payload)), ("/Fl", "/Fl"),
                           limit) == len(payload)
    hexed = zlib.compress(payload).hex().encode() + b">"
    assert _decode_bounded(hexed, ("/AHx", "/Fl"), limit) == len(payload)
    assert _decode_bounded(zlib.compress(payload), ("/Fl",), len(payload) - 1) == len(payload)
    assert _decode_bounded(zlib.compress(payload), ("/Fl",), len(payload)) == len(payload)
    assert _decode_bounded(b"not deflate", ("/Fl",), limit) == 0


def test_a_bomb_overwritten_by_a_later_revision_is_still_refused(trust_domain,
                                                                    verify_offline):
    """Older revisions are read too (the difference analysis and the signed-revision reader
    of the content checks see them): a later revision giving the bomb's object number a
    small body does not hide the bomb from the check."""
    bombed = with_stream(trust_domain.licences["yyzz"].pdf, 64 * 1024 * 1024)
    writer = IncrementalPdfFileWriter(io.BytesIO(bombed), strict=False)
    ref = writer.root.raw_get("/CertsealBomb")
    writer.objects[(ref.generation, ref.idnum)] = generic.StreamObject(
        {generic.NameObject("/Filter"): generic.NameObject("/FlateDecode")},
        encoded_data=zlib.compress(b"small", 9))
    out = io.BytesIO()
    writer.write(out)
    with pytest.raises(InputTooLarge, match="inflates"):
        verify_offline(out.getvalue())
