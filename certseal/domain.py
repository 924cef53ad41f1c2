"""The composition root: one place that wires settings, database, HSM token and rooms.

The CLI and the app factory build a ``TrustDomain`` from settings and call the rooms'
functions through it; no room reads configuration or globals of its own.
"""

from __future__ import annotations

import fcntl
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cached_property
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session

from ca import publication
from ca.audit import append_entry
from ca.hierarchy import (
    HierarchyKeys,
    TrustDomainCertificates,
    create_hierarchy,
    load_ca,
    trust_domain_certificates,
)
from ca.ocsp import OcspResponder
from ca.policies import tsa_policy_oid
from ca.status import RecordedStatuses
from ca.status_feed import follow_status_changes
from ca.tsa import TimeStampAuthority
from certs.catalogue import Catalogue, load_catalogue
from certseal.db import make_engine, migrate, transaction
from certseal.home import hsm_config, new_home, prepare_token, require_home, write_public
from certseal.settings import Settings
from hsm.token import KeySpec, Token
from seal.issuance import (
    IdempotencyGate,
    IssuanceRequest,
    IssuedLicence,
    SealingServices,
    issue_licence,
)
from seal.onboarding import OnboardedDepartment, TrustDomainFacts, onboard_department
from seal.timestamping import InProcessTimeStamper

KEY_LABELS = {
    "root": "root-ca",
    "issuing": "issuing-ca",
    "tsa": "tsa",
    "ocsp": "ocsp-signer",
    "trust_list": "trust-list-signer",
}
TRUST_LIST_VALIDITY = timedelta(days=30)
ISSUANCE_IN_FLIGHT = 2  # per process
log = logging.getLogger("certseal")


@dataclass(frozen=True)
class InitResult:
    root_certificate: Path
    issuing_ca_certificate: Path
    tsa_certificate: Path
    ocsp_certificate: Path
    hsm_module: Path
    token_label: str
    trust_list: Path

    def to_json(self) -> dict:
        return {k: str(v) for k, v in self.__dict__.items()}


def pem(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.PEM)


PUBLICATION_LOCK_KEY = 0x6365727473656C  # "certsel": pg_advisory_lock key of the publisher
CRL_HELD_FOR_SEALING = 60.0  # seconds: see TrustDomain.current_crl_der


@dataclass(frozen=True)
class _HeldCrl:
    der: bytes
    this_update: datetime
    next_update: datetime
    read_at: float

    @classmethod
    def of(cls, row) -> _HeldCrl:
        return cls(row.der, row.this_update, row.next_update, time.monotonic())

    def due(self) -> bool:
        return publication.due(self.this_update, self.next_update, datetime.now(UTC))

    def age(self) -> float:
        return time.monotonic() - self.read_at


