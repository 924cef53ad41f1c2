"""Canonical JSON of licence data: the bytes that the QR digest and the attachment agree on.

Sorted keys, UTF-8 (no ASCII escaping, so Chinese stays as-is), no insignificant spaces.
Licence data holds only strings, numbers, booleans, null, lists and objects, so this is
deterministic across processes and Python versions.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any


def canonical_json(data: Any) -> bytes:
    return json.dumps(
        data, sort_keys=True, ensure_ascii=False, separators=(",", ":"), allow_nan=False
    ).encode("utf-8")


def data_digest(data: Any) -> bytes:
    """SHA-256 of the canonical JSON of ``data``."""
    return hashlib.sha256(canonical_json(data)).digest()


# Licence data nests two levels; requests around it a few more. Python's own parser and
# every recursive walk after it (validation, canonical JSON) meet the recursion limit
# near a thousand, so depth is bounded before anything parses.
MAX_JSON_DEPTH = 32
_KEEP_QUOTES_AND_BRACKETS = bytes(b for b in range(256) if b not in b'"[]{}')
_ONE_KIND = bytes.maketrans(b"{}", b"[]")


def json_depth_exceeds(text: bytes | str, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether JSON text opens more than ``limit`` arrays and objects inside one another
    (unclosed ones count: Python's parser recurses into them all the same), found without
    parsing, in C-speed passes: strings taken out, only the brackets kept, then every
    opening bracket directly followed by a closing one taken out, which lowers the
    deepest point by one a pass. Exact for well-formed JSON; malformed JSON is never let
    through deeper than ``limit`` (it may be refused as too deep)."""
    raw = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
    # Escaped backslashes, then escaped quotes, out (left to right, as JSON reads them);
    # then every other byte but quotes and brackets; then what lies between quotes.
    unescaped = raw.replace(b"\\\\", b"").replace(b'\\"', b"")
    outside_strings = unescaped.translate(_ONE_KIND, _KEEP_QUOTES_AND_BRACKETS).split(b'"')
    brackets = b"".join(outside_strings[::2])
    passes = 0
    while len(brackets) + passes > limit:  # else not even all of them open could do it
        if passes == limit:
            return True  # something is still open after the innermost `limit` levels
        reduced = brackets.replace(b"[]", b"")
        peaks = (len(brackets) - len(reduced)) // 2
        if peaks == 0:  # closings only, then openings only: "]]][[["
            opened = brackets.count(b"[")
            return max(0, 2 * opened - len(brackets)) + passes > limit
        if peaks <= _FEW_PEAKS:  # long runs: walk them rather than pass again
            return _deepest(brackets) + passes > limit
        brackets, passes = reduced, passes + 1
    return False


_FEW_PEAKS = 16_384
_RUN = re.compile(rb"\[+|\]+")


def _deepest(brackets: bytes) -> int:
    depth = deepest = 0
    for run in _RUN.finditer(brackets):  # about two runs a peak
        if brackets[run.start()] == 0x5B:
            depth += run.end() - run.start()
            deepest = max(deepest, depth)
        else:
            depth -= run.end() - run.start()
    return deepest
