"""Building blocks for tests that need a whole trust domain: a home made by the real
`init`, a department made by the real onboarding, licences issued on the real code path,
and the real app served over HTTP on loopback.

Import as `import domain_kit` (tests/ is on sys.path); fixtures in tests/conftest.py use it.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import uvicorn
from sqlalchemy import text

from certs.samples import sample_licence_data, sample_type_codes
from certseal.db import make_engine
from certseal.domain import TrustDomain, init_trust_domain
from certseal.settings import load_settings
from seal.issuance import IssuanceRequest, IssuedLicence

DEPARTMENT_NAME = "广州市市场监督管理局"
DEPARTMENT_USCC = "11440100MB2C923971"
TEST_PIN_ENV = {"hsm_pin": "domain-user-pin-31", "hsm_so_pin": "domain-so-pin-5518"}
# When set (scripts/test sets it for its PostgreSQL pass), each domain a test makes gets a
# fresh database of its own on this server: a URL of a database the role may connect to,
# e.g. postgresql://certseal@127.0.0.1:5432/postgres; the role needs CREATEDB.
TEST_DATABASE_ENV = "CERTSEAL_TEST_DATABASE_URL"


def fresh_database_url() -> str | None:
    """A new, empty database for one domain on the test PostgreSQL server, or None for
    the SQLite default (a file in the domain's home)."""
    admin_url = os.environ.get(TEST_DATABASE_ENV)
    if not admin_url:
        return None
    name = "certseal_t_" + os.urandom(6).hex()
    engine = make_engine(admin_url).execution_options(isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        engine.dispose()
    base, _, _ = admin_url.rpartition("/")
    return f"{base}/{name}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class DomainUnderTest:
    home: Path
    domain: TrustDomain
    base_url: str
    department_id: str
    seal_id: str
    api_key: str
    licences: dict[str, IssuedLicence] = field(default_factory=dict)

    @property
    def published(self) -> Path:
        return self.home / "published"

    def issue(self, type_code: str, data: dict | None = None, **kw) -> IssuedLicence:
        return self.domain.issue_licence(IssuanceRequest(
            department_id=self.department_id, type_code=type_code,
            data=data if data is not None else sample_licence_data(type_code), **kw))

    def issue_b_lt(self, type_code: str) -> IssuedLicence:
        """A licence of the older level, PAdES B-LT (one signed revision holding its
        validation data), by the real issuance path, whatever the domain's setting."""
        import dataclasses

        from seal.issuance import issue_licence

        services = dataclasses.replace(self.domain.sealing_services(),
                                       archive_timestamp=False)
        with self.domain.session() as session:
            return issue_licence(session, services, self.domain.catalogue, IssuanceRequest(
                department_id=self.department_id, type_code=type_code,
                data=sample_licence_data(type_code)))


def make_domain(home: Path, *, region: str = "440000", region_name: str = "广东省",
                port: int | None = None, department_name: str = DEPARTMENT_NAME,
                department_uscc: str = DEPARTMENT_USCC,
                issue_samples: bool = True) -> DomainUnderTest:
    """init + one department granted every shipped type (+ one licence of each)."""
    port = port or free_port()
    base_url = f"http://127.0.0.1:{port}"
    database = {"database_url": url} if (url := fresh_database_url()) else {}
    settings = load_settings(home, region_code=region, region_name=region_name,
                             base_url=base_url, **TEST_PIN_ENV, **database)
    init_trust_domain(settings)
    if database:  # so that the CLI run as a subprocess on this home finds it too
        with settings.config_file.open("a", encoding="utf-8") as config:
            config.write(f'database_url = "{database["database_url"]}"\n')
    domain = TrustDomain.open(load_settings(home, **TEST_PIN_ENV, **database))
    onboarded = domain.add_department(name=department_name, uscc=department_uscc,
                                      licence_types=list(sample_type_codes()))
    under_test = DomainUnderTest(home=home, domain=domain, base_url=base_url,
                                 department_id=onboarded.department_id,
                                 seal_id=onboarded.seal_id, api_key=onboarded.api_key)
    if issue_samples:
        for code in sample_type_codes():
            under_test.licences[code] = under_test.issue(code)
    return under_test


@contextlib.contextmanager
def serving(under_test: DomainUnderTest, *, app=None, port: int | None = None,
            settings=None) -> Iterator[str]:
    """Serve the real app for this domain on the port its base URL names (or another
    app built on it, e.g. with other settings, on another port; ``settings``: those the
    server's own options come from, the domain's by default)."""
    from api.app import create_app
    from api.serving import server_options

    port = port or int(under_test.base_url.rsplit(":", 1)[1])
    base_url = f"http://127.0.0.1:{port}"
    app = app or create_app(under_test.domain.settings, domain=under_test.domain)
    # The options `certseal serve` uses (slow-client deadlines, no proxy headers).
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                           log_level="warning", lifespan="on",
                                           **server_options(settings or
                                                            under_test.domain.settings)))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            if httpx.get(base_url + "/healthz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.05)
    else:
        raise RuntimeError("test server did not start")
    try:
        yield base_url
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def revoke_elsewhere(domain: TrustDomain, serial: int, actor: str = "another process") -> None:
    """Revoke a certificate (keyCompromise) through an engine of its own, with nothing said
    to this process's responder: another process's commit, as the CLI makes it."""
    from cryptography import x509

    from ca.revocation import revoke_certificate
    from certseal.db import transaction

    elsewhere = make_engine(domain.settings.effective_database_url)
    try:
        with transaction(elsewhere) as session:
            revoke_certificate(session, serial, x509.ReasonFlags.key_compromise, actor=actor)
    finally:
        elsewhere.dispose()
