"""Holder identifiers: unified social credit code (GB 32100) and resident identity number
(GB 11643), with their check characters, masking for display, and generators of valid
codes for tests and demos.
"""

from __future__ import annotations

import datetime as dt
import re

from certs.errors import InvalidIdentifier
from certs.text import normalise_identifier, shown

USCC_FIELD = "统一社会信用代码"
RESIDENT_ID_FIELD = "公民身份号码"

# GB 32100-2015: the digits and the capital letters without I, O, S, V, Z.
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_VALUE = {c: i for i, c in enumerate(USCC_ALPHABET)}
_USCC_WEIGHTS = tuple(pow(3, i, 31) for i in range(17))
_USCC_SHAPE = re.compile(r"^[0-9A-HJ-NP-RT-UW-Y]{2}[0-9]{6}[0-9A-HJ-NP-RT-UW-Y]{10}$")

# GB 11643-1999: ISO 7064 MOD 11-2 over the first 17 digits.
_RID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_RID_CHECK = "10X98765432"
_RID_SHAPE = re.compile(r"^[1-9][0-9]{16}[0-9X]$")


def uscc_check_char(first17: str) -> str:
    total = sum(_USCC_VALUE[c] * w for c, w in zip(first17, _USCC_WEIGHTS, strict=True))
    return USCC_ALPHABET[(31 - total % 31) % 31]


def validate_uscc(code: str, field: str = USCC_FIELD) -> str:
    """Return the normalised code (``normalise_identifier``) or raise ``InvalidIdentifier``."""
    if not isinstance(code, str):
        raise InvalidIdentifier(field, "must be a string of 18 characters", "type",
                                {"expected": "string"})
    value = normalise_identifier(code)
    _check_length(value, field)
    bad = sorted({c for c in value if c not in _USCC_VALUE})
    if bad:
        characters = shown("".join(bad))
        raise InvalidIdentifier(
            field, f"characters {characters!r} are not allowed (0-9, A-Z without I O S V Z)",
            "identifier_characters",
            {"characters": characters, "allowed": "0-9, A-Z (I O S V Z excepted)"})
    if not _USCC_SHAPE.match(value):
        raise InvalidIdentifier(field, "characters 3-8 must be an administrative division code",
                                "division_code")
    expected = uscc_check_char(value[:17])
    if value[17] != expected:
        raise InvalidIdentifier(field, "check character does not match (GB 32100)",
                                "check_character", {"standard": "GB 32100"})
    return value


def _check_length(value: str, field: str) -> None:
    if len(value) != 18:
        raise InvalidIdentifier(field, f"must be 18 characters, got {len(value)}",
                                "identifier_length", {"expected": 18, "actual": len(value)})


def make_uscc(prefix17: str) -> str:
    """A valid code from its first 17 characters (for tests and demos)."""
    prefix = prefix17.upper()
    if len(prefix) != 17 or any(c not in _USCC_VALUE for c in prefix):
        raise ValueError("prefix17 must be 17 characters of the GB 32100 alphabet")
    return prefix + uscc_check_char(prefix)


def resident_id_check_char(first17: str) -> str:
    total = sum(int(c) * w for c, w in zip(first17, _RID_WEIGHTS, strict=True))
    return _RID_CHECK[total % 11]


def validate_resident_id(
    number: str, field: str = RESIDENT_ID_FIELD, *, today: dt.date | None = None
) -> str:
    """Return the normalised number (``normalise_identifier``: trailing ``x`` upper-cased)
    or raise ``InvalidIdentifier``."""
    if not isinstance(number, str):
        raise InvalidIdentifier(field, "must be a string of 18 characters", "type",
                                {"expected": "string"})
    value = normalise_identifier(number)
    _check_length(value, field)
    if not _RID_SHAPE.match(value):
        raise InvalidIdentifier(field, "must be 17 digits followed by a digit or X",
                                "resident_id_shape")
    birth = _birth_date(value, field)
    if birth > (today or dt.date.today()):
        raise InvalidIdentifier(field, "birth date lies in the future", "birth_date_future")
    if value[17] != resident_id_check_char(value[:17]):
        raise InvalidIdentifier(field, "check character does not match (GB 11643)",
                                "check_character", {"standard": "GB 11643"})
    return value


def _birth_date(value: str, field: str) -> dt.date:
    try:
        birth = dt.date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        raise InvalidIdentifier(field, "positions 7-14 are not a real birth date",
                                "birth_date") from None
    if birth.year < 1850:
        raise InvalidIdentifier(field, "positions 7-14 are not a real birth date", "birth_date")
    return birth


def resident_id_birth_date(number: str) -> dt.date:
    """Birth date carried by an already validated resident identity number."""
    return _birth_date(number, RESIDENT_ID_FIELD)


def resident_id_sex(number: str) -> str:
    """``男`` or ``女`` from the parity of the 17th digit (GB 11643 sequence code)."""
    return "男" if int(number[16]) % 2 else "女"


def make_resident_id(prefix17: str) -> str:
    """A valid number from its first 17 digits (for tests and demos)."""
    if len(prefix17) != 17 or not prefix17.isdigit():
        raise ValueError("prefix17 must be 17 digits")
    return prefix17 + resident_id_check_char(prefix17)


def mask_identifier(value: str, keep_start: int = 6, keep_end: int = 4, mask: str = "*") -> str:
    """Hide the middle of an identifier: ``110105********002X``.

    Values too short to keep both ends are masked whole, so nothing leaks by accident.
    """
    if len(value) <= keep_start + keep_end:
        return mask * len(value)
    hidden = len(value) - keep_start - keep_end
    return value[:keep_start] + mask * hidden + value[len(value) - keep_end:]
