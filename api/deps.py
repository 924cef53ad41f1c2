"""Annotated dependency aliases shared by the routes: the trust domain, a database
session, and who is calling — a department (API key) or a holder (OpenID Connect token).

Both kinds arrive as ``Authorization: Bearer ...``: department keys have the form
``csk_<key id>_<secret>``; anything else is treated as an identity provider's token.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from api.auth_oidc import Holder, InvalidToken, NotAHolder, OidcVerifier
from api.errors import ApiError
from certseal.domain import TrustDomain
from seal.credentials import PREFIX as API_KEY_PREFIX
from seal.credentials import authenticate_api_key
from seal.models import Department

CHALLENGE = {"WWW-Authenticate": 'Bearer realm="certseal"'}


def get_domain(request: Request) -> TrustDomain:
    return request.app.state.domain


DomainDep = Annotated[TrustDomain, Depends(get_domain)]


def get_session(domain: DomainDep) -> Iterator[Session]:
    with domain.session() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]

_bearer = HTTPBearer(auto_error=False, scheme_name="bearer",
                     description="A department's API key (csk_...) or a citizen's "
                                 "OpenID Connect token")
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


def _unauthenticated(code: str, detail: str, error: str | None = None) -> ApiError:
    challenge = CHALLENGE["WWW-Authenticate"] + (f', error="{error}"' if error else "")
    return ApiError(401, code, detail, headers={"WWW-Authenticate": challenge})


def _presented(credentials: HTTPAuthorizationCredentials | None) -> str:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise _unauthenticated("authentication_required",
                               "send 'Authorization: Bearer <API key or identity token>'")
    return credentials.credentials


def _is_api_key(token: str) -> bool:
    return token.startswith(API_KEY_PREFIX + "_")


async def _department(domain: TrustDomain, token: str) -> Department:
    def lookup() -> Department | None:
        with domain.session() as session:
            return authenticate_api_key(session, token)

    department = await run_in_threadpool(lookup)
    if department is None:
        raise _unauthenticated("invalid_credentials", "the API key is not valid",
                               "invalid_token")
    return department


async def _holder(request: Request, token: str) -> Holder:
    verifier: OidcVerifier | None = request.app.state.oidc
    if verifier is None:
        raise _unauthenticated("citizen_sign_in_unavailable",
                               "this service has no identity provider configured")
    try:
        return await run_in_threadpool(verifier.holder, token)
    except InvalidToken as exc:
        raise _unauthenticated("invalid_token", exc.reason, "invalid_token") from None
    except NotAHolder as exc:
        raise ApiError(403, "not_a_holder", str(exc)) from None


async def get_current_department(domain: DomainDep, credentials: Credentials) -> Department:
    token = _presented(credentials)
    if not _is_api_key(token):
        raise _unauthenticated("invalid_credentials",
                               "this operation needs a department's API key", "invalid_token")
    return await _department(domain, token)


async def get_current_holder(request: Request, credentials: Credentials) -> Holder:
    token = _presented(credentials)
    if _is_api_key(token):
        raise ApiError(403, "holder_only", "this operation is for a signed-in holder, "
                                           "not a department")
    return await _holder(request, token)


async def get_caller(request: Request, domain: DomainDep, credentials: Credentials
                     ) -> Department | Holder:
    token = _presented(credentials)
    if _is_api_key(token):
        return await _department(domain, token)
    return await _holder(request, token)


CurrentDepartment = Annotated[Department, Depends(get_current_department)]
CurrentHolder = Annotated[Holder, Depends(get_current_holder)]
Caller = Annotated[Department | Holder, Depends(get_caller)]
