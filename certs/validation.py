"""Checking licence data against its type: schema, identifier check characters, and the
agreement between a person's fields and their resident identity number.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError, best_match

from certs.catalogue import LicenceType
from certs.errors import InvalidIdentifier, InvalidLicenceData
from certs.identifiers import (
    resident_id_birth_date,
    resident_id_sex,
    validate_resident_id,
    validate_uscc,
)

OPEN_ENDED = "长期"
_FORMAT_CHECKER = FormatChecker()


def validate_licence_data(
    licence_type: LicenceType, data: Any, *, today: dt.date | None = None
) -> dict[str, Any]:
    """Return the normalised data (strings stripped, identifiers upper-cased), or raise
    ``InvalidLicenceData`` naming the first offending field."""
    if not isinstance(data, dict):
        raise InvalidLicenceData("data", "must be a JSON object")
    normalised = _strip(data)
    for field in licence_type.identifier_fields:
        if isinstance(normalised.get(field), str):
            normalised[field] = normalised[field].upper()

    validator = Draft202012Validator(licence_type.schema, format_checker=_FORMAT_CHECKER)
    error = best_match(validator.iter_errors(normalised))
    if error is not None:
        raise _as_data_error(error)

    for field, kind in licence_type.identifier_fields.items():
        if field not in normalised:
            continue
        try:
            if kind == "uscc":
                normalised[field] = validate_uscc(normalised[field], field)
            else:
                normalised[field] = validate_resident_id(normalised[field], field, today=today)
        except InvalidIdentifier as exc:
            raise InvalidLicenceData(field, exc.message) from None

    if licence_type.identity_consistency:
        _check_identity(licence_type.identity_consistency, normalised)

    valid_from, valid_until = validity_of(licence_type, normalised)
    if valid_until is not None and valid_until < valid_from:
        raise InvalidLicenceData(licence_type.valid_until_path or "validity",
                                 "ends before the licence becomes valid")
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


def _strip(value: Any) -> Any:
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value


def _as_data_error(error: ValidationError) -> InvalidLicenceData:
    path = [str(p) for p in error.absolute_path]
    if error.validator == "required":
        missing = [k for k in error.validator_value if k not in error.instance]
        return InvalidLicenceData(".".join([*path, missing[0]]), "is required")
    if error.validator == "additionalProperties":
        extra = sorted(set(error.instance) - set(error.schema.get("properties", {})))
        name = extra[0] or '""'  # an empty key still needs a visible name
        return InvalidLicenceData(".".join([*path, name]), "is not a field of this type")
    field = ".".join(path) or "data"
    messages = {
        "format": f"must be a {error.validator_value} (YYYY-MM-DD)",
        "enum": "must be one of " + "、".join(map(str, error.validator_value or [])),
        "pattern": f"does not match the pattern {error.validator_value}",
        "maxLength": f"is longer than {error.validator_value} characters",
        "minLength": f"is shorter than {error.validator_value} characters",
        "type": f"must be of type {error.validator_value}",
    }
    return InvalidLicenceData(field, messages.get(str(error.validator), error.message))


def _check_identity(spec: dict[str, str], data: dict[str, Any]) -> None:
    number = data[spec["identifier"]]
    birth = data.get(spec["birth_date"])
    if birth is not None and dt.date.fromisoformat(birth) != resident_id_birth_date(number):
        raise InvalidLicenceData(spec["birth_date"],
                                 f"does not match the birth date in {spec['identifier']}")
    sex = data.get(spec["sex"])
    if sex is not None and sex != resident_id_sex(number):
        raise InvalidLicenceData(spec["sex"], f"does not match {spec['identifier']}")
