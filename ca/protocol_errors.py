"""Errors of the PKI protocol responders (OCSP, time-stamping).

The responders themselves never raise on bad input: a malformed request is answered with a
protocol-level error response. These exceptions cover what the caller can get wrong around them:
a responder wired with certificates that cannot work, or a GET path that is not base64.
The lead may fold `CaProtocolError` under the room's base class in ca/errors.py.
"""


class CaProtocolError(Exception):
    """Base of errors raised by the OCSP responder and the time-stamp authority."""

    code = "ca_protocol_error"


class ResponderMisconfigured(CaProtocolError):
    """The certificates or key given to a responder cannot produce verifiable answers."""

    code = "responder_misconfigured"


class OcspGetPathInvalid(CaProtocolError):
    """The path segment of an OCSP GET request is not a base64 DER request."""

    code = "ocsp_get_path_invalid"
