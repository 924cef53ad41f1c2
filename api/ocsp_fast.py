"""The OCSP fast path: pre-produced answers straight from the event loop.

OCSP clients send the same nonce-less request again and again (RFC 5019), and the
responder keeps a signed answer for it in memory. Through FastAPI such an answer cost
~370 us of routing, dependency injection and two worker-thread hops; behind our own
middlewares, still ~60 us of CPU (security headers, request observer, rate limit, body
limit, FastAPI's outer layers: as much again as uvicorn's own HTTP work). So this
pure-ASGI layer sits OUTERMOST, in front of the whole stack (``api.app.CertsealApi``),
and for an answer it serves does itself what those layers would do, through their code:

- the security headers: ``api.middleware.security_headers_for`` (the same tuple);
- the request id and ``X-Request-Id``: ``api.middleware.request_id_of``;
- the access log line and the request metrics: ``api.logging.log_request`` and
  ``ServiceMetrics.observe_request`` (same route template, status, duration), written
  before the body leaves, as the observer does;
- the OCSP rate limit: the same ``ClientBuckets`` as the ``RateLimit`` middleware; a
  client out of tokens goes on to the stack, whose ``RateLimit`` answers its 429;
- the body size limit: the smaller of the protocol's and the app's limit.

It answers only what it can answer from the cache with nothing to sign and no waiting:

- ``POST /pki/ocsp`` with ``Content-Type: application/ocsp-request`` and a body within
  the limit, and ``GET /pki/ocsp/{base64 request}``, neither presenting credentials
  (``Authorization``: the stack's failed-authentication limit decides those);
- the responder is built and has a current answer for these exact request bytes;
- the certificate status feed proves that no status changed since the cache was last
  brought up to date. On SQLite that check is a ~2 us query on a connection of the feed's
  own (safe on the loop); on PostgreSQL it is a round trip, so the feed syncs in a worker
  thread first.

Everything else (a first request, a nonce, several CertIDs, a malformed body, a wrong
content type, an oversized body, an unbuilt responder, a failing database, a rate-limited
client, any surprise here) goes on to the full stack, which answers it exactly as before,
errors included; a POST body read here is handed on unchanged.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from starlette.concurrency import run_in_threadpool

from api.logging import log_request
from api.metrics import ServiceMetrics
from api.middleware import request_id_of, security_headers_for
from api.ocsp_caching import get_headers, not_modified
from api.ratelimit import ClientBuckets, client_address
from ca.ocsp import parse_get_path
from ca.status_feed import status_feed_of

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

OCSP_PATH = "/pki/ocsp"
OCSP_GET_PREFIX = "/pki/ocsp/"
OCSP_REQUEST = "application/ocsp-request"
OCSP_RESPONSE = b"application/ocsp-response"
# As the route: OCSP bodies are small; the route refuses bigger ones (413).
MAX_PROTOCOL_BODY = 64 * 1024


# The templates of the routes in api/routes/pki.py, as the log line and metrics name them
# (tests compare the labels with the route's own).
ROUTES = {"POST": OCSP_PATH, "GET": OCSP_GET_PREFIX + "{encoded:path}"}


class OcspFastPath:
    """``app``: the full stack, for everything not answered here. ``api``: the FastAPI
    app, whose ``state.domain`` the lifespan sets."""

    def __init__(self, app: ASGIApp, *, api: Any, metrics: ServiceMetrics,
                 buckets: ClientBuckets, max_body_bytes: int) -> None:
        self.app = app
        self.api = api
        self.metrics = metrics
        self.buckets = buckets
        self.max_body = min(MAX_PROTOCOL_BODY, max_body_bytes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path: str = scope["path"]
            method = scope["method"]
            if method == "POST" and path == OCSP_PATH:
                await self._post(scope, receive, send)
                return
            if method == "GET" and path.startswith(OCSP_GET_PREFIX):
                await self._get(scope, receive, send, path[len(OCSP_GET_PREFIX):])
                return
        await self.app(scope, receive, send)

    async def _post(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        if not self._may_answer(scope, post=True):
            await self.app(scope, receive, send)
            return
        chunks: list[Message] = []
        body = b""
        try:
            while True:
                message = await receive()
                chunks.append(message)
                if message["type"] != "http.request":
                    break  # a disconnect: the stack sees it as before
                body += message.get("body", b"")
                if len(body) > self.max_body or not message.get("more_body"):
                    break
        except Exception as exc:  # the stack meets the same error and answers it
            await self.app(scope, _replaying(chunks, receive, exc), send)
            return
        complete = chunks and chunks[-1]["type"] == "http.request" and not chunks[-1].get(
            "more_body") and len(body) <= self.max_body
        answer = await self._cached(scope, body) if complete else None
        if answer is None:
            await self.app(scope, _replaying(chunks, receive), send)
            return
        await self._answer(scope, send, answer, started, ())

    async def _get(self, scope: Scope, receive: Receive, send: Send, encoded: str) -> None:
        started = time.perf_counter()
        answer = None
        if encoded and len(encoded) <= MAX_PROTOCOL_BODY and self._may_answer(scope,
                                                                             post=False):
            try:
                request_der = parse_get_path(encoded)
            except Exception:  # malformed: the route answers it
                request_der = None
            if request_der is not None:
                answer = await self._cached(scope, request_der)
        if answer is None:
            await self.app(scope, receive, send)
            return
        headers = get_headers(answer)
        if_none_match = next((v.decode("latin-1") for k, v in scope["headers"]
                              if k == b"if-none-match"), None)
        extra = tuple((k.encode(), v.encode("latin-1")) for k, v in headers)
        if not_modified(headers, if_none_match):
            await self._answer(scope, send, b"", started, extra, status=304)
            return
        await self._answer(scope, send, answer, started, extra)

    def _may_answer(self, scope: Scope, *, post: bool) -> bool:
        """No credentials, and (POST) the content type the route accepts with no declared
        length it or the body size limit would refuse."""
        content_type = declared = None
        for name, value in scope["headers"]:
            if name == b"content-type":
                content_type = value
            elif name == b"content-length":
                declared = value
            elif name == b"authorization":
                return False
        if not post:
            return True
        if content_type is None:
            return False
        kind = content_type.decode("latin-1").split(";")[0].strip().lower()
        if kind != OCSP_REQUEST:
            return False
        return declared is None or (declared.isdigit() and int(declared) <= self.max_body)

    async def _cached(self, scope: Scope, request_der: bytes) -> bytes | None:
        """The pre-produced answer when it can be served as it is and the client has an
        OCSP token left (taken), else None."""
        try:
            domain = getattr(self.api.state, "domain", None)
            responder = domain.built_ocsp_responder() if domain is not None else None
            if responder is None:
                return None
            feed = status_feed_of(responder, domain.engine)
            if not feed.is_current():
                if feed.cheap:
                    return None  # changed (or busy): the route syncs and answers
                await run_in_threadpool(feed.sync, responder)
            answer = responder.cached_answer(request_der)
            if answer is None or self.buckets.take_ocsp(client_address(scope)):
                return None  # limited: the stack's RateLimit answers 429
            return answer
        except Exception:  # e.g. the database is down: the route maps the error
            return None

    async def _answer(self, scope: Scope, send: Send, answer: bytes, started: float,
                      extra: tuple[tuple[bytes, bytes], ...], *, status: int = 200) -> None:
        # As the stack would: the route's headers, then the observer's X-Request-Id, then
        # the security headers; the log line and metrics before the body leaves.
        request_id = request_id_of(scope)
        method = scope["method"]
        content = ([(b"content-length", str(len(answer)).encode()),
                    (b"content-type", OCSP_RESPONSE)] if status == 200 else [])
        await send({"type": "http.response.start", "status": status,
                    "headers": [*content, *extra,
                                (b"x-request-id", request_id.encode()),
                                *security_headers_for(scope["path"])]})
        seconds = time.perf_counter() - started
        route = ROUTES[method]
        self.metrics.observe_request(method, route, status, seconds)
        log_request(method=method, route=route, status=status, duration_ms=seconds * 1000,
                    request_id=request_id)
        await send({"type": "http.response.body", "body": answer})


def _replaying(chunks: list[Message], receive: Receive,
               error: Exception | None = None) -> Receive:
    """A receive that gives the messages already read again, then the error met reading
    (if any), then whatever the client sends next."""
    pending = list(chunks)

    async def replay() -> Message:
        nonlocal error
        if pending:
            return pending.pop(0)
        if error is not None:
            failure, error = error, None
            raise failure
        return await receive()

    return replay
