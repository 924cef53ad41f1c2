"""The only place where domain errors become HTTP answers (RFC 9457 problem details).

Every error body has ``type`` (``urn:certseal:error:<code>``), ``title``, ``status``,
``code`` (stable, machine-readable) and ``detail`` (readable; never a stack trace, a PIN
or a secret). 5xx answers never echo the exception's text: it stays in the server log,
and even there only its type.

``detail`` is in the language ``Accept-Language`` asks for (zh-Hans, zh-Hant, en; English
when it names none of them), ``code`` never changes. A request that breaks rules gets all
of them at once in ``errors``: ``[{"field", "rule", "message", ...the rule's figures}]``,
each field named by its key as the licence type or the request schema defines it.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from certs.rules import DEFAULT_LANGUAGE, FieldProblem, summary
from certseal.errors import VerificationBusy

log = logging.getLogger("certseal.api")
PROBLEM = "application/problem+json"
UNAVAILABLE = "the signing service is unavailable; try again later"
DATABASE_UNAVAILABLE = "the database is unavailable; try again later"
INTERNAL = "an internal error occurred"


# The readable part of an answer, by code, where the English detail is not enough: (zh-Hans,
# zh-Hant); {name}s come from the problem's params. English keeps the detail as given.
DETAILS: dict[str, tuple[str, str]] = {
    "authentication_required": ("需要身份认证：请发送 Authorization: Bearer <API 密钥或身份令牌>",
                                "需要身分驗證：請傳送 Authorization: Bearer <API 金鑰或身分權杖>"),
    "invalid_credentials": ("API 密钥无效", "API 金鑰無效"),
    "invalid_token": ("身份令牌无效", "身分權杖無效"),
    "citizen_sign_in_unavailable": ("本服务未配置身份提供方", "本服務未設定身分提供者"),
    "not_a_holder": ("令牌的主体不是公民身份号码或统一社会信用代码",
                     "權杖的主體不是公民身分號碼或統一社會信用代碼"),
    "holder_only": ("此操作仅限已登录的持证人", "此操作僅限已登入的持證人"),
    "forbidden": ("无权执行此操作", "無權執行此操作"),
    "not_found": ("未找到", "找不到"),
    "licence_not_found": ("未找到该证照", "找不到該證照"),
    "department_not_found": ("未找到该部门", "找不到該部門"),
    "method_not_allowed": ("不支持该请求方法", "不支援該請求方法"),
    "request_too_large": ("请求体超过 {limit} 字节", "請求內容超過 {limit} 位元組"),
    "input_too_large": ("上传的文件过大", "上傳的檔案過大"),
    "unsupported_media_type": ("不支持该内容类型", "不支援該內容類型"),
    "request_timeout": ("请求未在限定时间内送达", "請求未在限定時間內送達"),
    "rate_limited": ("请求过于频繁，请 {retry_after} 秒后重试",
                     "請求過於頻繁，請 {retry_after} 秒後重試"),
    "too_many_authentication_failures": (
        "该地址身份认证失败次数过多，请 {retry_after} 秒后重试",
        "該位址身分驗證失敗次數過多，請 {retry_after} 秒後重試"),
    "unknown_licence_type": ("未知的证照类型", "未知的證照類型"),
    "licence_type_not_granted": ("该部门未获准签发此类证照", "該部門未獲准核發此類證照"),
    "department_inactive": ("该部门已停用", "該部門已停用"),
    "idempotency_conflict": ("该 Idempotency-Key 已用于内容不同的请求",
                             "該 Idempotency-Key 已用於內容不同的請求"),
    "invalid_transition": ("该证照当前状态不允许此项变更", "該證照目前狀態不允許此項變更"),
    "unusable_input": ("无法识别为可核验的证照", "無法識別為可核驗的證照"),
    "qr_payload_invalid": ("二维码内容无法识别", "二維碼內容無法識別"),
    "verification_busy": ("核验服务繁忙，请 {retry_after} 秒后重试",
                          "核驗服務繁忙，請 {retry_after} 秒後重試"),
    "hsm_unavailable": ("签名服务暂不可用，请稍后重试", "簽章服務暫時無法使用，請稍後重試"),
    "database_unavailable": ("数据库暂不可用，请稍后重试", "資料庫暫時無法使用，請稍後重試"),
    "internal_error": ("服务内部错误", "服務內部錯誤"),
    "invalid_request": ("请求不符合要求", "請求不符合要求"),
    "not_ready": ("服务尚未就绪", "服務尚未就緒"),
    "client_closed_request": ("客户端已关闭连接", "用戶端已關閉連線"),
    "api_key_not_found": ("未找到该 API 密钥", "找不到該 API 金鑰"),
    "api_key_already_revoked": ("该 API 密钥已被撤销", "該 API 金鑰已被撤銷"),
    "last_active_api_key": ("不能撤销部门最后一个有效的 API 密钥，请先签发新密钥",
                            "不能撤銷部門最後一個有效的 API 金鑰，請先核發新金鑰"),
    "certificate_not_found": ("未找到该证书", "找不到該憑證"),
    "crl_not_found": ("未找到该证书撤销列表", "找不到該憑證廢止清冊"),
    "trust_list_not_found": ("本服务尚未发布信任列表", "本服務尚未發布信任清單"),
    "list_of_lists_not_found": ("本服务未发布信任列表的列表", "本服務未發布信任清單的清單"),
    "ca_not_found": ("未找到该证书机构", "找不到該憑證機構"),
    "ca_error": ("证书机构拒绝了该操作", "憑證機構拒絕了該操作"),
    "already_revoked": ("该证书已被撤销", "該憑證已被撤銷"),
    "not_suspended": ("该证书未被暂停，无法恢复", "該憑證未被暫停，無法恢復"),
    "revocation_refused": ("撤销请求被拒绝", "撤銷請求被拒絕"),
    "signing_key_mismatch": ("签名密钥与证书不匹配", "簽章金鑰與憑證不相符"),
    "hierarchy_exists": ("证书体系已存在", "憑證體系已存在"),
    "department_exists": ("该部门已存在", "該部門已存在"),
    "seal_not_found": ("未找到该电子印章", "找不到該電子印章"),
    "seal_unusable": ("该电子印章当前不可用（已暂停、撤销或过期）",
                      "該電子印章目前無法使用（已暫停、撤銷或過期）"),
    "seal_error": ("电子印章操作失败", "電子印章操作失敗"),
    "invalid_identifier": ("标识符格式无效", "識別碼格式無效"),
    "invalid_licence_data": ("证照数据不符合要求", "證照資料不符合要求"),
    "issuing_authority_mismatch": ("登记机关与签章部门不一致", "登記機關與簽章部門不一致"),
    "attachment_error": ("证照数据附件缺失或无效", "證照資料附件缺失或無效"),
    "catalogue_error": ("证照类型目录有误", "證照類型目錄有誤"),
    "render_error": ("证照版面生成失败", "證照版面產生失敗"),
    "certs_error": ("证照操作失败", "證照操作失敗"),
    "no_qr_code": ("未找到证照二维码", "找不到證照二維碼"),
    "ambiguous_qr_codes": ("图片中有多个证照二维码，请只上传一个",
                           "圖片中有多個證照二維碼，請只上傳一個"),
    "not_signed": ("该文件未加盖电子印章", "該檔案未加蓋電子印章"),
    "input_too_complex": ("上传的文件过于复杂，无法核验", "上傳的檔案過於複雜，無法核驗"),
    "verifier_not_configured": ("本服务未配置核验所需的信任列表", "本服務未設定核驗所需的信任清單"),
    "verify_error": ("核验失败", "核驗失敗"),
}
_TAG = re.compile(r"^[a-z]{1,8}(?:-[a-z0-9]{1,8})*$|^\*$")
_HANT = ("zh-hant", "zh-tw", "zh-hk", "zh-mo")


def negotiate_language(accept_language: str | None) -> str:
    """zh-Hans, zh-Hant or en, whichever ``Accept-Language`` ranks first (English when it
    names none: the answer is still one a client can read)."""
    best, best_q = DEFAULT_LANGUAGE, 0.0
    for part in (accept_language or "")[:512].split(",")[:16]:
        tag, _, rest = part.strip().lower().partition(";")
        tag, q = tag.strip(), 1.0
        for parameter in rest.split(";"):
            name, _, value = parameter.strip().partition("=")
            if name == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if not _TAG.match(tag) or not 0.0 < q <= 1.0:
            continue
        if tag.startswith(_HANT):
            language = "zh-Hant"
        elif tag == "zh" or tag.startswith("zh-"):
            language = "zh-Hans"
        elif tag == "en" or tag.startswith("en-"):
            language = "en"
        else:
            continue
        if q > best_q:
            best, best_q = language, q
    return best


def language_of_headers(headers: Iterable[tuple[bytes, bytes]]) -> str:
    """``negotiate_language`` of a raw ASGI header list."""
    for name, value in headers:
        if name.lower() == b"accept-language":
            return negotiate_language(value.decode("latin-1"))
    return DEFAULT_LANGUAGE


def localised_detail(code: str, detail: str, language: str,
                     params: Mapping[str, Any] | None = None) -> str:
    translated = DETAILS.get(code) if language != "en" else None
    if translated is None:
        return detail
    template = translated[0 if language == "zh-Hans" else 1]
    try:
        return template.format_map(dict(params or {}))
    except (KeyError, ValueError):
        return template.split("{", 1)[0].rstrip("，, ")


def problem_body(status: int, code: str, detail: str, *, language: str = DEFAULT_LANGUAGE,
                 params: Mapping[str, Any] | None = None,
                 problems: Sequence[FieldProblem] = (), more: int = 0,
                 **extra: Any) -> dict[str, Any]:
    """The problem document. With ``problems`` (the rules broken), ``detail`` names them
    all and ``errors`` lists them; ``field`` is the first one's (kept for old clients)."""
    if problems:
        detail = summary(problems, language)
        if more:
            detail += f"; … (+{more})"
        extra = {"field": problems[0].field, **extra,
                 "errors": [p.to_json(language) for p in problems]}
    else:
        detail = localised_detail(code, detail, language, params)
    return {"type": f"urn:certseal:error:{code}", "title": code.replace("_", " "),
            "status": status, "code": code, "detail": detail, **extra}


