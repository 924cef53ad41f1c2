"""Garbage never crashes and is never judged valid: random bytes, empty input, unsigned or
mutated PDFs, broken images. (Hypothesis drives the mutations.)"""

from __future__ import annotations

import asyncio
import io
import os
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from verify.errors import InputTooLarge, UnusableInput
from verify.inputs import verify_bytes
from verify.limits import Limits


@pytest.mark.parametrize("data", [
    b"", b"\x00" * 100, os.urandom(4096), b"%PDF-1.7\n" + os.urandom(2048),
    b"%PDF-1.7\n%%EOF\n", b"\x89PNG\r\n\x1a\n" + os.urandom(500), b"\xff\xd8\xff" + b"x" * 99,
    "证照".encode(), b"CSL1:" + os.urandom(50),
])
def test_garbage_is_refused_as_unusable(data, verify_offline):
    with pytest.raises(UnusableInput):
        verify_offline(data)


def test_an_image_without_a_qr_code_is_refused(verify_offline):
    out = io.BytesIO()
    Image.new("RGB", (400, 300), "white").save(out, format="PNG")
    with pytest.raises(UnusableInput, match="no QR code"):
        verify_offline(out.getvalue())


def test_oversized_input_is_refused_before_it_is_parsed(trust_domain, counter):
    context = counter.context(offline=True)
    small = type(context)(**{**context.__dict__, "limits": Limits(max_pdf_bytes=1000)})
    with pytest.raises(InputTooLarge):
        asyncio.run(verify_bytes(trust_domain.licences["yyzz"].pdf, small))


def _signed_positions(pdf: bytes) -> list[int]:
    a, b, c, d = (int(v) for v in re.search(
        rb"/ByteRange\s*\[\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)", pdf).groups())
    return [a, a + b, c, c + d]


def test_random_mutations_of_signed_bytes_are_never_valid(trust_domain, synced_counter):
    """Any change to a byte the signature covers must never come out valid (unreadable is
    fine: that is exit 3). The unsigned gap (/Contents) is left out: its padding and hex
    case do not change what was signed."""
    genuine = trust_domain.licences["zyzgzs"].pdf
    context = synced_counter.context(offline=True)
    assert asyncio.run(verify_bytes(genuine, context)).verdict == "valid"
    a0, a1, b0, b1 = _signed_positions(genuine)
    position = st.one_of(st.integers(a0, a1 - 1), st.integers(b0, b1 - 1))
    seen = {"unusable": 0, "judged": 0}

    @settings(max_examples=60, deadline=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(st.lists(st.tuples(position, st.integers(0, 255)), min_size=1, max_size=4))
    def mutate(edits):
        data = bytearray(genuine)
        for where, value in edits:
            data[where] = value
        data = bytes(data)
        try:
            report = asyncio.run(verify_bytes(data, context))
        except UnusableInput:
            seen["unusable"] += 1
            return
        seen["judged"] += 1
        if data != genuine:
            assert report.verdict != "valid", [c.to_json() for c in report.checks]

    mutate()
    assert seen["judged"] > 0  # the property really exercised the verifier


@settings(max_examples=80, deadline=None)
@given(st.binary(max_size=600) | st.text(max_size=300).map(lambda t: ("CSL1:" + t).encode()))
def test_arbitrary_input_never_raises_anything_but_unusable_input(tmp_path_factory, data):
    from ca.trustlist import SignedTrustList  # noqa: F401 - the context needs real lists

    context = _garbage_context(tmp_path_factory)
    try:
        report = asyncio.run(verify_bytes(data, context))
    except UnusableInput:
        return
    assert report.verdict != "valid"


_CONTEXT = {}


def _garbage_context(tmp_path_factory):
    """A counter context over a trust list made once for this property test."""
    if "context" not in _CONTEXT:
        import domain_kit

        from certseal.verifying import Verifier, trust_source

        under_test = domain_kit.make_domain(tmp_path_factory.mktemp("garbage") / "gd",
                                            issue_samples=False)
        under_test.domain.close()
        _CONTEXT["context"] = Verifier([trust_source(under_test.published)]).context(
            offline=True)
    return _CONTEXT["context"]
