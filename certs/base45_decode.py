"""Base45 decoding (RFC 9285) at C speed, for the QR text a counter checks.

The ``base45`` library decodes a character at a time in Python (~36 us for a licence QR,
a fifth of a QR check). Here the work is done on whole byte strings: the characters are
mapped to their values by ``bytes.translate``, each chunk's three values are spread into
32-bit lanes of one big integer, and ``c + 45 d + 2025 e`` is then three big-integer
operations (a chunk's value is below 2**17, so lanes never carry into each other). It
accepts and refuses exactly what ``base45.b45decode`` does for text (a trailing newline
stripped; any other character outside the alphabet, a length of 3n + 1, a chunk above
0xFFFF or a final pair above 0xFF refused with ValueError), proven by a property test
against the library (tests/certs/test_base45_decode.py).
"""

from __future__ import annotations

import re

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
_VALUES = bytes.maketrans(ALPHABET.encode("ascii"), bytes(range(45)))
_BASE45 = re.compile(r"[0-9A-Z $%*+\-./:]*")
_LANE = 4  # bytes per chunk value in the big integers


def b45decode(text: str) -> bytes:
    text = text.rstrip("\n")
    if _BASE45.fullmatch(text) is None:
        raise ValueError("Invalid base45 string")
    size = len(text)
    if size % 3 == 1:
        raise ValueError("Invalid base45 string")
    values = text.encode("ascii").translate(_VALUES)
    chunks, full = size // 3, size - size % 3
    lanes = [bytearray(_LANE * chunks) for _ in range(3)]
    for position, lane in enumerate(lanes):
        lane[0::_LANE] = values[position:full:3]
    low, middle, high = (int.from_bytes(lane, "little") for lane in lanes)
    words = (low + 45 * middle + 2025 * high).to_bytes(_LANE * chunks, "little")
    if words[2::_LANE].count(0) != chunks:  # some chunk's value is above 0xFFFF
        raise ValueError("Invalid base45 string")
    out = bytearray(2 * chunks + (size - full) // 2)
    out[0:2 * chunks:2] = words[1::_LANE]  # high byte first
    out[1:2 * chunks:2] = words[0::_LANE]
    if size != full:
        last = values[full] + 45 * values[full + 1]
        if last > 0xFF:
            raise ValueError("Invalid base45 string")
        out[-1] = last
    return bytes(out)
