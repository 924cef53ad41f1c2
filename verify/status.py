"""Licence status: what the issuing department says about a licence now (valid, suspended,
revoked), from its signed per-department status list, live or as last synced.

The verifier consumes a small interface; the edge adapts the real status-list reader to it
(``certseal.verifying``). A source answers None when it knows nothing about the licence."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Protocol

GOOD_STATUSES = ("valid",)


@dataclass(frozen=True)
class LicenceStatusFact:
    status: str  # "valid", "suspended", "revoked", ...
    as_of: dt.datetime  # when the list saying so was issued
    live: bool  # fetched for this verification, rather than from the last sync
    source: str  # e.g. the URL or file of the status list

    def age(self, now: dt.datetime) -> dt.timedelta:
        return now - self.as_of


@dataclass(frozen=True)
class LicenceRef:
    licence_id: str
    issuer_uscc: str
    status_index: int | None
    issued_at: dt.datetime | None = None  # a list signed before this says nothing of it


class LicenceStatusSource(Protocol):
    async def status_of(self, ref: LicenceRef, *, offline: bool) -> LicenceStatusFact | None:
        """None when unknown or unreachable; never raises for a network failure."""
        ...
