"""Per-client rate limits: token buckets in memory, one set per worker process.

Three things are limited, each per client address (``scope["client"]``: the peer's
address, or the address a configured reverse proxy reports, CERTSEAL_TRUSTED_PROXIES;
nobody else's X-Forwarded-For is believed):

- ``verify``: ``POST /v1/verify`` — pyHanko validation costs tens of milliseconds of CPU,
  so one client must not occupy every worker.
- ``ocsp``: ``/pki/ocsp`` (GET and POST). Relying parties hammer OCSP legitimately
  (pdfsig asks for every certificate of a chain, every time), so the default only stops
  floods.
- ``auth_failures``: requests that *present* credentials (an ``Authorization`` header)
  and fail authentication (401). Only failures consume tokens; a request without
  credentials is not a guess and costs nothing. Once an address has used up its failure
  budget, its failed authentications are answered 429 (with Retry-After) instead of 401,
  but credentials are still checked: a caller presenting the right key or token is
  served, whoever else shares its address or guesses from it. Locking the address out
  instead would let anyone behind the same NAT or proxy lock a department out with
  sixty wrong keys, and would protect nothing: department keys carry 256 random bits and
  tokens are signed, so guessing is hopeless at any rate; the limit slows and flags
  floods of wrong credentials. (Concurrent requests may overshoot the budget by at most
  the number in flight.)

The limits are per process: with ``--workers N`` a client gets up to N times the rate.
Buckets of clients not seen for a while are forgotten (LRU, ``max_clients``): a forgotten
client starts again with a full bucket, which errs on the side of serving.

Defaults (``RateLimits()``) are meant for production and are generous; tests and
benchmarks set their own through ``create_app(rate_limits=...)`` or the environment
(``RateLimits.from_environ``): ``CERTSEAL_RATE_LIMIT_VERIFY``, ``..._OCSP``,
``..._AUTH_FAILURES`` as ``RATE/s:BURST`` (e.g. ``10/s:100``) or ``off``.
"""

from __future__ import annotations

import json
import math
import re
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from api.errors import PROBLEM, language_of_headers, problem_body

Scope = Any
Message = Any
ASGIApp = Callable[..., Any]

DEFAULT_MAX_CLIENTS = 50_000
ENV_PREFIX = "CERTSEAL_RATE_LIMIT_"
_RATE = re.compile(r"^\s*(?P<rate>\d+(?:\.\d+)?)\s*/\s*s\s*:\s*(?P<burst>\d+)\s*$")


@dataclass(frozen=True)
class Rate:
    """``per_second`` tokens flow back into a bucket of ``burst`` tokens."""

    per_second: float
    burst: int

    def __post_init__(self) -> None:
        if not (self.per_second > 0 and math.isfinite(self.per_second)):
            raise ValueError("per_second must be a positive number")
        if self.burst < 1:
            raise ValueError("burst must be at least 1")

    @classmethod
    def parse(cls, text: str) -> Rate | None:
        """``"10/s:100"`` -> Rate(10, 100); ``"off"`` -> None (unlimited)."""
        if text.strip().lower() == "off":
            return None
        match = _RATE.match(text)
        if match is None:
            raise ValueError(f"a rate limit is 'RATE/s:BURST' or 'off', not {text!r}")
        return cls(float(match["rate"]), int(match["burst"]))


@dataclass(frozen=True)
class RateLimits:
    """Which limits apply (None: unlimited)."""

    verify: Rate | None = field(default_factory=lambda: Rate(10.0, 100))
    ocsp: Rate | None = field(default_factory=lambda: Rate(2_000.0, 20_000))
    auth_failures: Rate | None = field(default_factory=lambda: Rate(1.0, 60))
    max_clients: int = DEFAULT_MAX_CLIENTS

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> RateLimits:
        limits = cls()
        for name in ("verify", "ocsp", "auth_failures"):
            value = environ.get(ENV_PREFIX + name.upper())
            if value is not None:
                limits = replace(limits, **{name: Rate.parse(value)})
        return limits


