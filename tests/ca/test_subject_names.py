"""Names, the GB 32100 check character and the ETSI organizationIdentifier."""

from __future__ import annotations

import pytest
from ca_testing import USCC
from cryptography.x509.oid import NameOID

from ca.names import (
    check_region_code,
    check_uscc,
    eseal_subject_name,
    organization_identifier,
    region_service_name,
    root_ca_name,
    uscc_check_character,
)


def test_gb32100_worked_example_checks():
    assert uscc_check_character(USCC[:17]) == USCC[17]
    assert check_uscc(USCC) == USCC


@pytest.mark.parametrize("bad", [
    "91350100M000100Y44",   # wrong check character
    "91350100M000100Y4",    # too short
    "91350100M000I00Y43",   # I is not in the alphabet
    "91350100m000100Y43",   # lower case
])
def test_bad_uscc_refused_with_a_reason(bad):
    with pytest.raises(ValueError, match="uscc"):
        check_uscc(bad)


def test_uscc_must_be_text():
    with pytest.raises(TypeError):
        check_uscc(913501001000100)


def test_organization_identifier_has_ntr_semantics():
    assert organization_identifier(USCC) == "NTRCN-91350100M000100Y43"


@pytest.mark.parametrize("bad", ["44000", "4400001", "44000a", "４４００００"])
def test_region_code_is_six_ascii_digits(bad):
    with pytest.raises(ValueError, match="region_code"):
        check_region_code(bad)


def test_names_carry_the_region():
    assert root_ca_name("440000", "广东省").rfc4514_string() == \
        "CN=certseal Root CA 440000,O=广东省,C=CN"
    assert region_service_name("440000", "广东省", "Issuing CA").rfc4514_string() == \
        "CN=广东省 Issuing CA 440000,O=广东省,C=CN"


def test_eseal_subject_order_and_values():
    name = eseal_subject_name("某某局", USCC, "广东省")
    assert [(a.oid, a.value) for a in name] == [
        (NameOID.COUNTRY_NAME, "CN"),
        (NameOID.STATE_OR_PROVINCE_NAME, "广东省"),
        (NameOID.ORGANIZATION_NAME, "某某局"),
        (NameOID.ORGANIZATION_IDENTIFIER, "NTRCN-" + USCC),
        (NameOID.COMMON_NAME, "某某局"),
    ]


@pytest.mark.parametrize("department", ["", " 某某局", "x" * 65])
def test_bad_department_name_refused(department):
    with pytest.raises(ValueError, match="department_name"):
        eseal_subject_name(department, USCC, "广东省")
