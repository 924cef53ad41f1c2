"""Fixtures for the browser tests: the real app serving the shared trust domain with
citizens' sign-in pointed at a tiny OpenID provider on another loopback port, and
Debian's Chromium driven by Playwright."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

# The identity provider's keys and token minting are api_kit's (tests/api).
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "api"))

import api_kit
import web_kit

# Set to a folder (e.g. docs) to keep the page screenshots there.
SCREENSHOTS_ENV = "CERTSEAL_SCREENSHOTS"


@dataclass
class Site:
    base_url: str
    provider: web_kit.OpenIdProvider
    under_test: object  # domain_kit.DomainUnderTest


@pytest.fixture(scope="session")
def site(served_domain, tmp_path_factory: pytest.TempPathFactory):
    """The app on its own port (the domain's base URL keeps serving OCSP and status)."""
    import domain_kit

    from api.app import create_app

    holder = served_domain.licences["zyzgzs"].licence.holder_identifier
    idp = api_kit.make_identity_provider(tmp_path_factory.mktemp("web-idp"))
    provider_port, app_port = domain_kit.free_port(), domain_kit.free_port()
    app_url = f"http://127.0.0.1:{app_port}"
    provider = web_kit.OpenIdProvider(
        issuer=f"http://127.0.0.1:{provider_port}", idp=idp, subject=holder,
        audience=api_kit.AUDIENCE, client_id=web_kit.WEB_CLIENT_ID, allowed_origin=app_url)
    settings = served_domain.domain.settings.model_copy(update={
        "oidc_issuer": provider.issuer, "oidc_audience": api_kit.AUDIENCE,
        "oidc_jwks": f"{provider.issuer}/jwks", "oidc_client_id": web_kit.WEB_CLIENT_ID})
    app = create_app(settings, domain=served_domain.domain)
    with web_kit.serving_provider(provider, provider_port), \
            domain_kit.serving(served_domain, app=app, port=app_port) as base_url:
        yield Site(base_url, provider, served_domain)


@pytest.fixture(scope="module")
def browser(site: Site):
    # Playwright's sync API keeps an event loop running in this thread: everything that
    # calls asyncio.run here (building the domain, issuing) must happen before it starts,
    # and it must stop before other modules' tests run (hence module scope).
    from playwright.sync_api import sync_playwright

    executable = web_kit.require_chromium()
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable,
                                              args=web_kit.CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser, site: Site):
    context = browser.new_context(base_url=site.base_url, viewport={"width": 1100, "height": 900},
                                  accept_downloads=True, locale="zh-CN")
    opened = context.new_page()
    problems: list[str] = []
    opened.on("console", lambda m: problems.append(f"{m.text} {m.location}")
            if m.type == "error" else None)
    opened.on("pageerror", lambda e: problems.append(str(e)))
    opened.problems = problems
    yield opened
    context.close()


@pytest.fixture
def screenshots(tmp_path: Path) -> Path:
    folder = Path(os.environ.get(SCREENSHOTS_ENV) or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder
