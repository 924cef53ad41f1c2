"""Errors of PAdES sealing (subclasses of the room's `SealError`)."""

from __future__ import annotations

from seal.errors import SealError


class SealCertificateNotValid(SealError):
    """The seal certificate is expired or not yet valid at the signing time."""

    code = "seal_certificate_not_valid"


class SealCertificateRevoked(SealError):
    """The OCSP responder says the seal certificate is revoked (or does not know it)."""

    code = "seal_certificate_revoked"


class SealMaterialInvalid(SealError):
    """Key, certificate, chain or image of a seal do not fit together or cannot be read."""

    code = "seal_material_invalid"


class SealPlacementInvalid(SealError):
    """The seal's page or rectangle does not fit the document."""

    code = "seal_placement_invalid"


class ValidationDataUnavailable(SealError):
    """The revocation data needed for B-LT could not be obtained or does not check out."""

    code = "validation_data_unavailable"


class TimestampFailed(SealError):
    """The time-stamp authority refused or gave an unusable answer."""

    code = "timestamp_failed"


class SealingFailed(SealError):
    """pyHanko could not produce the signed document (reason in the message)."""

    code = "sealing_failed"
