"""PDF and image verification in a bounded pool of worker processes, with admission
control, so that no upload can starve OCSP, the TSA, issuance or health checks of the
server process.

- Each worker builds its own verifier from the settings once it has started (trust
  lists and caches of the home: no HSM, no database), runs at a lower CPU priority, and
  may map at most ``verify_worker_memory_mb`` of address space (RLIMIT_AS); it is
  replaced after ``verify_worker_max_tasks`` verifications.
- A verification past ``verify_budget_seconds`` is stopped by stopping its worker
  (pebble's per-task timeout); pebble starts a new one.
- At most ``verify_workers`` verifications run at once and at most ``verify_queue`` more
  wait, each for at most ``verify_queue_seconds``; any other request is refused at once
  with ``VerificationBusy`` (the API answers 503 with Retry-After). A request takes its
  place before its upload is read, so the uploads held in memory are bounded too.
- A caller that goes away (its task cancelled) gives its place back; a verification it
  left running is stopped with its worker.

Workers start from a fork server that has imported the verifier once, so a replacement
costs a fork and the verifier's set-up, not a new interpreter.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import dataclasses
import logging
import math
import multiprocessing
import os
import resource
import threading
from collections.abc import AsyncIterator, Callable
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from pebble import ProcessExpired, ProcessPool

from certseal.errors import VerificationBusy
from certseal.settings import Settings
from verify.errors import TooComplex, VerifyError
from verify.limits import DEFAULT_LIMITS

log = logging.getLogger("certseal.verification_pool")
# Below the server's own work (OCSP, TSA, issuance answer first when the CPU is short).
WORKER_NICENESS = 10
# Past the verifier's own budget (which refuses work that yields to its event loop
# cleanly), the worker is stopped: work that never yields cannot be interrupted otherwise.
KILL_GRACE_SECONDS = 1.0
# Modules the fork server imports once, so that every worker starts with them loaded.
PRELOAD = ["certseal.verification_pool", "certseal.verifying", "verify.inputs"]

Work = Callable[[bytes, bool], dict[str, Any]]


# -- in the worker processes ------------------------------------------------------------
@dataclasses.dataclass
class _WorkerState:
    settings: Settings
    verifier: Any = None  # certseal.verifying.Verifier, built at start or on first use


_worker: _WorkerState | None = None


def install_verifier_accelerator(settings: Settings) -> None:
    """The one place where the verifier's accelerator (verify/accel: the guarded
    speed-ups of pyHanko's and asn1crypto's readers) is installed: in verification
    workers only, never in the server process that seals. It refuses itself (a warning)
    on libraries other than the audited ones; a worker then verifies with them as
    shipped."""
    from verify import accel

    try:
        accel.install(settings.verify_accelerator)
    except Exception as exc:  # a worker must start whatever happens here
        log.warning("verification accelerator not installed: %s: %s", type(exc).__name__,
                    exc)


def start_worker(settings: Settings) -> None:
    """pebble's initializer, run in each new worker before its first task. Never raises:
    a worker whose initializer fails exits and is started again at once, in a loop."""
    global _worker
    try:
        os.nice(WORKER_NICENESS)
        limit = settings.verify_worker_memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        from certseal.cli import limit_malloc_arenas

        limit_malloc_arenas(2)  # fewer heaps reserved: address space is what is limited
    except (OSError, ValueError) as exc:
        log.warning("verification worker not limited: %s", exc)
    install_verifier_accelerator(settings)
    _worker = _WorkerState(settings)
    try:
        _worker_verifier()
    except VerifyError as exc:  # not configured yet: said per verification until it is
        log.warning("verification worker has no verifier yet: %s", exc)


def _worker_verifier():
    state = _worker
    if state is None:
        raise RuntimeError("not a verification worker (start_worker did not run)")
    if state.verifier is None:
        from certseal.verifying import verifier_for

        limits = dataclasses.replace(DEFAULT_LIMITS,
                                     verify_seconds=state.settings.verify_budget_seconds)
        state.verifier = verifier_for(state.settings.home, limits=limits)
    return state.verifier


def verify_in_worker(data: bytes, offline: bool) -> dict[str, Any]:
    """One verification in a worker: the report as JSON (what the API sends)."""
    from verify.inputs import verify_blocking

    context = _worker_verifier().context(offline=offline)
    return verify_blocking(data, context).to_json()


# -- in the server process --------------------------------------------------------------
class VerificationPool:
    """The server side: admission (places, bounded waits) and the pebble pool, started on
    first use. Places and waits belong to the event loop the pool is used from.

    ``work``: what a worker runs for one verification, ``verify_in_worker`` unless a
    test gives another picklable function of the same signature."""

    def __init__(self, settings: Settings, *, work: Work = verify_in_worker) -> None:
        self.settings = settings
        self.workers = settings.verify_workers
        self.places = settings.verify_workers + settings.verify_queue
        self.queue_seconds = settings.verify_queue_seconds
        self.timeout = settings.verify_budget_seconds + KILL_GRACE_SECONDS
        self.retry_after = max(1, math.ceil(settings.verify_queue_seconds))
        self._work = work
        # What a worker is given: no PIN (a verifier never opens the HSM).
        self._worker_settings = settings.model_copy(update={"hsm_pin": None,
                                                            "hsm_so_pin": None})
        self._taken = 0
        self._running: asyncio.Semaphore | None = None
        self._pool: ProcessPool | None = None
        self._pool_lock = threading.Lock()
        self._closed = False
        self._started = threading.Event()

    @property
    def started(self) -> bool:
        """The workers were started once (a pool that breaks later starts again on use)."""
        return self._started.is_set()

    @property
    def taken(self) -> int:
        """Places held now: verifications running, waiting, or uploads being read."""
        return self._taken

    @contextlib.asynccontextmanager
    async def place(self) -> AsyncIterator[VerificationPool]:
        """Hold one of the places (running or waiting), or be refused at once."""
        if self._taken >= self.places:
            raise self._busy()
        self._taken += 1
        try:
            yield self
        finally:
            self._taken -= 1

    async def verify(self, data: bytes, *, offline: bool) -> dict[str, Any]:
        """The report of ``data`` from a worker; call while holding a place. Waits at most
        ``verify_queue_seconds`` for a worker (then VerificationBusy); TooComplex past
        the budget; cancelling it stops the worker of a verification under way."""
        if self._running is None:
            self._running = asyncio.Semaphore(self.workers)
        try:
            async with asyncio.timeout(self.queue_seconds):
                await self._running.acquire()
        except TimeoutError:
            raise self._busy() from None
        try:
            pool = self._pool
            if pool is None or not pool.active:
                pool = await asyncio.to_thread(self._started_pool)
            future = pool.schedule(self._work, args=(data, offline), timeout=self.timeout)
            try:
                return await asyncio.wrap_future(future)
            except BrokenProcessPool:  # started again for the next request
                raise self._busy() from None
            except MemoryError:  # the worker's address-space limit (it lives on)
                raise TooComplex("the input needs more memory than a verification may "
                                 "use") from None
            except concurrent.futures.TimeoutError:
                raise TooComplex("verification took longer than "
                                 f"{self.settings.verify_budget_seconds} s") from None
            except ProcessExpired as exc:
                log.warning("verification worker died (exit code %s)", exc.exitcode)
                raise TooComplex("the verification stopped: its worker ran out of memory "
                                 "or failed on this input") from None
        finally:
            self._running.release()

    def start_in_background(self) -> None:
        """Start the workers now, in a thread of their own, so that the first requests
        (a flood, perhaps) do not wait for the fork server to import the verifier."""

        def start() -> None:
            try:
                self._started_pool()
            except Exception as exc:  # the first verification will try again, and say
                log.warning("verification pool not started: %s", type(exc).__name__)

        threading.Thread(target=start, name="verification-pool-start", daemon=True).start()

    def _busy(self) -> VerificationBusy:
        return VerificationBusy(
            f"all verification workers are busy; retry after {self.retry_after} s",
            retry_after=self.retry_after)

    def _started_pool(self) -> ProcessPool:
        """The pebble pool, started on first use and started again if it broke (pebble
        gives up on a pool whose idle worker died). Blocking: not on the event loop."""
        with self._pool_lock:
            if self._closed:
                raise VerificationBusy("the verification pool is shutting down",
                                       retry_after=self.retry_after)
            if self._pool is not None and not self._pool.active:
                log.warning("verification pool broken; starting a new one")
                self._stop(self._pool)
                self._pool = None
            if self._pool is None:
                context = multiprocessing.get_context("forkserver")
                context.set_forkserver_preload(PRELOAD)
                self._pool = ProcessPool(
                    max_workers=self.workers,
                    max_tasks=self.settings.verify_worker_max_tasks,
                    initializer=start_worker, initargs=(self._worker_settings,),
                    context=context)
                # pebble starts the fork server and the workers on first use: here, in
                # this thread, not on the event loop where the first task is scheduled.
                self._pool.active  # noqa: B018
                self._started.set()
            return self._pool

    def close(self) -> None:
        """Stop the workers (verifications under way are abandoned). Blocking."""
        with self._pool_lock:
            self._closed = True
            pool, self._pool = self._pool, None
        if pool is not None:
            self._stop(pool)

    @staticmethod
    def _stop(pool: ProcessPool) -> None:
        pool.stop()
        try:
            pool.join(timeout=10)
        except (TimeoutError, RuntimeError) as exc:
            log.warning("verification pool did not stop cleanly: %s", type(exc).__name__)
