"""A soak: mixed issue, download, verify and OCSP against a real `certseal serve` on
loopback for a fixed time; zero errors expected, worker memory (VmRSS) sampled and its
growth reported. Bounded: it stops at its deadline, every request has a timeout.

Run by tests/reliability/test_soak_short.py (30 s) and by scripts/soak:

    scripts/soak [--minutes 10] [--concurrency 8] [--workers 2] [--crash-rounds 3]

The command makes a throw-away trust domain (SQLite in a temporary home; a fresh
PostgreSQL database instead when CERTSEAL_TEST_DATABASE_URL is set), runs the kill -9
drill `--crash-rounds` times on it, then soaks, prints one JSON summary and exits 1 if
anything failed.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
import reliability_kit as kit

MIX = {"issue": 3, "download": 3, "verify": 2, "ocsp": 4}
# The limits protect production from one greedy client; the soak is that one client.
UNLIMITED = {"CERTSEAL_RATE_LIMIT_VERIFY": "off", "CERTSEAL_RATE_LIMIT_OCSP": "off"}
POOL = 50  # licences and PDFs kept for downloads and verification
# Every verification must be judged `valid`. (An online verifier once kept a stale status
# list and judged newer licences `indeterminate`; CERTSEAL_SOAK_STRICT_STATUS=0 counts
# such verdicts apart again, to compare with that behaviour.)
STALE_STATUS_LIST = ("licence.status", "indeterminate")
STRICT_STATUS = os.environ.get("CERTSEAL_SOAK_STRICT_STATUS", "1") != "0"


@dataclass
class SoakReport:
    seconds: float = 0.0
    concurrency: int = 0
    operations: Counter = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    rss_samples: dict[int, list[tuple[float, int]]] = field(default_factory=dict)
    warm_up_seconds: float = 0.0
    stale_status_list: int = 0  # see STALE_STATUS_LIST

    def rss_growth_kib(self) -> dict[int, int]:
        """Per worker: the median of the last three samples minus the highest sample of
        the first third after warm-up (a high-water mark reached early is not growth)."""
        growth = {}
        for pid, samples in self.rss_samples.items():
            settled = [kib for at, kib in samples if at >= self.warm_up_seconds]
            if len(settled) < 4:
                continue
            third = max(1, len(settled) // 3)
            growth[pid] = int(statistics.median(settled[-3:]) - max(settled[:third]))
        return growth

    def summary(self) -> dict:
        total = sum(self.operations.values())
        return {
            "seconds": round(self.seconds, 1), "concurrency": self.concurrency,
            "operations": dict(self.operations), "total": total,
            "per_second": round(total / self.seconds, 1) if self.seconds else 0,
            "errors": len(self.errors), "first_errors": self.errors[:5],
            "stale_status_list_verdicts": self.stale_status_list,
            "latency_ms": {kind: {"p50": round(1000 * statistics.median(v), 1),
                                  "p95": round(1000 * _p95(v), 1)}
                           for kind, v in self.latencies.items() if v},
            "rss_kib": {str(pid): {"first": s[0][1], "last": s[-1][1],
                                   "max": max(k for _, k in s)}
                        for pid, s in self.rss_samples.items() if s},
            "rss_growth_kib": {str(p): g for p, g in self.rss_growth_kib().items()},
        }


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]


def ocsp_request(home: Path, seal_id: str) -> bytes:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.x509 import ocsp

    seal = x509.load_pem_x509_certificate(
        (home / "published" / "seals" / f"{seal_id}.pem").read_bytes())
    issuer = x509.load_pem_x509_certificate(
        (home / "published" / "issuing-ca.pem").read_bytes())
    return (ocsp.OCSPRequestBuilder().add_certificate(seal, issuer, hashes.SHA1())  # noqa: S303 (RFC 6960 CertID)
            .build().public_bytes(serialization.Encoding.DER))


def run_soak(server: kit.ServerProcess, api_key: str, seal_id: str, *, seconds: float,
             concurrency: int = 8, warm_up_seconds: float = 10.0,
             sample_every: float = 2.0, seed: int = 1) -> SoakReport:
    from cryptography.x509 import ocsp

    report = SoakReport(concurrency=concurrency, warm_up_seconds=warm_up_seconds)
    request = ocsp_request(server.home, seal_id)
    lock = threading.Lock()
    licences: list[str] = []
    pdfs: list[bytes] = []
    started = time.monotonic()
    deadline = started + seconds
    department = {"Authorization": f"Bearer {api_key}"}

    def record(kind: str, seconds_taken: float, problem: str | None) -> None:
        with lock:
            report.operations[kind] += 1
            report.latencies[kind].append(seconds_taken)
            if problem is not None:
                report.errors.append(f"{kind}: {problem}")

    def one(http: httpx.Client, rng: random.Random, kind: str, number: int) -> str | None:
        if kind == "issue":
            answer = kit.issue(http, api_key, f"soak-{number}-{rng.getrandbits(64):x}")
            if answer.status_code != 201:
                return f"{answer.status_code} {answer.text[:200]}"
            with lock:
                licences.append(answer.json()["licence_id"])
                del licences[:-POOL]
            return None
        if kind == "download":
            with lock:
                licence_id = rng.choice(licences)
            answer = http.get(f"/v1/licences/{licence_id}/pdf", headers=department)
            if answer.status_code != 200 or not answer.content.startswith(b"%PDF"):
                return f"{answer.status_code} {answer.text[:200]}"
            with lock:
                pdfs.append(answer.content)
                del pdfs[:-POOL]
            return None
        if kind == "verify":
            with lock:
                pdf = rng.choice(pdfs)
            answer = http.post("/v1/verify", content=pdf,
                               headers={"Content-Type": "application/pdf"})
            if answer.status_code != 200:
                return f"{answer.status_code} {answer.text[:200]}"
            verdict = answer.json()
            if verdict.get("verdict") != "valid":
                undecided = [(c.get("code"), c.get("outcome"), c.get("message_en"))
                             for c in verdict.get("checks", []) if c.get("outcome") != "passed"]
                if [u[:2] for u in undecided] == [STALE_STATUS_LIST] and not STRICT_STATUS:
                    with lock:
                        report.stale_status_list += 1
                    return None
                return f"{verdict.get('verdict')} {undecided}"
            return None
        answer = http.post("/pki/ocsp", content=request,
                           headers={"Content-Type": "application/ocsp-request"})
        if answer.status_code != 200:
            return f"{answer.status_code}"
        parsed = ocsp.load_der_ocsp_response(answer.content)
        if (parsed.response_status != ocsp.OCSPResponseStatus.SUCCESSFUL
                or parsed.certificate_status != ocsp.OCSPCertStatus.GOOD):
            return f"{parsed.response_status} {getattr(parsed, 'certificate_status', '')}"
        return None

    def client(number: int) -> None:
        rng = random.Random(seed * 1000 + number)
        kinds, weights = zip(*MIX.items(), strict=True)
        count = 0
        with httpx.Client(base_url=server.url, timeout=60) as http:
            while time.monotonic() < deadline:
                with lock:
                    have_licence, have_pdf = bool(licences), bool(pdfs)
                kind = rng.choices(kinds, weights)[0]
                if (kind == "download" and not have_licence) or (kind == "verify" and not have_pdf):
                    kind = "issue" if not have_licence else "download"
                count += 1
                t0 = time.perf_counter()
                try:
                    problem = one(http, rng, kind, number * 1_000_000 + count)
                except (httpx.HTTPError, ValueError) as exc:
                    problem = type(exc).__name__
                record(kind, time.perf_counter() - t0, problem)

    threads = [threading.Thread(target=client, args=(n,), daemon=True)
               for n in range(concurrency)]
    for thread in threads:
        thread.start()
    pids = server.worker_pids()
    report.rss_samples = {pid: [] for pid in pids}
    while time.monotonic() < deadline:
        at = time.monotonic() - started
        for pid in pids:
            try:
                report.rss_samples[pid].append((at, kit.rss_kib(pid)))
            except OSError:
                with lock:
                    report.errors.append(f"worker {pid} is gone")
        time.sleep(min(sample_every, max(0.0, deadline - time.monotonic())))
    for thread in threads:
        thread.join(timeout=90)
    if any(thread.is_alive() for thread in threads):
        report.errors.append("a client did not finish within 90 s of the deadline")
    report.seconds = time.monotonic() - started
    return report


def main(argv: list[str] | None = None) -> int:
    import crash_drill
    import domain_kit

    from certseal.db import make_engine

    parser = argparse.ArgumentParser(prog="scripts/soak", description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--crash-rounds", type=int, default=3)
    parser.add_argument("--max-rss-growth-mib", type=float, default=64.0,
                        help="fail when a worker's settled VmRSS grew more than this")
    args = parser.parse_args(argv)
    if not (0 < args.minutes <= 24 * 60 and 0 < args.concurrency <= 64
            and 0 < args.workers <= 16 and 0 <= args.crash_rounds <= 100):
        parser.error("minutes 0-1440, concurrency 1-64, workers 1-16, crash rounds 0-100")

    summary: dict = {"crash_rounds": []}
    failed = False
    with tempfile.TemporaryDirectory(prefix="certseal-soak-") as tmp:
        port = domain_kit.free_port()
        under_test = domain_kit.make_domain(Path(tmp) / "home", port=port,
                                            issue_samples=False)
        home, api_key, seal_id = under_test.home, under_test.api_key, under_test.seal_id
        engine = make_engine(under_test.domain.settings.effective_database_url)
        under_test.domain.close()
        server = kit.ServerProcess(home, port, workers=args.workers, env=UNLIMITED)
        try:
            server.start()
            for number in range(args.crash_rounds):
                result = crash_drill.fire_and_kill(
                    server, api_key, engine, tag=f"crash{number}", threads=8,
                    per_thread=40, kill_after_acks=random.Random(number).randint(5, 60))
                crash_drill.restart_and_replay(server, api_key, result)
                problems = kit.integrity_problems(engine)
                missing = len(result.attempted) - len(set(result.acknowledged.values()))
                round_summary = {**result.summary(), "integrity_problems": problems,
                                 "keys_without_one_licence": missing}
                summary["crash_rounds"].append(round_summary)
                print("crash round", number, json.dumps(round_summary), file=sys.stderr)
                failed |= bool(problems or result.replay_mismatches or missing
                               or result.other_answers)
            report = run_soak(server, api_key, seal_id, seconds=args.minutes * 60,
                              concurrency=args.concurrency,
                              warm_up_seconds=min(60.0, args.minutes * 60 / 5))
            summary["soak"] = report.summary()
            summary["integrity_problems"] = kit.integrity_problems(engine)
            growth = report.rss_growth_kib()
            failed |= bool(report.errors or summary["integrity_problems"]
                           or any(g > args.max_rss_growth_mib * 1024
                                  for g in growth.values()))
        finally:
            server.stop()
            engine.dispose()
        summary["audit"] = kit.audit_verify(home)
        failed |= summary["audit"].get("intact") is not True
    summary["ok"] = not failed
    print(json.dumps(summary, indent=2, ensure_ascii=False))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
