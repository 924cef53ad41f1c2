"""A whole trust domain on software keys in a temporary SQLite database."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from ca_testing import BASE_URL, REGION_CODE, REGION_NAME, Domain, software_keys
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel

import ca.models  # noqa: F401 - registers the tables
from ca.hierarchy import create_hierarchy
from certseal.db import make_engine, transaction


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    engine = make_engine("sqlite:///" + str(tmp_path / "t.db"))
    SQLModel.metadata.create_all(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def domain(engine: Engine) -> Domain:
    keys = software_keys()
    now = datetime.now(UTC).replace(microsecond=0)
    with transaction(engine) as session:
        certificates = create_hierarchy(session, region_code=REGION_CODE, region_name=REGION_NAME,
                                        base_url=BASE_URL, keys=keys, now=now)
    return Domain(engine=engine, keys=keys, certificates=certificates, now=now)