class TrustDomain:
    """A home opened for work: engine, lazily opened HSM token, licence catalogue."""

    def __init__(self, settings: Settings, *, engine: Engine | None = None) -> None:
        self.settings = settings
        self.engine = engine or make_engine(settings.effective_database_url)
        self._token: Token | None = None
        self._token_lock = threading.Lock()
        # PKI services built on first use (they need the token and the certificates).
        self._services_lock = threading.RLock()
        self._certificates: TrustDomainCertificates | None = None
        self._ocsp: OcspResponder | None = None
        self._tsa: TimeStampAuthority | None = None
        self._sealing: SealingServices | None = None
        self._issuing = threading.BoundedSemaphore(ISSUANCE_IN_FLIGHT)
        self._same_key = IdempotencyGate()
        self._crl_lock = threading.RLock()  # CRL numbers are allocated one at a time
        self._crls: dict[str, _HeldCrl] = {}

    @classmethod
    def open(cls, settings: Settings) -> TrustDomain:
        require_home(settings)
        return cls(settings)

    @property
    def facts(self) -> TrustDomainFacts:
        s = self.settings
        if s.region_code is None or s.region_name is None:
            raise ValueError(f"{s.config_file} has no region_code/region_name")
        return TrustDomainFacts(region_code=s.region_code, region_name=s.region_name,
                                base_url=s.base_url, policy_arc=s.policy_arc)

    def token(self) -> Token:
        with self._token_lock:
            if self._token is None:
                self._token = Token.open(hsm_config(self.settings))
            return self._token

    def session(self) -> Session:
        return Session(self.engine, expire_on_commit=False)

    def certificates(self) -> TrustDomainCertificates:
        with self._services_lock:
            if self._certificates is None:
                with self.session() as session:
                    self._certificates = trust_domain_certificates(session)
            return self._certificates

    def ocsp_responder(self) -> OcspResponder:
        """The delegated OCSP responder for certificates of the issuing CA (cached answers,
        dropped the moment a status changes: see ``certificate_status_changed``)."""
        with self._services_lock:
            if self._ocsp is None:
                certs = self.certificates()
                self._ocsp = OcspResponder(
                    issuer=certs.issuing, signer=certs.ocsp,
                    signer_key=self.token().private_key(KEY_LABELS["ocsp"]),
                    statuses=RecordedStatuses(self.session),
                )
            # Status may change in another process (the CLI): drop stale cached answers.
            return follow_status_changes(self._ocsp, self.engine)

    def built_ocsp_responder(self) -> OcspResponder | None:
        """The OCSP responder if it has been built, as it is: no HSM login, no status
        check (the HTTP fast path checks with ``ca.status_feed.status_feed_of``)."""
        return self._ocsp

    def time_stamp_authority(self) -> TimeStampAuthority:
        with self._services_lock:
            if self._tsa is None:
                certs = self.certificates()
                self._tsa = TimeStampAuthority(
                    certificate=certs.tsa, chain=[certs.issuing, certs.root],
                    key=self.token().private_key(KEY_LABELS["tsa"]),
                    policy=tsa_policy_oid(self.settings.policy_arc),
                )
            return self._tsa

    def sealing_services(self) -> SealingServices:
        with self._services_lock:
            if self._sealing is None:
                certs = self.certificates()
                self._sealing = SealingServices(
                    token=self.token(),
                    timestamper=InProcessTimeStamper(self.time_stamp_authority().respond),
                    ocsp_respond=self.ocsp_responder().respond,
                    current_crls=self._crls_for_sealing,
                    chain=(certs.issuing, certs.root),
                    service_certificates=(certs.tsa, certs.ocsp),
                    region_name=self.facts.region_name,
                    verify_url=f"{self.settings.base_url}/verify",
                    archive_timestamp=self.settings.pades_level == "B-LTA",
                )
            return self._sealing

    @cached_property
    def catalogue(self) -> Catalogue:
        extra = self.settings.home / "licence-types"
        return load_catalogue(*([extra] if extra.is_dir() else []))

    def close(self) -> None:
        self._ocsp = self._tsa = self._sealing = None
        if self._token is not None:
            self._token.close()
            self._token = None
        self.engine.dispose()

    # -- read side (API) ----------------------------------------------------------------
    def readiness(self) -> dict[str, bool]:
        checks = {"database": False, "hsm": False}
        try:
            with self.session() as session:
                session.connection().exec_driver_sql("SELECT 1")
            checks["database"] = True
        except Exception as exc:  # readiness reports, it does not raise
            log.warning("readiness: database unavailable: %s", type(exc).__name__)
        try:
            # A real key lookup (not has_key): it takes the token's recovery path, so
            # an HSM that comes back is seen as back without a restart.
            self.token().private_key(KEY_LABELS["issuing"])
            checks["hsm"] = True
        except Exception as exc:
            log.warning("readiness: HSM unavailable: %s", type(exc).__name__)
        return checks

    def published_certificate_der(self, name: str) -> bytes | None:
        if name not in ("root", "issuing"):
            return None
        with self.session() as session:
            certificate, _ = load_ca(session, name)
        return certificate.public_bytes(serialization.Encoding.DER)

    def current_crl_der(self, name: str, *, held_for: float = 0.0) -> bytes | None:
        """The CA's newest CRL, as recorded (a read: re-issuing is ``issue_due_crls``').

        ``held_for`` seconds: a CRL read that recently may be answered from memory. Sealing
        asks with every licence and embeds a held one (one issued by another process is
        embedded from the next re-read); /pki/crl asks with 0, so a CRL issued after a
        revocation is served at once."""
        from ca.store import latest_crl

        if name not in ("root", "issuing"):
            return None
        held = self._crls.get(name)
        if held is not None and held.age() < held_for:
            return held.der
        with self.session() as session:
            row = latest_crl(session, name)
        if row is None:
            return None
        self._crls[name] = _HeldCrl.of(row)
        return row.der

    def _crls_for_sealing(self) -> list[bytes]:
        """The CRLs a licence embeds: held ones while current, re-issued first when due
        (sealing writes anyway; a CLI issuing with no server running has no publisher)."""
        names = ("issuing", "root")
        ders = [self.current_crl_der(name, held_for=CRL_HELD_FOR_SEALING) for name in names]
        if any(self._crls[name].due() for name in names):
            with self.publication_lock():
                self.issue_due_crls()
            ders = [self.current_crl_der(name) for name in names]
        return ders

    @contextmanager
    def publication_lock(self) -> Iterator[None]:
        """One publisher at a time across the processes of this home (uvicorn's workers,
        a CLI command) and, on PostgreSQL, across machines sharing the database."""
        path = self.settings.home / "publication.lock"
        with open(path, "a+b") as held:
            fcntl.flock(held, fcntl.LOCK_EX)
            try:
                if self.engine.dialect.name != "postgresql":
                    yield
                    return
                with self.engine.connect() as connection:
                    connection.execute(text("SELECT pg_advisory_lock(:key)"),
                                       {"key": PUBLICATION_LOCK_KEY})
                    try:
                        yield
                    finally:
                        connection.execute(text("SELECT pg_advisory_unlock(:key)"),
                                           {"key": PUBLICATION_LOCK_KEY})
                        connection.commit()
            finally:
                fcntl.flock(held, fcntl.LOCK_UN)

    def issue_due_crls(self, now: datetime | None = None) -> bool:
        """Re-issue the CAs' CRLs when one is due (``ca.publication``); the caller holds
        ``publication_lock``. True when new CRLs were signed."""
        from ca.store import latest_crl

        now = now or datetime.now(UTC)
        with self.session() as session:
            rows = [latest_crl(session, name) for name in ("root", "issuing")]
        if all(row is not None and not publication.due(row.this_update, row.next_update, now)
               for row in rows):
            return False
        self.issue_crls(now=now)
        return True

    def published_trust_list(self) -> bytes | None:
        path = self.settings.published_dir / "trust-list.jws"
        return path.read_bytes() if path.is_file() else None

    # -- flows -----------------------------------------------------------------------
    def add_department(self, *, name: str, uscc: str, licence_types: list[str]
                       ) -> OnboardedDepartment:
        with self.session() as session:
            onboarded = onboard_department(
                session, self.token(), self.facts, name=name, uscc=uscc,
                licence_types=licence_types, catalogue=self.catalogue,
            )
        write_public(self.seal_certificate_path(onboarded.seal_id), pem(onboarded.certificate))
        return onboarded

    def issue_crls(self, now: datetime | None = None) -> dict[str, Path]:
        """Sign a fresh CRL for each CA and publish it (DER) beside the certificates."""
        from ca.crl import build_crl

        paths = {}
        self._crls.clear()
        with self._crl_lock, self.session() as session:
            for ca_name in ("root", "issuing"):
                _, key_label = load_ca(session, ca_name)
                crl = build_crl(session, ca_name, self.token().private_key(key_label), now=now)
                session.commit()
                paths[ca_name] = write_public(
                    self.settings.published_dir / "crl" / f"{ca_name}.crl",
                    crl.public_bytes(serialization.Encoding.DER))
        return paths

    def issue_licence(self, request: IssuanceRequest) -> IssuedLicence:
        """Blocking (HSM and PDF work): the API calls it from a worker thread.

        Issuance is CPU-bound Python (one core per process under the GIL), so more than a
        couple in flight per process only adds memory and latency: the rest wait here."""
        services = self.sealing_services()
        with self._same_key.hold(request.department_id, request.idempotency_key), \
                self._issuing, self.session() as session:
            return issue_licence(session, services, self.catalogue, request)

    def seal_certificate_path(self, seal_id: str) -> Path:
        return self.settings.published_dir / "seals" / f"{seal_id}.pem"

    def publish_trust_list(self, now: datetime | None = None, *,
                           changes: Callable[[Session, datetime], object] | None = None
                           ) -> Path:
        """Sign and publish the next trust list (sequence + 1) from the recorded services.

        ``changes(session, now)`` (e.g. a withdrawal) runs in the same transaction, so a
        status change is never recorded without the list that announces it."""
        from ca import trust_services

        now = now or datetime.now(UTC)
        facts = self.facts
        with transaction(self.engine) as session:
            if changes is not None:
                changes(session, now)
            signer_cert = _certificate_by_role(session, "trust-list-signer")
            issuing_cert, _ = load_ca(session, "issuing")
            publication = trust_services.publish(
                session, region_code=facts.region_code, region_name=facts.region_name,
                base_url=facts.base_url, key=self.token().private_key(KEY_LABELS["trust_list"]),
                signer_certificate=signer_cert, chain=[issuing_cert], now=now,
                validity=TRUST_LIST_VALIDITY)
            append_entry(session, "trust_list.published",
                         subject=str(publication.sequence_number),
                         details={"region": facts.region_code})
        write_public(self.settings.published_dir / "trust-list.xml", publication.xml.encode())
        return write_public(self.settings.published_dir / "trust-list.jws",
                            publication.jws.encode())


