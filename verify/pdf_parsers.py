"""A second, independent reading of a PDF: qpdf (through pikepdf) beside pyHanko.

Parser differentials are an attack class of their own: a file that two mainstream parsers
read as two different documents lets the signature be checked on one and the other be
shown. Both parsers here walk the document's whole object graph from the trailer's
/Root (pages, their content and resources, annotations, form fields and the signature
dictionaries, embedded files, metadata) into one canonical form; any difference is a
disagreement."""

from __future__ import annotations

import hashlib
import io
from decimal import Decimal
from typing import Any

import pikepdf
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.reader import PdfFileReader

MAX_NODES = 200_000


class ParsersDisagree(ValueError):
    """The two parsers read different documents from the same bytes."""


class _Budget:
    def __init__(self) -> None:
        self.left = MAX_NODES

    def spend(self) -> None:
        self.left -= 1
        if self.left < 0:
            raise ParsersDisagree("the object graph is too large to compare")


def compare_parsers(data: bytes, reader: PdfFileReader) -> None:
    """ParsersDisagree unless qpdf reads ``data`` into the same object graph as ``reader``
    (pyHanko's reader of the same bytes). qpdf may warn about what it tolerates (a /Size
    larger than needed); a file it could read only by rebuilding its cross-reference
    table is refused outright (``attempt_recovery=False``)."""
    try:
        pdf = pikepdf.open(io.BytesIO(data), attempt_recovery=False, suppress_warnings=True)
    except Exception as exc:  # qpdf cannot read what pyHanko read
        raise ParsersDisagree(f"qpdf cannot read the file ({type(exc).__name__})") from None
    with pdf:
        try:
            theirs = _Qpdf(_Budget()).canonical(pdf.trailer.get("/Root"))
        except ParsersDisagree:
            raise
        except Exception as exc:  # qpdf fails on an object it reads lazily
            raise ParsersDisagree(f"qpdf cannot read an object ({type(exc).__name__})") from None
    try:
        ours = _PyHanko(_Budget()).canonical(reader.trailer.raw_get("/Root"))
    except ParsersDisagree:
        raise
    except Exception as exc:  # pyHanko fails on an object qpdf read
        raise ParsersDisagree(f"pyHanko cannot read an object ({type(exc).__name__})") from None
    if ours != theirs:
        raise ParsersDisagree("qpdf and pyHanko read different documents from the file")


def _number(value: Any) -> Any:
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return ("int", int(value))
    return ("real", Decimal(str(value)).normalize())


class _PyHanko:
    def __init__(self, budget: _Budget) -> None:
        self.budget = budget
        self.seen: set[tuple[int, int]] = set()

    def canonical(self, obj: Any) -> Any:
        self.budget.spend()
        if isinstance(obj, generic.IndirectObject):
            key = (obj.idnum, obj.generation)
            target = obj.get_object()
            if not isinstance(target, generic.DictionaryObject | generic.ArrayObject):
                return self.canonical(target)  # qpdf hands out indirect scalars resolved
            if key in self.seen:
                return ("ref", key)
            self.seen.add(key)
            return ("obj", key, self.canonical(target))
        if isinstance(obj, generic.StreamObject):
            return ("stream", self._dictionary(obj), hashlib.sha256(obj.encoded_data).hexdigest())
        if isinstance(obj, generic.DictionaryObject):
            return self._dictionary(obj)
        if isinstance(obj, generic.ArrayObject):
            return ("array", tuple(self.canonical(v) for v in obj))
        if isinstance(obj, generic.NameObject):
            return ("name", str(obj))
        if isinstance(obj, generic.TextStringObject | generic.ByteStringObject):
            return ("string", obj.original_bytes)
        if isinstance(obj, generic.BooleanObject):
            return ("bool", bool(obj))
        if isinstance(obj, generic.NullObject) or obj is None:
            return ("null",)
        if isinstance(obj, generic.NumberObject | generic.FloatObject):
            return _number(obj)
        raise ParsersDisagree(f"pyHanko read an unexpected object ({type(obj).__name__})")

    def _dictionary(self, obj: generic.DictionaryObject) -> Any:
        return (
            "dict",
            tuple((k, self.canonical(obj.raw_get(k))) for k in sorted(str(k) for k in obj.keys())),
        )


class _Qpdf:
    def __init__(self, budget: _Budget) -> None:
        self.budget = budget
        self.seen: set[tuple[int, int]] = set()

    def canonical(self, obj: Any, *, direct: bool = False) -> Any:
        self.budget.spend()
        if obj is None:
            return ("null",)
        if isinstance(obj, pikepdf.Object) and obj.is_indirect and not direct:
            key = obj.objgen
            if key in self.seen:
                return ("ref", key)
            self.seen.add(key)
            return ("obj", key, self.canonical(obj, direct=True))
        if isinstance(obj, pikepdf.Stream):
            return (
                "stream",
                self._dictionary(obj.stream_dict),
                hashlib.sha256(obj.read_raw_bytes()).hexdigest(),
            )
        if isinstance(obj, pikepdf.Dictionary):
            return self._dictionary(obj)
        if isinstance(obj, pikepdf.Array):
            return ("array", tuple(self.canonical(v) for v in obj))
        if isinstance(obj, pikepdf.Name):
            return ("name", str(obj))
        if isinstance(obj, pikepdf.String):
            return ("string", bytes(obj))
        if isinstance(obj, bool):
            return ("bool", obj)
        if isinstance(obj, int | Decimal | float):
            return _number(obj)
        raise ParsersDisagree(f"qpdf read an unexpected object ({type(obj).__name__})")

    def _dictionary(self, obj: Any) -> Any:
        return (
            "dict",
            tuple((k, self.canonical(obj.get(k))) for k in sorted(str(k) for k in obj.keys())),
        )
