"""The rules licence data and identifiers are checked against, as facts (which field,
which rule, with which limits) and as sentences in the three languages of the service.

A ``FieldProblem`` names the field by its key as the licence type defines it (a dotted
path below the data: ``营业期限.起``), the rule by a stable name (``max_length``) and the
rule's figures (``{"limit": 60, "actual": 64}``). Rooms raise facts; whoever shows them
(the API by ``Accept-Language``, the CLI by the locale) picks the language here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

LANGUAGES = ("zh-Hans", "zh-Hant", "en")
DEFAULT_LANGUAGE = "en"


@dataclass(frozen=True)
class FieldProblem:
    field: str
    rule: str
    params: Mapping[str, Any] = field(default_factory=dict)

    def message(self, language: str = DEFAULT_LANGUAGE) -> str:
        return describe(self.rule, self.params, language)

    def to_json(self, language: str = DEFAULT_LANGUAGE) -> dict[str, Any]:
        return {"field": self.field, "rule": self.rule, "message": self.message(language),
                **{k: v for k, v in self.params.items() if k != "message"}}


# rule -> (en, zh-Hans, zh-Hant); {name} are the problem's params, pre-formatted below.
RULES: dict[str, tuple[str, str, str]] = {
    "required": ("is required", "为必填项", "為必填項"),
    "unknown_field": ("is not a field of this licence type", "不是该类证照的字段",
                      "不是該類證照的欄位"),
    "type": ("must be {expected}", "应为{expected}", "應為{expected}"),
    "min_length": ("must be at least {limit} characters long (has {actual})",
                   "长度不得少于 {limit} 个字符（现为 {actual} 个）",
                   "長度不得少於 {limit} 個字元（現為 {actual} 個）"),
    "max_length": ("must be at most {limit} characters long (has {actual})",
                   "长度不得超过 {limit} 个字符（现为 {actual} 个）",
                   "長度不得超過 {limit} 個字元（現為 {actual} 個）"),
    "pattern": ("does not match the pattern {pattern}", "不符合格式 {pattern}",
                "不符合格式 {pattern}"),
    "enum": ("must be one of {options}", "应为以下之一：{options}", "應為以下之一：{options}"),
    "date": ("must be a date written YYYY-MM-DD", "应为日期，格式 YYYY-MM-DD",
             "應為日期，格式 YYYY-MM-DD"),
    "date_or_value": ("must be a date written YYYY-MM-DD, or {value}",
                      "应为日期（格式 YYYY-MM-DD）或“{value}”",
                      "應為日期（格式 YYYY-MM-DD）或「{value}」"),
    "any_of": ("does not have any of the allowed forms", "不符合任何一种允许的形式",
               "不符合任何一種允許的形式"),
    "invisible_character": (
        "contains an invisible or control character ({character}) at position {position}",
        "含有不可见字符或控制字符（{character}），位于第 {position} 个字符",
        "含有不可見字元或控制字元（{character}），位於第 {position} 個字元"),
    "identifier_length": ("must be {expected} characters long (has {actual})",
                          "应为 {expected} 个字符（现为 {actual} 个）",
                          "應為 {expected} 個字元（現為 {actual} 個）"),
    "identifier_characters": ("may not contain {characters} (allowed: {allowed})",
                              "不得含有 {characters}（允许：{allowed}）",
                              "不得含有 {characters}（允許：{allowed}）"),
    "division_code": ("characters 3-8 must be an administrative division code",
                      "第 3-8 位应为行政区划代码", "第 3-8 位應為行政區劃代碼"),
    "resident_id_shape": ("must be 17 digits followed by a digit or X",
                          "应为 17 位数字加 1 位数字或 X", "應為 17 位數字加 1 位數字或 X"),
    "birth_date": ("positions 7-14 are not a real birth date", "第 7-14 位不是有效的出生日期",
                   "第 7-14 位不是有效的出生日期"),
    "birth_date_future": ("the birth date lies in the future", "出生日期晚于今天",
                          "出生日期晚於今天"),
    "check_character": ("check character does not match ({standard})",
                        "校验码不正确（{standard}）", "校驗碼不正確（{standard}）"),
    "licence_id_shape": ("is not of the form TYPE-USCC-SERIAL-VERSIONCHECK",
                         "格式应为 类型-统一社会信用代码-序号-版本校验码",
                         "格式應為 類型-統一社會信用代碼-序號-版本校驗碼"),
    "out_of_range": ("must be between {minimum} and {maximum}",
                     "应在 {minimum} 与 {maximum} 之间", "應在 {minimum} 與 {maximum} 之間"),
    "matches_identifier": ("does not agree with {other}", "与{other}不一致", "與{other}不一致"),
    "ends_before_start": ("ends before the licence becomes valid", "早于证照生效日期",
                          "早於證照生效日期"),
    "blank": ("must not be blank", "不得为空", "不得為空"),
    "issuing_authority": (
        "names {given}, but the licence is issued and sealed by {issuer} (omit the field "
        "or give that name)",
        "填写的是“{given}”，但本证照由“{issuer}”签发并加盖电子印章（请省略此项或填写该名称）",
        "填寫的是「{given}」，但本證照由「{issuer}」核發並加蓋電子印章（請省略此項或填寫該名稱）"),
    # The envelope around the data: a JSON document, a request, a batch file's line.
    "json_invalid": ("is not valid JSON", "不是有效的 JSON", "不是有效的 JSON"),
    "json_too_deep": ("nests deeper than {limit} levels", "嵌套超过 {limit} 层",
                      "巢狀超過 {limit} 層"),
    "too_large": ("is larger than {limit} bytes", "超过 {limit} 字节", "超過 {limit} 位元組"),
    "min_items": ("must have at least {limit} items", "至少应有 {limit} 项",
                  "至少應有 {limit} 項"),
    "max_items": ("must have at most {limit} items (has {actual})",
                  "最多 {limit} 项（现有 {actual} 项）", "最多 {limit} 項（現有 {actual} 項）"),
    "printable": ("must be 1-{limit} printable characters", "应为 1-{limit} 个可打印字符",
                  "應為 1-{limit} 個可列印字元"),
    "invalid": ("{message}", "{message}", "{message}"),
}

# How {expected} (JSON types) reads in each language.
TYPE_NAMES: dict[str, tuple[str, str, str]] = {
    "string": ("a string", "字符串", "字串"),
    "object": ("an object", "对象", "物件"),
    "array": ("an array", "数组", "陣列"),
    "number": ("a number", "数字", "數字"),
    "integer": ("an integer", "整数", "整數"),
    "boolean": ("true or false", "布尔值", "布林值"),
    "null": ("null", "null", "null"),
}
_INDEX = {language: i for i, language in enumerate(("en", "zh-Hans", "zh-Hant"))}


def describe(rule: str, params: Mapping[str, Any], language: str = DEFAULT_LANGUAGE,
             catalogue: Mapping[str, tuple[str, str, str]] = RULES) -> str:
    """The sentence for a rule and its figures in ``language`` (English if unknown)."""
    index = _INDEX.get(language, 0)
    template = catalogue.get(rule, RULES["invalid"])[index]
    values = {key: _formatted(key, value, index) for key, value in params.items()}
    values.setdefault("message", rule)
    try:
        return template.format_map(values)
    except (KeyError, IndexError, ValueError):  # a rule given without its figures
        return catalogue.get(rule, RULES["invalid"])[index].split("{", 1)[0].strip() or rule


def _formatted(key: str, value: Any, index: int) -> str:
    if key == "expected" and isinstance(value, str) and value in TYPE_NAMES:
        return TYPE_NAMES[value][index]
    if key == "expected" and isinstance(value, list):
        names = [TYPE_NAMES.get(v, (v, v, v))[index] for v in value]
        return (" or " if index == 0 else "或").join(names)
    if isinstance(value, list | tuple):
        return (", " if index == 0 else "、").join(map(str, value))
    return str(value)


def summary(problems: list[FieldProblem] | tuple[FieldProblem, ...],
            language: str = DEFAULT_LANGUAGE) -> str:
    """One line naming every problem: ``名称: must be ...; 法定代表人: is required``."""
    if language == "en":
        return "; ".join(f"{p.field}: {p.message(language)}" for p in problems)
    return "；".join(f"{p.field}：{p.message(language)}" for p in problems)