def _certificate_by_role(session: Session, role: str) -> x509.Certificate:
    from ca.store import certificates_by_role

    rows = certificates_by_role(session, role)
    if not rows:
        raise LookupError(f"no {role} certificate in this trust domain")
    return rows[-1]


def init_trust_domain(settings: Settings, key_spec: KeySpec = KeySpec.EC_P256) -> InitResult:
    """``certseal init``: home, token and keys, CA hierarchy, first CRLs and trust list."""
    if settings.region_code is None or settings.region_name is None:
        raise ValueError("init needs --region and --region-name")
    with new_home(settings) as undo:
        settings.save_config({
            "region_code": settings.region_code,
            "region_name": settings.region_name,
            "base_url": settings.base_url,
            "hsm_module": settings.hsm_module,
            "hsm_token_label": settings.hsm_token_label,
            "softhsm_conf": settings.softhsm_conf,
        })
        user_pin = prepare_token(settings)
        token = Token.open(hsm_config(settings, user_pin))
        undo.push(token.close)
        keys = {}
        for role, label in KEY_LABELS.items():
            keys[role] = token.generate_key(label, key_spec)
            undo.push(lambda label=label: token.delete_key(label))

        url = settings.effective_database_url
        migrate(url)
        engine = make_engine(url)
        now = datetime.now(UTC)
        try:
            with transaction(engine) as session:
                certs = create_hierarchy(
                    session, region_code=settings.region_code, region_name=settings.region_name,
                    base_url=settings.base_url,
                    keys=HierarchyKeys(**{role: (keys[role], KEY_LABELS[role])
                                          for role in KEY_LABELS}),
                    now=now,
                )
                append_entry(session, "domain.created", subject=settings.region_code, details={
                    "region_name": settings.region_name, "base_url": settings.base_url})
                for role, label in KEY_LABELS.items():
                    append_entry(session, "key.generated", subject=label,
                                 details={"role": role, "key_type": key_spec.name})
            domain = TrustDomain(settings, engine=engine)
            domain._token = token
            published = settings.published_dir
            paths = {
                "root": write_public(published / "root-ca.pem", pem(certs.root)),
                "issuing": write_public(published / "issuing-ca.pem", pem(certs.issuing)),
                "tsa": write_public(published / "tsa.pem", pem(certs.tsa)),
                "ocsp": write_public(published / "ocsp-signer.pem", pem(certs.ocsp)),
            }
            write_public(published / "trust-list-signer.pem", pem(certs.trust_list))
            domain.issue_crls(now=now)
            with transaction(engine) as session:
                from ca.trust_services import list_service

                for service_type, name, certificate in (
                        ("root-ca", "root", certs.root), ("issuing-ca", "issuing", certs.issuing),
                        ("tsa", "tsa", certs.tsa), ("ocsp", "ocsp", certs.ocsp)):
                    list_service(session, service_type, name, certificate, granted_since=now,
                                 actor="init", now=now)
            trust_list = domain.publish_trust_list(now=now)
        finally:
            engine.dispose()
        token.close()
    return InitResult(
        root_certificate=paths["root"], issuing_ca_certificate=paths["issuing"],
        tsa_certificate=paths["tsa"], ocsp_certificate=paths["ocsp"],
        hsm_module=settings.hsm_module, token_label=settings.hsm_token_label,
        trust_list=trust_list,
    )
