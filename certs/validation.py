"""Checking licence data against its type: schema, identifier check characters, and the
agreement between a person's fields and their resident identity number.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError

from certs.catalogue import LicenceType
from certs.errors import InvalidIdentifier, InvalidLicenceData
from certs.identifiers import (
    resident_id_birth_date,
    resident_id_sex,
    validate_resident_id,
    validate_uscc,
)
from certs.rules import FieldProblem
from certs.text import normalise_identifier, normalise_text, refused_character, shown

OPEN_ENDED = "长期"
MAX_PROBLEMS = 50  # listed in one error; the count of the rest is given
_FORMAT_CHECKER = FormatChecker()


def validate_licence_data(
    licence_type: LicenceType, data: Any, *, today: dt.date | None = None
) -> dict[str, Any]:
    """Return the normalised data (text NFC and trimmed, identifiers in their one
    spelling), or raise ``InvalidLicenceData`` naming every offending field and the rule
    it breaks."""
    if not isinstance(data, dict):
        raise InvalidLicenceData([FieldProblem("data", "type", {"expected": "object"})])
    problems: list[FieldProblem] = []
    normalised = _clean(data, (), problems)
    for field in licence_type.identifier_fields:
        if isinstance(normalised.get(field), str):
            normalised[field] = normalise_identifier(normalised[field])

    validator = Draft202012Validator(licence_type.schema, format_checker=_FORMAT_CHECKER)
    for error in validator.iter_errors(normalised):
        problems.extend(_as_problems(error))
    problems = _deduplicated(problems, licence_type)
    failed = {p.field for p in problems}

    for field, kind in licence_type.identifier_fields.items():
        if field not in normalised or field in failed:
            continue
        try:
            if kind == "uscc":
                normalised[field] = validate_uscc(normalised[field], field)
            else:
                normalised[field] = validate_resident_id(normalised[field], field, today=today)
        except InvalidIdentifier as exc:
            problems.extend(exc.problems)
            failed.add(field)

    spec = licence_type.identity_consistency
    if spec and not failed & set(spec.values()):
        problems.extend(_identity_problems(spec, normalised))

    if not problems:
        valid_from, valid_until = validity_of(licence_type, normalised)
        if valid_until is not None and valid_until < valid_from:
            problems.append(FieldProblem(licence_type.valid_until_path or "validity",
                                         "ends_before_start"))
    if problems:
        raise InvalidLicenceData(problems[:MAX_PROBLEMS],
                                 more=max(0, len(problems) - MAX_PROBLEMS))
    return normalised


def holder_of(licence_type: LicenceType, data: dict[str, Any]) -> tuple[str, str]:
    """(holder identifier, holder name) of validated data."""
    return data[licence_type.holder_identifier_field], data[licence_type.holder_name_field]


def validity_of(licence_type: LicenceType, data: dict[str, Any]) -> tuple[dt.date, dt.date | None]:
    """(valid from, valid until or None for open-ended) of validated data."""
    valid_from = dt.date.fromisoformat(_at(data, licence_type.valid_from_path))
    if licence_type.valid_until_path is None:
        return valid_from, None
    until = _at(data, licence_type.valid_until_path)
    if until is None or until == OPEN_ENDED:
        return valid_from, None
    return valid_from, dt.date.fromisoformat(until)


def _at(data: dict[str, Any], path: str) -> Any:
    value: Any = data
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def _clean(value: Any, path: tuple[str, ...], problems: list[FieldProblem]) -> Any:
    """Text normalised (NFC, trimmed), each string that holds a refused character noted."""
    if isinstance(value, str):
        cleaned = normalise_text(value)
        refused = refused_character(cleaned)
        if refused is not None:
            problems.append(FieldProblem(_path(path), "invisible_character", {
                "character": refused.code_point, "position": refused.position}))
        return cleaned
    if isinstance(value, dict):
        return {k: _clean(v, (*path, str(k)), problems) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v, (*path, str(i)), problems) for i, v in enumerate(value)]
    return value


def _path(parts: tuple[str, ...] | list[str]) -> str:
    return ".".join(shown(p) for p in parts) or "data"


def _length(instance: Any) -> int:
    return len(instance) if isinstance(instance, str | list | dict) else 0


def _as_problems(error: ValidationError) -> list[FieldProblem]:
    path = [str(p) for p in error.absolute_path]
    field = _path(path)
    rule, value, instance = error.validator, error.validator_value, error.instance
    if rule == "required":
        missing = [k for k in value if isinstance(instance, dict) and k not in instance]
        return [FieldProblem(_path([*path, k]), "required") for k in missing]
    if rule == "additionalProperties":
        allowed = set(error.schema.get("properties", {}))
        extra = sorted(k for k in instance if k not in allowed)
        return [FieldProblem(_path([*path, k or '""']), "unknown_field") for k in extra]
    if rule == "format":
        return [FieldProblem(field, "date" if value == "date" else "invalid",
                             {} if value == "date" else {"message": f"must be a {value}"})]
    if rule in ("minLength", "maxLength"):
        if rule == "minLength" and _length(instance) == 0:
            return [FieldProblem(field, "blank")]
        name = "min_length" if rule == "minLength" else "max_length"
        return [FieldProblem(field, name, {"limit": value, "actual": _length(instance)})]
    if rule == "pattern":
        return [FieldProblem(field, "pattern", {"pattern": value})]
    if rule in ("enum", "const"):
        options = list(value) if rule == "enum" else [value]
        return [FieldProblem(field, "enum", {"options": [str(o) for o in options]})]
    if rule == "type":
        return [FieldProblem(field, "type", {"expected": value})]
    if rule == "anyOf":
        consts = [branch["const"] for branch in value if isinstance(branch, dict)
                  and isinstance(branch.get("const"), str)]
        dates = any(isinstance(b, dict) and b.get("format") == "date" for b in value)
        if dates and len(consts) == 1:
            return [FieldProblem(field, "date_or_value", {"value": consts[0]})]
        return [FieldProblem(field, "any_of")]
    return [FieldProblem(field, "invalid", {"message": f"breaks the schema rule {rule!r}"})]


def _deduplicated(problems: list[FieldProblem], licence_type: LicenceType
                  ) -> list[FieldProblem]:
    """One problem per field (the first found: a refused character before the length of
    the same text), in the order the type lists its fields."""
    order = {name: i for i, name in enumerate(licence_type.schema.get("properties", {}))}
    seen: dict[str, FieldProblem] = {}
    for problem in problems:
        seen.setdefault(problem.field, problem)
    return sorted(seen.values(),
                  key=lambda p: (order.get(p.field.split(".", 1)[0], len(order)), p.field))


def _identity_problems(spec: dict[str, str], data: dict[str, Any]) -> list[FieldProblem]:
    number = data.get(spec["identifier"])
    if not isinstance(number, str):
        return []
    problems = []
    birth = data.get(spec["birth_date"])
    if birth is not None and dt.date.fromisoformat(birth) != resident_id_birth_date(number):
        problems.append(FieldProblem(spec["birth_date"], "matches_identifier",
                                     {"other": spec["identifier"]}))
    sex = data.get(spec["sex"])
    if sex is not None and sex != resident_id_sex(number):
        problems.append(FieldProblem(spec["sex"], "matches_identifier",
                                     {"other": spec["identifier"]}))
    return problems
