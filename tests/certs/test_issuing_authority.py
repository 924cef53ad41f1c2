"""The issuing-authority field (登记机关, 发证机关) names the department that seals the
licence: filled in when left out, kept when it repeats the name, refused (a typed error
naming the field) when it names another authority."""

from __future__ import annotations

import copy
import json

import pytest

from certs.catalogue import load_catalogue, parse_licence_type
from certs.errors import CatalogueError, InvalidLicenceData, IssuingAuthorityMismatch
from certs.issuing_authority import with_issuing_authority
from certs.samples import sample_licence_data, sample_type_codes
from certs.validation import validate_licence_data

SEALER = "广州市市场监督管理局"


@pytest.mark.parametrize("code", sample_type_codes())
def test_left_out_it_is_filled_in_with_the_sealing_department(code):
    licence_type = load_catalogue().get(code)
    data = sample_licence_data(code)
    assert licence_type.issuer_field not in data
    filled = with_issuing_authority(licence_type, data, SEALER)
    assert filled[licence_type.issuer_field] == SEALER
    assert validate_licence_data(licence_type, filled)[licence_type.issuer_field] == SEALER
    assert licence_type.issuer_field not in data  # the caller's dict is not changed


@pytest.mark.parametrize("given", [SEALER, " 广州市市场监督管理局 ", "广州市 市场监督管理局"])
def test_the_same_name_is_kept(given):
    yyzz = load_catalogue().get("yyzz")
    data = sample_licence_data("yyzz") | {"登记机关": given}
    assert with_issuing_authority(yyzz, data, SEALER) == data


@pytest.mark.parametrize(("code", "other"), [("yyzz", "国家市场监督管理总局"),
                                             ("zyzgzs", "福州市人力资源和社会保障局"),
                                             ("spjyxkz", "广州市市场监督管理局越秀分局")])
def test_another_authority_is_refused_naming_the_field(code, other):
    licence_type = load_catalogue().get(code)
    data = sample_licence_data(code) | {licence_type.issuer_field: other}
    with pytest.raises(IssuingAuthorityMismatch) as raised:
        with_issuing_authority(licence_type, data, SEALER)
    error = raised.value
    assert isinstance(error, InvalidLicenceData)  # what api/ answers with 422
    assert error.field == licence_type.issuer_field and error.code == "issuing_authority_mismatch"
    assert other in str(error) and SEALER in str(error)


def test_full_width_and_half_width_forms_compare_alike():
    yyzz = load_catalogue().get("yyzz")
    data = sample_licence_data("yyzz") | {"登记机关": "ＡＢ市局"}
    assert with_issuing_authority(yyzz, data, "AB市局") == data


def test_what_is_not_a_name_is_left_to_the_schema_check():
    yyzz = load_catalogue().get("yyzz")
    data = sample_licence_data("yyzz") | {"登记机关": 42}
    with pytest.raises(InvalidLicenceData) as raised:
        validate_licence_data(yyzz, with_issuing_authority(yyzz, data, SEALER))
    assert raised.value.field == "登记机关" and raised.value.problems[0].rule == "type"
    assert with_issuing_authority(yyzz, ["not", "a", "dict"], SEALER) == ["not", "a", "dict"]


def test_the_catalogue_refuses_an_issuer_field_it_cannot_fill_in():
    with open(load_catalogue().get("yyzz").source, encoding="utf-8") as source:
        raw = json.load(source)
    unknown = copy.deepcopy(raw) | {"issuer_field": "发证单位"}
    with pytest.raises(CatalogueError, match="issuer_field"):
        parse_licence_type(unknown)
    required = copy.deepcopy(raw)
    required["schema"]["required"].append("登记机关")
    with pytest.raises(CatalogueError, match="must not be required"):
        parse_licence_type(required)
    del raw["issuer_field"]
    assert parse_licence_type(raw).issuer_field is None
