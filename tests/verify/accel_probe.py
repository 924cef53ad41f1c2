"""A verification pool's work for tests: the real verification in the real pool's
workers, saying whether the worker had the accelerator in place."""

from __future__ import annotations

from typing import Any

from certseal.verification_pool import verify_in_worker


def accelerator_state(data: bytes, offline: bool) -> dict[str, Any]:
    from verify import accel

    report = verify_in_worker(data, offline)
    return {"verdict": report["verdict"], "installed": accel.installed() is not None,
            "shipped": accel.shipped()}
