"""Licence revocation, suspension and reinstatement by the issuing department (API and
CLI), seen at once through GET /v1/licences/{id} and the signed status list."""

from __future__ import annotations

import datetime as dt

import httpx
import pytest
from cryptography import x509
from status_testkit import certseal_json, served_fresh_domain

from certs.identifiers import make_uscc
from certs.registry import get_licence, licence_history
from certs.status_list import INVALID, SUSPENDED, VALID, StatusListInvalid, read_status_list


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    with served_fresh_domain(tmp_path_factory.mktemp("licence-status") / "home") as under_test:
        other = under_test.domain.add_department(
            name="深圳市市场监督管理局", uscc=make_uscc("11440300MB2C92397"),
            licence_types=["yyzz"])
        under_test.other_api_key = other.api_key
        under_test.other_department_id = other.department_id
        yield under_test


def _auth(key: str) -> dict:
    return {"Authorization": f"Bearer {key}"}


def _post(served, licence_id: str, action: str, reason: str = "court order 2026-17",
          key: str | None = None) -> httpx.Response:
    return httpx.post(f"{served.base_url}/v1/licences/{licence_id}/{action}",
                      json={"reason": reason}, headers=_auth(key or served.api_key),
                      timeout=30)


def _get_status(served, licence_id: str) -> str:
    got = httpx.get(f"{served.base_url}/v1/licences/{licence_id}",
                    headers=_auth(served.api_key), timeout=30)
    assert got.status_code == 200, got.text
    return got.json()["status"]


def test_revoke_through_the_api_reads_revoked_at_once_with_who_and_why(served):
    licence_id = served.issue("yyzz").licence_id
    assert _get_status(served, licence_id) == "valid"
    done = _post(served, licence_id, "revoke", reason="licence obtained by fraud")
    assert done.status_code == 200, done.text
    assert done.json() == {"licence_id": licence_id, "status": "revoked",
                           "reason": "licence obtained by fraud",
                           "actor": f"department:{served.department_id}"}
    assert _get_status(served, licence_id) == "revoked"
    with served.domain.session() as session:
        last = licence_history(session, licence_id)[-1]
    assert (last.from_status, last.to_status, last.reason, last.actor) == (
        "valid", "revoked", "licence obtained by fraud", f"department:{served.department_id}")
    assert abs(last.at.replace(tzinfo=dt.UTC) - dt.datetime.now(dt.UTC)) < dt.timedelta(
        minutes=1)
    again = _post(served, licence_id, "reinstate")
    assert again.status_code == 409 and again.json()["code"] == "invalid_transition"


def test_only_the_issuing_department_may_change_a_status(served):
    licence_id = served.issue("yyzz").licence_id
    stranger = _post(served, licence_id, "revoke", key=served.other_api_key)
    assert stranger.status_code == 404 and stranger.json()["code"] == "licence_not_found"
    anonymous = httpx.post(f"{served.base_url}/v1/licences/{licence_id}/revoke",
                           json={"reason": "x"}, timeout=30)
    assert anonymous.status_code == 401
    forged = _post(served, licence_id, "suspend", key="csk_not-a-real-key")
    assert forged.status_code == 401
    for blank in ("", "   "):
        empty = _post(served, licence_id, "revoke", reason=blank)
        assert empty.status_code == 422 and empty.json()["code"] == "invalid_request"
    assert _get_status(served, licence_id) == "valid"


def test_suspend_and_reinstate_through_the_api(served):
    licence_id = served.issue("yyzz").licence_id
    assert _post(served, licence_id, "suspend").json()["status"] == "suspended"
    assert _get_status(served, licence_id) == "suspended"
    assert _post(served, licence_id, "suspend").status_code == 409
    assert _post(served, licence_id, "reinstate", reason="appeal upheld").json()["status"] \
        == "valid"
    assert _get_status(served, licence_id) == "valid"
    with served.domain.session() as session:
        steps = [(h.to_status, h.reason) for h in licence_history(session, licence_id)]
    assert steps == [("valid", "issued"), ("suspended", "court order 2026-17"),
                     ("valid", "appeal upheld")]


def test_cli_revocation_in_another_process_is_visible_through_the_api(served):
    licence_id = served.issue("yyzz").licence_id
    out = certseal_json(served.home, "revoke", licence_id, "--reason", "holder deceased",
                        "--department", served.department_id)
    assert out["status"] == "revoked" and out["actor"].startswith("operator:")
    assert _get_status(served, licence_id) == "revoked"


def _status_list(served, department_id: str, **headers) -> httpx.Response:
    return httpx.get(f"{served.base_url}/pki/status/{department_id}", headers=headers,
                     timeout=30)


def _issuing_ca(served) -> x509.Certificate:
    return x509.load_pem_x509_certificate(
        (served.published / "issuing-ca.pem").read_bytes())


def test_the_signed_status_list_shows_revoked_and_suspended_licences(served):
    revoked, suspended, valid = (served.issue("yyzz").licence for _ in range(3))
    assert len({revoked.status_index, suspended.status_index, valid.status_index}) == 3
    first = _status_list(served, served.department_id)
    assert first.status_code == 200
    assert first.headers["content-type"] == "application/statuslist+jwt"

    assert _post(served, revoked.licence_id, "revoke").status_code == 200
    assert _post(served, suspended.licence_id, "suspend").status_code == 200
    answer = _status_list(served, served.department_id)
    assert answer.headers["etag"] != first.headers["etag"]  # re-signed on change
    listed = read_status_list(answer.text, [_issuing_ca(served)])
    assert listed.status_at(revoked.status_index) == INVALID
    assert listed.status_at(suspended.status_index) == SUSPENDED
    assert listed.status_at(valid.status_index) == VALID
    assert listed.subject == f"{served.base_url}/pki/status/{served.department_id}"
    seal_pem = (served.published / "seals" / f"{served.seal_id}.pem").read_bytes()
    assert listed.signer == x509.load_pem_x509_certificate(seal_pem)
    assert listed.expires_at - listed.issued_at == dt.timedelta(hours=24)

    unchanged = _status_list(served, served.department_id,
                             **{"If-None-Match": answer.headers["etag"]})
    assert unchanged.status_code == 304

    header, payload, signature = answer.text.split(".")
    flipped = signature[:10] + ("A" if signature[10] != "A" else "B") + signature[11:]
    with pytest.raises(StatusListInvalid):
        read_status_list(f"{header}.{payload}.{flipped}", [_issuing_ca(served)])

    with served.domain.session() as session:  # the licence record agrees with the list
        assert get_licence(session, revoked.licence_id).status == "revoked"


def test_the_index_lists_every_department_and_unknown_ones_are_404(served):
    index = httpx.get(f"{served.base_url}/pki/status", timeout=30).json()
    urls = {ref["department_id"]: ref["url"] for ref in index["status_lists"]}
    assert urls == {
        served.department_id: f"{served.base_url}/pki/status/{served.department_id}",
        served.other_department_id:
            f"{served.base_url}/pki/status/{served.other_department_id}",
    }
    other = _status_list(served, served.other_department_id)
    assert read_status_list(other.text, [_issuing_ca(served)]).status_at(0) == VALID
    assert _status_list(served, "11440100MB2C92397X").status_code == 404
