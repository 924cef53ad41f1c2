"""Routes: licence status changes by the issuing department, and the public signed
status lists (one per department, and an index of them)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Response
from pydantic import BaseModel, Field, field_validator
from pydantic_core import PydanticCustomError
from starlette.concurrency import run_in_threadpool

from api.deps import CurrentDepartment, DomainDep
from certs.registry import effective_status
from certs.text import normalise_identifier, normalise_text, refused_character
from certseal import status as flows

router = APIRouter()

STATUS_LIST_TYPE = "application/statuslist+jwt"


class StatusChangeBody(BaseModel):
    reason: str = Field(min_length=1, max_length=flows.MAX_REASON_CHARS,
                        description="why the status changes (recorded with who and when)")

    @field_validator("reason")
    @classmethod
    def _says_something(cls, value: str) -> str:
        value = normalise_text(value)
        if not value:
            raise PydanticCustomError("blank", "say why the status changes")
        refused = refused_character(value)
        if refused is not None:
            raise PydanticCustomError(
                "invisible_character", "holds an invisible or control character",
                {"character": refused.code_point, "position": refused.position})
        return value


class LicenceStatusOut(BaseModel):
    licence_id: str
    status: str
    reason: str
    actor: str


def _change(action: str):
    async def change(licence_id: str, body: StatusChangeBody, department: CurrentDepartment,
                     domain: DomainDep) -> LicenceStatusOut:
        actor = f"department:{department.department_id}"
        licence = await run_in_threadpool(
            flows.change_licence_status, domain, licence_id, action, reason=body.reason,
            actor=actor, department_id=department.department_id)
        return LicenceStatusOut(licence_id=licence.licence_id,
                                status=effective_status(licence).value,
                                reason=body.reason, actor=actor)

    change.__name__ = f"{action}_licence"
    return change


for _action in flows.LICENCE_ACTIONS:
    router.add_api_route(
        f"/v1/licences/{{licence_id}}/{_action}", _change(_action), methods=["POST"],
        response_model=LicenceStatusOut, tags=["licences"],
        summary=f"{_action.capitalize()} a licence (its issuing department only)")


class StatusListRef(BaseModel):
    department_id: str
    name: str
    status: str
    url: str


class StatusListIndex(BaseModel):
    status_lists: list[StatusListRef]


@router.get("/pki/status", response_model=StatusListIndex, tags=["pki"])
async def status_lists(domain: DomainDep) -> StatusListIndex:
    refs = await run_in_threadpool(flows.status_list_index, domain)
    return StatusListIndex(status_lists=[StatusListRef(**r) for r in refs])


@router.get("/pki/status/{department_id}", response_class=Response, tags=["pki"],
            responses={200: {"content": {STATUS_LIST_TYPE: {}}}, 304: {}})
async def status_list(department_id: str, domain: DomainDep,
                      if_none_match: Annotated[str | None, Header()] = None) -> Response:
    signed = await run_in_threadpool(flows.current_status_list, domain,
                                     normalise_identifier(department_id))
    # Short HTTP caching: the list changes the moment a status does; the ETag makes a
    # counter's re-sync cheap when nothing moved.
    headers = {"ETag": signed.etag, "Cache-Control": "public, max-age=60, no-transform"}
    if if_none_match is not None and signed.etag in {t.strip() for t in
                                                     if_none_match.split(",")}:
        return Response(status_code=304, headers=headers)
    return Response(signed.jwt, media_type=STATUS_LIST_TYPE, headers=headers)
