"""Pieces of the browser tests: Debian's Chromium under Playwright, a tiny OpenID provider
on its own loopback port, and a phone-style photo of a licence's QR code.
Import as `import web_kit` (this folder is on sys.path through its conftest)."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import json
import re
import secrets
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import uvicorn
import zxingcpp
from PIL import Image, ImageFilter
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
WEB_CLIENT_ID = "certseal-web"  # deliberately not the API's audience: the page must pick


def require_chromium() -> str:
    """The browser tests never skip: without Debian's chromium they fail and say why."""
    if not Path(CHROMIUM).is_file():
        raise RuntimeError(f"{CHROMIUM} is missing: install Debian's 'chromium' package "
                           "(scripts/setup does); the web tests drive it with Playwright "
                           "and never download a browser")
    return CHROMIUM


@dataclass
class OpenIdProvider:
    """Discovery, authorize (signs the fixed subject straight in), token (checks PKCE),
    JWKS. Tokens are signed with api_kit's identity provider key."""

    issuer: str
    idp: Any  # api_kit.IdentityProvider
    subject: str
    audience: str
    client_id: str
    allowed_origin: str = ""
    codes: dict[str, dict[str, str]] = field(default_factory=dict)
    exchanges: list[dict[str, str]] = field(default_factory=list)

    def _cors(self, response: Response) -> Response:
        if self.allowed_origin:
            response.headers["Access-Control-Allow-Origin"] = self.allowed_origin
        return response

    async def discovery(self, request: Request) -> Response:
        return self._cors(JSONResponse({
            "issuer": self.issuer,
            "authorization_endpoint": f"{self.issuer}/authorize",
            "token_endpoint": f"{self.issuer}/token",
            "jwks_uri": f"{self.issuer}/jwks",
            "response_types_supported": ["code"],
            "code_challenge_methods_supported": ["S256"],
            "id_token_signing_alg_values_supported": ["RS256"],
        }))

    async def authorize(self, request: Request) -> Response:
        q = request.query_params
        if (q.get("response_type") != "code" or q.get("client_id") != self.client_id
                or q.get("code_challenge_method") != "S256" or not q.get("code_challenge")
                or not q.get("redirect_uri", "").startswith(self.allowed_origin + "/")):
            return JSONResponse({"error": "invalid_request"}, status_code=400)
        code = secrets.token_urlsafe(16)
        self.codes[code] = {"challenge": q["code_challenge"], "nonce": q.get("nonce", ""),
                            "redirect_uri": q["redirect_uri"]}
        target = q["redirect_uri"] + "?" + urlencode({"code": code, "state": q.get("state", "")})
        return RedirectResponse(target, status_code=302)

    async def token(self, request: Request) -> Response:
        form = await request.form()
        grant = self.codes.pop(str(form.get("code", "")), None)
        verifier = str(form.get("code_verifier", ""))
        challenge = base64.urlsafe_b64encode(
            hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        if (grant is None or form.get("grant_type") != "authorization_code"
                or form.get("client_id") != self.client_id
                or form.get("redirect_uri") != grant["redirect_uri"]
                or challenge != grant["challenge"]):
            return self._cors(JSONResponse({"error": "invalid_grant"}, status_code=400))
        self.exchanges.append({"client_id": self.client_id})
        return self._cors(JSONResponse({
            "token_type": "Bearer", "expires_in": 300,
            "access_token": self.idp.token(self.subject, issuer=self.issuer,
                                           audience=self.audience),
            "id_token": self.idp.token(self.subject, issuer=self.issuer,
                                       audience=self.client_id, nonce=grant["nonce"]),
        }))

    async def jwks(self, request: Request) -> Response:
        return self._cors(JSONResponse(json.loads(self.idp.jwks_path.read_text())))

    def app(self) -> Starlette:
        return Starlette(routes=[
            Route("/.well-known/openid-configuration", self.discovery),
            Route("/authorize", self.authorize),
            Route("/token", self.token, methods=["POST"]),
            Route("/jwks", self.jwks),
        ])


@contextlib.contextmanager
def serving_provider(provider: OpenIdProvider, port: int) -> Iterator[None]:
    server = uvicorn.Server(uvicorn.Config(provider.app(), host="127.0.0.1", port=port,
                                           log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while True:
        try:
            httpx.get(f"{provider.issuer}/.well-known/openid-configuration", timeout=1)
            break
        except httpx.HTTPError:
            if time.monotonic() > deadline:
                raise RuntimeError("test OpenID provider did not start") from None
            time.sleep(0.05)
    try:
        yield
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def tampered(pdf: bytes) -> bytes:
    """The PDF with one byte flipped in the middle of the largest content or font stream
    inside the first signed byte range: the content changes, the file's structure (object
    streams, cross-reference streams) stays readable."""
    marker = pdf.rfind(b"/ByteRange")
    numbers = pdf[marker:marker + 100].split(b"[", 1)[1].split(b"]", 1)[0].split()
    signed_end = int(numbers[0]) + int(numbers[1])
    best: tuple[int, int] | None = None
    for match in re.finditer(rb"stream\r?\n", pdf[:signed_end]):
        header = pdf[pdf.rfind(b" obj", 0, match.start()):match.start()]
        if b"/ObjStm" in header or b"/XRef" in header or header.endswith(b"end"):
            continue
        start = match.end()
        end = pdf.find(b"endstream", start, signed_end)
        if end > start and (best is None or end - start > best[1] - best[0]):
            best = (start, end)
    if best is None:
        raise ValueError("no content stream inside the signed range")
    changed = bytearray(pdf)
    changed[(best[0] + best[1]) // 2] ^= 0x01
    return bytes(changed)


def qr_photo(pdf_path: Path, out: Path) -> Path:
    """A 150-dpi render of page 1, cropped around the QR code with some paper margin,
    turned a few degrees and softened, saved as a JPEG: what a phone hands the page."""
    if shutil.which("pdftoppm") is None:
        raise RuntimeError("pdftoppm (poppler-utils) is missing")
    png = subprocess.run(["pdftoppm", "-r", "150", "-f", "1", "-l", "1", "-png",
                          str(pdf_path)], check=True, capture_output=True).stdout
    page = Image.open(io.BytesIO(png)).convert("RGB")
    found = zxingcpp.read_barcodes(page)
    if not found:
        raise RuntimeError("no QR code found on the rendered licence")
    corners = found[0].position
    xs = [p.x for p in (corners.top_left, corners.top_right, corners.bottom_left,
                        corners.bottom_right)]
    ys = [p.y for p in (corners.top_left, corners.top_right, corners.bottom_left,
                        corners.bottom_right)]
    margin = (max(xs) - min(xs)) // 2
    box = (max(min(xs) - margin, 0), max(min(ys) - margin, 0),
           min(max(xs) + margin, page.width), min(max(ys) + margin, page.height))
    photo = page.crop(box).rotate(7, expand=True, fillcolor=(236, 232, 224),
                                  resample=Image.Resampling.BICUBIC)
    photo = photo.filter(ImageFilter.GaussianBlur(0.6))
    photo.save(out, "JPEG", quality=85)
    return out
