"""The certificate status feed drops exactly the cached OCSP answers whose status moved,
for a change committed behind the responder's back (as another process would)."""

from __future__ import annotations

from cryptography import x509

from ca.revocation import revoke_certificate
from certseal.db import transaction
from certseal.status import CertificateStatusFeed
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
