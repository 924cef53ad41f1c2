"""Text at the edge of the domain: what licence data, department and seal names may hold,
and the one way identifiers are written.

Free text is normalised (Unicode NFC, trimmed) and refused when it holds a character a
reader cannot see or that changes how its neighbours are shown: control characters (NUL,
escape sequences, line breaks), format characters (bidirectional overrides, embeddings
and isolates, zero-width spaces and joiners, the byte-order mark, soft hyphens),
private-use, unassigned and surrogate code points, variation selectors, fillers that
render as nothing, and spaces other than the plain and the ideographic space (a no-break
or thin space makes two names that look the same compare different).

Identifiers (resident identity numbers, unified social credit codes, licence identifiers)
are written one way everywhere, whoever sends them: full-width digits and letters folded
to ASCII, trimmed, upper-case. A token's subject, a stored holder and a looked-up value
all go through ``normalise_identifier``.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

ALLOWED_SPACES = frozenset({" ", "\u3000"})
_REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Co", "Cs", "Cn", "Zl", "Zp", "Zs"})
# Letters and marks that draw nothing (Unicode's Default_Ignorable_Code_Point outside Cf)
# and variation selectors.
_INVISIBLE = frozenset({0x034F, 0x115F, 0x1160, 0x17B4, 0x17B5, 0x3164, 0xFFA0, 0x2800,
                        *range(0x180B, 0x1810), *range(0xFE00, 0xFE10),
                        *range(0xE0100, 0xE01F0)})
# Full-width ASCII digits and letters (what a Chinese input method types) -> ASCII.
_FULL_WIDTH = {code: code - 0xFEE0 for start, end in ((0xFF10, 0xFF19), (0xFF21, 0xFF3A),
                                                       (0xFF41, 0xFF5A))
               for code in range(start, end + 1)}
_FULL_WIDTH[0x3000] = 0x20


@dataclass(frozen=True)
class RefusedCharacter:
    position: int  # 1-based, in the normalised text
    character: str

    @property
    def code_point(self) -> str:
        """``U+202E RIGHT-TO-LEFT OVERRIDE``: how messages name it (never the raw one)."""
        return describe_character(self.character)


def describe_character(character: str) -> str:
    name = unicodedata.name(character, "")
    return f"U+{ord(character):04X}" + (f" {name}" if name else "")


def is_refused(character: str) -> bool:
    if character in ALLOWED_SPACES:
        return False
    return (ord(character) in _INVISIBLE
            or unicodedata.category(character) in _REFUSED_CATEGORIES)


def normalise_text(value: str) -> str:
    """NFC, then trimmed of white space at both ends (refused characters stay in, to be
    found by ``refused_character``)."""
    return unicodedata.normalize("NFC", value).strip()


def refused_character(value: str) -> RefusedCharacter | None:
    """The first character of ``value`` that free text may not hold, if any."""
    if value.isascii() and value.isprintable():  # the common case, in C
        return None
    for position, character in enumerate(value, start=1):
        if is_refused(character):
            return RefusedCharacter(position, character)
    return None


class RefusedText(ValueError):
    """Free text holding a character it may not hold (see the module's docstring)."""

    def __init__(self, what: str, refused: RefusedCharacter) -> None:
        self.what, self.refused = what, refused
        super().__init__(f"{what} contains an invisible or control character "
                         f"({refused.code_point}) at position {refused.position}")


def clean_text(value: str, what: str = "text") -> str:
    """Normalised ``value``, or ``RefusedText``."""
    normalised = normalise_text(value)
    refused = refused_character(normalised)
    if refused is not None:
        raise RefusedText(what, refused)
    return normalised


def normalise_identifier(value: str) -> str:
    """The one spelling of an identifier: full-width folded to ASCII, trimmed, upper-case.
    Shape and check characters are the identifier's own validator's business."""
    return value.translate(_FULL_WIDTH).strip().upper()


def visible(text: str) -> str:
    """``text`` with every refused character written as ``\\u202e``: what a page may show
    of text sealed before these rules (or read from a certificate), so nothing is hidden
    or reordered. Text without such characters comes back as it is."""
    if refused_character(text) is None:
        return text
    return "".join(_escaped(c) if is_refused(c) else c for c in text)


def shown(text: str, limit: int = 64) -> str:
    """Untrusted text as it may appear in a message: refused characters written as
    ``\\u202e``, at most ``limit`` characters."""
    return visible(text[:limit]) + ("…" if len(text) > limit else "")


def _escaped(character: str) -> str:
    code = ord(character)
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"
