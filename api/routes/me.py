"""A signed-in holder's own licences (OpenID Connect; subject = holder identifier)."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from api.deps import CurrentHolder, DomainDep
from api.routes.licences import LicenceOut, licence_out
from certs.registry import list_licences_for_holder

router = APIRouter(prefix="/v1/me", tags=["citizens"])


class MyLicencesOut(BaseModel):
    licences: list[LicenceOut]


@router.get("/licences", response_model=MyLicencesOut)
async def my_licences(holder: CurrentHolder, domain: DomainDep) -> MyLicencesOut:
    def load() -> list[LicenceOut]:
        with domain.session() as session:
            return [licence_out(licence)
                    for licence in list_licences_for_holder(session, holder.identifier)]

    return MyLicencesOut(licences=await run_in_threadpool(load))
