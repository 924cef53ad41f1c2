"""Over HTTP: licence data naming an issuing authority other than the sealing department
is a 422 naming the field; left out, the field is filled in with the department, on the
record and in the sealed PDF's licence.json."""

from __future__ import annotations

from domain_kit import DEPARTMENT_NAME
from sqlalchemy import func
from sqlmodel import select

from certs.document import extract_licence_data
from certs.models import Licence
from certs.samples import sample_licence_data


def _licences(served_api) -> int:
    with served_api.under_test.domain.session() as session:
        return session.exec(select(func.count()).select_from(Licence)).one()


def test_another_authority_is_422_naming_the_field_and_issues_nothing(served_api):
    data = sample_licence_data("yyzz") | {"登记机关": "国家市场监督管理总局"}
    before = _licences(served_api)
    with served_api.department as client:
        refused = client.post("/v1/licences", json={"type": "yyzz", "data": data})
    body = refused.json()
    assert refused.status_code == 422, refused.text
    assert body["code"] == "issuing_authority_mismatch" and body["field"] == "登记机关"
    assert "国家市场监督管理总局" in body["detail"] and DEPARTMENT_NAME in body["detail"]
    assert _licences(served_api) == before  # no licence was made


def test_left_out_or_repeated_the_department_is_the_issuing_authority(served_api):
    for given in ({}, {"发证机关": DEPARTMENT_NAME}):
        data = sample_licence_data("zyzgzs") | given
        with served_api.department as client:
            issued = client.post("/v1/licences", json={"type": "zyzgzs", "data": data})
            assert issued.status_code == 201, issued.text
            pdf = client.get(issued.json()["pdf"]).content
        assert extract_licence_data(pdf)["data"]["发证机关"] == DEPARTMENT_NAME
