"""ASGI middleware around every route: security headers, one observed and logged line
per request (with metrics), the last-resort 500, and the request body size limit.

Pure ASGI (not BaseHTTPMiddleware) so streamed bodies and responses pass through
untouched. Order, outermost first: SecurityHeaders → RequestObserver → BodySizeLimit.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from starlette.exceptions import HTTPException

from api.errors import INTERNAL, PROBLEM, problem_body
from api.logging import exception_summary, log_request
from api.metrics import ServiceMetrics
from ca.audit import acting_as
from certseal.audit import http_source

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

log = logging.getLogger("certseal.api")
DEFAULT_MAX_BODY_BYTES = 10 * 1024 * 1024  # a phone photo of a QR code fits; 1 GB does not
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")

# API answers are data, never documents to render: nothing may load, frame or submit.
API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
# FastAPI's /docs and /redoc load their scripts and styles from jsDelivr.
DOCS_CSP = ("default-src 'none'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
            "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
            "img-src 'self' data: https://fastapi.tiangolo.com https://cdn.redoc.ly; "
            "worker-src blob:; connect-src 'self'; "
            "frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
DOCS_PATHS = ("/docs", "/redoc")


async def _send_problem(send: Send, status: int, code: str, detail: str,
                        headers: list[tuple[bytes, bytes]] | None = None) -> None:
    body = json.dumps(problem_body(status, code, detail)).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", PROBLEM.encode()),
                            (b"content-length", str(len(body)).encode()),
                            *(headers or [])]})
    await send({"type": "http.response.body", "body": body})


def _security_headers(csp: str, *, no_store: bool) -> tuple[tuple[bytes, bytes], ...]:
    headers = [(b"x-content-type-options", b"nosniff"), (b"x-frame-options", b"DENY"),
               (b"referrer-policy", b"no-referrer"), (b"content-security-policy", csp.encode()),
               (b"cross-origin-resource-policy", b"same-origin")]
    if no_store:  # licences and their PDFs are personal data
        headers.append((b"cache-control", b"no-store"))
    return tuple(headers)


_API_HEADERS = _security_headers(API_CSP, no_store=False)
_V1_HEADERS = _security_headers(API_CSP, no_store=True)
_DOCS_HEADERS = _security_headers(DOCS_CSP, no_store=False)


def security_headers_for(path: str) -> tuple[tuple[bytes, bytes], ...]:
    """The headers ``SecurityHeaders`` adds to an answer for ``path`` (unless the answer
    set one of them itself). Precomputed: the OCSP fast path sends them as they are."""
    if path.startswith(DOCS_PATHS):
        return _DOCS_HEADERS
    if path.startswith("/v1/"):
        return _V1_HEADERS
    return _API_HEADERS


class SecurityHeaders:
    """Adds the headers a route did not set itself (a web page may bring its own CSP)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        defaults = security_headers_for(scope.get("path", ""))

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers += [(k, v) for k, v in defaults if k not in present]
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


class RequestObserver:
    """One JSON log line and the metrics for every request; answers an unexpected error
    with a 500 problem (no traceback, no message) instead of letting it escape."""

    def __init__(self, app: ASGIApp, metrics: ServiceMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = request_id_of(scope)
        status = 500
        response_started = observed = False

        def observe() -> None:
            # Once a request: before the last body chunk leaves, so that a client that
            # has its answer can count on the line being written.
            nonlocal observed
            if observed:
                return
            observed = True
            seconds = time.perf_counter() - started
            route = route_template(scope)
            method = scope.get("method", "")
            self.metrics.observe_request(method, route, status, seconds)
            log_request(method=method, route=route, status=status,
                        duration_ms=seconds * 1000, request_id=request_id)

        async def observed_send(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = message["status"]
                message["headers"] = [*message.get("headers", []),
                                      (b"x-request-id", request_id.encode())]
            elif message["type"] == "http.response.body" and not message.get("more_body"):
                observe()
            await send(message)

        client = scope.get("client")
        try:
            # The audit log records where an action came from (the client's address).
            with acting_as(source=http_source(client[0] if client else None)):
                await self.app(scope, receive, observed_send)
        except Exception as exc:
            log.error("unhandled error", exc_info=False,
                      extra={"fields": {"event": "unhandled_error", "request_id": request_id,
                                        "error": exception_summary(exc)}})
            if not response_started:
                status = 500
                observe()
                await _send_problem(send, 500, "internal_error", INTERNAL,
                                    [(b"x-request-id", request_id.encode())])
        finally:
            observe()


class RequestTooLarge(HTTPException):
    """Raised from the body stream; FastAPI re-raises HTTPExceptions met while reading
    a body, so this becomes a 413 problem rather than a 400."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body exceeds {limit} bytes")


class BodySizeLimit:
    def __init__(self, app: ASGIApp, max_bytes: int = DEFAULT_MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _header(scope, b"content-length")
        if declared is not None:
            if not declared.isdigit():
                await _send_problem(send, 400, "invalid_request", "bad Content-Length")
                return
            if int(declared) > self.max_bytes:
                await _send_problem(send, 413, "request_too_large",
                                    f"the request body exceeds {self.max_bytes} bytes",
                                    [(b"connection", b"close")])
                return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:  # chunked uploads declare no length
                    raise RequestTooLarge(self.max_bytes)
            return message

        await self.app(scope, limited_receive, send)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return value.decode("latin-1").strip()
    return None


def _incoming_request_id(scope: Scope) -> str | None:
    value = _header(scope, b"x-request-id")
    return value if value and _REQUEST_ID.match(value) else None


def request_id_of(scope: Scope) -> str:
    """The request's id: the client's ``X-Request-Id`` when it is a plain token, else a
    fresh one; kept in ``scope["state"]`` for handlers (and echoed on the answer)."""
    request_id = _incoming_request_id(scope) or uuid.uuid4().hex
    scope.setdefault("state", {})["request_id"] = request_id
    return request_id


def route_template(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    # Unmatched paths are not labelled by their text: that would let any client create
    # unbounded metric series and log arbitrary strings.
    return path if isinstance(path, str) else "unmatched"
