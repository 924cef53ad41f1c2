"""Routes: public verification. No credentials; the report discloses no more than the
licence itself shows (the holder identifier masked, as in its QR code).

POST /v1/verify takes a multipart upload (field ``file``: a PDF or a PNG/JPEG image), a
raw body (application/pdf, image/png, image/jpeg), or JSON ``{"qr": "CSL1:..."}``.
PDFs and images are judged in the verification pool's worker processes
(certseal/verification_pool.py: 503 with Retry-After when it is full); QR text, a fraction
of a millisecond, in this process.
"""

from __future__ import annotations

import asyncio
import json
import weakref
from collections.abc import Awaitable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from starlette.concurrency import run_in_threadpool

from api.deps import DomainDep
from api.errors import ApiError
from certseal.verification_pool import VerificationPool
from certseal.verifying import Verifier, verifier_for
from verify.errors import UnusableInput
from verify.inputs import kind_of, verify_blocking
from verify.limits import DEFAULT_LIMITS

router = APIRouter(tags=["verify"])
MAX_UPLOAD_BYTES = max(DEFAULT_LIMITS.max_pdf_bytes, DEFAULT_LIMITS.max_image_bytes)
_MULTIPART_OVERHEAD = 64 * 1024
_verifiers: weakref.WeakKeyDictionary[Any, Verifier] = weakref.WeakKeyDictionary()


def _verifier(domain) -> Verifier:
    # One per domain, so OCSP answers and status lists are cached across requests.
    verifier = _verifiers.get(domain)
    if verifier is None:
        verifier = _verifiers[domain] = verifier_for(domain.settings.home)
    return verifier


async def _body(request: Request) -> bytes:
    limit = MAX_UPLOAD_BYTES + _MULTIPART_OVERHEAD
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise ApiError(413, "input_too_large", f"uploads are limited to {MAX_UPLOAD_BYTES} "
                                               "bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ApiError(413, "input_too_large",
                           f"uploads are limited to {MAX_UPLOAD_BYTES} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _content_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


async def _input_of(request: Request) -> bytes:
    content_type = _content_type(request)
    body = await _body(request)
    if content_type == "application/json":
        try:
            qr = json.loads(body).get("qr")
        except (ValueError, AttributeError):
            qr = None
        if not isinstance(qr, str) or not qr.strip():
            raise ApiError(422, "invalid_request", 'send JSON {"qr": "<the QR text>"}')
        return qr.strip().encode("utf-8")
    if content_type == "multipart/form-data":
        request._body = body  # parse what was already read (and bounded) above
        form = await request.form(max_files=1, max_fields=4)
        upload = form.get("file")
        if upload is None or isinstance(upload, str):
            raise ApiError(422, "invalid_request", "send the document as the form field "
                                                   "'file'")
        data = await upload.read()
        await form.close()
    else:
        data = body
    if not data:
        raise UnusableInput("the upload is empty")
    if len(data) > MAX_UPLOAD_BYTES:
        raise ApiError(413, "input_too_large", f"uploads are limited to {MAX_UPLOAD_BYTES} "
                                               "bytes")
    return data


def get_verification_pool(request: Request) -> VerificationPool:
    return request.app.state.verification_pool


VerificationPoolDep = Annotated[VerificationPool, Depends(get_verification_pool)]


async def _verify_here(domain, data: bytes, offline: bool) -> dict:
    """QR text: a fraction of a millisecond, so it stays in this process (in a thread)."""
    # Built on first use from files (trust lists, seals): not on the event loop.
    return await run_in_threadpool(_verify_qr_blocking, domain, data, offline)


def _verify_qr_blocking(domain, data: bytes, offline: bool) -> dict:
    # The context stats trust-list and seal files and may re-verify a list: a thread's work.
    context = _verifier(domain).context(offline=offline)
    return verify_blocking(data, context).to_json()


async def _unless_client_leaves(request: Request, work: Awaitable[dict]) -> dict:
    """``work``, given up (and its worker stopped) if the client disconnects first, so a
    flood that leaves does not keep the workers busy for the rest of their budget."""
    task = asyncio.ensure_future(work)
    left = asyncio.ensure_future(_disconnected(request))
    try:
        await asyncio.wait({task, left}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        if not task.done():
            task.cancel()
        left.cancel()
    if task.cancelled():
        raise ApiError(499, "client_closed_request", "the client went away")
    return task.result()


async def _disconnected(request: Request) -> None:
    # The body has been read: what comes next is the disconnect.
    while (await request.receive())["type"] != "http.disconnect":
        pass


@router.post(
    "/v1/verify",
    summary="Verify a licence: the sealed PDF, a picture of its QR code, or the QR text",
    responses={200: {"description": "the verification report (see `verdict`)"},
               413: {"description": "upload too large"},
               422: {"description": "not a licence that can be judged"},
               503: {"description": "every verification worker is busy (see Retry-After)"}},
    openapi_extra={"requestBody": {"content": {
        "multipart/form-data": {"schema": {"type": "object", "properties": {
            "file": {"type": "string", "format": "binary"}}}},
        "application/json": {"schema": {"type": "object", "properties": {
            "qr": {"type": "string"}}}},
        "application/pdf": {}, "image/png": {}, "image/jpeg": {}}}},
)
async def verify(request: Request, domain: DomainDep, pool: VerificationPoolDep,
                 offline: bool = Query(False, description="embedded and cached status only")
                 ) -> dict:
    if _content_type(request) == "application/json":
        return await _verify_here(domain, await _input_of(request), offline)
    # A place is taken before the upload is read: uploads held in memory are bounded by
    # the pool's places, and a refused upload is never read (uvicorn discards it).
    async with pool.place():
        data = await _input_of(request)
        if kind_of(data) == "qr-text":
            return await _verify_here(domain, data, offline)
        # pyHanko's validation is CPU-bound: it runs in one of the pool's processes.
        return await _unless_client_leaves(request, pool.verify(data, offline=offline))
