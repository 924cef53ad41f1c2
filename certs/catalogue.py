"""The catalogue of licence types: one JSON file per type, shipped in ``certs/types/`` and
loadable from extra directories so an operator adds a type without code.

A type file holds (see ``certs/types/yyzz.json``)::

    code            short ASCII, 2-12 of a-z 0-9 (pinyin initials: yyzz = 营业执照);
                    upper-cased it is the TYPE part of the licence identifier
    name, name_en   Chinese and English names
    holder_kind     "organisation" (holder identified by USCC) or "person" (resident ID)
    holder          {"identifier": field, "name": field}
    identifier_fields  {field: "uscc" | "resident_id"} checked by check character
    identity_consistency  optional {"identifier", "birth_date", "sex"}: person fields that
                    must agree with what the resident identity number encodes
    issuer_field    optional: the field naming the issuing authority (登记机关, 发证机关);
                    it is the department whose seal goes on the licence, so issuance
                    fills it in and refuses data naming another (certs.issuing_authority)
    validity        {"from": path, "until": path | null}; a path is a field or
                    "field.sub"; an "until" value of "长期" means open-ended
    schema          JSON Schema (draft 2020-12) of the data, keyed by the real field names
    layout          title, fields in print order, boxes in PDF points (see ``Layout``)
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from certs.errors import CatalogueError, UnknownLicenceType

SHIPPED_TYPES_DIR = Path(__file__).resolve().parent / "types"
HOLDER_KINDS = {"organisation": "uscc", "person": "resident_id"}
IDENTIFIER_KINDS = ("uscc", "resident_id")
FIELD_FORMATS = ("text", "date", "period")
_CODE = re.compile(r"^[a-z0-9]{2,12}$")

Rect = tuple[float, float, float, float]


@dataclass(frozen=True)
class LayoutField:
    key: str
    label: str
    format: str = "text"  # text | date (2015年03月01日) | period ({"起", "止"})


@dataclass(frozen=True)
class QrPlacement:
    x: float
    y: float
    size: float
    caption: str = ""


@dataclass(frozen=True)
class Layout:
    """Where things go on the A4 page, in PDF points from the bottom-left corner."""

    title: str
    subtitle: str
    header_fields: tuple[LayoutField, ...]
    fields: tuple[LayoutField, ...]
    fields_box: Rect
    qr: QrPlacement
    seal: Rect  # the seal room puts the visible signature here
    issuer_label: str


@dataclass(frozen=True)
class LicenceType:
    code: str
    name: str
    name_en: str
    holder_kind: str
    holder_identifier_field: str
    holder_name_field: str
    identifier_fields: dict[str, str]
    identity_consistency: dict[str, str] | None
    valid_from_path: str
    valid_until_path: str | None
    schema: dict[str, Any]
    layout: Layout
    source: str = ""
    issuer_field: str | None = None  # names the issuing authority: the sealing department

    def __hash__(self) -> int:
        return hash(self.code)

    def as_summary(self) -> dict[str, Any]:
        return {"code": self.code, "name": self.name, "name_en": self.name_en,
                "holder_kind": self.holder_kind, "schema": self.schema}


class Catalogue:
    def __init__(self, types: Iterable[LicenceType]) -> None:
        self._types: dict[str, LicenceType] = {}
        for licence_type in types:
            if licence_type.code in self._types:
                raise CatalogueError(
                    f"licence type {licence_type.code!r} defined twice "
                    f"({self._types[licence_type.code].source} and {licence_type.source})"
                )
            self._types[licence_type.code] = licence_type

    def get(self, code: str) -> LicenceType:
        try:
            return self._types[code]
        except KeyError:
            raise UnknownLicenceType(code) from None

    def __contains__(self, code: object) -> bool:
        return code in self._types

    def __iter__(self) -> Iterator[LicenceType]:
        return iter(sorted(self._types.values(), key=lambda t: t.code))

    def codes(self) -> list[str]:
        return sorted(self._types)

    def to_json(self) -> dict:
        """The types and their JSON Schemas, as `certseal licence-types --json` prints them
        and GET /v1/licence-types serves them."""
        return {"types": [
            {"code": t.code, "name": t.name, "name_en": t.name_en,
             "holder_kind": t.holder_kind, "schema": t.schema} for t in self]}


def load_catalogue(*extra_dirs: str | Path) -> Catalogue:
    """The shipped types plus every ``*.json`` in ``extra_dirs``; a code may appear once."""
    files: list[Path] = sorted(SHIPPED_TYPES_DIR.glob("*.json"))
    for directory in extra_dirs:
        path = Path(directory)
        if not path.is_dir():
            raise CatalogueError(f"licence type directory {path} does not exist")
        files.extend(sorted(path.glob("*.json")))
    return Catalogue(load_licence_type(path) for path in files)


def load_licence_type(path: str | Path) -> LicenceType:
    path = Path(path)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CatalogueError(f"{path}: cannot read licence type: {exc}") from None
    try:
        return parse_licence_type(raw, source=str(path))
    except CatalogueError as exc:
        raise CatalogueError(f"{path}: {exc}") from None


def parse_licence_type(raw: dict[str, Any], source: str = "") -> LicenceType:
    def need(mapping: dict[str, Any], key: str, kind: type = str) -> Any:
        value = mapping.get(key)
        if not isinstance(value, kind):
            raise CatalogueError(f"{key!r} missing or not a {kind.__name__}")
        return value

    code = need(raw, "code")
    if not _CODE.match(code):
        raise CatalogueError(f"code {code!r} must be 2-12 of a-z 0-9")
    holder_kind = need(raw, "holder_kind")
    if holder_kind not in HOLDER_KINDS:
        raise CatalogueError(f"holder_kind must be one of {sorted(HOLDER_KINDS)}")
    schema = need(raw, "schema", dict)
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        raise CatalogueError(f"schema is not valid JSON Schema: {exc.message}") from None
    properties = schema.get("properties", {})
    required = set(schema.get("required", []))

    def known(field_path: str, what: str) -> None:
        top = field_path.split(".", 1)[0]
        if top not in properties:
            raise CatalogueError(f"{what} {field_path!r} is not a schema property")

    holder = need(raw, "holder", dict)
    holder_id, holder_name = need(holder, "identifier"), need(holder, "name")
    for name in (holder_id, holder_name):
        known(name, "holder field")
        if name not in required:
            raise CatalogueError(f"holder field {name!r} must be required by the schema")
    identifier_fields = dict(raw.get("identifier_fields", {}))
    identifier_fields.setdefault(holder_id, HOLDER_KINDS[holder_kind])
    if identifier_fields[holder_id] != HOLDER_KINDS[holder_kind]:
        raise CatalogueError(f"holder identifier of a {holder_kind} must be checked as "
                             f"{HOLDER_KINDS[holder_kind]}")
    for name, kind in identifier_fields.items():
        known(name, "identifier field")
        if kind not in IDENTIFIER_KINDS:
            raise CatalogueError(f"identifier kind {kind!r} not one of {IDENTIFIER_KINDS}")
    consistency = raw.get("identity_consistency")
    if consistency is not None:
        for key in ("identifier", "birth_date", "sex"):
            known(need(consistency, key), "identity_consistency field")
    validity = need(raw, "validity", dict)
    valid_from = need(validity, "from")
    known(valid_from, "validity field")
    valid_until = validity.get("until")
    if valid_until is not None:
        known(valid_until, "validity field")

    layout = _parse_layout(need(raw, "layout", dict), known)
    issuer_field = raw.get("issuer_field")
    if issuer_field is not None:
        known(need(raw, "issuer_field"), "issuer_field")
        if issuer_field in required:
            raise CatalogueError(f"issuer_field {issuer_field!r} must not be required: "
                                 "issuance fills it in with the sealing department")
    return LicenceType(
        code=code,
        name=need(raw, "name"),
        name_en=need(raw, "name_en"),
        holder_kind=holder_kind,
        holder_identifier_field=holder_id,
        holder_name_field=holder_name,
        identifier_fields=identifier_fields,
        identity_consistency=dict(consistency) if consistency else None,
        valid_from_path=valid_from,
        valid_until_path=valid_until,
        schema=schema,
        layout=layout,
        source=source,
        issuer_field=issuer_field,
    )


def _parse_layout(raw: dict[str, Any], known) -> Layout:
    def fields(items: list[Any]) -> tuple[LayoutField, ...]:
        result = []
        for item in items:
            if isinstance(item, str):
                item = {"key": item}
            key = item.get("key")
            if not isinstance(key, str):
                raise CatalogueError("layout field without a key")
            known(key, "layout field")
            fmt = item.get("format", "text")
            if fmt not in FIELD_FORMATS:
                raise CatalogueError(f"layout field {key!r}: format must be one of {FIELD_FORMATS}")
            result.append(LayoutField(key=key, label=item.get("label", key), format=fmt))
        return tuple(result)

    def rect(value: Any, what: str) -> Rect:
        if (not isinstance(value, list) or len(value) != 4
                or not all(isinstance(v, int | float) for v in value)
                or value[0] >= value[2] or value[1] >= value[3]):
            raise CatalogueError(f"layout {what} must be [x0, y0, x1, y1] with x0<x1, y0<y1")
        return (float(value[0]), float(value[1]), float(value[2]), float(value[3]))

    qr = raw.get("qr")
    if not isinstance(qr, dict) or not all(isinstance(qr.get(k), int | float)
                                           for k in ("x", "y", "size")):
        raise CatalogueError("layout qr must be {x, y, size}")
    title = raw.get("title")
    if not isinstance(title, str) or not title:
        raise CatalogueError("layout title missing")
    return Layout(
        title=title,
        subtitle=raw.get("subtitle", ""),
        header_fields=fields(raw.get("header_fields", [])),
        fields=fields(raw.get("fields", [])),
        fields_box=rect(raw.get("fields_box"), "fields_box"),
        qr=QrPlacement(float(qr["x"]), float(qr["y"]), float(qr["size"]), qr.get("caption", "")),
        seal=rect(raw.get("seal"), "seal"),
        issuer_label=raw.get("issuer_label", "发证机关"),
    )
