"""Fixtures of the security tests: the matrix's cast on the shared trust domain, served
over HTTP with citizens' sign-in configured (and the authentication-failure limit off,
since the matrix fails authentication on purpose dozens of times)."""

from __future__ import annotations

import pytest
import security_kit as kit
from cryptography import x509

from api.ratelimit import RateLimits
from certs.samples import sample_licence_data


@pytest.fixture(scope="session")
def security_idp(tmp_path_factory: pytest.TempPathFactory) -> kit.api_kit.IdentityProvider:
    return kit.api_kit.make_identity_provider(tmp_path_factory.mktemp("security-idp"))


@pytest.fixture(scope="session")
def cast(trust_domain, security_idp):
    import domain_kit

    from api.app import create_app
    from seal.issuance import IssuanceRequest

    domain = trust_domain.domain
    onboarded = {name: domain.add_department(name=f"安全测试部门{name}", uscc=uscc,
                                             licence_types=list(kit.TYPES_OF[name]))
                 for name, uscc in (("A", kit.DEPARTMENT_A_USCC),
                                    ("B", kit.DEPARTMENT_B_USCC))}

    def issue(department: str, type_code: str, data: dict | None = None) -> str:
        return domain.issue_licence(IssuanceRequest(
            department_id=onboarded[department].department_id, type_code=type_code,
            data=data or sample_licence_data(type_code))).licence_id

    app = create_app(kit.oidc_settings(trust_domain, security_idp), domain=domain,
                     rate_limits=RateLimits(auth_failures=None))
    with domain_kit.serving(trust_domain, app=app, port=domain_kit.free_port()) as base_url:
        tokens: dict[str, str | None] = {
            "anonymous": None,
            "A": onboarded["A"].api_key, "B": onboarded["B"].api_key,
            "C1": security_idp.token(kit.CITIZEN_1), "C2": security_idp.token(kit.CITIZEN_2),
            "bad key": onboarded["A"].api_key[:-4] + "AAAA",
            "bad token": security_idp.token(kit.CITIZEN_1, audience="someone-else"),
        }
        cast = kit.Cast(base_url, tokens,
                        {name: o.department_id for name, o in onboarded.items()})
        held = sample_licence_data("zyzgzs") | {"公民身份号码": kit.CITIZEN_1,
                                                "出生日期": "1985-01-01", "性别": "男"}
        for name, department, type_code, data, holder in (
                ("A:zyzgzs", "A", "zyzgzs", held, "C1"),
                ("A:spjyxkz", "A", "spjyxkz", None, None),
                ("B:yyzz", "B", "yyzz", None, None)):
            cast.licences[name] = issue(department, type_code, data)
            cast.owner_of[name], cast.holder_of[name] = department, holder
        cast.issue = issue  # status-change cells each get a licence of their own
        cast.app = app
        issuing = x509.load_der_x509_certificate(domain.published_certificate_der("issuing"))
        seal = x509.load_pem_x509_certificate(
            domain.seal_certificate_path(onboarded["A"].seal_id).read_bytes())
        cast.ocsp_request = kit.ocsp_request_der(seal, issuing)
        cast.tsa_request = kit.tsa_request_der()
        cast.pdf = domain.issue_licence(IssuanceRequest(
            department_id=onboarded["A"].department_id, type_code="spjyxkz",
            data=sample_licence_data("spjyxkz"))).pdf
        yield cast
