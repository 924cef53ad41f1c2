"""The one query issuance makes about a department before each licence."""

from __future__ import annotations

import pytest

from certseal.status import reinstate_seal, suspend_seal
from seal.errors import DepartmentNotFound
from seal.registry import issuing_parties


def test_issuing_parties_reads_department_grant_seal_and_certificate(fresh_domain) -> None:
    domain = fresh_domain.domain
    department_id = fresh_domain.department_id
    with domain.session() as session:
        parties = issuing_parties(session, department_id, "yyzz")
        assert parties.department.department_id == department_id
        assert parties.granted
        assert parties.seal is not None and parties.seal.seal_id == fresh_domain.seal_id
        assert parties.certificate is not None
        assert parties.certificate.serial == parties.seal.certificate_serial
        assert not issuing_parties(session, department_id, "no-such-type").granted
        with pytest.raises(DepartmentNotFound):
            issuing_parties(session, "91350100M000100Y43", "yyzz")

    suspend_seal(domain, fresh_domain.seal_id)
    with domain.session() as session:
        suspended = issuing_parties(session, department_id, "yyzz")
        assert suspended.seal is None and suspended.certificate is None
        assert suspended.granted and suspended.department.department_id == department_id
    reinstate_seal(domain, fresh_domain.seal_id)
    with domain.session() as session:
        assert issuing_parties(session, department_id, "yyzz").seal is not None
