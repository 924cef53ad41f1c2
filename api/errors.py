"""The only place where domain errors become HTTP answers (RFC 9457 problem details).

Every error body has ``type`` (``urn:certseal:error:<code>``), ``title``, ``status``,
``code`` (stable, machine-readable) and ``detail`` (readable; never a stack trace, a PIN
or a secret). 5xx answers never echo the exception's text: it stays in the server log,
and even there only its type.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from certseal.errors import VerificationBusy

log = logging.getLogger("certseal.api")
PROBLEM = "application/problem+json"
UNAVAILABLE = "the signing service is unavailable; try again later"
DATABASE_UNAVAILABLE = "the database is unavailable; try again later"
INTERNAL = "an internal error occurred"


def problem_body(status: int, code: str, detail: str, **extra: Any) -> dict[str, Any]:
    return {"type": f"urn:certseal:error:{code}", "title": code.replace("_", " "),
            "status": status, "code": code, "detail": detail, **extra}


def problem(status: int, code: str, detail: str, headers: dict[str, str] | None = None,
            **extra: Any) -> JSONResponse:
    return JSONResponse(problem_body(status, code, detail, **extra), status_code=status,
                        media_type=PROBLEM, headers=headers)


class ApiError(Exception):
    """Raised by routes for transport-level refusals (auth, size), not domain rules."""

    def __init__(self, status: int, code: str, detail: str,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status, self.code, self.detail, self.headers = status, code, detail, headers


def _domain_status(exc: Exception) -> int:
    """The HTTP status for a room's typed error (the rooms know nothing of HTTP)."""
    from sqlalchemy import exc as db_errors

    from ca.errors import CaError, CertificateNotFound
    from certs import errors as certs_errors
    from hsm.errors import HsmError
    from seal import errors as seal_errors
    from verify import errors as verify_errors

    table: list[tuple[type[Exception], int]] = [
        (db_errors.OperationalError, 503),
        (db_errors.TimeoutError, 503),
        (verify_errors.InputTooLarge, 413),
        (verify_errors.UnusableInput, 422),
        (verify_errors.VerifierNotConfigured, 503),
        (certs_errors.InvalidIdentifier, 422),
        (certs_errors.InvalidLicenceData, 422),
        (certs_errors.UnknownLicenceType, 422),
        (certs_errors.LicenceNotFound, 404),
        (certs_errors.IdempotencyConflict, 409),
        (certs_errors.InvalidTransition, 409),
        (certs_errors.QrPayloadError, 422),
        (certs_errors.AttachmentError, 422),
        (seal_errors.DepartmentNotFound, 404),
        (seal_errors.SealNotFound, 404),
        (seal_errors.LicenceTypeNotGranted, 403),
        (seal_errors.DepartmentInactive, 403),
        (seal_errors.DepartmentExists, 409),
        (seal_errors.UnknownLicenceType, 422),
        (seal_errors.SealUnusable, 409),
        (CertificateNotFound, 404),
        (CaError, 409),
        (HsmError, 503),
        (seal_errors.SealError, 503),
    ]
    for cls, status in table:
        if isinstance(exc, cls):
            return status
    return 500


def _outage_code(exc: Exception) -> str | None:
    """The stable code of an error that means a dependency is down (its class carries
    none of ours: the HSM room's errors, the database driver's)."""
    from sqlalchemy import exc as db_errors

    from hsm.errors import HsmError

    table: list[tuple[type[Exception], str]] = [
        (db_errors.OperationalError, "database_unavailable"),
        (db_errors.TimeoutError, "database_unavailable"),
        (HsmError, "hsm_unavailable"),
    ]
    return next((code for cls, code in table if isinstance(exc, cls)), None)


def domain_problem(exc: Exception) -> dict[str, Any]:
    """The problem body for a room's typed error (also used per item by batch issuance)."""
    status = _domain_status(exc)
    code = _outage_code(exc) or getattr(exc, "code", "error")
    if status >= 500:
        log.error("service error %s: %s", code, type(exc).__name__)
        if code == "database_unavailable":
            return problem_body(503, code, DATABASE_UNAVAILABLE)
        if status == 503:
            return problem_body(503, code, UNAVAILABLE)
        return problem_body(500, "internal_error", INTERNAL)
    extra = {"field": exc.field} if getattr(exc, "field", None) else {}
    return problem_body(status, code, str(exc), **extra)


def domain_error_types() -> tuple[type[Exception], ...]:
    from sqlalchemy.exc import OperationalError
    from sqlalchemy.exc import TimeoutError as PoolTimeout

    from ca.errors import CaError
    from certs.errors import CertsError
    from hsm.errors import HsmError
    from seal.errors import SealError
    from verify.errors import VerifyError

    return (CertsError, SealError, CaError, HsmError, VerifyError, OperationalError,
            PoolTimeout)


def install_error_handlers(app: FastAPI) -> None:
    async def _domain_error(_: Request, exc: Exception) -> JSONResponse:
        body = domain_problem(exc)
        return JSONResponse(body, status_code=body["status"], media_type=PROBLEM)

    for cls in domain_error_types():
        app.add_exception_handler(cls, _domain_error)

    @app.exception_handler(VerificationBusy)
    async def _busy(_: Request, exc: VerificationBusy) -> JSONResponse:
        return problem(503, exc.code, str(exc), headers={"Retry-After": str(exc.retry_after)})

    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return problem(exc.status, exc.code, exc.detail, headers=exc.headers)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {401: "authentication_required", 403: "forbidden", 404: "not_found",
                405: "method_not_allowed", 413: "request_too_large",
                415: "unsupported_media_type"}.get(exc.status_code, "http_error")
        detail = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
        return problem(exc.status_code, code, detail, headers=getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        # Only where and what: pydantic's "input" would echo the caller's data.
        errors = [{"loc": list(e.get("loc", ())), "msg": e.get("msg")} for e in exc.errors()]
        return problem(422, "invalid_request", "the request does not match the schema",
                       errors=errors)

    # Anything else is caught by api.middleware.RequestObserver (outermost), which
    # answers 500 as a problem and logs the traceback's frames without its message.
