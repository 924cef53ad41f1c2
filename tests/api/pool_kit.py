"""A verification pool's work for tests: the real ``verify_in_worker``, run in the real
pool's workers, told by a first line of the upload to sleep or allocate first (the line is
taken off before the real verification), and saying which worker answered."""

from __future__ import annotations

import os
import re
import time
from typing import Any

from certseal import verification_pool
from certseal.verification_pool import verify_in_worker

_SCRIPT = re.compile(rb"^%certseal-test (sleep|alloc)=(\d+(?:\.\d+)?)\n")


def scripted(pdf: bytes, *, sleep: float | None = None, alloc_mb: int | None = None) -> bytes:
    if sleep is not None:
        return b"%%certseal-test sleep=%g\n" % sleep + pdf
    if alloc_mb is not None:
        return b"%%certseal-test alloc=%d\n" % alloc_mb + pdf
    return pdf


def scripted_work(data: bytes, offline: bool) -> dict[str, Any]:
    script = _SCRIPT.match(data)
    if script is not None:
        data = data[script.end():]
        if script[1] == b"sleep":
            time.sleep(float(script[2]))  # never yields: only stopping the worker ends it
        else:
            held = bytearray(int(script[2]) * 1024 * 1024)
            held[-1] = 1
    settings = verification_pool._worker.settings  # what this worker was given
    return {**verify_in_worker(data, offline), "worker_pid": os.getpid(),
            "worker_given_pin": bool(settings.hsm_pin or settings.hsm_so_pin)}
