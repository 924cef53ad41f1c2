"""Canonical JSON of licence data: the bytes that the QR digest and the attachment agree on.

Sorted keys, UTF-8 (no ASCII escaping, so Chinese stays as-is), no insignificant spaces.
Licence data holds only strings, numbers, booleans, null, lists and objects, so this is
deterministic across processes and Python versions.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any


def canonical_json(data: Any) -> bytes:
    return json.dumps(
        data, sort_keys=True, ensure_ascii=False, separators=(",", ":"), allow_nan=False
    ).encode("utf-8")


def data_digest(data: Any) -> bytes:
    """SHA-256 of the canonical JSON of ``data``."""
    return hashlib.sha256(canonical_json(data)).digest()
