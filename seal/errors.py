"""Errors of the seal room: the registry of departments and seals, and sealing."""


class SealError(Exception):
    """Base of the seal room's errors."""

    code = "seal_error"


class DepartmentExists(SealError):
    code = "department_exists"


class DepartmentNotFound(SealError):
    code = "department_not_found"


class SealNotFound(SealError):
    code = "seal_not_found"


class UnknownLicenceType(SealError):
    code = "unknown_licence_type"


class SealUnusable(SealError):
    """The seal exists but may not seal now (revoked, suspended, expired)."""

    code = "seal_unusable"


class LicenceTypeNotGranted(SealError):
    """The department may not issue licences of this type."""

    code = "licence_type_not_granted"


class DepartmentInactive(SealError):
    code = "department_inactive"
