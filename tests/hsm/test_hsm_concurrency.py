"""Many threads signing at once through one process's PKCS#11 module do not crash it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from hsm.token import HsmConfig

SCRIPT = Path(__file__).with_name("concurrent_signing.py")
THREADS, EACH = 8, 200


def test_eight_threads_signing_concurrently(softhsm_token: HsmConfig):
    env = {**os.environ, "CERTSEAL_TEST_PIN": softhsm_token.user_pin}
    result = subprocess.run(
        [sys.executable, str(SCRIPT), str(softhsm_token.softhsm_conf),
         softhsm_token.token_label, str(THREADS), str(EACH)],
        env=env, capture_output=True, text=True, check=False, timeout=120,
    )
    # A negative status is a signal: SoftHSM2 crashed (SIGSEGV/SIGABRT).
    assert result.returncode == 0, (result.returncode, result.stderr[-2000:])
    report = json.loads(result.stdout)
    assert report["errors"] == []
    assert report["signatures"] == THREADS * EACH
    assert report["invalid"] == 0
    print(f"EC P-256: {report['ec_p256_signatures_per_second']:.0f} signatures/s, one thread; "
          f"{THREADS}x{EACH} threaded in {report['threaded_seconds']:.2f} s")
