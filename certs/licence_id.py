"""The licence identifier, after GB/T 36904 as e-licence platforms implement it.

Shape (documented in docs and pinned by tests)::

    <TYPE>-<ISSUER USCC>-<SERIAL>-<VERSION><CHECK>
    YYZZ-11350100MB0000003T-0000000042-01K

- TYPE: the licence type code in upper case, 2-12 of A-Z 0-9 (catalogue codes are the
  same letters in lower case, e.g. ``yyzz``);
- ISSUER USCC: the issuing authority's 18-character unified social credit code;
- SERIAL: 10 decimal digits, allocated per (type, issuer) and never reused;
- VERSION: 2 decimal digits, 01 for the first issue, +1 for each superseding licence;
- CHECK: one character of 0-9 A-Z, ISO 7064 hybrid MOD 37,36 over every alphanumeric
  character before it (hyphens excluded), which catches any single substituted
  character and any swap of adjacent characters.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from certs.errors import InvalidIdentifier
from certs.identifiers import validate_uscc
from certs.text import normalise_identifier

LICENCE_ID_FIELD = "证照标识"
ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_VALUE = {c: i for i, c in enumerate(ALPHABET)}
SERIAL_DIGITS = 10
MAX_SERIAL = 10**SERIAL_DIGITS - 1
MAX_VERSION = 99
_TYPE = re.compile(r"^[A-Z0-9]{2,12}$")
_SHAPE = re.compile(r"^([A-Z0-9]{2,12})-([0-9A-Z]{18})-([0-9]{10})-([0-9]{2})([0-9A-Z])$")


def mod37_36_check_char(text: str) -> str:
    """ISO 7064 hybrid system MOD 37,36 over the characters 0-9 A-Z."""
    m = 36
    p = m
    for char in text:
        s = (p + _VALUE[char]) % m or m
        p = (2 * s) % (m + 1)
    return ALPHABET[(m + 1 - p) % m]


@dataclass(frozen=True, order=True)
class LicenceId:
    type_code: str  # catalogue spelling, lower case
    issuer_uscc: str
    serial: int
    version: int

    def __post_init__(self) -> None:
        if not _TYPE.match(self.type_code.upper()):
            raise InvalidIdentifier(LICENCE_ID_FIELD, "type code must be 2-12 of a-z 0-9")
        validate_uscc(self.issuer_uscc, LICENCE_ID_FIELD)
        if not 1 <= self.serial <= MAX_SERIAL:
            raise InvalidIdentifier(LICENCE_ID_FIELD, f"serial must be 1..{MAX_SERIAL}")
        if not 1 <= self.version <= MAX_VERSION:
            raise InvalidIdentifier(LICENCE_ID_FIELD, f"version must be 1..{MAX_VERSION}")

    @property
    def body(self) -> str:
        return (
            f"{self.type_code.upper()}-{self.issuer_uscc}-"
            f"{self.serial:0{SERIAL_DIGITS}d}-{self.version:02d}"
        )

    @property
    def check_char(self) -> str:
        return mod37_36_check_char(self.body.replace("-", ""))

    def __str__(self) -> str:
        return self.body + self.check_char

    def next_version(self) -> LicenceId:
        """The identifier of a licence that supersedes this one (same serial)."""
        if self.version >= MAX_VERSION:
            raise InvalidIdentifier(LICENCE_ID_FIELD, "no version left for this serial")
        return LicenceId(self.type_code, self.issuer_uscc, self.serial, self.version + 1)


def parse_licence_id(text: str, field: str = LICENCE_ID_FIELD) -> LicenceId:
    """Read an identifier back, refusing any shape or check-character error."""
    if not isinstance(text, str):
        raise InvalidIdentifier(field, "must be a string", "type", {"expected": "string"})
    value = normalise_identifier(text)
    match = _SHAPE.match(value)
    if not match:
        raise InvalidIdentifier(field, "not of the form TYPE-USCC-SERIAL-VERSIONCHECK",
                                "licence_id_shape")
    type_code, uscc, serial, version, check = match.groups()
    if mod37_36_check_char(value[:-1].replace("-", "")) != check:
        raise InvalidIdentifier(field, "check character does not match (ISO 7064 MOD 37,36)",
                                "check_character", {"standard": "ISO 7064 MOD 37,36"})
    try:
        validate_uscc(uscc, field)
    except InvalidIdentifier as exc:
        raise InvalidIdentifier(field, f"issuer code: {exc.message}", exc.rule,
                                exc.params) from None
    return LicenceId(type_code.lower(), uscc, int(serial), int(version))
