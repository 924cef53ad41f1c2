"""A counter's sync: bring everything ``certseal verify --offline`` needs into the home.

The accepted regions' trust lists (fetched again and re-verified against their pins), every
department's signed status list those regions publish, and a current status answer (OCSP,
else the CRL) for each seal certificate those lists name. Each item is reported with its
age (how long ago its issuer signed it) or with why it could not be fetched; one failure
does not stop the others.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from certseal.settings import Settings
from certseal.verifying import SyncItem, verifier_for

COUNTER_ENTRIES = ("trust-lists", "verify-cache")


def is_counter_home(home: Path) -> bool:
    """A home that only verifies: trust lists and caches, no CA, HSM or database."""
    return home.is_dir() and not (home / "certseal.toml").exists() and all(
        p.name in COUNTER_ENTRIES for p in home.iterdir())


@dataclass(frozen=True)
class SyncReport:
    items: tuple[SyncItem, ...]
    at: datetime

    @property
    def failed(self) -> tuple[SyncItem, ...]:
        return tuple(i for i in self.items if not i.ok)

    def to_json(self) -> dict:
        return {"synced_at": self.at.isoformat(),
                "items": [i.to_json(self.at) for i in self.items],
                "failed": len(self.failed)}


def sync_home(settings: Settings, *, timeout: float = 10.0) -> SyncReport:
    from certseal.trust import accepted_trust_lists, refresh_trust_lists

    refresh = refresh_trust_lists(settings, timeout=timeout)
    accepted = {s.trust_list.region_code: s for s in accepted_trust_lists(settings)}
    items: list[SyncItem] = []
    refreshed = {o.region_code: o for o in refresh.outcomes}
    for region, signed in sorted(accepted.items()):
        if region not in refreshed:  # this home's own list: nothing to fetch
            items.append(SyncItem("trust_list", _list_name(signed), signed.trust_list.issued_at))
    for outcome in refresh.outcomes:
        signed = accepted.get(outcome.region_code)
        name = _list_name(signed) if signed else outcome.region_code
        items.append(SyncItem(
            "trust_list", name, signed.trust_list.issued_at if signed else None,
            outcome.message if outcome.outcome == "failed" else None))
    if accepted:
        verifier = verifier_for(settings.home)
        items.extend(asyncio.run(verifier.sync_items(timeout)))
    return SyncReport(tuple(items), datetime.now(UTC))


def _list_name(signed) -> str:
    tl = signed.trust_list
    return f"{tl.region_code} {tl.region_name} #{tl.sequence_number}"


def age_text(seconds: int | None) -> str:
    if seconds is None:
        return "-"
    seconds = max(seconds, 0)
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds // size} {unit}"
    return f"{seconds} s"
