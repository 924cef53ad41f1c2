"""Annotated dependency aliases shared by the routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from certseal.domain import TrustDomain


def get_domain(request: Request) -> TrustDomain:
    return request.app.state.domain


DomainDep = Annotated[TrustDomain, Depends(get_domain)]