def problem(status: int, code: str, detail: str, headers: dict[str, str] | None = None,
            *, language: str = DEFAULT_LANGUAGE, **extra: Any) -> JSONResponse:
    body = problem_body(status, code, detail, language=language, **extra)
    return JSONResponse(body, status_code=status, media_type=PROBLEM,
                        headers={**language_headers(language), **(headers or {})})


def language_headers(language: str) -> dict[str, str]:
    return {"Content-Language": language, "Vary": "Accept-Language"}


def request_language(request: Request) -> str:
    return negotiate_language(request.headers.get("accept-language"))


class ApiError(Exception):
    """Raised by routes for transport-level refusals (auth, size), not domain rules."""

    def __init__(self, status: int, code: str, detail: str,
                 headers: dict[str, str] | None = None, *,
                 problems: Sequence[FieldProblem] = (),
                 params: Mapping[str, Any] | None = None) -> None:
        super().__init__(detail)
        self.status, self.code, self.detail, self.headers = status, code, detail, headers
        self.problems, self.params = tuple(problems), params


def _domain_status(exc: Exception) -> int:
    """The HTTP status for a room's typed error (the rooms know nothing of HTTP)."""
    from sqlalchemy import exc as db_errors

    from ca.errors import CaError, CertificateNotFound
    from certs import errors as certs_errors
    from hsm.errors import HsmError
    from seal import errors as seal_errors
    from verify import errors as verify_errors

    table: list[tuple[type[Exception], int]] = [
        (db_errors.OperationalError, 503),
        (db_errors.TimeoutError, 503),
        (verify_errors.InputTooLarge, 413),
        (verify_errors.UnusableInput, 422),
        (verify_errors.VerifierNotConfigured, 503),
        (certs_errors.InvalidIdentifier, 422),
        (certs_errors.InvalidLicenceData, 422),
        (certs_errors.UnknownLicenceType, 422),
        (certs_errors.LicenceNotFound, 404),
        (certs_errors.IdempotencyConflict, 409),
        (certs_errors.InvalidTransition, 409),
        (certs_errors.QrPayloadError, 422),
        (certs_errors.AttachmentError, 422),
        (seal_errors.DepartmentNotFound, 404),
        (seal_errors.SealNotFound, 404),
        (seal_errors.LicenceTypeNotGranted, 403),
        (seal_errors.DepartmentInactive, 403),
        (seal_errors.DepartmentExists, 409),
        (seal_errors.UnknownLicenceType, 422),
        (seal_errors.SealUnusable, 409),
        (CertificateNotFound, 404),
        (CaError, 409),
        (HsmError, 503),
        (seal_errors.SealError, 503),
    ]
    for cls, status in table:
        if isinstance(exc, cls):
            return status
    return 500


