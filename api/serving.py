"""How certseal is served: uvicorn's options in one place (``certseal serve`` and the test
servers use the same), and the guard against slow clients that uvicorn lacks.

uvicorn closes a keep-alive connection that stays idle, but nothing bounds how long a
request may take to *arrive*: a client that opens a connection and sends nothing, or one
byte of its headers every two seconds, holds its connection (and a file descriptor and
buffers) for ever, and four hundred such clients cost a worker nothing but its capacity.
``GuardedHttpToolsProtocol`` is uvicorn's own httptools protocol, passed in through
uvicorn's documented ``http`` option, with deadlines around its parser's callbacks:

- the request line and headers must be complete within ``header_timeout`` seconds of
  the connection opening (or, on a kept-alive connection, of the next request's first
  byte), and within ``max_header_bytes``;
- a body must arrive within ``body_timeout`` seconds plus one second per
  ``body_min_rate`` bytes received (Apache's mod_reqtimeout rule): a trickle falls behind,
  a large upload at a reasonable rate never does. Time during which the server itself
  stopped reading (flow control: the application has not taken the body yet) counts in
  the client's favour.

A client that misses its deadline gets ``408`` (``431`` for oversized headers) and the
connection is closed. The application is unchanged: it sees a disconnect, as when a
client goes away. A TLS-terminating reverse proxy in front (README, docker-compose.yml)
buffers slow clients before they reach us; the guard keeps the service safe without one.
"""

from __future__ import annotations

import asyncio
import functools
import json
from dataclasses import dataclass
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

KEEP_ALIVE_SECONDS = 5  # uvicorn's default, named: the idle time between two requests
_CHECK_WHILE_PAUSED = 1.0


@dataclass(frozen=True)
class ClientDeadlines:
    header_timeout: float = 10.0
    body_timeout: float = 10.0
    body_min_rate: int = 500  # bytes a second
    max_header_bytes: int = 64 * 1024

    @classmethod
    def from_settings(cls, settings: Any) -> ClientDeadlines:
        return cls(header_timeout=settings.client_header_timeout,
                   body_timeout=settings.client_body_timeout,
                   body_min_rate=settings.client_body_min_rate)


def _answer(status: int, reason: str, code: str, detail: str) -> bytes:
    body = json.dumps({"type": f"urn:certseal:error:{code}", "title": code.replace("_", " "),
                       "status": status, "code": code, "detail": detail}).encode()
    head = (f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/problem+json\r\n"
            f"content-length: {len(body)}\r\nconnection: close\r\n\r\n")
    return head.encode() + body


_TIMEOUT = _answer(408, "Request Timeout", "request_timeout",
                   "the request did not arrive in time")
_HEADERS_TOO_LARGE = _answer(431, "Request Header Fields Too Large", "headers_too_large",
                             "the request's headers are too large")


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with header and body deadlines (module docstring).
    Built by uvicorn with its own arguments; ``deadlines`` comes from ``protocol_for``."""

    def __init__(self, *args: Any, deadlines: ClientDeadlines = ClientDeadlines(),
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.deadlines = deadlines
        self._timer: asyncio.TimerHandle | None = None
        self._in_headers = False
        self._header_bytes = 0
        self._body_base = 0.0  # the body's deadline before any byte of it arrived
        self._body_bytes = 0
        self._body_checked = 0.0

    # -- the connection ------------------------------------------------------------------
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._in_headers, self._header_bytes = True, 0
        self._arm(self.deadlines.header_timeout, self._headers_late)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self._in_headers and self.parser is not None:  # still no end of headers
            self._header_bytes += len(data)
            if self._header_bytes > self.deadlines.max_header_bytes:
                self._cut(_HEADERS_TOO_LARGE)

    # -- the parser's callbacks ------------------------------------------------------------
    def on_message_begin(self) -> None:
        super().on_message_begin()
        if not self._in_headers:  # the next request on a kept-alive connection
            self._in_headers, self._header_bytes = True, 0
            self._arm(self.deadlines.header_timeout, self._headers_late)

    def on_headers_complete(self) -> None:
        self._in_headers = False
        self._disarm()
        super().on_headers_complete()
        if self._expects_body():
            now = self.loop.time()
            self._body_base, self._body_bytes, self._body_checked = (
                now + self.deadlines.body_timeout, 0, now)
            self._arm(self.deadlines.body_timeout, self._body_late)

    def on_body(self, body: bytes) -> None:
        self._body_bytes += len(body)
        super().on_body(body)

    def on_message_complete(self) -> None:
        self._disarm()
        super().on_message_complete()

    # -- deadlines ---------------------------------------------------------------------------
    def _expects_body(self) -> bool:
        for name, value in self.headers:
            if name == b"transfer-encoding" or (name == b"content-length"
                                                and value.strip() not in (b"", b"0")):
                return True
        return False

    def _arm(self, delay: float, callback: Any) -> None:
        self._disarm()
        self._timer = self.loop.call_later(delay, callback)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _headers_late(self) -> None:
        self._timer = None
        if self._in_headers:
            self._cut(_TIMEOUT)

    def _body_late(self) -> None:
        self._timer = None
        now = self.loop.time()
        if self.flow is not None and self.flow.read_paused:  # we stopped reading, not it
            self._body_base += now - self._body_checked
            self._body_checked = now
            self._arm(_CHECK_WHILE_PAUSED, self._body_late)
            return
        self._body_checked = now
        deadline = self._body_base + self._body_bytes / self.deadlines.body_min_rate
        if now < deadline:
            self._arm(deadline - now, self._body_late)
        else:
            self._cut(_TIMEOUT)

    def _cut(self, answer: bytes) -> None:
        self._disarm()
        if self.transport is None or self.transport.is_closing():
            return
        cycle = self.cycle
        started = cycle is not None and cycle.response_started
        if cycle is not None and not cycle.response_complete:
            cycle.disconnected = True  # the application's next receive is a disconnect
            cycle.message_event.set()
        if not started:
            self.transport.write(answer)
        self.transport.close()


def protocol_for(deadlines: ClientDeadlines) -> Any:
    """What uvicorn's ``http`` option takes: a picklable factory (workers are spawned)."""
    return functools.partial(GuardedHttpToolsProtocol, deadlines=deadlines)


def server_options(settings: Any) -> dict[str, Any]:
    """uvicorn's options for serving the app built from ``settings``.

    uvicorn believes X-Forwarded-For from 127.0.0.1 by default, so anyone on the host
    (or a co-located proxy's every client) could pick the address rate limits count; it
    is off here, and the app itself applies CERTSEAL_TRUSTED_PROXIES (api/app.py)."""
    return {"http": protocol_for(ClientDeadlines.from_settings(settings)),
            "proxy_headers": False, "server_header": False, "access_log": False,
            "timeout_keep_alive": KEEP_ALIVE_SECONDS}
