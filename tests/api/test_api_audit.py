"""Actions over HTTP land in the audit log with who did them and from where."""

from __future__ import annotations

from sqlmodel import select

from ca.audit_models import AuditEntry
from certs.samples import sample_licence_data


def entries(domain, action: str, subject: str) -> list[AuditEntry]:
    with domain.session() as session:
        return list(session.exec(select(AuditEntry).where(
            AuditEntry.action == action, AuditEntry.subject == subject)).all())


def test_issuance_and_download_over_http_are_audited_with_their_source(served_api):
    domain = served_api.under_test.domain
    with served_api.department as client:
        issued = client.post("/v1/licences", json={"type": "yyzz",
                                                   "data": sample_licence_data("yyzz")})
        assert issued.status_code == 201, issued.text
        licence_id = issued.json()["licence_id"]
        assert client.get(f"/v1/licences/{licence_id}/pdf").status_code == 200
    department = served_api.under_test.department_id
    (issue,) = entries(domain, "licence.issued", licence_id)
    assert issue.source == "http:127.0.0.1"
    assert issue.actor == f"department:{department}"
    (download,) = entries(domain, "licence.downloaded", licence_id)
    assert download.source == "http:127.0.0.1"
    assert download.actor == f"department:{department}"


def test_citizen_download_is_audited_without_their_identity_number(served_api):
    domain = served_api.under_test.domain
    licence = served_api.under_test.licences["zyzgzs"]
    holder = licence.licence.holder_identifier
    with served_api.citizen(holder) as client:
        assert client.get(f"/v1/licences/{licence.licence_id}/pdf").status_code == 200
    found = entries(domain, "licence.downloaded", licence.licence_id)
    assert found and found[-1].actor.startswith("citizen:")
    assert holder not in found[-1].actor and holder[-4:] in found[-1].actor
