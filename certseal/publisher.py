"""The scheduler that keeps a domain's published objects current: every worker of
``certseal serve`` runs one, and ``TrustDomain.publish_due`` lets only one of them sign at
a time (a lock across processes and, on PostgreSQL, machines), so reads only read."""

from __future__ import annotations

import logging
import threading

log = logging.getLogger("certseal.publisher")

DEFAULT_INTERVAL_SECONDS = 60.0


class Publisher:
    """Calls ``domain.publish_due()`` at start and then every ``interval`` seconds in a
    daemon thread; a failure (HSM or database down) is logged and retried at the next
    tick."""

    def __init__(self, domain, *, interval: float = DEFAULT_INTERVAL_SECONDS) -> None:
        if interval <= 0:
            raise ValueError("interval: must be positive")
        self._domain, self._interval = domain, interval
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
                published = self._domain.publish_due()
                if published:
                    log.info("published %s", ", ".join(published))
            except Exception:
                log.exception("publishing failed; retrying in %.0f s", self._interval)
            self.runs += 1
            self._stop.wait(self._interval)
