"""The pages over plain HTTP: their security headers, language choice, the files they may
load, and catalogues that cover every string the templates and scripts use."""

from __future__ import annotations

import json
import re

import httpx
import pytest

from api.routes.pages import LANGUAGES, WEB

SCRIPTS = sorted((WEB / "static").glob("*.js"))
TEMPLATES = sorted((WEB / "templates").glob("*.html"))


def csp_directives(response: httpx.Response) -> dict[str, list[str]]:
    policy = response.headers["content-security-policy"]
    return {part.split()[0]: part.split()[1:] for part in policy.split(";") if part.strip()}


@pytest.mark.parametrize("path", ["/", "/verify", "/me"])
def test_pages_send_a_strict_policy_and_carry_no_inline_code(site, path):
    response = httpx.get(site.base_url + path)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    csp = csp_directives(response)
    assert csp["default-src"] == ["'none'"]
    assert csp["script-src"] == ["'self'"]
    assert csp["style-src"] == ["'self'"]
    assert csp["frame-ancestors"] == ["'none'"]
    assert csp["base-uri"] == ["'none'"]
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["x-content-type-options"] == "nosniff"
    body = response.text
    for tag in re.findall(r"<script\b[^>]*>", body):
        assert 'src="/web/' in tag, tag  # every script is a file of ours
    assert re.search(r"<script\b[^>]*>\s*[^<\s]", body) is None  # no inline script body
    assert re.search(r"\son[a-z]+\s*=", body) is None  # no inline event handlers
    assert " style=" not in body
    assert "http://" not in body.replace(site.provider.issuer, "")  # nothing from elsewhere


def test_citizen_page_may_talk_to_its_identity_provider_only(site):
    response = httpx.get(site.base_url + "/me")
    assert csp_directives(response)["connect-src"] == ["'self'", site.provider.issuer]
    assert f'data-oidc-issuer="{site.provider.issuer}"' in response.text
    assert 'data-oidc-client-id="certseal-web"' in response.text
    counter = httpx.get(site.base_url + "/verify")
    assert csp_directives(counter)["connect-src"] == ["'self'"]


def test_pages_embed_no_secret(site):
    settings = site.under_test.domain.settings
    secrets = [settings.user_pin(), settings.so_pin(), site.under_test.api_key]
    for path in ("/verify", "/me"):
        body = httpx.get(site.base_url + path).text
        assert not any(secret in body for secret in secrets)


def test_api_answers_keep_the_api_policy(site):
    response = httpx.get(site.base_url + "/healthz")
    assert csp_directives(response)["default-src"] == ["'none'"]
    assert "script-src" not in csp_directives(response)


def test_language_from_query_then_cookie_then_simplified_chinese(site):
    with httpx.Client(base_url=site.base_url) as client:
        default = client.get("/verify")
        assert '<html lang="zh-Hans">' in default.text
        assert "电子证照核验" in default.text
        assert "lang" not in default.cookies

        english = client.get("/verify?lang=en")
        assert '<html lang="en">' in english.text
        assert "Verify an electronic licence" in english.text
        assert english.cookies["lang"] == "en"

        remembered = client.get("/me")  # the cookie now decides
        assert '<html lang="en">' in remembered.text

        client.cookies.set("lang", "zh-Hant")
        assert "電子證照核驗" in client.get("/verify").text

    odd = httpx.get(site.base_url + "/verify?lang=xx", cookies={"lang": "<script>"})
    assert '<html lang="zh-Hans">' in odd.text
    assert "<script>" not in odd.text.split("</head>", 1)[1]


def test_only_the_pages_own_files_are_served(site):
    css = httpx.get(site.base_url + "/web/site.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    js = httpx.get(site.base_url + "/web/counter.js")
    assert js.headers["content-type"].startswith("text/javascript")
    catalogue = httpx.get(site.base_url + "/web/i18n/en.json")
    assert catalogue.json()["verdict.valid"] == "Valid"
    for missing in ("/web/nothing.js", "/web/../routes/pages.py", "/web/%2e%2e/app.py",
                    "/web/templates/counter.html", "/web/i18n/../../app.py"):
        assert httpx.get(site.base_url + missing).status_code == 404, missing


def _catalogues() -> dict[str, dict[str, str]]:
    return {language: json.loads((WEB / "i18n" / f"{language}.json").read_text("utf-8"))
            for language in LANGUAGES}


def test_every_language_has_every_string():
    catalogues = _catalogues()
    keys = set(catalogues["zh-Hans"])
    for language, strings in catalogues.items():
        assert set(strings) == keys, language
    used = set()
    for template in TEMPLATES:
        text = template.read_text("utf-8")
        used |= set(re.findall(r"""\bt\(\s*"([A-Za-z0-9_.-]+)"\s*\)""", text))
        used |= set(re.findall(r"""\{% set title = "([A-Za-z0-9_.-]+)" %\}""", text))
    for script in SCRIPTS:
        text = script.read_text("utf-8")
        used |= set(re.findall(r"""\bt\(\s*["']([a-z_.]+)["']""", text))
        used |= set(re.findall(r"""(?:message|hint): "([a-z_.]+)\"""", text))
    assert used, "no strings found: the pattern is broken"
    assert used - keys == set()
    # Strings the scripts build from report values.
    for verdict in ("valid", "invalid", "indeterminate"):
        assert {f"verdict.{verdict}", f"verdict.{verdict}.hint"} <= keys
    for outcome in ("passed", "failed", "indeterminate", "not_applicable"):
        assert f"outcome.{outcome}" in keys
    from certs.models import LicenceStatus
    assert {f"status.{status.value}" for status in LicenceStatus} <= keys


def test_shipped_licence_types_are_named_in_every_language():
    from certs.samples import sample_type_codes

    types = list(sample_type_codes())
    assert types
    for strings in _catalogues().values():
        assert {f"type.{code}" for code in types} <= set(strings)


def test_every_page_renders_in_every_language_from_one_layout():
    from api.routes.pages import render

    values = {"region": "<省>", "oidc_issuer": "", "oidc_client_id": "", "oidc_audience": ""}
    pages = [t.name for t in TEMPLATES if t.name != "base.html"]
    assert pages == ["citizen.html", "counter.html"]
    for page in pages:
        for language in LANGUAGES:
            html = render(page, language, {"lang": language, **values})
            assert html.startswith("<!doctype html>") and f'lang="{language}"' in html
            assert "&lt;省&gt;" in html and "<省>" not in html  # autoescaped
            assert "{{" not in html and "{%" not in html
            assert html.count('<header class="site">') == 1  # from base.html
