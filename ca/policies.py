"""The operator's policy arc and the policies under it.

An operator registers an arc (an enterprise number under 1.3.6.1.4.1, or its government's
own) and configures it; under it, ``.1`` is the e-seal certificate policy (v1) and ``.2``
the time-stamp policy (v1: time from the host clock, NTP-disciplined; accuracy as
configured; SHA-256/384/512 imprints; tokens signed by a key held in the HSM).

Every arc must fit 32 bits: parsers with 32- or 64-bit arcs (pkilint, Go before its OID
type, many embedded stacks) refuse larger ones, which the UUID arc 2.25 produces. The
default, 1.3.6.1.4.1.32473 (RFC 5612, the enterprise number for documentation), is for
development only; production settings refuse it.
"""

from __future__ import annotations

from cryptography import x509

EXAMPLE_POLICY_ARC = "1.3.6.1.4.1.32473.1"
_ESEAL, _TIME_STAMP = "1", "2"
_MAX_ARC = 2**32 - 1


def checked_arc(arc: str) -> str:
    """``arc`` if it is a dotted OID whose every component fits 32 bits, else ValueError."""
    if not isinstance(arc, str):
        raise TypeError("policy arc must be a dotted OID string")
    parts = arc.strip().split(".")
    if len(parts) < 2 or not all(p.isdigit() and (p == "0" or not p.startswith("0"))
                                  for p in parts):
        raise ValueError(f"policy arc {arc!r} is not a dotted OID such as 1.3.6.1.4.1.N")
    if int(parts[0]) > 2 or (int(parts[0]) < 2 and int(parts[1]) > 39):
        raise ValueError(f"policy arc {arc!r} is not a valid OID")
    if any(int(p) > _MAX_ARC for p in parts):
        raise ValueError(f"policy arc {arc!r} has a component larger than 32 bits")
    return arc.strip()


def eseal_policy_oid(arc: str = EXAMPLE_POLICY_ARC) -> x509.ObjectIdentifier:
    return x509.ObjectIdentifier(f"{checked_arc(arc)}.{_ESEAL}")


def tsa_policy_oid(arc: str = EXAMPLE_POLICY_ARC) -> str:
    return f"{checked_arc(arc)}.{_TIME_STAMP}"
