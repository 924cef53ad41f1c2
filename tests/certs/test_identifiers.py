import datetime as dt

import pytest

from certs.errors import InvalidIdentifier
from certs.identifiers import (
    make_resident_id,
    make_uscc,
    mask_identifier,
    resident_id_birth_date,
    resident_id_sex,
    validate_resident_id,
    validate_uscc,
)


def test_known_good_uscc_and_normalisation():
    assert validate_uscc("91350100M000100Y43") == "91350100M000100Y43"
    assert validate_uscc(" 91350100m000100y43 ") == "91350100M000100Y43"


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        ("91350100M000100Y44", "check character"),
        ("91350100M000100Y4", "18 characters"),
        ("91350100MO00100Y43", "not allowed"),  # letter O is outside the alphabet
        ("91A50100M000100Y43", "administrative division"),
    ],
)
def test_bad_uscc_names_field(code, reason):
    with pytest.raises(InvalidIdentifier) as exc:
        validate_uscc(code, field="统一社会信用代码")
    assert exc.value.field == "统一社会信用代码"
    assert "统一社会信用代码" in str(exc.value) and reason in str(exc.value)


def test_every_single_substitution_in_uscc_is_caught():
    from certs.identifiers import USCC_ALPHABET

    good = "91350100M000100Y43"
    for i in range(18):
        for char in USCC_ALPHABET:
            if char != good[i]:
                with pytest.raises(InvalidIdentifier):
                    validate_uscc(good[:i] + char + good[i + 1:])


def test_known_good_resident_id():
    assert validate_resident_id("11010519491231002x") == "11010519491231002X"
    assert resident_id_birth_date("11010519491231002X") == dt.date(1949, 12, 31)
    assert resident_id_sex("11010519491231002X") == "女"


@pytest.mark.parametrize(
    ("number", "reason"),
    [
        ("110105194912310021", "check character"),
        ("11010519491331002X", "birth date"),  # month 13
        ("11010519490230002X", "birth date"),  # 30 February
        ("01010519491231002X", "17 digits"),
        ("1101051949123100", "18 characters"),
    ],
)
def test_bad_resident_id_names_field(number, reason):
    with pytest.raises(InvalidIdentifier) as exc:
        validate_resident_id(number)
    assert exc.value.field == "公民身份号码" and reason in exc.value.message


def test_future_birth_date_refused():
    number = make_resident_id("11010520300101001")
    with pytest.raises(InvalidIdentifier, match="future"):
        validate_resident_id(number, today=dt.date(2025, 1, 1))


def test_generators_make_valid_codes():
    assert validate_uscc(make_uscc("91110108MA01ABCD1"))
    assert make_resident_id("11010519491231002") == "11010519491231002X"
    with pytest.raises(ValueError):
        make_uscc("91110108MA01ABCDI")  # I is not in the alphabet


def test_masking():
    assert mask_identifier("11010519491231002X") == "110105********002X"
    assert mask_identifier("short") == "*****"
