"""Typed errors of the PKI core: one base class, a flat set below it.

Bad *shapes* of input (a wrong type, an empty name, a malformed code) fail at once with
TypeError/ValueError, as cryptography's builders do. These errors are for requests that are
well formed but that the state of the CA refuses.
"""


class CaError(Exception):
    """Base of the CA room's domain errors."""

    code = "ca_error"


class HierarchyExists(CaError):
    """A trust domain already has its CA hierarchy; it is never overwritten."""

    code = "hierarchy_exists"


class CaNotFound(CaError):
    """No certificate authority of that name (the hierarchy is not set up)."""

    code = "ca_not_found"


class CertificateNotFound(CaError):
    """No certificate with that serial was issued here."""

    code = "certificate_not_found"


class AlreadyRevoked(CaError):
    """The certificate is already revoked, or already on hold when a hold is asked again."""

    code = "already_revoked"


class NotSuspended(CaError):
    """Only a certificate on hold (certificateHold) can be reinstated."""

    code = "not_suspended"


class RevocationRefused(CaError):
    """The revocation asked for cannot be expressed (e.g. the self-signed root)."""

    code = "revocation_refused"


class SigningKeyMismatch(CaError):
    """The signing key given is not the key of the CA certificate it should sign for."""

    code = "signing_key_mismatch"
