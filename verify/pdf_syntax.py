"""A strict reader of PDF object syntax that keeps where every value lies in the file.

The signature layout rules (verify.pdf_layout) are judged on the raw bytes, independent
of how lenient the PDF library that validates the signature is: this reader accepts only
well-formed syntax (ISO 32000-1 §7.2-7.3), refuses duplicate dictionary keys and reports
the span of each top-level dictionary value, which is what those rules need (where the
/Contents string and the /ByteRange array of a signature dictionary are)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

WHITESPACE = b"\x00\t\n\x0c\r "
DELIMITERS = b"()<>[]{}/%"
_SPACE = rb"[\x00\t\n\x0c\r ]+"
_HEADER = re.compile(
    rb"(\d{1,10})" + _SPACE + rb"(\d{1,5})" + _SPACE + rb"obj(?![^\x00\t\n\x0c\r ()<>\[\]{}/%])"
)
_NUMBER = re.compile(rb"[+-]?(?:\d+\.?\d*|\.\d+)")
_REGULAR = re.compile(rb"[^\x00\t\n\x0c\r ()<>\[\]{}/%]+")
_HEX = re.compile(rb"<([0-9A-Fa-f\x00\t\n\x0c\r ]*)>")
MAX_DEPTH = 32


class SyntaxProblem(ValueError):
    """The bytes are not well-formed PDF object syntax."""


@dataclass(frozen=True)
class Ref:
    idnum: int
    generation: int


@dataclass(frozen=True)
class Name:
    value: bytes


@dataclass(frozen=True)
class HexString:
    value: bytes


@dataclass(frozen=True)
class Dictionary:
    """A dictionary with the span ``[start, end)`` of each value in the file."""

    entries: dict[bytes, Any]
    spans: dict[bytes, tuple[int, int]]


@dataclass(frozen=True)
class IndirectObject:
    idnum: int
    generation: int
    value: Any
    start: int
    end: int  # just after "endobj"


def object_header_at(data: bytes, offset: int) -> tuple[int, int] | None:
    """The (number, generation) of the "N G obj" header exactly at ``offset``."""
    match = _HEADER.match(data, offset)
    if match is None:
        return None
    return int(match.group(1)), int(match.group(2))


def read_indirect_object(data: bytes, offset: int, end: int) -> IndirectObject:
    """The indirect object whose header is exactly at ``offset``, read no further than
    ``end``. Streams are not accepted (a signature dictionary is never one)."""
    match = _HEADER.match(data, offset, end)
    if match is None:
        raise SyntaxProblem(f"no object header at offset {offset}")
    reader = _Reader(data, match.end(), end)
    value = reader.value(0)
    reader.skip_space()
    if not data.startswith(b"endobj", reader.at) or reader.at + 6 > end:
        raise SyntaxProblem(f"object at {offset} does not end with endobj")
    return IndirectObject(int(match.group(1)), int(match.group(2)), value, offset, reader.at + 6)


class _Reader:
    def __init__(self, data: bytes, at: int, end: int) -> None:
        self.data, self.at, self.end = data, at, end

    def skip_space(self) -> None:
        data, end = self.data, self.end
        while self.at < end:
            ch = data[self.at]
            if ch in WHITESPACE:
                self.at += 1
            elif ch == 0x25:  # % comment to the end of the line
                while self.at < end and data[self.at] not in b"\r\n":
                    self.at += 1
            else:
                return

    def _peek(self) -> int:
        if self.at >= self.end:
            raise SyntaxProblem("unexpected end of data")
        return self.data[self.at]

    def value(self, depth: int) -> Any:
        if depth > MAX_DEPTH:
            raise SyntaxProblem("nested too deeply")
        self.skip_space()
        ch = self._peek()
        data = self.data
        if data.startswith(b"<<", self.at):
            return self._dictionary(depth)
        if ch == 0x3C:  # <
            match = _HEX.match(data, self.at, self.end)
            if match is None:
                raise SyntaxProblem(f"bad hex string at {self.at}")
            self.at = match.end()
            digits = bytes(b for b in match.group(1) if b not in WHITESPACE)
            if len(digits) % 2:
                digits += b"0"
            return HexString(bytes.fromhex(digits.decode("ascii")))
        if ch == 0x28:  # (
            return self._literal()
        if ch == 0x5B:  # [
            self.at += 1
            items = []
            while True:
                self.skip_space()
                if self._peek() == 0x5D:
                    self.at += 1
                    return self._refs(items)
                items.append(self.value(depth + 1))
        if ch == 0x2F:  # /
            start = self.at + 1
            match = _REGULAR.match(data, start, self.end)
            self.at = match.end() if match else start
            return Name(data[start : self.at])
        match = _REGULAR.match(data, self.at, self.end)
        if match is None:
            raise SyntaxProblem(f"unexpected {bytes([ch])!r} at {self.at}")
        token = match.group(0)
        self.at = match.end()
        if token in (b"true", b"false"):
            return token == b"true"
        if token == b"null":
            return None
        if token == b"R":
            return _R
        if _NUMBER.fullmatch(token):
            return int(token) if re.fullmatch(rb"[+-]?\d+", token) else float(token)
        raise SyntaxProblem(f"unexpected token {token[:20]!r}")

    def _dictionary(self, depth: int) -> Dictionary:
        self.at += 2
        entries: dict[bytes, Any] = {}
        spans: dict[bytes, tuple[int, int]] = {}
        while True:
            self.skip_space()
            if self.data.startswith(b">>", self.at):
                self.at += 2
                return Dictionary(entries, spans)
            key = self.value(depth + 1)
            if not isinstance(key, Name):
                raise SyntaxProblem(f"dictionary key is not a name at {self.at}")
            if key.value in entries:
                raise SyntaxProblem(f"duplicate key /{key.value.decode('latin-1')}")
            self.skip_space()
            start = self.at
            value = self.value(depth + 1)
            if value is _R:
                raise SyntaxProblem("R without an object number and generation")
            end = self.at
            # "N G R" as a value: the two integers and R read as three tokens.
            follow = self._reference_after(value)
            if follow is not None:
                value, end = follow
            entries[key.value] = value
            spans[key.value] = (start, end)

    def _reference_after(self, value: Any) -> tuple[Ref, int] | None:
        if not isinstance(value, int) or isinstance(value, bool):
            return None
        saved = self.at
        self.skip_space()
        match = _REGULAR.match(self.data, self.at, self.end)
        if match and re.fullmatch(rb"\d+", match.group(0)):
            generation = int(match.group(0))
            self.at = match.end()
            self.skip_space()
            if self.data.startswith(b"R", self.at) and (
                self.at + 1 >= self.end or self.data[self.at + 1] in WHITESPACE + DELIMITERS
            ):
                self.at += 1
                return Ref(value, generation), self.at
        self.at = saved
        return None

    @staticmethod
    def _refs(items: list[Any]) -> list[Any]:
        out: list[Any] = []
        for item in items:
            if item is _R:
                if len(out) < 2 or not all(isinstance(v, int) for v in out[-2:]):
                    raise SyntaxProblem("R without an object number and generation")
                generation, idnum = out.pop(), out.pop()
                out.append(Ref(idnum, generation))
            else:
                out.append(item)
        return out

    def _literal(self) -> bytes:
        data, end = self.data, self.end
        self.at += 1
        depth, out = 1, bytearray()
        while self.at < end:
            ch = data[self.at]
            self.at += 1
            if ch == 0x5C:  # an escape: only its extent matters here, not its meaning
                if self.at >= end:
                    break
                out.append(data[self.at])
                self.at += 1
                continue
            if ch == 0x28:
                depth += 1
            elif ch == 0x29:
                depth -= 1
                if depth == 0:
                    return bytes(out)
            out.append(ch)
        raise SyntaxProblem("unterminated literal string")


_R = object()