def _outage_code(exc: Exception) -> str | None:
    """The stable code of an error that means a dependency is down (its class carries
    none of ours: the HSM room's errors, the database driver's)."""
    from sqlalchemy import exc as db_errors

    from hsm.errors import HsmError

    table: list[tuple[type[Exception], str]] = [
        (db_errors.OperationalError, "database_unavailable"),
        (db_errors.TimeoutError, "database_unavailable"),
        (HsmError, "hsm_unavailable"),
    ]
    return next((code for cls, code in table if isinstance(exc, cls)), None)


def domain_problem(exc: Exception, language: str = DEFAULT_LANGUAGE) -> dict[str, Any]:
    """The problem body for a room's typed error (also used per item by batch issuance)."""
    status = _domain_status(exc)
    code = _outage_code(exc) or getattr(exc, "code", "error")
    if status >= 500:
        log.error("service error %s: %s", code, type(exc).__name__)
        if code == "database_unavailable":
            return problem_body(503, code, DATABASE_UNAVAILABLE, language=language)
        if status == 503:
            return problem_body(503, code, UNAVAILABLE, language=language)
        return problem_body(500, "internal_error", INTERNAL, language=language)
    problems = getattr(exc, "problems", ())
    if problems:
        return problem_body(status, code, str(exc), language=language, problems=problems,
                            more=getattr(exc, "more", 0))
    extra = {"field": exc.field} if getattr(exc, "field", None) else {}
    return problem_body(status, code, str(exc), language=language, **extra)


