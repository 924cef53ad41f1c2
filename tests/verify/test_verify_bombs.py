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
