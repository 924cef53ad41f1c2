"""A trust domain whose every key is in a real SoftHSM2 token, a rendered licence, and
the seal material of one department: what the sealing tests work on.

Built with the ca room's own hierarchy, CRLs, OCSP responder and TSA, so the seal is
checked against the real PKI, not a copy of it.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator

import pytest
from cryptography.hazmat.primitives.serialization import Encoding
from seal_testing import BASE_URL, DEPARTMENT, REGION_CODE, REGION_NAME, USCC, SealDomain
from sqlmodel import Session, SQLModel

import ca.models  # noqa: F401 - registers the tables
from ca.crl import build_crl
from ca.hierarchy import HierarchyKeys, LabelledKey, create_hierarchy, issue_eseal_certificate
from ca.models import ISSUING, ROOT
from ca.ocsp import OcspResponder
from ca.status import RecordedStatuses
from ca.tsa import TimeStampAuthority
from certs.catalogue import load_catalogue
from certs.render import render_licence_pdf
from certs.samples import sample_licence_data
from certseal.db import make_engine, transaction
from hsm.token import HsmConfig, KeySpec, Token
from seal.image import render_seal_image
from seal.pades import SealPlacement, seal_pdf
from seal.timestamping import InProcessTimeStamper


@pytest.fixture(scope="module")
def seal_domain(softhsm_token_shared: HsmConfig,
                tmp_path_factory: pytest.TempPathFactory) -> Iterator[SealDomain]:
    token = Token.open(softhsm_token_shared)
    run = uuid.uuid4().hex[:8]  # the token is shared by the whole test run

    def hsm_key(name: str, spec: KeySpec = KeySpec.EC_P256) -> LabelledKey:
        label = f"{name}-{run}"
        return LabelledKey(token.generate_key(label, spec), label)

    keys = HierarchyKeys(root=hsm_key("root"), issuing=hsm_key("issuing"), tsa=hsm_key("tsa"),
                         ocsp=hsm_key("ocsp"), trust_list=hsm_key("trust-list"))
    engine = make_engine("sqlite:///" + str(tmp_path_factory.mktemp("seal-db") / "t.db"))
    SQLModel.metadata.create_all(engine)
    seal_key = hsm_key("seal")
    with transaction(engine) as session:
        certificates = create_hierarchy(session, region_code=REGION_CODE,
                                        region_name=REGION_NAME, base_url=BASE_URL, keys=keys)
        seal_certificate = issue_eseal_certificate(
            session, public_key=seal_key.key.public_key(), department_name=DEPARTMENT,
            uscc=USCC, region_name=REGION_NAME, key_label=seal_key.label, base_url=BASE_URL,
            issuing_key=keys.issuing.key)
        issuing_crl = build_crl(session, ISSUING, keys.issuing.key).public_bytes(Encoding.DER)
        root_crl = build_crl(session, ROOT, keys.root.key).public_bytes(Encoding.DER)

    tsa = TimeStampAuthority(certificate=certificates.tsa,
                             chain=[certificates.issuing, certificates.root], key=keys.tsa.key)
    ocsp = OcspResponder(issuer=certificates.issuing, signer=certificates.ocsp,
                         signer_key=keys.ocsp.key,
                         statuses=RecordedStatuses(lambda: Session(engine)))
    licence_type = load_catalogue().get("yyzz")
    pdf = render_licence_pdf(licence_type, "yyzz-test", sample_licence_data("yyzz"),
                             DEPARTMENT, dt.datetime(2024, 5, 1, tzinfo=dt.UTC),
                             "https://verify.example.fj.cn/v/yyzz-test")
    try:
        yield SealDomain(
            token=token, engine=engine, keys=keys, certificates=certificates,
            seal_key=seal_key.key, seal_certificate=seal_certificate, tsa=tsa, ocsp=ocsp,
            issuing_crl=issuing_crl, root_crl=root_crl, licence_pdf=pdf,
            placement=SealPlacement(page=0, box=licence_type.layout.seal),
            seal_image=render_seal_image(DEPARTMENT),
        )
    finally:
        token.close()


@pytest.fixture(scope="module")
def timestamper(seal_domain: SealDomain) -> InProcessTimeStamper:
    return InProcessTimeStamper(seal_domain.tsa.respond)


@pytest.fixture(scope="module")
def sealed_pdf(seal_domain: SealDomain, timestamper: InProcessTimeStamper) -> bytes:
    """The licence sealed at B-LT: the document most tests inspect."""
    return seal_pdf(seal_domain.licence_pdf, seal_domain.material(), seal_domain.placement,
                    timestamper=timestamper, validation=seal_domain.validation(),
                    reason="电子证照签发", location=REGION_NAME)
