"""The FastAPI application factory. Settings come in; the trust domain opens in the
lifespan, i.e. after uvicorn's worker processes fork, so each worker has its own
PKCS#11 session.

``app_from_env`` is the factory uvicorn imports in each worker
(``uvicorn.run("api.app:app_from_env", factory=True, workers=N)``): it reads the
settings from the environment (``CERTSEAL_HOME`` and the other ``CERTSEAL_*``).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Response
from starlette.concurrency import run_in_threadpool
from starlette.types import Receive, Scope, Send
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from api.auth_oidc import OidcVerifier
from api.errors import install_error_handlers
from api.logging import configure_logging
from api.metrics import ServiceMetrics
from api.middleware import (
    DEFAULT_MAX_BODY_BYTES,
    BodySizeLimit,
    JsonBodyLimits,
    RequestObserver,
    SecurityHeaders,
)
from api.ocsp_fast import OcspFastPath
from api.ratelimit import ClientBuckets, RateLimit, RateLimits
from api.routes import (
    departments,
    health,
    licence_types,
    licences,
    me,
    pages,
    pki,
    status,
    verify,
)
from certseal.domain import TrustDomain
from certseal.publisher import Publisher
from certseal.settings import Settings, load_settings
from certseal.verification_pool import VerificationPool

DESCRIPTION = """\
Issuing departments authenticate with `Authorization: Bearer <API key>` (`csk_...`);
citizens and companies with an OpenID Connect bearer token from the configured identity
provider, whose `sub` claim is their resident identity number or unified social credit
code. Errors are RFC 9457 problem details (`application/problem+json`) with a stable
`code`.
"""


class CertsealApi(FastAPI):
    """FastAPI with the OCSP fast path (api/ocsp_fast.py) in front of its whole stack:
    FastAPI's own outer layers and our middlewares cost as much CPU as uvicorn's HTTP
    work for a cached OCSP answer, so the fast path does their part itself and hands
    everything else to ``full_stack``."""

    fast_path: OcspFastPath | None = None
    # Set when CERTSEAL_TRUSTED_PROXIES names proxies: their X-Forwarded-For/-Proto are
    # applied first of all, so the fast path and the rate limits see the real client.
    proxies: ProxyHeadersMiddleware | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.proxies is not None:
            await self.proxies(scope, receive, send)
        else:
            await self.dispatch(scope, receive, send)

    async def dispatch(self, scope: Scope, receive: Receive, send: Send) -> None:
        fast_path = self.fast_path
        if fast_path is not None and scope["type"] == "http":
            await fast_path(scope, receive, send)
        else:
            await super().__call__(scope, receive, send)

    async def full_stack(self, scope: Scope, receive: Receive, send: Send) -> None:
        await super().__call__(scope, receive, send)


def create_app(settings: Settings, *, domain: TrustDomain | None = None,
               max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
               rate_limits: RateLimits | None = None,
               verification_pool: VerificationPool | None = None,
               publish: bool | None = None) -> FastAPI:
    """``rate_limits``: per-client limits (api/ratelimit.py); None: the defaults.
    ``domain``, ``verification_pool``: given ones are used and left open; else the app
    opens its own in the lifespan (after uvicorn's fork) and closes them.
    ``publish``: run the publisher that re-signs CRLs and trust lists when due (default:
    when the app opens its own domain, as ``certseal serve`` does)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        opened = domain or TrustDomain.open(settings)
        app.state.domain = opened
        if verification_pool is None:
            app.state.verification_pool.start_in_background()
        publisher = Publisher(opened) if (domain is None if publish is None else publish) \
            else None
        if publisher is not None:
            publisher.start()
        app.state.publisher = publisher
        try:
            yield
        finally:
            if publisher is not None:
                await run_in_threadpool(publisher.stop)
            if verification_pool is None:
                await run_in_threadpool(app.state.verification_pool.close)
            if domain is None:
                opened.close()

    app = CertsealApi(
        title="certseal",
        summary="Electronic licences sealed with HSM-backed e-seals, and their verification",
        description=DESCRIPTION,
        version="0.1.0",
        lifespan=lifespan,
    )
    app.state.oidc = OidcVerifier.from_settings(settings)
    # Its workers start with the lifespan (or, unserved, on the first PDF or image).
    app.state.verification_pool = verification_pool or VerificationPool(settings)
    app.state.metrics = metrics = ServiceMetrics()
    install_error_handlers(app)
    app.include_router(health.router)
    for module in (pki, licences, licence_types, me, departments, status, verify):
        app.include_router(module.router)
    app.include_router(pages.router_for(settings))

    @app.get("/metrics", include_in_schema=False)
    async def prometheus_metrics() -> Response:
        body, content_type = metrics.exposition()
        return Response(body, media_type=content_type)

    # Added innermost first: the body limit sits closest to the routes, the security
    # headers outermost so that even the observer's own 500 answer carries them. Rate
    # limits refuse before any body is read, inside the observer so 429s are logged.
    buckets = ClientBuckets(rate_limits or RateLimits())
    app.add_middleware(JsonBodyLimits)  # every JSON body, bounded before it is parsed
    app.add_middleware(BodySizeLimit, max_bytes=max_body_bytes)
    app.add_middleware(RateLimit, buckets=buckets)
    app.add_middleware(RequestObserver, metrics=metrics)
    app.add_middleware(SecurityHeaders)
    # Outermost of all, cached OCSP answers leave without any of it, doing its part
    # through the same headers, metrics, log and rate-limit buckets (api/ocsp_fast.py).
    app.fast_path = OcspFastPath(app.full_stack, api=app, metrics=metrics, buckets=buckets,
                                 max_body_bytes=max_body_bytes)
    if settings.trusted_proxy_list:  # else nobody's X-Forwarded-For is believed
        app.proxies = ProxyHeadersMiddleware(app.dispatch,
                                             trusted_hosts=settings.trusted_proxy_list)
    return app


def app_from_env() -> FastAPI:
    """The app for ``certseal serve`` workers: settings from the environment."""
    configure_logging()
    return create_app(load_settings(), rate_limits=RateLimits.from_environ(os.environ))
