"""/pki/trust-list: the newest publication, re-signed by the publisher once half its
validity has passed (so a served list is never past its next update), with an ETag
refresh can send back."""

from __future__ import annotations

import datetime as dt

from cryptography import x509
from fastapi.testclient import TestClient

from api.app import create_app
from ca.trustlist import read_trust_list
from certseal.trust import publish_due_trust_list, served_trust_list


def test_served_list_is_resigned_at_half_validity_and_revalidated_by_etag(fresh_domain):
    domain = fresh_domain.domain
    signer = x509.load_pem_x509_certificate(
        (fresh_domain.published / "trust-list-signer.pem").read_bytes())
    first = read_trust_list(served_trust_list(domain), signer).trust_list
    halfway = first.issued_at + (first.next_update - first.issued_at) / 2
    assert not publish_due_trust_list(domain, now=halfway - dt.timedelta(seconds=1))
    assert read_trust_list(served_trust_list(domain), signer).trust_list == first

    assert publish_due_trust_list(domain, now=halfway)
    second = read_trust_list(served_trust_list(domain), signer).trust_list
    assert second.sequence_number == first.sequence_number + 1
    assert second.next_update > first.next_update
    assert not publish_due_trust_list(domain, now=halfway + dt.timedelta(seconds=1))
    assert (fresh_domain.published / "trust-list.jws").read_bytes() == \
        served_trust_list(domain)

    with TestClient(create_app(domain.settings, domain=domain)) as client:
        answer = client.get("/pki/trust-list")
        assert answer.status_code == 200 and answer.content == served_trust_list(domain)
        etag = answer.headers["etag"]
        again = client.get("/pki/trust-list", headers={"If-None-Match": etag})
        assert again.status_code == 304 and again.content == b""
        other = client.get("/pki/trust-list", headers={"If-None-Match": '"0"'})
        assert other.status_code == 200
