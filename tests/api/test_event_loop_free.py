"""Blocking work (HSM calls, database queries, building a verifier's context from files,
sealing, verification) never runs on the server's event loop: each of those entry points
is watched while real requests of every kind go through the served app, and a call made
from the event loop's own thread (not one of the worker threads routes hand work to)
fails the test.

Deliberate exception: the OCSP fast path's status check reads a held SQLite connection
directly (one indexed ``SELECT max(id)``, microseconds; see api/ocsp_fast.py), not through
the ORM session watched here."""

from __future__ import annotations

import asyncio
import base64
import functools
import threading

import pytest
from sqlalchemy.orm import Session

from certs.samples import sample_licence_data
from certseal.verifying import Verifier
from hsm.token import Token

WATCHED = [(Token, "_run"), (Session, "execute"), (Verifier, "context")]


def _on_the_event_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False  # a plain worker thread
    # verify_blocking runs its own loop inside a worker thread: that is not the server's.
    return threading.current_thread().name != "AnyIO worker thread"


@pytest.fixture
def blocking_calls_on_the_loop(monkeypatch):
    seen: list[str] = []
    for owner, name in WATCHED:
        original = getattr(owner, name)

        @functools.wraps(original)
        def watched(*args, __original=original, __what=f"{owner.__name__}.{name}", **kw):
            if _on_the_event_loop():
                seen.append(__what)
            return __original(*args, **kw)

        monkeypatch.setattr(owner, name, watched)
    return seen


def test_no_request_blocks_the_event_loop(served_api, blocking_calls_on_the_loop):
    under_test = served_api.under_test
    licence = under_test.licences["zyzgzs"].licence
    pdf = under_test.licences["yyzz"].pdf
    with served_api.department as department:
        issued = department.post("/v1/licences", json={
            "type": "yyzz", "data": sample_licence_data("yyzz")})
        assert issued.status_code == 201, issued.text
        licence_id = issued.json()["licence_id"]
        for path in (f"/v1/licences/{licence_id}", f"/v1/licences/{licence_id}/pdf"):
            assert department.get(path).status_code == 200, path
        assert department.post(f"/v1/licences/{licence_id}/suspend",
                               json={"reason": "核查中"}).status_code == 200
    with served_api.citizen(licence.holder_identifier) as citizen:
        assert citizen.get("/v1/me/licences").status_code == 200
    with served_api.client() as anyone:
        verified = anyone.post("/v1/verify", content=pdf,
                               headers={"Content-Type": "application/pdf"})
        assert verified.status_code == 200, verified.text
        from verify.limits import DEFAULT_LIMITS
        from verify.pdf_qr import qr_texts_of_first_page
        (qr,) = qr_texts_of_first_page(pdf, DEFAULT_LIMITS)
        assert anyone.post("/v1/verify", content=qr.encode(),
                           headers={"Content-Type": "text/plain"}).status_code == 200
        for path in ("/healthz", "/readyz", "/pki/trust-list", "/pki/status",
                     f"/pki/status/{under_test.department_id}", "/pki/crl/issuing.crl",
                     "/pki/ca/issuing.crt"):
            answer = anyone.get(path)
            assert answer.status_code in (200, 503), (path, answer.status_code)
        request = _ocsp_request(under_test)
        assert anyone.post("/pki/ocsp", content=request, headers={
            "Content-Type": "application/ocsp-request"}).status_code == 200
        get = base64.b64encode(request).decode()
        assert anyone.get(f"/pki/ocsp/{get}").status_code == 200
    assert blocking_calls_on_the_loop == []


def test_the_watch_can_fail(served_api, blocking_calls_on_the_loop):
    """The watch itself: a query made on the loop is seen."""
    async def on_the_loop():
        with served_api.under_test.domain.session() as session:
            from sqlalchemy import text
            session.execute(text("select 1"))

    asyncio.run(on_the_loop())
    assert blocking_calls_on_the_loop == ["Session.execute"]


def _ocsp_request(under_test) -> bytes:
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.x509 import ocsp

    certificates = under_test.domain.certificates()
    builder = ocsp.OCSPRequestBuilder().add_certificate(
        certificates.issuing, certificates.root, hashes.SHA256())
    return builder.build().public_bytes(serialization.Encoding.DER)
