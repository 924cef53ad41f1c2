"""Timing primitives: samples of latencies, rates, percentiles, a time box for every loop,
and the state of the machine (load average, cores) written beside every figure."""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Sample:
    """Latencies (seconds) of the calls made, over the wall time they took in total."""

    latencies: list[float] = field(default_factory=list)
    wall: float = 0.0
    errors: int = 0
    error_kinds: dict[str, int] = field(default_factory=dict)  # e.g. "503": 3, "timeout": 1

    @property
    def count(self) -> int:
        return len(self.latencies)

    @property
    def rate(self) -> float:
        return self.count / self.wall if self.wall > 0 else 0.0

    def percentile(self, p: float) -> float:
        """Nearest-rank percentile in milliseconds (0 when nothing was measured)."""
        if not self.latencies:
            return 0.0
        ordered = sorted(self.latencies)
        rank = max(0, min(len(ordered) - 1, math.ceil(p / 100 * len(ordered)) - 1))
        return ordered[rank] * 1000

    @property
    def p50(self) -> float:
        return self.percentile(50)

    @property
    def p99(self) -> float:
        return self.percentile(99)

    def summary(self) -> dict:
        return {"count": self.count, "errors": self.errors,
                **({"error_kinds": self.error_kinds} if self.error_kinds else {}),
                "seconds": round(self.wall, 3),
                "rate_per_s": round(self.rate, 2), "p50_ms": round(self.p50, 2),
                "p99_ms": round(self.p99, 2)}


def time_calls(call: Callable[[], object], count: int, *, budget_s: float = 60.0,
               warmup: int = 1) -> Sample:
    """Call ``call`` up to ``count`` times one after another (after ``warmup`` untimed
    calls), stopping early when ``budget_s`` is spent so no figure can hang a run."""
    for _ in range(warmup):
        call()
    sample = Sample()
    started = time.perf_counter()
    deadline = started + budget_s
    for _ in range(count):
        t0 = time.perf_counter()
        call()
        sample.latencies.append(time.perf_counter() - t0)
        if time.perf_counter() > deadline:
            break
    sample.wall = time.perf_counter() - started
    return sample


def machine() -> dict:
    load1, load5, load15 = os.getloadavg()
    return {"cores": os.cpu_count(), "load_average": [round(load1, 2), round(load5, 2),
                                                      round(load15, 2)]}


def wait_for_quiet(max_load: float, max_wait_s: float) -> dict:
    """Wait (up to ``max_wait_s``) for the 1-minute load average to drop under
    ``max_load``: other people's test suites share these machines."""
    deadline = time.monotonic() + max_wait_s
    while os.getloadavg()[0] >= max_load and time.monotonic() < deadline:
        time.sleep(5)
    return machine()
