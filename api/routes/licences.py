"""Licences over HTTP: issuance by departments (one or a batch), and reading a licence
or its signed PDF by its issuing department or its holder.

Whoever is neither gets 404, exactly as for a licence that does not exist, so licence
identifiers cannot be probed.
"""

from __future__ import annotations

import logging
import time
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Request, Response
from pydantic import BaseModel, Field, ValidationError
from starlette.concurrency import run_in_threadpool

from api.auth_oidc import Holder
from api.deps import Caller, CurrentDepartment, DomainDep
from api.errors import (
    INTERNAL,
    ApiError,
    domain_error_types,
    domain_problem,
    problem_body,
    request_language,
    request_problems,
)
from certs.models import Licence
from certs.registry import effective_status, get_licence, get_licence_pdf
from certs.rules import FieldProblem
from certs.samples import sample_licence_data
from certseal import audit
from certseal.audit import citizen_actor
from certseal.domain import TrustDomain
from seal.issuance import (
    MAX_IDEMPOTENCY_KEY,
    IssuanceRequest,
    IssuedLicence,
    usable_idempotency_key,
)
from seal.models import Department

router = APIRouter(prefix="/v1/licences", tags=["licences"])
log = logging.getLogger("certseal.api")
MAX_BATCH_ITEMS = 100

# The shipped sample: its identity number carries a correct check character, so the
# example passes the very validation it documents (tests/api/test_openapi_examples.py).
EXAMPLE_DATA = sample_licence_data("zyzgzs")


class IssueLicenceBody(BaseModel):
    type: str = Field(description="licence type code (see `certseal licence-types`)",
                      examples=["zyzgzs"], max_length=32)
    data: dict[str, Any] = Field(description="the licence fields, as the type's JSON Schema "
                                             "says", examples=[EXAMPLE_DATA])


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
    pdf: str


class BatchItem(IssueLicenceBody):
    idempotency_key: str = Field(min_length=1, max_length=MAX_IDEMPOTENCY_KEY,
                                 description="makes retrying the whole batch safe: an item "
                                             "already issued is replayed, not issued twice")


class BatchBody(BaseModel):
    # Each item is checked on its own (a malformed one is reported in its result, the
    # others are issued); the schema still says what an item is.
    items: list[Any] = Field(min_length=1, max_length=MAX_BATCH_ITEMS,
                             json_schema_extra={"items": BatchItem.model_json_schema()})


class BatchItemResult(BaseModel):
    index: int
    idempotency_key: str
    outcome: Literal["issued", "replayed", "failed"]
    licence_id: str | None = None
    status: str | None = None
    pdf: str | None = None
    problem: dict[str, Any] | None = Field(
        default=None, description="RFC 9457 problem details of a failed item")


class BatchOut(BaseModel):
    issued: int
    replayed: int
    failed: int
    results: list[BatchItemResult]


def licence_out(licence: Licence) -> LicenceOut:
    return LicenceOut(
        licence_id=licence.licence_id, type=licence.type_code,
        status=effective_status(licence).value, department_id=licence.department_id,
        holder_name=licence.holder_name, issued_at=licence.issued_at.isoformat(),
        valid_from=licence.valid_from.isoformat(),
        valid_until=licence.valid_until.isoformat() if licence.valid_until else None,
        version=licence.version, pdf=f"/v1/licences/{licence.licence_id}/pdf",
    )


def _issued_out(issued: IssuedLicence) -> IssuedLicenceOut:
    return IssuedLicenceOut(licence_id=issued.licence_id, status=issued.licence.status,
                            pdf=f"/v1/licences/{issued.licence_id}/pdf",
                            replayed=issued.replayed)


@router.post("", status_code=201, response_model=IssuedLicenceOut,
             responses={200: {"model": IssuedLicenceOut, "description": "replayed"},
                        403: {"description": "the type is not granted to this department"},
                        409: {"description": "Idempotency-Key reused with another body"},
                        422: {"description": "the data does not fit the type"}})
async def issue(body: IssueLicenceBody, department: CurrentDepartment, domain: DomainDep,
                response: Response,
                idempotency_key: Annotated[str | None, Header(max_length=MAX_IDEMPOTENCY_KEY)]
                = None) -> IssuedLicenceOut:
    if idempotency_key is not None and not usable_idempotency_key(idempotency_key):
        raise ApiError(422, "invalid_request", "unusable Idempotency-Key",
                       problems=[IDEMPOTENCY_KEY_PROBLEM])
    request = IssuanceRequest(department_id=department.department_id, type_code=body.type,
                              data=body.data, idempotency_key=idempotency_key,
                              actor=f"department:{department.department_id}")
    issued = await run_in_threadpool(domain.issue_licence, request)
    if issued.replayed:
        response.status_code = 200
    return _issued_out(issued)


