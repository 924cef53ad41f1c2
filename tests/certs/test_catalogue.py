import json

import pytest

from certs.catalogue import load_catalogue
from certs.errors import CatalogueError, InvalidLicenceData, UnknownLicenceType
from certs.samples import sample_licence_data, sample_type_codes
from certs.validation import holder_of, validate_licence_data, validity_of

CATALOGUE = load_catalogue()


def test_shipped_types():
    assert CATALOGUE.codes() == ["spjyxkz", "yyzz", "zyzgzs"]
    assert CATALOGUE.get("yyzz").name == "营业执照"
    assert CATALOGUE.get("zyzgzs").holder_kind == "person"
    with pytest.raises(UnknownLicenceType):
        CATALOGUE.get("nope")


@pytest.mark.parametrize("code", sample_type_codes())
def test_each_type_accepts_its_sample(code):
    licence_type = CATALOGUE.get(code)
    data = validate_licence_data(licence_type, sample_licence_data(code))
    identifier, name = holder_of(licence_type, data)
    assert identifier == data[licence_type.holder_identifier_field] and name


@pytest.mark.parametrize("code", sample_type_codes())
def test_each_type_refuses_bad_holder_identifier(code):
    licence_type = CATALOGUE.get(code)
    data = sample_licence_data(code)
    field = licence_type.holder_identifier_field
    last = data[field][-1]
    data[field] = data[field][:-1] + ("1" if last != "1" else "2")
    with pytest.raises(InvalidLicenceData) as exc:
        validate_licence_data(licence_type, data)
    assert exc.value.field == field and "check character" in exc.value.message


def test_schema_errors_name_the_field():
    yyzz = CATALOGUE.get("yyzz")
    data = sample_licence_data("yyzz")
    del data["住所"]
    with pytest.raises(InvalidLicenceData) as exc:
        validate_licence_data(yyzz, data)
    assert exc.value.field == "住所"

    data = sample_licence_data("yyzz")
    data["成立日期"] = "2015-02-30"
    with pytest.raises(InvalidLicenceData) as exc:
        validate_licence_data(yyzz, data)
    assert exc.value.field == "成立日期"

    data = sample_licence_data("yyzz")
    data["营业期限"]["止"] = "永久"
    with pytest.raises(InvalidLicenceData) as exc:
        validate_licence_data(yyzz, data)
    assert exc.value.field == "营业期限.止"

    data = sample_licence_data("yyzz")
    data["备注"] = "x"
    with pytest.raises(InvalidLicenceData) as exc:
        validate_licence_data(yyzz, data)
    assert exc.value.field == "备注"


def test_validity_and_open_ended():
    yyzz = CATALOGUE.get("yyzz")
    data = validate_licence_data(yyzz, sample_licence_data("yyzz"))
    assert validity_of(yyzz, data)[1] is None  # 长期
    food = CATALOGUE.get("spjyxkz")
    data = sample_licence_data("spjyxkz")
    data["有效期至"] = "2020-01-01"  # before 发证日期
    with pytest.raises(InvalidLicenceData) as exc:
        validate_licence_data(food, data)
    assert exc.value.field == "有效期至"


def test_person_fields_must_agree_with_resident_id():
    cert = CATALOGUE.get("zyzgzs")
    data = sample_licence_data("zyzgzs")
    data["性别"] = "男"
    with pytest.raises(InvalidLicenceData) as exc:
        validate_licence_data(cert, data)
    assert exc.value.field == "性别"
    data = sample_licence_data("zyzgzs")
    data["出生日期"] = "1990-05-13"
    with pytest.raises(InvalidLicenceData) as exc:
        validate_licence_data(cert, data)
    assert exc.value.field == "出生日期"


def test_operator_adds_a_type_from_a_directory(tmp_path):
    raw = json.loads(CATALOGUE.get("yyzz").source and open(CATALOGUE.get("yyzz").source,
                                                            encoding="utf-8").read())
    raw["code"] = "yyzzfb"
    raw["name"] = "营业执照（分支机构）"
    (tmp_path / "yyzzfb.json").write_text(json.dumps(raw, ensure_ascii=False), "utf-8")
    catalogue = load_catalogue(tmp_path)
    assert "yyzzfb" in catalogue and len(catalogue.codes()) == 4

    raw["code"] = "yyzz"
    (tmp_path / "yyzzfb.json").write_text(json.dumps(raw, ensure_ascii=False), "utf-8")
    with pytest.raises(CatalogueError, match="defined twice"):
        load_catalogue(tmp_path)


def test_malformed_type_refused(tmp_path):
    (tmp_path / "bad.json").write_text(json.dumps({
        "code": "bad", "name": "坏", "name_en": "Bad", "holder_kind": "person",
        "holder": {"identifier": "号码", "name": "姓名"}, "validity": {"from": "日期"},
        "schema": {"type": "object", "properties": {"姓名": {"type": "string"}}},
        "layout": {},
    }), "utf-8")
    with pytest.raises(CatalogueError, match="not a schema property"):
        load_catalogue(tmp_path)


def test_an_empty_field_name_is_named_visibly():
    from certs.catalogue import load_catalogue
    from certs.errors import InvalidLicenceData
    from certs.samples import sample_licence_data
    from certs.validation import validate_licence_data

    data = sample_licence_data("yyzz")
    data[""] = "x"
    with pytest.raises(InvalidLicenceData) as refused:
        validate_licence_data(load_catalogue().get("yyzz"), data)
    assert refused.value.field == '""'
