"""Annotated dependency aliases shared by the routes: the trust domain, a database
session, and the authenticated department."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from api.errors import ApiError
from certseal.domain import TrustDomain
from seal.credentials import authenticate_api_key
from seal.models import Department


def get_domain(request: Request) -> TrustDomain:
    return request.app.state.domain


DomainDep = Annotated[TrustDomain, Depends(get_domain)]


def get_session(domain: DomainDep) -> Iterator[Session]:
    with domain.session() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]

_bearer = HTTPBearer(auto_error=False, description="Department API key")


async def get_current_department(
    domain: DomainDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Department:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise ApiError(401, "authentication_required",
                       "send the department's API key as 'Authorization: Bearer KEY'")

    def lookup() -> Department | None:
        with domain.session() as session:
            return authenticate_api_key(session, credentials.credentials)

    department = await run_in_threadpool(lookup)
    if department is None:
        raise ApiError(401, "invalid_credentials", "the API key is not valid")
    return department


CurrentDepartment = Annotated[Department, Depends(get_current_department)]
