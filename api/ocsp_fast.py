"""The OCSP fast path: pre-produced answers straight from the event loop.

OCSP clients send the same nonce-less request again and again (RFC 5019), and the
responder keeps a signed answer for it in memory. Through FastAPI such an answer cost
~370 us of routing, dependency injection and two worker-thread hops; served here, a few
microseconds. This pure-ASGI middleware sits innermost, below the security headers, the
request observer (request id, log line, metrics), the rate limits and the body size
limit, so every request still passes through those unchanged.

It answers only what it can answer from the cache with nothing to sign and no waiting:

- ``POST /pki/ocsp`` with ``Content-Type: application/ocsp-request`` and a body of at most
  ``MAX_PROTOCOL_BODY`` bytes, and ``GET /pki/ocsp/{base64 request}``;
- the responder is built and has a current answer for these exact request bytes;
- the certificate status feed proves that no status changed since the cache was last
  brought up to date. On SQLite that check is a ~2 us query on a connection of the feed's
  own (safe on the loop); on PostgreSQL it is a round trip, so the feed syncs in a worker
  thread first (one hop instead of FastAPI's path).

Everything else (a first request, a nonce, several CertIDs, a malformed body, a wrong
content type, an oversized body, an unbuilt responder, a failing database) goes on to the
FastAPI route, which answers it exactly as before, errors included; a POST body read here
is handed on unchanged.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

from starlette.concurrency import run_in_threadpool

from ca.ocsp import parse_get_path
from certseal.status import status_feed_of

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
# RFC 5019: GET answers may be cached by HTTP caches until they go stale (as the route).
GET_CACHE_CONTROL = b"public, max-age=300, no-transform"


class OcspFastPath:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

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
        if not _is_ocsp_request(scope):
            await self.app(scope, receive, send)
            return
        chunks: list[Message] = []
        body = b""
        try:
            while True:
                message = await receive()
                chunks.append(message)
                if message["type"] != "http.request":
                    break  # a disconnect: the route sees it as before
                body += message.get("body", b"")
                if len(body) > MAX_PROTOCOL_BODY or not message.get("more_body"):
                    break
        except Exception as exc:  # e.g. the body size limit: the route answers it
            await self.app(scope, _replaying(chunks, receive, exc), send)
            return
        complete = chunks and chunks[-1]["type"] == "http.request" and not chunks[-1].get(
            "more_body") and len(body) <= MAX_PROTOCOL_BODY
        answer = await self._cached(scope, body) if complete else None
        if answer is None:
            await self.app(scope, _replaying(chunks, receive), send)
            return
        await self._answer(scope, send, answer, "post", ())

    async def _get(self, scope: Scope, receive: Receive, send: Send, encoded: str) -> None:
        answer = None
        if encoded and len(encoded) <= MAX_PROTOCOL_BODY:
            with contextlib.suppress(Exception):  # malformed: the route answers it
                answer = await self._cached(scope, parse_get_path(encoded))
        if answer is None:
            await self.app(scope, receive, send)
            return
        await self._answer(scope, send, answer, "get",
                           ((b"cache-control", GET_CACHE_CONTROL),))

    async def _cached(self, scope: Scope, request_der: bytes) -> bytes | None:
        """The pre-produced answer when it can be served as it is, else None."""
        app = scope.get("app")
        domain = getattr(getattr(app, "state", None), "domain", None)
        responder = domain.built_ocsp_responder() if domain is not None else None
        if responder is None:
            return None
        feed = status_feed_of(responder, domain.engine)
        if not feed.is_current():
            if feed.cheap:
                return None  # changed (or busy): the route syncs and answers
            try:
                await run_in_threadpool(feed.sync, responder)
            except Exception:
                return None  # e.g. the database is down: the route maps the error
        return responder.cached_answer(request_der)

    async def _answer(self, scope: Scope, send: Send, answer: bytes, kind: str,
                      extra: tuple[tuple[bytes, bytes], ...]) -> None:
        # The route this stands in for, so that the log line and metrics name its template.
        scope["route"] = ROUTES[kind]
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-length", str(len(answer)).encode()),
                                (b"content-type", OCSP_RESPONSE), *extra]})
        await send({"type": "http.response.body", "body": answer})


@dataclass(frozen=True)
class RouteTemplate:
    """What the request observer reads of ``scope["route"]``: the route's template."""

    path: str
    methods: frozenset[str]


# The templates of the routes in api/routes/pki.py (tests compare the metrics labels).
ROUTES = {"post": RouteTemplate(OCSP_PATH, frozenset({"POST"})),
          "get": RouteTemplate(OCSP_GET_PREFIX + "{encoded:path}", frozenset({"GET"}))}


def _is_ocsp_request(scope: Scope) -> bool:
    """The content type the route accepts, and no declared length it would refuse."""
    content_type = declared = None
    for name, value in scope["headers"]:
        if name == b"content-type":
            content_type = value
        elif name == b"content-length":
            declared = value
    if content_type is None:
        return False
    kind = content_type.decode("latin-1").split(";")[0].strip().lower()
    if kind != OCSP_REQUEST:
        return False
    return declared is None or (declared.isdigit() and int(declared) <= MAX_PROTOCOL_BODY)


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
