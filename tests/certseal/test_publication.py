"""Publication is scheduled, not done inside a read: GET /pki/crl, /pki/trust-list and
their XML forms serve what is recorded, even when it is due; ``publish_due`` (run by the
publisher of every server worker, one at a time across processes) re-signs what is due;
sealing, a write, renews a due CRL before it embeds one."""

from __future__ import annotations

import datetime as dt
import threading
import time

import domain_kit
from cryptography import x509
from fastapi.testclient import TestClient

from api.app import create_app
from ca import publication
from certseal.domain import TrustDomain
from certseal.publisher import Publisher, publish_due
from certseal.settings import load_settings
from hsm.token import Token


def crl_number(der: bytes) -> int:
    return x509.load_der_x509_crl(der).extensions.get_extension_for_class(
        x509.CRLNumber).value.crl_number


def _count_signatures(monkeypatch) -> list[str]:
    made: list[str] = []
    original = Token.sign_raw

    def counted(self, label, *args, **kw):
        made.append(label)
        return original(self, label, *args, **kw)

    monkeypatch.setattr(Token, "sign_raw", counted)
    return made


def test_reads_never_sign_even_when_everything_is_due(fresh_domain, monkeypatch):
    domain = fresh_domain.domain
    before = {name: domain.current_crl_der(name) for name in ("root", "issuing")}
    monkeypatch.setattr(publication, "due", lambda *_: True)
    signatures = _count_signatures(monkeypatch)
    with TestClient(create_app(domain.settings, domain=domain)) as client:
        for name in ("root", "issuing"):
            answer = client.get(f"/pki/crl/{name}.crl")
            assert answer.status_code == 200 and answer.content == before[name]
        lists = [client.get(path) for path in
                 ("/pki/trust-list", "/pki/trust-list.xml", "/pki/trust-list.sha2")]
        assert [a.status_code for a in lists] == [200, 200, 200]
        assert client.app.state.publisher is None  # a handed-in domain: the test's own
    assert signatures == []

    assert publish_due(domain) == ["crl", "trust-list"]
    assert signatures  # through the HSM
    after = {name: domain.current_crl_der(name) for name in ("root", "issuing")}
    assert all(crl_number(after[n]) == crl_number(before[n]) + 1 for n in after)
    with TestClient(create_app(domain.settings, domain=domain)) as client:
        assert client.get("/pki/trust-list").content != lists[0].content


def test_nothing_is_published_before_it_is_due(fresh_domain, monkeypatch):
    signatures = _count_signatures(monkeypatch)
    assert publish_due(fresh_domain.domain) == []
    assert signatures == []


def test_two_workers_publish_a_due_crl_once(fresh_domain):
    """Two domains on one home (two workers): the first signs, the second, let in after
    it, finds nothing due."""
    crl = x509.load_der_x509_crl(fresh_domain.domain.current_crl_der("issuing"))
    halfway = crl.last_update_utc + (crl.next_update_utc - crl.last_update_utc) / 2
    other = TrustDomain.open(load_settings(fresh_domain.home, **domain_kit.TEST_PIN_ENV))
    results: list[list[str]] = []
    start = threading.Barrier(2)

    def publish(domain):
        start.wait()
        results.append(publish_due(domain, now=halfway))

    try:
        threads = [threading.Thread(target=publish, args=(d,))
                   for d in (fresh_domain.domain, other)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
    finally:
        other.close()
    first, second = sorted(results)
    assert first == [] and second[0] == "crl"
    new = fresh_domain.domain.current_crl_der("issuing")
    assert crl_number(new) == crl.extensions.get_extension_for_class(
        x509.CRLNumber).value.crl_number + 1


def test_sealing_renews_a_due_crl_before_embedding_it(fresh_domain, monkeypatch):
    domain = fresh_domain.domain
    number = crl_number(domain.current_crl_der("issuing"))
    monkeypatch.setattr(publication, "due", lambda *_: True)
    embedded = domain.sealing_services().current_crls()
    assert crl_number(embedded[0]) == number + 1


def test_the_server_runs_a_publisher_that_survives_failures(fresh_domain):
    class Flaky:
        calls = 0

        @staticmethod
        def publish(_domain):
            Flaky.calls += 1
            if Flaky.calls == 1:
                raise RuntimeError("HSM unplugged")
            return []

    publisher = Publisher(fresh_domain.domain, interval=0.01, publish=Flaky.publish)
    publisher.start()
    deadline = time.monotonic() + 10
    while Flaky.calls < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    publisher.stop()
    assert Flaky.calls >= 3  # the failure did not end the loop

    # `certseal serve`'s app opens its own domain, and runs one.
    settings = fresh_domain.domain.settings
    with TestClient(create_app(settings)) as client:
        publisher = client.app.state.publisher
        assert isinstance(publisher, Publisher)
        deadline = time.monotonic() + 10
        while publisher.runs < 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert publisher.runs >= 1


def test_due_is_half_the_validity():
    issued = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    until = issued + dt.timedelta(days=2)
    assert not publication.due(issued, until, issued + dt.timedelta(hours=23, minutes=59))
    assert publication.due(issued, until, issued + dt.timedelta(days=1))
