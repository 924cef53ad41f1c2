from __future__ import annotations

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool

from api.deps import DomainDep
from api.errors import problem

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict:
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(domain: DomainDep):
    checks = await run_in_threadpool(domain.readiness)
    if not all(checks.values()):
        return problem(503, "not_ready", "a dependency is unavailable", checks=checks)
    return {"status": "ready", "checks": checks}