_REQUEST_PARTS = ("body", "query", "path", "header", "cookie")
_PYDANTIC_TYPES = {"dict": "object", "model": "object", "model_attributes": "object",
                   "string": "string", "list": "array", "tuple": "array", "bool": "boolean",
                   "int": "integer", "float": "number", "decimal": "number"}


def request_problems(errors: Iterable[Mapping[str, Any]]) -> list[FieldProblem]:
    """pydantic's errors of a request as the rules broken, never echoing the input."""
    problems: list[FieldProblem] = []
    for error in errors:
        loc = [str(part) for part in error.get("loc", ())]
        where = loc[0] if loc else ""
        if loc and loc[0] in _REQUEST_PARTS:
            loc = loc[1:]
        if where == "header" and loc:
            loc[0] = "-".join(word.capitalize() for word in loc[0].replace("_", "-").split("-"))
        if error.get("type") == "json_invalid":
            loc = []
        field = ".".join(loc) or ("body" if where == "body" else where or "request")
        problems.append(FieldProblem(field, *_pydantic_rule(error)))
    return problems


def _pydantic_rule(error: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    kind, ctx, value = str(error.get("type", "")), error.get("ctx") or {}, error.get("input")
    actual = len(value) if isinstance(value, str | list | dict) else None
    if kind == "missing":
        return "required", {}
    if kind == "extra_forbidden":
        return "unknown_field", {}
    if kind == "json_invalid":
        return "json_invalid", {}
    if kind == "string_too_short" and actual == 0:
        return "blank", {}
    if kind in ("string_too_long", "string_too_short"):
        rule = "max_length" if kind == "string_too_long" else "min_length"
        limit = ctx.get("max_length" if rule == "max_length" else "min_length")
        return rule, {"limit": limit, "actual": actual}
    if kind in ("too_long", "too_short"):
        rule = "max_items" if kind == "too_long" else "min_items"
        limit = ctx.get("max_length" if rule == "max_items" else "min_length")
        return rule, {"limit": limit, "actual": ctx.get("actual_length", actual)}
    if kind == "literal_error":
        return "enum", {"options": [str(ctx.get("expected", ""))]}
    for suffix in ("_type", "_parsing"):
        if kind.endswith(suffix) and kind[: -len(suffix)] in _PYDANTIC_TYPES:
            return "type", {"expected": _PYDANTIC_TYPES[kind[: -len(suffix)]]}
    if kind in ("blank", "printable", "invisible_character"):  # our own validators' rules
        return kind, dict(ctx)
    return "invalid", {"message": str(error.get("msg", kind))}


def domain_error_types() -> tuple[type[Exception], ...]:
    from sqlalchemy.exc import OperationalError
    from sqlalchemy.exc import TimeoutError as PoolTimeout

    from ca.errors import CaError
    from certs.errors import CertsError
    from hsm.errors import HsmError
    from seal.errors import SealError
    from verify.errors import VerifyError

    return (CertsError, SealError, CaError, HsmError, VerifyError, OperationalError,
            PoolTimeout)


def install_error_handlers(app: FastAPI) -> None:
    async def _domain_error(request: Request, exc: Exception) -> JSONResponse:
        language = request_language(request)
        body = domain_problem(exc, language)
        return JSONResponse(body, status_code=body["status"], media_type=PROBLEM,
                            headers=language_headers(language))

    for cls in domain_error_types():
        app.add_exception_handler(cls, _domain_error)

    @app.exception_handler(VerificationBusy)
    async def _busy(request: Request, exc: VerificationBusy) -> JSONResponse:
        return problem(503, exc.code, str(exc), headers={"Retry-After": str(exc.retry_after)},
                       language=request_language(request),
                       params={"retry_after": exc.retry_after})

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return problem(exc.status, exc.code, exc.detail, headers=exc.headers,
                       language=request_language(request), problems=exc.problems,
                       params=exc.params)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {400: "invalid_request", 401: "authentication_required", 403: "forbidden",
                404: "not_found", 405: "method_not_allowed", 413: "request_too_large",
                415: "unsupported_media_type"}.get(exc.status_code, "http_error")
        detail = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
        return problem(exc.status_code, code, detail, headers=getattr(exc, "headers", None),
                       language=request_language(request),
                       params=getattr(exc, "params", None))

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError
                                ) -> JSONResponse:
        # Only where and what: pydantic's "input" would echo the caller's data.
        problems = request_problems(exc.errors())
        return problem(422, "invalid_request", "the request does not match the schema",
                       language=request_language(request), problems=problems)

    # Anything else is caught by api.middleware.RequestObserver (outermost), which
    # answers 500 as a problem and logs the traceback's frames without its message.
