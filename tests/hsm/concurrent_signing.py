"""Run by test_hsm_concurrency.py in a child process, so that a crash of the PKCS#11
module (SoftHSM2 without locks segfaults) fails the test instead of killing pytest.

usage: python concurrent_signing.py CONF TOKEN_LABEL THREADS SIGNATURES_EACH
(the user PIN comes from CERTSEAL_TEST_PIN); prints one JSON object.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding

from hsm.softhsm import SOFTHSM_MODULE
from hsm.token import HsmConfig, KeySpec, Token


def main() -> None:
    conf, label, threads, each = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    config = HsmConfig(SOFTHSM_MODULE, label, os.environ["CERTSEAL_TEST_PIN"], Path(conf))
    setup = Token.open(config)
    setup.generate_key("concurrent-ec")
    setup.generate_key("concurrent-rsa", KeySpec.RSA_2048)

    results: list[tuple[str, bytes, bytes]] = []
    errors: list[str] = []
    start = threading.Barrier(threads)

    def work(index: int) -> None:
        # Each thread opens its own Token object: they must share one login and one lock.
        token = Token.open(config)
        try:
            key_label = "concurrent-rsa" if index % 4 == 3 else "concurrent-ec"
            key = token.private_key(key_label)
            start.wait()
            for n in range(each):
                message = f"thread {index} signature {n}".encode()
                if key_label == "concurrent-ec":
                    signature = key.sign(message, ec.ECDSA(hashes.SHA256()))
                else:
                    signature = key.sign(message, padding.PKCS1v15(), hashes.SHA256())
                results.append((key_label, message, signature))
        except Exception as exc:
            errors.append(f"thread {index}: {type(exc).__name__}: {exc}")
        finally:
            token.close()

    began = time.perf_counter()
    workers = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    elapsed = time.perf_counter() - began

    public = {name: setup.public_key(name) for name in ("concurrent-ec", "concurrent-rsa")}
    invalid = 0
    for key_label, message, signature in results:
        try:
            if key_label == "concurrent-ec":
                public[key_label].verify(signature, message, ec.ECDSA(hashes.SHA256()))
            else:
                public[key_label].verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
        except InvalidSignature:
            invalid += 1

    # Single-thread EC P-256 rate, for the record.
    key = setup.private_key("concurrent-ec")
    count = 2000
    t0 = time.perf_counter()
    for _ in range(count):
        key.sign(b"rate", ec.ECDSA(hashes.SHA256()))
    single_rate = count / (time.perf_counter() - t0)
    setup.close()
    print(json.dumps({
        "signatures": len(results), "invalid": invalid, "errors": errors,
        "threaded_seconds": elapsed, "ec_p256_signatures_per_second": single_rate,
    }))


if __name__ == "__main__":
    main()
