"""Issuance figures: the library path in one process, the API at several concurrencies,
memory of a server worker over a long run, and the rate with many licences already
stored; baselines: bare pyHanko B-B signing of the same rendered PDF with the same HSM key,
and the raw HSM signature rate (the floor of the cost)."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import signers
from pyhanko.sign.fields import SigSeedSubFilter
from pyhanko.sign.pkcs11 import PKCS11Signer
from sqlalchemy import func, insert, select, update

from bench.environment import Server, memory_kb
from bench.load import drive
from bench.measure import Sample, time_calls
from ca.store import get_certificate
from certs.catalogue import LicenceType
from certs.licence_id import LicenceId
from certs.models import (
    Licence,
    LicenceDocument,
    LicenceSerial,
    LicenceStatusChange,
    LicenceStatusIndexCounter,
)
from certs.render import render_licence_pdf
from certs.samples import sample_licence_data
from seal.pades import DEFAULT_BYTES_RESERVED
from seal.registry import active_seal_of, get_department
from seal.signer import SealSigner

TYPE_CODE = "yyzz"  # the business licence: the most common licence a province issues


@dataclass(frozen=True)
class SealFixture:
    """The department's seal key (in the HSM), its certificate and a rendered unsigned
    licence PDF: what the bare-pyHanko baseline signs."""

    key: ec.EllipticCurvePrivateKey
    key_label: str
    certificate: x509.Certificate
    chain: tuple[x509.Certificate, ...]
    unsigned_pdf: bytes


def seal_fixture(under_test, type_code: str = TYPE_CODE) -> SealFixture:
    domain = under_test.domain
    with domain.session() as session:
        seal = active_seal_of(session, under_test.department_id)
        department = get_department(session, under_test.department_id)
        certificate = x509.load_der_x509_certificate(
            get_certificate(session, seal.certificate_serial).der)
        key_label, department_name = seal.key_label, department.name
    licence_type: LicenceType = domain.catalogue.get(type_code)
    issued = under_test.licences[type_code]
    from certs.registry import licence_data

    unsigned = render_licence_pdf(
        licence_type, issued.licence_id, licence_data(issued.licence), department_name,
        dt.datetime.now(dt.UTC), "HC1:" + "X" * 300)
    services = domain.sealing_services()
    return SealFixture(domain.token().private_key(key_label), key_label, certificate,
                       services.chain, unsigned)


def bare_pyhanko_signer(under_test, fixture: SealFixture, *, bytes_reserved: int | None
                        ) -> Callable[[], bytes]:
    """pyHanko as shipped: ``signers.sign_pdf`` with its own ``PKCS11Signer`` over the
    same HSM key (raw CKM_ECDSA, as SoftHSM2 has no CKM_ECDSA_SHA256), PAdES B-B, no
    time-stamp, no validation data, invisible field. Not our SealSigner: its speed-ups
    (attributes encoded once, pre-parsed chain) would flatter the baseline. The token's
    session is held (under the process-wide PKCS#11 lock) for each whole signing."""
    token = under_test.domain.token()
    chain = [asn1_x509.Certificate.load(c.public_bytes(serialization.Encoding.DER))
             for c in fixture.chain]
    signing_cert = asn1_x509.Certificate.load(
        fixture.certificate.public_bytes(serialization.Encoding.DER))
    meta = signers.PdfSignatureMetadata(field_name="Signature",
                                        subfilter=SigSeedSubFilter.PADES)

    def sign() -> bytes:
        with token.session() as session:
            signer = PKCS11Signer(session, key_label=fixture.key_label,
                                  signing_cert=signing_cert, ca_chain=chain,
                                  use_raw_mechanism=True)
            writer = IncrementalPdfFileWriter(io.BytesIO(fixture.unsigned_pdf))
            out = signers.sign_pdf(writer, meta, signer=signer,
                                   bytes_reserved=bytes_reserved)
        return out.getvalue()

    return sign


def seal_signer_bb(fixture: SealFixture) -> Callable[[], bytes]:
    """The same B-B signing through our SealSigner (what sealing uses): shown beside the
    baseline, not as it."""
    signer = SealSigner(fixture.key, fixture.certificate, fixture.chain)
    meta = signers.PdfSignatureMetadata(field_name="Signature",
                                        subfilter=SigSeedSubFilter.PADES)

    def sign() -> bytes:
        writer = IncrementalPdfFileWriter(io.BytesIO(fixture.unsigned_pdf))
        return signers.sign_pdf(writer, meta, signer=signer,
                                bytes_reserved=DEFAULT_BYTES_RESERVED).getvalue()

    return sign


def library_issuance(under_test, count: int, budget_s: float) -> Sample:
    data = sample_licence_data(TYPE_CODE)
    return time_calls(lambda: under_test.issue(TYPE_CODE, data), count, budget_s=budget_s)


def baselines(under_test, count: int, budget_s: float) -> dict[str, Sample]:
    fixture = seal_fixture(under_test)
    digest = hashlib.sha256(b"certseal bench").digest()
    prehashed = ec.ECDSA(Prehashed(hashes.SHA256()))
    return {
        "pyhanko_bb_reserved": time_calls(
            bare_pyhanko_signer(under_test, fixture, bytes_reserved=DEFAULT_BYTES_RESERVED),
            count,
            budget_s=budget_s),
        "pyhanko_bb_default": time_calls(
            bare_pyhanko_signer(under_test, fixture, bytes_reserved=None), count,
            budget_s=budget_s),
        "pyhanko_bb_seal_signer": time_calls(
            seal_signer_bb(fixture), count, budget_s=budget_s),
        "hsm_raw_sign": time_calls(lambda: fixture.key.sign(digest, prehashed),
                                   count * 50, budget_s=min(budget_s, 5.0)),
    }


# -- through the API ------------------------------------------------------------------------
def issue_request(api_key: str, type_code: str = TYPE_CODE):
    body = {"type": type_code, "data": sample_licence_data(type_code)}
    headers = {"Authorization": f"Bearer {api_key}"}

    def send(client, _number):
        return client.post("/v1/licences", json=body, headers=headers)

    return send


def api_issuance(servers: Sequence[Server], api_key: str, concurrency: int, count: int,
                 budget_s: float) -> Sample:
    urls = [s.base_url for s in servers]
    request = issue_request(api_key)
    # Warm every worker (its first licence loads fonts and builds its caches: ~0.3 s).
    # Behind one socket the kernel picks the worker, so send enough at once that each
    # gets some: with two requests both could land on one worker, leaving the other
    # to warm up inside the measured run.
    workers = sum(s.workers for s in servers)
    drive(urls, request, concurrency=4 * workers, count=16 * workers, budget_s=60)
    return drive(urls, request, concurrency=concurrency, count=count, budget_s=budget_s)


def memory_run(server: Server, api_key: str, count: int, budget_s: float,
               concurrency: int = 4) -> dict:
    """Issue ``count`` licences through one server; RSS of its worker(s) once warm (after
    the first tenth) and at the end, and the peak (VmHWM) over the whole run."""
    request = issue_request(api_key)
    warm = max(10, count // 10)
    drive([server.base_url], request, concurrency=concurrency, count=warm, budget_s=budget_s)
    pids = server.worker_pids()
    at_warm = {pid: memory_kb(pid)["VmRSS"] for pid in pids}
    sample = drive([server.base_url], request, concurrency=concurrency,
                   count=count - warm, budget_s=budget_s)
    workers = []
    for pid in pids:
        end = memory_kb(pid)
        workers.append({"pid": pid, "rss_warm_mb": round(at_warm[pid] / 1024, 1),
                        "rss_end_mb": round(end["VmRSS"] / 1024, 1),
                        "peak_mb": round(end["VmHWM"] / 1024, 1),
                        "growth_pct": round(100 * (end["VmRSS"] - at_warm[pid])
                                            / at_warm[pid], 1)})
    return {"licences": warm + sample.count, "errors": sample.errors,
            "rate_per_s": round(sample.rate, 2), "workers": workers,
            "peak_mb": max(w["peak_mb"] for w in workers),
            "growth_pct": max(w["growth_pct"] for w in workers)}


# -- scale ---------------------------------------------------------------------------------
STUB_PDF = b"%PDF-1.7\n% certseal bench: seeded row, not a sealed licence\n" + b"\0" * 960


def licence_count(under_test) -> int:
    with under_test.domain.session() as session:
        return session.exec(select(func.count()).select_from(Licence)).one()[0]


def seed_licences(under_test, total: int, *, pdf_bytes: bytes = STUB_PDF,
                  chunk: int = 5000) -> float:
    """Grow the licence tables to ``total`` rows by bulk-inserting copies of an issued
    licence (new serials, identifiers and status-list indexes; the serial and index
    counters moved past them, so issuance carries on after them). Documents get
    ``pdf_bytes`` (a 1 kB stub by default: 100,000 real 186 kB PDFs would be 19 GB of
    disk; the indexes issuance touches are the same). Returns the seconds it took."""
    started = time.perf_counter()
    have = licence_count(under_test)
    if have >= total:
        return 0.0
    template = under_test.licences[TYPE_CODE].licence
    engine = under_test.domain.engine
    department = under_test.department_id
    with engine.begin() as conn:
        serial = conn.execute(select(LicenceSerial.last_serial).where(
            LicenceSerial.type_code == TYPE_CODE,
            LicenceSerial.issuer_uscc == department)).scalar_one()
        index = conn.execute(select(LicenceStatusIndexCounter.next_index).where(
            LicenceStatusIndexCounter.department_id == department)).scalar_one()
        row = {c.name: getattr(template, c.name) for c in Licence.__table__.columns}
        digest = hashlib.sha256(pdf_bytes).hexdigest()
        remaining = total - have
        while remaining > 0:
            n = min(chunk, remaining)
            licences, documents, history = [], [], []
            for _ in range(n):
                serial += 1
                licence_id = str(LicenceId(TYPE_CODE, department, serial, 1))
                licences.append({**row, "licence_id": licence_id, "status_index": index,
                                 "idempotency_key": None, "request_digest": None,
                                 "supersedes": None})
                index += 1
                documents.append({"licence_id": licence_id, "pdf": pdf_bytes,
                                  "sha256": digest})
                history.append({"licence_id": licence_id, "from_status": None,
                                "to_status": "valid", "reason": "issued (bench seed)",
                                "actor": "bench", "at": template.issued_at})
            conn.execute(insert(Licence.__table__), licences)
            conn.execute(insert(LicenceDocument.__table__), documents)
            conn.execute(insert(LicenceStatusChange.__table__), history)
            remaining -= n
        conn.execute(update(LicenceSerial).where(
            LicenceSerial.type_code == TYPE_CODE, LicenceSerial.issuer_uscc == department)
            .values(last_serial=serial))
        conn.execute(update(LicenceStatusIndexCounter).where(
            LicenceStatusIndexCounter.department_id == department).values(next_index=index))
    return time.perf_counter() - started


def scale(under_test, sizes: Sequence[int], count: int, budget_s: float) -> list[dict]:
    results = []
    for size in sizes:
        seeded_in = seed_licences(under_test, size)
        sample = library_issuance(under_test, count, budget_s)
        results.append({"stored_licences": size, "seed_seconds": round(seeded_in, 2),
                        **sample.summary()})
    return results
