"""Onboarding is all or nothing: a failure after the seal key was made removes the key and
leaves no department, seal, credential or grant behind."""

from __future__ import annotations

import pytest
from sqlmodel import select

from certs.identifiers import make_uscc
from seal import onboarding
from seal.models import Department, DepartmentApiKey, LicenceTypeGrant, Seal


class Boom(RuntimeError):
    pass


def test_failure_after_key_generation_leaves_nothing(trust_domain, monkeypatch):
    domain = trust_domain.domain
    uscc = make_uscc("11440100MB0000777")
    keys_before = set(domain.token().key_labels())

    def explode(*_args, **_kwargs):
        raise Boom("CA unavailable")

    monkeypatch.setattr(onboarding, "issue_eseal_certificate", explode)
    with pytest.raises(Boom):
        domain.add_department(name="测试局", uscc=uscc, licence_types=["yyzz"])
    assert set(domain.token().key_labels()) == keys_before
    with domain.session() as session:
        assert session.get(Department, uscc) is None
        assert session.exec(select(Seal).where(Seal.department_id == uscc)).first() is None
        assert session.exec(select(DepartmentApiKey)
                            .where(DepartmentApiKey.department_id == uscc)).first() is None
        assert session.exec(select(LicenceTypeGrant)
                            .where(LicenceTypeGrant.department_id == uscc)).first() is None


def test_unknown_licence_type_refused_before_any_key(trust_domain):
    from seal.errors import UnknownLicenceType

    domain = trust_domain.domain
    keys_before = set(domain.token().key_labels())
    with pytest.raises(UnknownLicenceType, match="nosuch"):
        domain.add_department(name="测试局", uscc=make_uscc("11440100MB0000778"),
                              licence_types=["nosuch"])
    assert set(domain.token().key_labels()) == keys_before


def test_api_key_is_stored_only_as_a_hash(trust_domain):
    from seal.credentials import authenticate_api_key

    with trust_domain.domain.session() as session:
        rows = session.exec(select(DepartmentApiKey)).all()
        secret = trust_domain.api_key.split("_", 2)[2]
        assert rows and all(secret not in row.secret_sha256 for row in rows)
        assert authenticate_api_key(session, trust_domain.api_key).department_id == \
            trust_domain.department_id
        assert authenticate_api_key(session, trust_domain.api_key + "x") is None
        assert authenticate_api_key(session, "csk_nope_nope") is None
        assert authenticate_api_key(session, "") is None


def test_seal_image_is_a_transparent_red_round_seal():
    import io

    from PIL import Image

    from seal.image import render_seal_image

    image = Image.open(io.BytesIO(render_seal_image("广州市市场监督管理局"))).convert("RGBA")
    w, h = image.size
    assert image.getpixel((2, 2))[3] == 0  # transparent corner
    centre = image.getpixel((w // 2, h // 2))  # the star
    assert centre[0] > 180 and centre[1] < 80 and centre[3] > 200
    with pytest.raises(ValueError):
        render_seal_image("  ")
