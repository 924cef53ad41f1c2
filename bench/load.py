"""A closed-loop HTTP load generator for slow endpoints (issuance: tens a second), in
Python threads with one keep-alive client each. Fast endpoints (OCSP, thousands a second)
are driven by ApacheBench instead (bench/ocsp.py), since a Python client would be the
bottleneck there."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence

import httpx

from bench.measure import Sample

Request = Callable[[httpx.Client, int], httpx.Response]


def drive(base_urls: Sequence[str], request: Request, *, concurrency: int, count: int,
          budget_s: float, expect: int = 201) -> Sample:
    """``concurrency`` threads send ``count`` requests in all (each thread sends its next
    one when the last is answered), spread round-robin over ``base_urls`` by thread (one
    server process each when the server cannot fork workers itself). Stops at
    ``budget_s``; a request still running then is waited for (client timeout 60 s)."""
    sample = Sample()
    lock = threading.Lock()
    issued = 0
    started = time.perf_counter()
    deadline = started + budget_s

    def worker(index: int) -> None:
        nonlocal issued
        base = base_urls[index % len(base_urls)]
        with httpx.Client(base_url=base, timeout=60) as client:
            while True:
                with lock:
                    if issued >= count or time.perf_counter() > deadline:
                        return
                    issued += 1
                    number = issued
                t0 = time.perf_counter()
                try:
                    status = request(client, number).status_code
                    kind = str(status)
                except httpx.HTTPError as exc:
                    status, kind = 0, type(exc).__name__
                elapsed = time.perf_counter() - t0
                with lock:
                    if status == expect:
                        sample.latencies.append(elapsed)
                    else:
                        sample.errors += 1
                        sample.error_kinds[kind] = sample.error_kinds.get(kind, 0) + 1

    threads = [threading.Thread(target=worker, args=(i,), daemon=True)
               for i in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=budget_s + 120)
    sample.wall = time.perf_counter() - started
    return sample
