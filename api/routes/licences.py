"""Licence issuance and retrieval for departments (citizens' access comes with OIDC)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from api.deps import CurrentDepartment, DomainDep
from api.errors import ApiError
from certs.registry import effective_status, get_licence, get_licence_pdf
from seal.issuance import IssuanceRequest

router = APIRouter(prefix="/v1/licences", tags=["licences"])


class IssueLicenceBody(BaseModel):
    type: str = Field(description="licence type code (see `certseal licence-types`)",
                      examples=["yyzz"], max_length=32)
    data: dict[str, Any] = Field(description="the licence fields, as the type's JSON Schema says")


class IssuedLicenceOut(BaseModel):
    licence_id: str
    status: str
    pdf: str = Field(description="where to download the signed PDF")
    replayed: bool = Field(description="true when an earlier request with this "
                                       "Idempotency-Key issued the licence")


class LicenceOut(BaseModel):
    licence_id: str
    type: str
    status: str
    department_id: str
    holder_name: str
    issued_at: str
    valid_from: str
    valid_until: str | None
    version: int


@router.post("", status_code=201, response_model=IssuedLicenceOut,
             responses={200: {"model": IssuedLicenceOut, "description": "replayed"}})
async def issue(body: IssueLicenceBody, department: CurrentDepartment, domain: DomainDep,
                response: Response,
                idempotency_key: Annotated[str | None, Header(max_length=128)] = None
                ) -> IssuedLicenceOut:
    request = IssuanceRequest(department_id=department.department_id, type_code=body.type,
                              data=body.data, idempotency_key=idempotency_key,
                              actor=f"department:{department.department_id}")
    issued = await run_in_threadpool(domain.issue_licence, request)
    if issued.replayed:
        response.status_code = 200
    return IssuedLicenceOut(licence_id=issued.licence_id, status=issued.licence.status,
                            pdf=f"/v1/licences/{issued.licence_id}/pdf",
                            replayed=issued.replayed)


def _owned(domain, department, licence_id: str):
    with domain.session() as session:
        licence = get_licence(session, licence_id)
    if licence.department_id != department.department_id:
        # Not yours: answer as if it did not exist, so ids cannot be probed.
        raise ApiError(404, "licence_not_found", f"no licence {licence_id}")
    return licence


@router.get("/{licence_id}", response_model=LicenceOut)
async def read(licence_id: str, department: CurrentDepartment, domain: DomainDep) -> LicenceOut:
    licence = await run_in_threadpool(_owned, domain, department, licence_id)
    return LicenceOut(
        licence_id=licence.licence_id, type=licence.type_code,
        status=effective_status(licence).value, department_id=licence.department_id,
        holder_name=licence.holder_name, issued_at=licence.issued_at.isoformat(),
        valid_from=licence.valid_from.isoformat(),
        valid_until=licence.valid_until.isoformat() if licence.valid_until else None,
        version=licence.version,
    )


@router.get("/{licence_id}/pdf", response_class=Response,
            responses={200: {"content": {"application/pdf": {}}}})
async def pdf(licence_id: str, department: CurrentDepartment, domain: DomainDep) -> Response:
    def load() -> bytes:
        _owned(domain, department, licence_id)
        with domain.session() as session:
            return get_licence_pdf(session, licence_id)

    data = await run_in_threadpool(load)
    return Response(data, media_type="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="{licence_id}.pdf"'})