IDEMPOTENCY_KEY_PROBLEM = FieldProblem("Idempotency-Key", "printable",
                                       {"limit": MAX_IDEMPOTENCY_KEY})


async def _issue_one(domain: TrustDomain, department: Department, index: int,
                     raw: Any, language: str) -> BatchItemResult:
    key = raw.get("idempotency_key") if isinstance(raw, dict) else None
    base = {"index": index, "idempotency_key": key if isinstance(key, str) else ""}
    try:
        item = BatchItem.model_validate(raw)
    except ValidationError as exc:
        return BatchItemResult(**base, outcome="failed", problem=problem_body(
            422, "invalid_request", "the item does not match the schema", language=language,
            problems=request_problems(exc.errors())))
    if not usable_idempotency_key(item.idempotency_key):
        return BatchItemResult(**base, outcome="failed", problem=problem_body(
            422, "invalid_request", "unusable idempotency key", language=language,
            problems=[FieldProblem("idempotency_key", "printable",
                                   {"limit": MAX_IDEMPOTENCY_KEY})]))
    try:
        request = IssuanceRequest(department_id=department.department_id,
                                  type_code=item.type, data=item.data,
                                  idempotency_key=item.idempotency_key,
                                  actor=f"department:{department.department_id}")
        issued = await run_in_threadpool(domain.issue_licence, request)
    except domain_error_types() as exc:
        return BatchItemResult(**base, outcome="failed", problem=domain_problem(exc, language))
    except Exception as exc:  # one broken item must not stop the others
        log.error("batch item failed: %s", type(exc).__name__)
        return BatchItemResult(**base, outcome="failed", problem=problem_body(
            500, "internal_error", INTERNAL, language=language))
    return BatchItemResult(**base, outcome="replayed" if issued.replayed else "issued",
                           licence_id=issued.licence_id, status=issued.licence.status,
                           pdf=f"/v1/licences/{issued.licence_id}/pdf")


async def _issue_batch(body: BatchBody, department: Department, domain: TrustDomain,
                       request: Request) -> BatchOut:
    metrics = request.app.state.metrics
    language = request_language(request)
    results = []
    for index, item in enumerate(body.items):
        started = time.perf_counter()
        result = await _issue_one(domain, department, index, item, language)
        outcome = result.outcome
        if result.problem is not None:
            outcome = "error" if result.problem["status"] >= 500 else "refused"
        metrics.observe_issuance(outcome, time.perf_counter() - started)
        results.append(result)
    counts = {o: sum(r.outcome == o for r in results) for o in ("issued", "replayed", "failed")}
    return BatchOut(**counts, results=results)


@router.post(":batch", response_model=BatchOut,
             summary="Issue many licences; each item succeeds or fails on its own")
async def issue_batch(body: BatchBody, department: CurrentDepartment, domain: DomainDep,
                      request: Request) -> BatchOut:
    return await _issue_batch(body, department, domain, request)


@router.post("/batch", response_model=BatchOut, include_in_schema=False)
async def issue_batch_alias(body: BatchBody, department: CurrentDepartment,
                            domain: DomainDep, request: Request) -> BatchOut:
    return await _issue_batch(body, department, domain, request)


def visible_licence(domain: TrustDomain, caller: Department | Holder,
                    licence_id: str) -> Licence:
    """The licence if the caller issued it (department) or holds it (holder); otherwise
    the same 404 as for a licence that does not exist."""
    with domain.session() as session:
        licence = get_licence(session, licence_id)
    if isinstance(caller, Department):
        mine = licence.department_id == caller.department_id
    else:
        mine = licence.holder_identifier == caller.identifier
    if not mine:
        raise ApiError(404, "licence_not_found", f"no licence {licence_id}")
    return licence


@router.get("/{licence_id}", response_model=LicenceOut,
            responses={404: {"description": "no such licence, or not yours"}})
async def read(licence_id: str, caller: Caller, domain: DomainDep) -> LicenceOut:
    licence = await run_in_threadpool(visible_licence, domain, caller, licence_id)
    return licence_out(licence)


@router.get("/{licence_id}/pdf", response_class=Response,
            responses={200: {"content": {"application/pdf": {}}},
                       404: {"description": "no such licence, or not yours"}})
async def pdf(licence_id: str, caller: Caller, domain: DomainDep) -> Response:
    def load() -> bytes:
        licence = visible_licence(domain, caller, licence_id)
        with domain.session() as session:
            data = get_licence_pdf(session, licence.licence_id)
        actor = (f"department:{caller.department_id}" if isinstance(caller, Department)
                 else citizen_actor(caller.identifier))
        audit.record(domain, "licence.downloaded", subject=licence.licence_id, actor=actor)
        return data

    data = await run_in_threadpool(load)
    return Response(data, media_type="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="{licence_id}.pdf"'})
