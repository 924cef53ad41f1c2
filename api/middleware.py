"""ASGI middleware around every route: security headers, one observed and logged line
per request (with metrics), the last-resort 500, and the request body size limit.

Pure ASGI (not BaseHTTPMiddleware) so streamed bodies and responses pass through
untouched. Order, outermost first: SecurityHeaders → RequestObserver → RateLimit →
BodySizeLimit → JsonBodyLimits.
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
from starlette.requests import ClientDisconnect

from api.errors import INTERNAL, PROBLEM, language_of_headers, problem_body
from api.logging import exception_summary, log_request
from api.metrics import ServiceMetrics
from ca.audit import acting_as
from certs.canonical import MAX_JSON_DEPTH, json_depth_exceeds
from certs.rules import FieldProblem
from certseal.audit import http_source

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

log = logging.getLogger("certseal.api")
DEFAULT_MAX_BODY_BYTES = 10 * 1024 * 1024  # a phone photo of a QR code fits; 1 GB does not
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
CLIENT_CLOSED = 499  # logged and counted, never sent: nobody is there to read it

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
                        headers: list[tuple[bytes, bytes]] | None = None, *,
                        scope: Scope | None = None, **params: Any) -> None:
    language = language_of_headers(scope.get("headers", [])) if scope else "en"
    body = problem_body(status, code, detail, language=language, params=params)
    await _send_json(send, status, body, language, headers)


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
        except ClientDisconnect:  # it left (or was cut off for sending too slowly)
            if not response_started:
                status = CLIENT_CLOSED
                observe()
        except Exception as exc:
            log.error("unhandled error", exc_info=False,
                      extra={"fields": {"event": "unhandled_error", "request_id": request_id,
                                        "error": exception_summary(exc)}})
            if not response_started:
                status = 500
                observe()
                await _send_problem(send, 500, "internal_error", INTERNAL,
                                    [(b"x-request-id", request_id.encode())], scope=scope)
        finally:
            observe()


class RequestTooLarge(HTTPException):
    """Raised from the body stream; FastAPI re-raises HTTPExceptions met while reading
    a body, so this becomes a 413 problem rather than a 400."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body exceeds {limit} bytes")
        self.params = {"limit": limit}


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
                await _send_problem(send, 400, "invalid_request", "bad Content-Length",
                                    scope=scope)
                return
            if int(declared) > self.max_bytes:
                await _send_problem(send, 413, "request_too_large",
                                    f"the request body exceeds {self.max_bytes} bytes",
                                    [(b"connection", b"close")], scope=scope,
                                    limit=self.max_bytes)
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


DEFAULT_MAX_JSON_BYTES = 1024 * 1024  # a batch of 100 licences is a tenth of it
# Bodies these paths read as bytes (a PDF, an image, DER) unless they are said to be JSON.
RAW_BODY_PATHS = ("/v1/verify", "/pki/")
_BODYLESS = frozenset({"GET", "HEAD", "OPTIONS", "DELETE"})


def _is_json(content_type: str | None, path: str) -> bool:
    """Whether the app will parse this body as JSON: FastAPI does for a JSON media type
    (``application/json``, ``application/*+json``) and for a body without any."""
    if content_type is None or not content_type.strip():
        return not path.startswith(RAW_BODY_PATHS)
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (media.startswith("application/")
                                           and media.endswith("+json"))


class JsonBodyLimits:
    """Every JSON body, at every endpoint, is bounded before anything parses it: at most
    ``max_bytes`` (413) and ``max_depth`` nested arrays and objects, in UTF-8 (422).
    The body read here is handed on whole; other bodies pass untouched."""

    def __init__(self, app: ASGIApp, max_bytes: int = DEFAULT_MAX_JSON_BYTES,
                 max_depth: int = MAX_JSON_DEPTH) -> None:
        self.app = app
        self.max_bytes, self.max_depth = max_bytes, max_depth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (scope["type"] != "http" or scope.get("method") in _BODYLESS
                or not _is_json(_header(scope, b"content-type"), scope.get("path", ""))):
            await self.app(scope, receive, send)
            return
        language = language_of_headers(scope.get("headers", []))
        declared = _header(scope, b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._too_large(send, language)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            try:
                message = await receive()
            except RequestTooLarge:  # the overall body limit, smaller than this one
                await self._too_large(send, language)
                return
            if message["type"] != "http.request":  # the client left: nothing to answer
                await self.app(scope, _replay(message, receive), send)
                return
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.max_bytes:
                await self._too_large(send, language)
                return
            if not message.get("more_body"):
                break
        body = b"".join(chunks)
        if b"\x00" in body:  # UTF-16/32 or a raw NUL: not JSON as RFC 8259 sends it
            await self._refuse(send, language, "json_invalid", {},
                               "a JSON body must be UTF-8 text")
            return
        if json_depth_exceeds(body, self.max_depth):
            await self._refuse(send, language, "json_too_deep", {"limit": self.max_depth},
                               f"the JSON body nests deeper than {self.max_depth} levels")
            return
        await self.app(scope, _replay({"type": "http.request", "body": body,
                                       "more_body": False}, receive), send)

    async def _too_large(self, send: Send, language: str) -> None:
        body = problem_body(413, "request_too_large",
                            f"the JSON body exceeds {self.max_bytes} bytes", language=language,
                            problems=[FieldProblem("body", "too_large",
                                                   {"limit": self.max_bytes})])
        await _send_json(send, 413, body, language, [(b"connection", b"close")])

    async def _refuse(self, send: Send, language: str, rule: str, params: dict,
                      detail: str) -> None:
        body = problem_body(422, "invalid_request", detail, language=language,
                            problems=[FieldProblem("body", rule, params)])
        await _send_json(send, 422, body, language)


def _replay(first: Message, receive: Receive) -> Receive:
    """A receive that gives ``first``, then what the real one gives."""
    pending = [first]

    async def replayed() -> Message:
        return pending.pop(0) if pending else await receive()

    return replayed


async def _send_json(send: Send, status: int, body: dict, language: str,
                     headers: list[tuple[bytes, bytes]] | None = None) -> None:
    data = json.dumps(body, ensure_ascii=False).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", PROBLEM.encode()),
                            (b"content-length", str(len(data)).encode()),
                            (b"content-language", language.encode()),
                            (b"vary", b"Accept-Language"), *(headers or [])]})
    await send({"type": "http.response.body", "body": data})


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
