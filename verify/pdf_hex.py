"""Interim: moved to verify/accel/ (installed on purpose, never on import); goes when
verify/pdf.py stops importing it."""


def install() -> None:
    """Nothing: see verify.accel.install."""
