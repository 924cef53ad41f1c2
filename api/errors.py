"""The only place where domain errors become HTTP answers (RFC 9457 problem details)."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger("certseal.api")
PROBLEM = "application/problem+json"


def problem(status: int, code: str, detail: str, **extra) -> JSONResponse:
    body = {"type": f"urn:certseal:error:{code}", "title": code.replace("_", " "),
            "status": status, "code": code, "detail": detail, **extra}
    return JSONResponse(body, status_code=status, media_type=PROBLEM)


class ApiError(Exception):
    """Raised by routes for transport-level refusals (auth, size), not domain rules."""

    def __init__(self, status: int, code: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.code, self.detail = status, code, detail


def _domain_status(exc: Exception) -> int:
    """The HTTP status for a room's typed error (the rooms know nothing of HTTP)."""
    from ca.errors import CaError, CertificateNotFound
    from certs import errors as certs_errors
    from hsm.errors import HsmError
    from seal import errors as seal_errors

    table: list[tuple[type[Exception], int]] = [
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


def install_error_handlers(app: FastAPI) -> None:
    from ca.errors import CaError
    from certs.errors import CertsError
    from hsm.errors import HsmError
    from seal.errors import SealError

    async def _domain_error(_: Request, exc: Exception) -> JSONResponse:
        status = _domain_status(exc)
        code = getattr(exc, "code", "error")
        if status >= 500:
            log.error("service error %s: %s", code, type(exc).__name__)
            detail = ("the signing service is unavailable; try again later"
                      if status == 503 else "an internal error occurred")
            return problem(status, code if status == 503 else "internal_error", detail)
        extra = {"field": exc.field} if getattr(exc, "field", None) else {}
        return problem(status, code, str(exc), **extra)

    for cls in (CertsError, SealError, CaError, HsmError):
        app.add_exception_handler(cls, _domain_error)

    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return problem(exc.status, exc.code, exc.detail)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return problem(exc.status_code, code, str(exc.detail))

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{"loc": list(e.get("loc", ())), "msg": e.get("msg")} for e in exc.errors()]
        return problem(422, "invalid_request", "the request does not match the schema",
                       errors=errors)

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.error("unhandled error: %s", type(exc).__name__, exc_info=exc)
        return problem(500, "internal_error", "an internal error occurred")
