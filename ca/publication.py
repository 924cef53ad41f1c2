"""When a published object is re-signed: a CRL or trust list is re-issued once half its
validity has passed, so what is served is never past its next update even if one run of
the publisher is missed, and clients refreshing at nextUpdate always find a newer one."""

from __future__ import annotations

from datetime import datetime


def due(issued_at: datetime, next_update: datetime, now: datetime) -> bool:
    return now >= issued_at + (next_update - issued_at) / 2
