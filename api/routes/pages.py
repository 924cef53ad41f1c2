"""Routes: the web pages — the counter's verification page (``/`` and ``/verify``, the
address printed in every licence's QR code) and the citizen's page (``/me``) — and the
files they load (``/web/...``: stylesheet, scripts, language catalogues).

Pages are HTML rendered on the server by Jinja2 (one base layout, ``base.html``, that each
page extends; autoescaped) in the reader's language (``?lang=``, then
the ``lang`` cookie the language switch sets, then Simplified Chinese), so they read
correctly before any script runs. Scripts only ever come from this origin: each page
sends its own Content-Security-Policy (the middleware keeps a route's own policy), which
for the citizen page also lets the scripts talk to the configured identity provider.
Nothing secret is ever put in a page: the sign-in is a public client using PKCE.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jinja2
from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse

from api.errors import ApiError
from certseal.settings import Settings

WEB = Path(__file__).resolve().parent.parent / "web"
LANGUAGES = ("zh-Hans", "zh-Hant", "en")
DEFAULT_LANGUAGE = "zh-Hans"
LANG_COOKIE = "lang"
_MEDIA_TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8",
                ".json": "application/json", ".png": "image/png",
                ".svg": "image/svg+xml"}
_TEMPLATES = jinja2.Environment(
    loader=jinja2.FileSystemLoader(WEB / "templates"), autoescape=True,
    undefined=jinja2.StrictUndefined, auto_reload=False)


def page_csp(connect_origins: tuple[str, ...] = ()) -> str:
    connect = " ".join(("'self'", *connect_origins))
    return ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
            f"connect-src {connect}; form-action 'self'; frame-ancestors 'none'; "
            "base-uri 'none'")


@cache
def catalogue(language: str) -> dict[str, str]:
    return json.loads((WEB / "i18n" / f"{language}.json").read_text(encoding="utf-8"))


@cache
def _assets() -> dict[str, Path]:
    """Every file a page may load, by its URL path under /web/: nothing else is served."""
    found: dict[str, Path] = {}
    for folder, prefix in ((WEB / "static", ""), (WEB / "i18n", "i18n/")):
        for path in folder.iterdir():
            if path.is_file() and path.suffix in _MEDIA_TYPES:
                found[prefix + path.name] = path
    return found


def render(name: str, language: str, values: dict[str, str]) -> str:
    """The page ``name`` in ``language``: ``t("key")`` is the catalogue's text (a missing
    key or value is an error, never an empty string on the page)."""
    strings = catalogue(language)
    return _TEMPLATES.get_template(name).render(t=strings.__getitem__, **values)


def chosen_language(request: Request) -> tuple[str, bool]:
    """The page's language and whether it was asked for in the URL (then remembered)."""
    asked = request.query_params.get("lang")
    if asked in LANGUAGES:
        return asked, True
    remembered = request.cookies.get(LANG_COOKIE)
    return (remembered if remembered in LANGUAGES else DEFAULT_LANGUAGE), False


def _page(request: Request, template: str, values: dict[str, Any],
          connect_origins: tuple[str, ...] = ()) -> HTMLResponse:
    language, asked = chosen_language(request)
    body = render(template, language, {"lang": language, **values})
    response = HTMLResponse(body, headers={
        "Content-Security-Policy": page_csp(connect_origins),
        "Cache-Control": "no-cache",
        "Vary": "Cookie",
    })
    if asked:
        response.set_cookie(LANG_COOKIE, language, max_age=365 * 24 * 3600,
                            samesite="lax", path="/")
    return response


def _origin(url: str) -> str | None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}"


def router_for(settings: Settings) -> APIRouter:
    """The pages of the app built from these settings (the citizen page signs in with its
    identity provider; the header names its region)."""
    router = APIRouter(include_in_schema=False)
    region = settings.region_name or ""
    issuer = settings.oidc_issuer or ""
    client_id = settings.oidc_client_id or settings.oidc_audience or ""
    origin = _origin(issuer)
    sign_in = {
        "oidc_issuer": issuer if origin and client_id else "",
        "oidc_client_id": client_id,
        "oidc_audience": settings.oidc_audience or "",
    }

    @router.get("/", response_class=HTMLResponse)
    @router.get("/verify", response_class=HTMLResponse)
    async def counter_page(request: Request) -> HTMLResponse:
        return _page(request, "counter.html", {"region": region})

    @router.get("/me", response_class=HTMLResponse)
    async def citizen_page(request: Request) -> HTMLResponse:
        return _page(request, "citizen.html", {"region": region, **sign_in},
                     connect_origins=(origin,) if origin else ())

    @router.get("/web/{asset:path}")
    async def web_asset(asset: str) -> FileResponse:
        path = _assets().get(asset)
        if path is None:
            raise ApiError(404, "not_found", "no such file")
        return FileResponse(path, media_type=_MEDIA_TYPES[path.suffix],
                            headers={"Cache-Control": "no-cache"})

    return router
