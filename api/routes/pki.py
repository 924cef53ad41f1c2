"""The PKI endpoints that third-party tools use: certificates, CRLs, the trust list."""

from __future__ import annotations

from fastapi import APIRouter, Response
from starlette.concurrency import run_in_threadpool

from api.deps import DomainDep
from api.errors import ApiError

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
            responses={200: {"content": {"application/vnd.certseal.trust-list+jws": {}}}})
async def trust_list(domain: DomainDep) -> Response:
    data = await run_in_threadpool(domain.published_trust_list)
    if data is None:
        raise ApiError(404, "trust_list_not_found", "this domain has not published a trust list")
    return Response(data, media_type="application/vnd.certseal.trust-list+jws")
