"""A department's own API keys: list, create (rotation) and revoke."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from api.deps import CurrentDepartment, DomainDep
from api.errors import ApiError
from certseal.db import transaction
from seal.credentials import (
    KeyRevocation,
    create_api_key,
    list_api_keys,
    revoke_department_api_key,
)

router = APIRouter(prefix="/v1/departments/me", tags=["departments"])


class ApiKeyOut(BaseModel):
    key_id: str
    created_at: str
    revoked_at: str | None


class NewApiKeyOut(BaseModel):
    key_id: str
    created_at: str
    api_key: str = Field(description="the whole key; shown this once and stored only as a "
                                     "hash, so keep it now")


class ApiKeysOut(BaseModel):
    keys: list[ApiKeyOut]


@router.get("/api-keys", response_model=ApiKeysOut)
async def list_keys(department: CurrentDepartment, domain: DomainDep) -> ApiKeysOut:
    def load() -> list[ApiKeyOut]:
        with domain.session() as session:
            return [ApiKeyOut(key_id=k.key_id, created_at=k.created_at.isoformat(),
                              revoked_at=k.revoked_at.isoformat() if k.revoked_at else None)
                    for k in list_api_keys(session, department.department_id)]

    return ApiKeysOut(keys=await run_in_threadpool(load))


@router.post("/api-keys", status_code=201, response_model=NewApiKeyOut)
async def create_key(department: CurrentDepartment, domain: DomainDep) -> NewApiKeyOut:
    def create() -> NewApiKeyOut:
        now = datetime.now(UTC)
        with transaction(domain.engine) as session:
            key = create_api_key(session, department.department_id, now=now)
        return NewApiKeyOut(key_id=key.key_id, created_at=now.isoformat(), api_key=key.token)

    return await run_in_threadpool(create)


@router.delete("/api-keys/{key_id}", status_code=204, response_class=Response)
async def revoke_key(key_id: str, department: CurrentDepartment, domain: DomainDep
                     ) -> Response:
    def revoke() -> KeyRevocation:
        with transaction(domain.engine) as session:
            return revoke_department_api_key(session, department.department_id, key_id)

    outcome = await run_in_threadpool(revoke)
    if outcome is KeyRevocation.NOT_FOUND:
        raise ApiError(404, "api_key_not_found", f"this department has no API key {key_id}")
    if outcome is KeyRevocation.ALREADY_REVOKED:
        raise ApiError(409, "api_key_already_revoked", f"API key {key_id} is already revoked")
    if outcome is KeyRevocation.LAST_ACTIVE:
        raise ApiError(409, "last_active_api_key", "create a new API key before revoking "
                                                    "the last active one")
    return Response(status_code=204)
