"""certs.base45_decode against the base45 library (the reference): the same bytes for
every string the library accepts and a ValueError for every string it refuses."""

from __future__ import annotations

import base45
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from certs.base45_decode import ALPHABET, b45decode


def _reference(text: str) -> bytes | None:
    try:
        return base45.b45decode(text)
    except ValueError:
        return None


def _ours(text: str) -> bytes | None:
    try:
        return b45decode(text)
    except ValueError:
        return None


@settings(max_examples=600, deadline=None)
@given(st.binary(max_size=700))
def test_round_trips_what_the_library_encodes(data):
    text = base45.b45encode(data).decode("ascii")
    assert b45decode(text) == data == base45.b45decode(text)


# Strings over the alphabet hit the value checks (chunks above 0xFFFF, a last pair above
# 0xFF) and the 3n + 1 lengths; the mixed ones add characters outside it and newlines.
_ALPHABET_TEXT = st.text(alphabet=ALPHABET, max_size=120)
_MIXED_TEXT = st.text(alphabet=st.sampled_from(ALPHABET + "abz\n\r\t\x00é中_=#"),
                      max_size=60)


@settings(max_examples=1500, deadline=None)
@given(st.one_of(_ALPHABET_TEXT, _MIXED_TEXT, st.text(max_size=40)))
@example(":::")  # 91124: the largest chunk, above 0xFFFF
@example("FGW")  # 65535: the largest valid chunk
@example("GGW")  # 65536
@example("U5")  # 255: the largest valid last pair
@example("V5")  # 256
@example("A")  # 3n + 1
@example("AB\n")  # a trailing newline is stripped (as the library does)
@example("AB\r\n")
@example("\nAB")
@example("ab")  # lower case is not base45
@example("")
def test_accepts_and_refuses_what_the_library_does(text):
    assert _ours(text) == _reference(text)


def test_the_refusal_is_a_value_error_with_the_librarys_message():
    for text in (":::", "A", "a", "V5", "AB\t"):
        with pytest.raises(ValueError, match="Invalid base45 string"):
            b45decode(text)
