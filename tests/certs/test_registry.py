import datetime as dt

import pytest
from sqlmodel import Session, SQLModel

from certs.errors import IdempotencyConflict, InvalidIdentifier, InvalidTransition, LicenceNotFound
from certs.registry import (
    allocate_licence_id,
    change_status,
    effective_status,
    find_idempotent,
    get_licence,
    get_licence_pdf,
    licence_data,
    licence_history,
    list_licences_for_holder,
    record_licence,
    request_digest,
)
from certs.samples import SAMPLE_ISSUER_USCC
from certseal.db import make_engine, transaction

HOLDER = "91350100M000100Y43"


@pytest.fixture
def engine(tmp_path):
    engine = make_engine("sqlite:///" + str(tmp_path / "t.db"))
    SQLModel.metadata.create_all(engine)
    return engine


def issue(session, *, key=None, body=None, supersedes=None, licence_id=None,
          valid_until=dt.date(2030, 1, 1)):
    licence_id = licence_id or allocate_licence_id(session, "yyzz", SAMPLE_ISSUER_USCC)
    return record_licence(
        session, licence_id=licence_id, department_id="dept-1", holder_identifier=HOLDER,
        holder_name="福州闽江数字科技有限公司", data={"名称": "福州闽江数字科技有限公司"},
        issued_at=dt.datetime(2024, 5, 1, tzinfo=dt.UTC), valid_from=dt.date(2024, 5, 1),
        valid_until=valid_until, pdf=b"%PDF-1.7 fake", actor="dept-1", seal_id="seal-1",
        idempotency_key=key, request_digest=request_digest(body) if body else None,
        supersedes=supersedes,
    )


def test_serials_are_unique_and_never_reused(engine):
    with transaction(engine) as session:
        ids = [allocate_licence_id(session, "yyzz", SAMPLE_ISSUER_USCC) for _ in range(5)]
    assert [i.serial for i in ids] == [1, 2, 3, 4, 5]
    with transaction(engine) as session:
        other = allocate_licence_id(session, "spjyxkz", SAMPLE_ISSUER_USCC)
        nxt = allocate_licence_id(session, "yyzz", SAMPLE_ISSUER_USCC)
    assert other.serial == 1 and nxt.serial == 6


def test_record_stores_pdf_and_history_in_one_transaction(engine):
    with pytest.raises(RuntimeError), transaction(engine) as session:
        licence = issue(session)
        raise RuntimeError("signing failed")
    with Session(engine) as session, pytest.raises(LicenceNotFound):
        get_licence(session, licence.licence_id)
    with transaction(engine) as session:
        licence = issue(session)
    with Session(engine) as session:
        stored = get_licence(session, licence.licence_id)
        assert stored.status == "valid" and licence_data(stored)["名称"]
        assert get_licence_pdf(session, licence.licence_id) == b"%PDF-1.7 fake"
        assert [h.to_status for h in licence_history(session, licence.licence_id)] == ["valid"]
        assert [x.licence_id for x in list_licences_for_holder(session, HOLDER)] == [
            licence.licence_id]


def test_idempotency_key(engine):
    body = {"type": "yyzz", "data": {"名称": "x"}}
    with transaction(engine) as session:
        first = issue(session, key="k1", body=body)
    with transaction(engine) as session:
        assert find_idempotent(session, "dept-1", "k1", request_digest(body)).licence_id == (
            first.licence_id)
        assert find_idempotent(session, "dept-1", "k2", request_digest(body)) is None
        with pytest.raises(IdempotencyConflict):
            find_idempotent(session, "dept-1", "k1", request_digest({"other": 1}))
    with pytest.raises(IdempotencyConflict), transaction(engine) as session:
        issue(session, key="k1", body=body)


def test_lifecycle_transitions(engine):
    with transaction(engine) as session:
        licence_id = issue(session).licence_id
    with transaction(engine) as session:
        change_status(session, licence_id, "suspended", "inspection", "officer")
        change_status(session, licence_id, "valid", "cleared", "officer")
        change_status(session, licence_id, "revoked", "fraud", "officer")
    for target in ("valid", "suspended", "superseded"):
        with pytest.raises(InvalidTransition), transaction(engine) as session:
            change_status(session, licence_id, target, "again", "officer")
    with Session(engine) as session:
        history = licence_history(session, licence_id)
        assert [(h.from_status, h.to_status) for h in history] == [
            (None, "valid"), ("valid", "suspended"), ("suspended", "valid"),
            ("valid", "revoked")]
        assert history[-1].reason == "fraud" and history[-1].actor == "officer"


def test_supersede_and_expiry(engine):
    with transaction(engine) as session:
        old = issue(session)
    old_id = get_licence(Session(engine), old.licence_id)
    from certs.licence_id import parse_licence_id

    with transaction(engine) as session:
        new = issue(session, licence_id=parse_licence_id(old.licence_id).next_version(),
                    supersedes=old.licence_id)
    with Session(engine) as session:
        assert get_licence(session, old.licence_id).status == "superseded"
        assert get_licence(session, new.licence_id).version == 2
        assert new.supersedes == old_id.licence_id
    with transaction(engine) as session:
        licence = issue(session, valid_until=dt.date(2024, 6, 1))
        assert effective_status(licence, today=dt.date(2024, 5, 31)) == "valid"
        assert effective_status(licence, today=dt.date(2024, 6, 2)) == "expired"
        with pytest.raises(InvalidTransition):
            change_status(session, licence.licence_id, "expired", "sweep", "system",
                          at=dt.datetime(2024, 5, 2, tzinfo=dt.UTC))
        change_status(session, licence.licence_id, "expired", "sweep", "system",
                      at=dt.datetime(2024, 6, 2, tzinfo=dt.UTC))


def test_lookup_validates_identifier(engine):
    with Session(engine) as session, pytest.raises(InvalidIdentifier):
        get_licence(session, "YYZZ-91350100M000100Y43-0000000001-01Q")
