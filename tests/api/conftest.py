"""Fixtures for the HTTP API tests: our identity provider, the real app serving the shared
trust domain with that provider configured, and a second department granted one type."""

from __future__ import annotations

import api_kit
import pytest


@pytest.fixture(scope="session")
def identity_provider(tmp_path_factory: pytest.TempPathFactory) -> api_kit.IdentityProvider:
    return api_kit.make_identity_provider(tmp_path_factory.mktemp("idp"))


@pytest.fixture(scope="session")
def served_api(trust_domain, identity_provider):
    """The real app over HTTP on loopback, serving the shared domain, citizens' sign-in
    configured with our identity provider."""
    import domain_kit

    from api.app import create_app

    settings = trust_domain.domain.settings.model_copy(update={
        "oidc_issuer": api_kit.ISSUER, "oidc_audience": api_kit.AUDIENCE,
        "oidc_jwks": str(identity_provider.jwks_path)})
    app = create_app(settings, domain=trust_domain.domain)
    with domain_kit.serving(trust_domain, app=app, port=domain_kit.free_port()) as base_url:
        yield api_kit.ApiUnderTest(base_url, trust_domain, identity_provider)


@pytest.fixture(scope="session")
def other_department(trust_domain) -> api_kit.OtherDepartment:
    """A second department of the same domain, granted only 'yyzz'."""
    onboarded = trust_domain.domain.add_department(
        name="深圳市市场监督管理局", uscc=api_kit.OTHER_DEPARTMENT_USCC, licence_types=["yyzz"])
    return api_kit.OtherDepartment(onboarded.department_id, onboarded.api_key)
