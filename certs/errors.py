"""Errors of the licence room: one base class, flat below it.

Messages name the field they are about and never carry secrets.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from certs.rules import FieldProblem, summary


class CertsError(Exception):
    """Base of every error raised by ``certs``."""

    code = "certs_error"


class InvalidIdentifier(CertsError, ValueError):
    """A holder identifier or licence identifier failed its format or check character.

    ``rule`` and ``params`` are the facts (certs/rules.py) behind the English ``message``."""

    code = "invalid_identifier"

    def __init__(self, field: str, message: str, rule: str = "invalid",
                 params: Mapping[str, Any] | None = None) -> None:
        self.field = field
        self.message = message
        self.rule = rule
        self.params = dict(params or {})
        super().__init__(f"{field}: {message}")

    @property
    def problems(self) -> tuple[FieldProblem, ...]:
        params = self.params if self.rule != "invalid" else {"message": self.message}
        return (FieldProblem(self.field, self.rule, params),)


class InvalidLicenceData(CertsError, ValueError):
    """Licence data does not satisfy its type's schema or identifier checks: every problem
    found, each naming its field and rule (``problems``); ``field`` is the first's."""

    code = "invalid_licence_data"

    def __init__(self, problems: Sequence[FieldProblem] | str, message: str | None = None,
                 *, more: int = 0) -> None:
        if isinstance(problems, str):  # one problem told in words
            problems = [FieldProblem(problems, "invalid", {"message": message or "invalid"})]
        if not problems:
            raise ValueError("InvalidLicenceData needs at least one problem")
        self.problems = tuple(problems)
        self.more = more  # problems found beyond those listed
        self.field = self.problems[0].field
        self.message = self.problems[0].message()
        told = summary(self.problems)
        super().__init__(told + (f"; and {more} more" if more else ""))

class IssuingAuthorityMismatch(InvalidLicenceData):
    """The data names an issuing authority other than the department that seals it."""

    code = "issuing_authority_mismatch"

    def __init__(self, field: str, given: str, issuer_name: str,
                 also: Sequence[FieldProblem] = ()) -> None:
        """``also``: the data's other problems, so that all are told at once."""
        from certs.text import shown

        self.given, self.issuer_name = given, issuer_name
        super().__init__([FieldProblem(field, "issuing_authority", {
            "given": shown(given), "issuer": issuer_name}), *also])


class CatalogueError(CertsError):
    """A licence type definition file is malformed or conflicts with another."""

    code = "catalogue_error"


class UnknownLicenceType(CertsError, LookupError):
    code = "unknown_licence_type"

    def __init__(self, type_code: str) -> None:
        self.type_code = type_code
        super().__init__(f"unknown licence type: {type_code!r}")


class LicenceNotFound(CertsError, LookupError):
    code = "licence_not_found"

    def __init__(self, licence_id: str) -> None:
        self.licence_id = licence_id
        super().__init__(f"no licence {licence_id}")


class InvalidTransition(CertsError):
    """A status change the licence lifecycle does not allow (e.g. out of revoked)."""

    code = "invalid_transition"


class IdempotencyConflict(CertsError):
    """The same idempotency key was used again with a different request body."""

    code = "idempotency_conflict"


class RenderError(CertsError):
    """The PDF could not be produced (missing font, unusable layout)."""

    code = "render_error"


class AttachmentError(CertsError):
    """A PDF has no readable embedded licence data."""

    code = "attachment_error"


class QrPayloadError(CertsError, ValueError):
    """QR text that cannot be decoded into a signed licence payload."""

    code = "qr_payload_invalid"
