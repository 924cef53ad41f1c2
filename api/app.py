"""The FastAPI application factory. Settings come in; the trust domain opens in the
lifespan, i.e. after uvicorn's worker processes fork, so each worker has its own
PKCS#11 session."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from api.errors import install_error_handlers
from api.routes import health, licences, pki, status, verify
from certseal.domain import TrustDomain
from certseal.settings import Settings


def create_app(settings: Settings, *, domain: TrustDomain | None = None) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        opened = domain or TrustDomain.open(settings)
        app.state.domain = opened
        try:
            yield
        finally:
            if domain is None:
                opened.close()

    app = FastAPI(
        title="certseal",
        summary="Electronic licences sealed with HSM-backed e-seals, and their verification",
        version="0.1.0",
        lifespan=lifespan,
    )
    install_error_handlers(app)
    app.include_router(health.router)
    for module in (pki, licences, status, verify):
        app.include_router(module.router)
    return app
