"""The scheduler that keeps a domain's published objects current: every worker of
``certseal serve`` runs one, and ``publish_due`` lets only one of them sign at a time (a
lock across processes and, on PostgreSQL, machines), so reads only read."""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime

from certseal.list_of_lists import publish_due_list_of_lists
from certseal.trust import publish_due_trust_list

log = logging.getLogger("certseal.publisher")

DEFAULT_INTERVAL_SECONDS = 60.0


def publish_due(domain, now: datetime | None = None) -> list[str]:
    """Re-sign what is due (each CA's CRL, this region's trust list, a national list of
    lists; see ``ca.publication``) and say what was published."""
    now = now or datetime.now(UTC)
    published = []
    with domain.publication_lock():
        if domain.issue_due_crls(now=now):
            published.append("crl")
        if publish_due_trust_list(domain, now=now):
            published.append("trust-list")
        if publish_due_list_of_lists(domain, now=now):
            published.append("list-of-lists")
    return published


class Publisher:
    """Calls ``publish(domain)`` (``publish_due``) at start and then every ``interval``
    seconds in a daemon thread; a failure (HSM or database down) is logged and retried at the next
    tick."""

    def __init__(self, domain, *, interval: float = DEFAULT_INTERVAL_SECONDS,
                 publish=publish_due) -> None:
        if interval <= 0:
            raise ValueError("interval: must be positive")
        self._domain, self._interval, self._publish = domain, interval, publish
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.runs = 0  # ticks done (tests, /metrics)

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="certseal-publisher",
                                            daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                published = self._publish(self._domain)
                if published:
                    log.info("published %s", ", ".join(published))
            except Exception:
                log.exception("publishing failed; retrying in %.0f s", self._interval)
            self.runs += 1
            self._stop.wait(self._interval)
