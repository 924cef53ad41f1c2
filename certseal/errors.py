"""Errors of the edge (home directory, configuration) in the same flat style as the rooms."""


class CertsealError(Exception):
    """Base of errors raised by the composition root."""

    code = "certseal_error"


class HomeExists(CertsealError):
    code = "home_exists"


class HomeMissing(CertsealError):
    code = "home_missing"


class VerificationBusy(CertsealError):
    """Every verification worker is busy and the wait for one is full or over."""

    code = "verification_busy"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after
