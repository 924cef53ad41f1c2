"""The issuing authority a licence names (登记机关, 发证机关) is the department whose e-seal
goes on it: the page prints that department under the seal, the QR payload and the
verification report name it as the issuer. Submitted data may leave the field out (it is
filled in) or repeat the department's name; data naming another authority is refused,
never printed under a seal that is not its own.
"""

from __future__ import annotations

import unicodedata
from typing import Any

from certs.catalogue import LicenceType
from certs.errors import IssuingAuthorityMismatch


def with_issuing_authority(licence_type: LicenceType, data: Any, issuer_name: str) -> Any:
    """``data`` with the type's issuer field naming ``issuer_name`` (the sealing
    department), or ``IssuingAuthorityMismatch`` when it names another authority.

    Data that is not an object, or a field that is not a string, is returned unchanged:
    the schema check reports those. Names are compared after Unicode compatibility
    normalisation (full-width and half-width forms alike) and without white space."""
    field = licence_type.issuer_field
    if field is None or not isinstance(data, dict):
        return data
    given = data.get(field)
    if given is None:
        return {**data, field: issuer_name}
    if isinstance(given, str) and _comparable(given) != _comparable(issuer_name):
        raise IssuingAuthorityMismatch(field, given, issuer_name)
    return data


def _comparable(name: str) -> str:
    return "".join(unicodedata.normalize("NFKC", name).split())
