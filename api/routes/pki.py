"""The PKI endpoints that third-party tools use: certificates, CRLs, the trust list."""

from __future__ import annotations

import hashlib

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from api.deps import DomainDep
from api.errors import ApiError
from api.ocsp_caching import get_headers, not_modified

router = APIRouter(prefix="/pki", tags=["pki"])


@router.get("/ca/{name}.crt", response_class=Response,
            responses={200: {"content": {"application/pkix-cert": {}}}})
async def ca_certificate(name: str, domain: DomainDep) -> Response:
    der = await run_in_threadpool(domain.published_certificate_der, name)
    if der is None:
        raise ApiError(404, "certificate_not_found", f"no CA certificate named {name!r}")
    return Response(der, media_type="application/pkix-cert",
                    headers={"Cache-Control": "public, max-age=86400"})


@router.get("/crl/{name}.crl", response_class=Response,
            responses={200: {"content": {"application/pkix-crl": {}}}})
async def crl(name: str, domain: DomainDep) -> Response:
    der = await run_in_threadpool(domain.current_crl_der, name)
    if der is None:
        raise ApiError(404, "crl_not_found", f"no CRL named {name!r}")
    return Response(der, media_type="application/pkix-crl",
                    headers={"Cache-Control": "public, max-age=300"})


@router.get("/trust-list", response_class=Response,
            responses={200: {"content": {"application/vnd.certseal.trust-list+jws": {}}},
                       304: {"description": "the list named by If-None-Match is current"}})
async def trust_list(request: Request, domain: DomainDep) -> Response:
    from certseal.trust import served_trust_list

    data = _published(await run_in_threadpool(served_trust_list, domain))
    # A strong validator, so that refreshing counters fetch a list only when it changed.
    etag = '"' + hashlib.sha256(data).hexdigest() + '"'
    headers = {"ETag": etag, "Cache-Control": "public, max-age=300"}
    if etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    return Response(data, media_type="application/vnd.certseal.trust-list+jws", headers=headers)


def _published(data: bytes | None) -> bytes:
    if data is None:
        raise ApiError(404, "trust_list_not_found", "this domain has published no trust list")
    return data


ETSI_TSL = "application/vnd.etsi.tsl+xml"
# TS 119 612 clause 6.1: caches should hold a list for at most 4 hours.
TSL_CACHE = "public, max-age=300"


def _revalidated(request: Request, data: bytes, media_type: str) -> Response:
    etag = '"' + hashlib.sha256(data).hexdigest() + '"'
    headers = {"ETag": etag, "Cache-Control": TSL_CACHE}
    if etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    return Response(data, media_type=media_type, headers=headers)


@router.get("/trust-list.xml", response_class=Response,
            responses={200: {"content": {ETSI_TSL: {}}},
                       304: {"description": "the list named by If-None-Match is current"}})
async def trust_list_xml(request: Request, domain: DomainDep) -> Response:
    """The same list as /pki/trust-list, as ETSI TS 119 612 XML signed with XAdES."""
    from certseal.trust import served_trust_list_xml

    data = _published(await run_in_threadpool(served_trust_list_xml, domain))
    return _revalidated(request, data, ETSI_TSL)


@router.get("/trust-list.sha2", response_class=Response,
            responses={200: {"content": {"text/plain": {}}}})
async def trust_list_digest(domain: DomainDep) -> Response:
    """TS 119 612 clause 6.1: the SHA-256 of the XML list, to notice a new one (never to
    authenticate it)."""
    from certseal.trust import served_trust_list_xml

    data = _published(await run_in_threadpool(served_trust_list_xml, domain))
    return Response(hashlib.sha256(data).hexdigest() + "\n", media_type="text/plain",
                    headers={"Cache-Control": TSL_CACHE})


@router.get("/list-of-lists.xml", response_class=Response,
            responses={200: {"content": {ETSI_TSL: {}}}, 404: {"description": "none published"}})
async def list_of_lists(request: Request, domain: DomainDep) -> Response:
    """A national operator's list of lists (ETSI TS 119 612 PointersToOtherTSL)."""
    from certseal.list_of_lists import served_list_of_lists

    data = await run_in_threadpool(served_list_of_lists, domain)
    if data is None:
        raise ApiError(404, "list_of_lists_not_found", "this domain publishes no list of lists")
    return _revalidated(request, data, ETSI_TSL)


# OCSP and TSA bodies are small; anything bigger is not a request of theirs.
MAX_PROTOCOL_BODY = 64 * 1024


async def _bounded_body(request: Request, expected_type: str) -> bytes:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != expected_type:
        raise ApiError(415, "unsupported_media_type", f"send {expected_type}")
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_PROTOCOL_BODY:
        raise ApiError(413, "request_too_large", f"at most {MAX_PROTOCOL_BODY} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_PROTOCOL_BODY:
            raise ApiError(413, "request_too_large", f"at most {MAX_PROTOCOL_BODY} bytes")
    return bytes(body)


OCSP_RESPONSE = "application/ocsp-response"


@router.post("/ocsp", response_class=Response,
             responses={200: {"content": {OCSP_RESPONSE: {}}}},
             openapi_extra={"requestBody": {"content": {"application/ocsp-request": {}},
                                            "required": True}})
async def ocsp_post(request: Request, domain: DomainDep) -> Response:
    body = await _bounded_body(request, "application/ocsp-request")
    # One worker-thread hop: the responder (built on first use) and its answer together.
    answer = await run_in_threadpool(lambda: domain.ocsp_responder().respond(body))
    return Response(answer, media_type=OCSP_RESPONSE)


@router.get("/ocsp/{encoded:path}", response_class=Response,
            responses={200: {"content": {OCSP_RESPONSE: {}}}})
async def ocsp_get(encoded: str, request: Request, domain: DomainDep) -> Response:
    if len(encoded) > MAX_PROTOCOL_BODY:
        raise ApiError(414, "request_too_large", "OCSP GET request too long")
    answer = await run_in_threadpool(lambda: domain.ocsp_responder().respond_to_get(encoded))
    headers = get_headers(answer)
    if not_modified(headers, request.headers.get("if-none-match")):
        return Response(status_code=304, headers=dict(headers))
    return Response(answer, media_type=OCSP_RESPONSE, headers=dict(headers))


@router.post("/tsa", response_class=Response,
             responses={200: {"content": {"application/timestamp-reply": {}}}},
             openapi_extra={"requestBody": {"content": {"application/timestamp-query": {}},
                                            "required": True}})
async def tsa(request: Request, domain: DomainDep) -> Response:
    body = await _bounded_body(request, "application/timestamp-query")
    answer = await run_in_threadpool(lambda: domain.time_stamp_authority().respond(body))
    return Response(answer, media_type="application/timestamp-reply")
