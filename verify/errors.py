"""Errors of the verifier: input that cannot be judged at all, and a verifier that is not set
up. A document that checks out as forged or revoked is a report, never an exception."""

from __future__ import annotations


class VerifyError(Exception):
    """Base of every error raised by ``verify``."""

    code = "verify_error"


class UnusableInput(VerifyError, ValueError):
    """Not a licence we can judge: garbage, an unsigned PDF, an image without our QR code."""

    code = "unusable_input"


class InputTooLarge(UnusableInput):
    code = "input_too_large"


class TooComplex(UnusableInput):
    """The input kept the verifier busy past its time budget."""

    code = "input_too_complex"


class NotSigned(UnusableInput):
    """A readable PDF that carries no signature to verify."""

    code = "not_signed"


class NoQrCode(UnusableInput):
    code = "no_qr_code"


class AmbiguousQrCodes(UnusableInput):
    """Several QR codes of ours in one image: the clerk must scan the one they mean."""

    code = "ambiguous_qr_codes"


class VerifierNotConfigured(VerifyError):
    """No accepted trust list: nothing could ever be trusted, so nothing is judged."""

    code = "verifier_not_configured"
