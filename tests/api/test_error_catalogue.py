"""Every stable error code the service can answer with has its detail in Simplified and
Traditional Chinese (English is the exception's own message): the codes of every room's
typed errors and the transport refusals api/ raises itself."""

from __future__ import annotations

import importlib
import inspect
import re
from pathlib import Path

import pytest

from api.errors import DETAILS, localised_detail

ROOT = Path(__file__).resolve().parents[2]
ROOMS = ("ca.errors", "certs.errors", "seal.errors", "verify.errors", "hsm.errors")


def _room_codes() -> set[str]:
    codes = set()
    for name in ROOMS:
        module = importlib.import_module(name)
        for _, cls in inspect.getmembers(module, inspect.isclass):
            code = getattr(cls, "code", None)
            if issubclass(cls, Exception) and cls.__module__ == name and isinstance(code, str):
                codes.add(code)
    return codes


def _api_codes() -> set[str]:
    raised = re.compile(r'(?:ApiError|problem(?:_body)?)\(\s*\d+,\s*"([a-z_]+)"'
                        r'|_unauthenticated\(\s*"([a-z_]+)"|\b[45]\d\d: "([a-z_]+)"')
    return {code for path in (ROOT / "api").rglob("*.py")
            for found in raised.findall(path.read_text(encoding="utf-8"))
            for code in found if code}


def test_the_code_lists_are_found():
    assert {"licence_not_found", "seal_unusable", "no_qr_code"} <= _room_codes()
    assert {"authentication_required", "request_too_large", "not_ready"} <= _api_codes()


@pytest.mark.parametrize("code", sorted(_room_codes() | _api_codes()))
def test_every_code_has_a_chinese_detail(code):
    assert code in DETAILS, f"{code}: no zh-Hans/zh-Hant detail in api/errors.py DETAILS"
    hans, hant = DETAILS[code]
    assert hans.strip() and hant.strip()
    assert localised_detail(code, "english", "zh-Hans") != "english"
    assert localised_detail(code, "english", "en") == "english"
