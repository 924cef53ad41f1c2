"""Errors of the edge (home directory, configuration) in the same flat style as the rooms."""


class CertsealError(Exception):
    """Base of errors raised by the composition root."""

    code = "certseal_error"


class HomeExists(CertsealError):
    code = "home_exists"


class HomeMissing(CertsealError):
    code = "home_missing"
