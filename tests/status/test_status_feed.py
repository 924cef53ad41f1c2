"""The certificate status feed drops exactly the cached OCSP answers whose status moved,
for a change committed behind the responder's back (as another process would)."""

from __future__ import annotations

import datetime as dt

import domain_kit
from cryptography import x509

from ca.models import CertificateStatusEvent, serial_text
from ca.revocation import revoke_certificate
from ca.status_feed import CertificateStatusFeed
from certseal.db import transaction
from seal.registry import get_seal


def test_the_feed_invalidates_only_changed_serials(fresh_domain):
    domain = fresh_domain.domain
    responder = domain.ocsp_responder()
    certs = domain.certificates()
    with domain.session() as session:
        seal_serial = int(get_seal(session, fresh_domain.seal_id).certificate_serial, 16)
    feed = CertificateStatusFeed(domain.engine)
    responder.preproduce(certs.tsa.serial_number)
    assert feed.sync(responder) == -1 and responder.cached_count == 0  # first call: all
    responder.preproduce(certs.tsa.serial_number)
    responder.preproduce(seal_serial)
    assert responder.cached_count == 4  # SHA-1 and SHA-256 CertIDs of each
    assert feed.sync(responder) == 0 and responder.cached_count == 4

    with transaction(domain.engine) as session:  # no invalidate(): another process did it
        revoke_certificate(session, seal_serial, x509.ReasonFlags.key_compromise,
                           actor="elsewhere")
    assert feed.sync(responder) == 1
    assert responder.cached_count == 2  # the TSA's answers stay cached
    assert feed.sync(responder) == 0


def test_is_current_only_while_nothing_changed_since_the_last_sync(fresh_domain):
    domain = fresh_domain.domain
    responder = domain.ocsp_responder()
    with domain.session() as session:
        seal_serial = int(get_seal(session, fresh_domain.seal_id).certificate_serial, 16)
    feed = CertificateStatusFeed(domain.engine)
    # SQLite on a file: checked on the event loop. PostgreSQL: a round trip, so never
    # current without a sync (which the fast path runs in a worker thread).
    on_the_loop = domain.engine.url.get_backend_name() == "sqlite"
    assert feed.cheap is on_the_loop
    assert not feed.is_current()  # never synced: nothing cached can be vouched for
    feed.sync(responder)
    assert feed.is_current() is on_the_loop and feed.is_current() is on_the_loop
    domain_kit.revoke_elsewhere(domain, seal_serial, actor="elsewhere")
    assert not feed.is_current() and not feed.is_current()  # stays so until a sync
    assert feed.sync(responder) == 1
    assert feed.is_current() is on_the_loop
    assert feed.sync(responder) == 0


def test_an_event_committed_late_below_the_newest_id_drops_every_answer(fresh_domain):
    """PostgreSQL takes sequence values before commit: id 50 may become visible after
    id 100. A feed that does not rely on commit order must not miss it."""
    domain = fresh_domain.domain
    responder = domain.ocsp_responder()
    certs = domain.certificates()
    with domain.session() as session:
        seal_serial = get_seal(session, fresh_domain.seal_id).certificate_serial
    tsa_serial = serial_text(certs.tsa.serial_number)  # as the table writes serials
    feed = CertificateStatusFeed(domain.engine, ids_in_commit_order=False)
    assert not feed.cheap and not feed.is_current()  # synced in a worker thread instead
    feed.sync(responder)

    def event(event_id: int, serial: str) -> None:
        with transaction(domain.engine) as session:
            session.add(CertificateStatusEvent(id=event_id, serial=serial, status="good",
                                               at=dt.datetime.now(dt.UTC), actor="test"))

    event(100, seal_serial)
    responder.preproduce(int(seal_serial, 16))
    responder.preproduce(certs.tsa.serial_number)
    assert feed.sync(responder) == 1 and responder.cached_count == 2  # the seal's dropped
    responder.preproduce(int(seal_serial, 16))
    event(50, tsa_serial)  # below the newest id seen
    assert feed.sync(responder) == -1 and responder.cached_count == 0
    assert feed.sync(responder) == 0