class TokenBuckets:
    """One token bucket per key, refilled continuously; the clock is injectable."""

    def __init__(self, rate: Rate, *, max_keys: int = DEFAULT_MAX_CLIENTS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.rate, self.max_keys, self.clock = rate, max_keys, clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def _level(self, key: str, now: float) -> float:
        tokens, then = self._buckets.get(key, (float(self.rate.burst), now))
        return min(float(self.rate.burst), tokens + (now - then) * self.rate.per_second)

    def _store(self, key: str, tokens: float, now: float) -> None:
        self._buckets[key] = (tokens, now)
        self._buckets.move_to_end(key)
        while len(self._buckets) > self.max_keys:
            self._buckets.popitem(last=False)

    def wait(self, key: str) -> float:
        """Seconds until ``key`` has a whole token (0.0: it has one now); takes nothing."""
        tokens = self._level(key, self.clock())
        return 0.0 if tokens >= 1 else (1 - tokens) / self.rate.per_second

    def take(self, key: str) -> float:
        """Take a token: 0.0 when there was one, else the seconds to wait (nothing taken)."""
        now = self.clock()
        tokens = self._level(key, now)
        if tokens < 1:
            return (1 - tokens) / self.rate.per_second
        self._store(key, tokens - 1, now)
        return 0.0

    def spend(self, key: str) -> None:
        """Take a token even if it leaves the bucket in debt (bounded at one burst), so
        that failures that were in flight together are all counted."""
        now = self.clock()
        self._store(key, max(-float(self.rate.burst), self._level(key, now) - 1), now)


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return value
    return None


class ClientBuckets:
    """The buckets of one process's ``RateLimits``, shared by the ``RateLimit`` middleware
    and the OCSP fast path (api/ocsp_fast.py), so that both spend the same budget."""

    def __init__(self, limits: RateLimits | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits = limits or RateLimits()

        def buckets(rate: Rate | None) -> TokenBuckets | None:
            return rate and TokenBuckets(rate, max_keys=limits.max_clients, clock=clock)

        self.verify = buckets(limits.verify)
        self.ocsp = buckets(limits.ocsp)
        self.auth_failures = buckets(limits.auth_failures)

    def take_ocsp(self, address: str) -> float:
        """Take an OCSP token for ``address``: 0.0 when there was one (or no limit), else
        the seconds to wait (nothing taken; ``RateLimit`` answers such a request 429)."""
        return self.ocsp.take(address) if self.ocsp is not None else 0.0


def client_address(scope: Scope) -> str:
    client = scope.get("client")
    return client[0] if client else "unknown"


class RateLimit:
    """ASGI middleware applying ``RateLimits``; answers 429 problem+json with Retry-After.
    ``buckets``: the process's shared buckets (else its own, from ``limits``)."""

    def __init__(self, app: ASGIApp, limits: RateLimits | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 buckets: ClientBuckets | None = None) -> None:
        self.app = app
        shared = buckets or ClientBuckets(limits, clock)
        self.limits = shared.limits
        self.verify, self.ocsp = shared.verify, shared.ocsp
        self.auth_failures = shared.auth_failures

    def _request_limit(self, scope: Scope) -> tuple[TokenBuckets | None, str, str]:
        path: str = scope.get("path", "")
        if path == "/v1/verify" and scope.get("method") == "POST":
            return self.verify, "rate_limited", "too many verification requests"
        if path == "/pki/ocsp" or path.startswith("/pki/ocsp/"):
            return self.ocsp, "rate_limited", "too many OCSP requests"
        return None, "", ""

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        address = client_address(scope)
        buckets, code, what = self._request_limit(scope)
        if buckets is not None and (wait := buckets.take(address)):
            await _refuse(send, code, f"{what} from this address", wait, scope)
            return
        presents_credentials = _header(scope, b"authorization") is not None
        failures = self.auth_failures if presents_credentials else None
        if failures is None:
            await self.app(scope, receive, send)
            return
        over_budget = failures.wait(address)  # before this request: then 401 becomes 429
        refused = False

        async def counting_send(message: Message) -> None:
            nonlocal refused
            if message["type"] == "http.response.start" and message["status"] == 401:
                failures.spend(address)
                if over_budget:
                    refused = True
                    await _refuse(send, "too_many_authentication_failures",
                                  "too many failed authentications from this address",
                                  failures.wait(address), scope)
                    return
            if not refused:  # the 401's own body is not sent after the 429
                await send(message)

        await self.app(scope, receive, counting_send)


async def _refuse(send: Any, code: str, detail: str, wait: float,
                  scope: Scope | None = None) -> None:
    retry_after = max(1, math.ceil(wait))
    language = language_of_headers(scope.get("headers", [])) if scope else "en"
    body = json.dumps(problem_body(429, code, f"{detail}; retry after {retry_after} s",
                                   language=language, params={"retry_after": retry_after}),
                      ensure_ascii=False).encode()
    await send({"type": "http.response.start", "status": 429,
                "headers": [(b"content-type", PROBLEM.encode()),
                            (b"content-length", str(len(body)).encode()),
                            (b"retry-after", str(retry_after).encode()),
                            (b"content-language", language.encode())]})
    await send({"type": "http.response.body", "body": body})
