"""The licence types and their JSON Schemas (public: a department's developers build their
requests from them)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from api.deps import DomainDep

router = APIRouter(tags=["licences"])


class LicenceTypeOut(BaseModel):
    code: str = Field(examples=["yyzz"])
    name: str = Field(examples=["营业执照"])
    name_en: str
    holder_kind: str
    schema_: dict[str, Any] = Field(alias="schema", description="JSON Schema of `data`")


class LicenceTypesOut(BaseModel):
    types: list[LicenceTypeOut]


@router.get("/v1/licence-types", response_model=LicenceTypesOut, response_model_by_alias=True,
            summary="The licence types and the JSON Schema of each type's data")
def licence_types(domain: DomainDep) -> dict:
    return domain.catalogue.to_json()
