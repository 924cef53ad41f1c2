from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from api.deps import DomainDep
from api.errors import problem

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict:
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(request: Request, domain: DomainDep):
    checks = await run_in_threadpool(domain.readiness)
    # PDFs and images are verified by the pool's workers, started with the server.
    checks["verification"] = request.app.state.verification_pool.started
    if not all(checks.values()):
        return problem(503, "not_ready", "a dependency is unavailable", checks=checks)
    return {"status": "ready", "checks": checks}
