"""The verification flood of issue 13: many concurrent ``POST /v1/verify`` of 5 MB PDFs
from one address, while probes measure what everyone else gets from the same server
(``/healthz``, OCSP, the TSA, issuance), then how long the server takes to be idle once
the flood's clients have gone.

The flood runs in a process of its own (``python -m bench.flood``: asyncio, one
keep-alive connection per client, the upload written in slices so the client holds no
copies) so that it competes with the server for the CPU, not with the probes for a GIL.
Each client sends its next upload as soon as it has its answer, Retry-After ignored, as
an attacker would; it gives up on an answer after ``answer_timeout`` seconds. Its total
upload rate can be capped (``mbps``) to stand for the link the uploads would come
through; 0 is loopback speed. At the end every client closes its connection at once,
whatever it was waiting for.

Used by bench/run (section ``flood``) and tests/reliability/test_verification_flood.py.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from bench.measure import Sample

ROOT = Path(__file__).resolve().parent.parent
SLICE = 256 * 1024


def flood_pdf(genuine: bytes, size: int = 5 * 1024 * 1024) -> bytes:
    """A sealed licence grown to ``size`` bytes by an incremental update that adds one
    stream of random bytes: a well-formed PDF the verifier must read to the end."""
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    writer = IncrementalPdfFileWriter(io.BytesIO(genuine))
    padding = max(0, size - len(genuine) - 400)
    writer.add_object(generic.StreamObject(stream_data=os.urandom(padding)))
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


# -- the flood process -------------------------------------------------------------------
class _Link:
    """A shared upload rate (bytes a second) for all clients; None: unlimited."""

    def __init__(self, mbps: float) -> None:
        self.rate = mbps * 1e6 / 8 if mbps > 0 else None
        self.next_free = time.monotonic()

    async def send(self, size: int) -> None:
        if self.rate is None:
            return
        now = time.monotonic()
        self.next_free = max(self.next_free, now) + size / self.rate
        if self.next_free - now > 0.001:
            await asyncio.sleep(self.next_free - now)


async def _client(host: str, port: int, head: bytes, body: bytes, deadline: float,
                  answer_timeout: float, link: _Link, out: dict) -> None:
    view = memoryview(body)
    writer = None
    try:
        while time.monotonic() < deadline:
            started = time.monotonic()
            try:
                if writer is None:
                    reader, writer = await asyncio.open_connection(host, port)
                writer.write(head)
                for at in range(0, len(body), SLICE):
                    await link.send(min(SLICE, len(body) - at))
                    writer.write(view[at:at + SLICE])
                    await writer.drain()
                status, keep = await asyncio.wait_for(_answer(reader), answer_timeout)
                kind = str(status)
            except TimeoutError:
                kind, keep = "timeout", False
            except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
                kind, keep = type(exc).__name__, False
            seconds = time.monotonic() - started
            out.setdefault(kind, []).append(seconds)
            if not keep and writer is not None:
                writer.close()
                writer = None
    finally:
        if writer is not None:  # leaving: the connection closes, whatever was pending
            writer.transport.abort()


async def _answer(reader: asyncio.StreamReader) -> tuple[int, bool]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = dict(line.split(":", 1) for line in lines[1:] if ":" in line)
    headers = {k.strip().lower(): v.strip() for k, v in headers.items()}
    await reader.readexactly(int(headers.get("content-length", "0")))
    return status, headers.get("connection", "").lower() != "close"


async def _flood(url: str, body: bytes, clients: int, seconds: float, answer_timeout: float,
                 mbps: float) -> dict:
    parts = urlsplit(url)
    head = (f"POST {parts.path or '/v1/verify'} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
            f"Content-Type: application/pdf\r\nContent-Length: {len(body)}\r\n\r\n"
            ).encode()
    out: dict[str, list[float]] = {}
    link = _Link(mbps)
    deadline = time.monotonic() + seconds
    tasks = [asyncio.create_task(_client(parts.hostname, parts.port, head, body, deadline,
                                         answer_timeout, link, out))
             for _ in range(clients)]
    # At the deadline every client leaves at once, its upload or its wait cut short.
    await asyncio.wait(tasks, timeout=seconds)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return {kind: Sample(latencies=times, wall=seconds).summary()
            | {"max_ms": round(max(times) * 1000, 1)} for kind, times in out.items()}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.flood")
    p.add_argument("--url", required=True, help="e.g. http://127.0.0.1:8000/v1/verify")
    p.add_argument("--pdf", type=Path, required=True)
    p.add_argument("--clients", type=int, default=200)
    p.add_argument("--seconds", type=float, default=20.0)
    p.add_argument("--answer-timeout", type=float, default=60.0)
    p.add_argument("--mbps", type=float, default=0.0, help="total upload rate; 0: no cap")
    args = p.parse_args(argv)
    result = asyncio.run(_flood(args.url, args.pdf.read_bytes(), args.clients, args.seconds,
                                args.answer_timeout, args.mbps))
    print(json.dumps({"answers": result, "cpu_seconds": round(time.process_time(), 2)}))
    return 0


# -- the probes and the server's processes ------------------------------------------------
Probe = Callable[[httpx.Client], httpx.Response]


@dataclass
class ProbeLoop:
    """One closed loop of requests, one every ``period`` seconds at most."""

    name: str
    probe: Probe
    expect: int
    period: float = 0.05
    sample: Sample = field(default_factory=Sample)

    def run(self, base_url: str, stop: threading.Event) -> None:
        started = time.monotonic()
        with httpx.Client(base_url=base_url, timeout=30) as client:
            while not stop.is_set():
                t0 = time.monotonic()
                try:
                    kind = str(self.probe(client).status_code)
                except httpx.HTTPError as exc:
                    kind = type(exc).__name__
                elapsed = time.monotonic() - t0
                if kind == str(self.expect):
                    self.sample.latencies.append(elapsed)
                else:
                    self.sample.errors += 1
                    self.sample.error_kinds[kind] = self.sample.error_kinds.get(kind, 0) + 1
                stop.wait(max(0.0, self.period - elapsed))
        self.sample.wall = time.monotonic() - started

    def summary(self) -> dict:
        return self.sample.summary() | {"max_ms": round(max(self.sample.latencies, default=0)
                                                        * 1000, 1)}


def process_tree(pid: int) -> list[int]:
    """``pid`` and all its descendants (the server, the fork server, the pool's workers)."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        try:
            for task in os.listdir(f"/proc/{current}/task"):
                text = Path(f"/proc/{current}/task/{task}/children").read_text()
                todo.extend(int(child) for child in text.split())
        except OSError:
            continue
    return found


def cpu_seconds(pids: list[int]) -> float:
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / ticks


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _watch_memory(server_pid: int, stop: threading.Event, peaks: dict) -> None:
    while not stop.wait(0.2):
        tree = process_tree(server_pid)
        peaks["server_mb"] = max(peaks.get("server_mb", 0.0), rss_mb(server_pid))
        # Everything below the server: the fork server and the pool's workers (shared
        # pages of forked workers counted in each: an upper bound).
        pool = sum(rss_mb(pid) for pid in tree if pid != server_pid)
        peaks["pool_mb"] = max(peaks.get("pool_mb", 0.0), pool)
        peaks["pool_processes"] = max(peaks.get("pool_processes", 0), len(tree) - 1)


def seconds_to_idle(server_pid: int, *, window: float = 0.5, busy_share: float = 0.05,
                    limit: float = 60.0) -> float | None:
    """From now, the seconds until the server's processes together use under
    ``busy_share`` of one core over a ``window``; None if not within ``limit``."""
    started = time.monotonic()
    while time.monotonic() - started < limit:
        tree = process_tree(server_pid)
        before = cpu_seconds(tree)
        time.sleep(window)
        if cpu_seconds(tree) - before < busy_share * window:
            return round(time.monotonic() - started - window, 2)
    return None


def quiet_probes(base_url: str, probes: list[ProbeLoop], seconds: float) -> dict:
    """The probes alone for ``seconds``: what the machine gives without the flood (other
    people's work shares these machines)."""
    stop = threading.Event()
    threads = [threading.Thread(target=p.run, args=(base_url, stop), daemon=True)
               for p in probes]
    for thread in threads:
        thread.start()
    stop.wait(seconds)
    stop.set()
    for thread in threads:
        thread.join(timeout=40)
    return {p.name: p.summary() for p in probes}


def run_flood(base_url: str, server_pid: int, pdf: Path,
              make_probes: Callable[[], list[ProbeLoop]], *, clients: int, seconds: float,
              answer_timeout: float = 60.0, mbps: float = 0.0,
              quiet_seconds: float = 3.0) -> dict:
    """The probes alone for ``quiet_seconds``; then a flood of ``base_url``'s /v1/verify
    with ``pdf`` for ``seconds`` while new probes run; then how long the server takes to
    be idle. Everything has a time box."""
    quiet = quiet_probes(base_url, make_probes(), quiet_seconds) if quiet_seconds else {}
    probes = make_probes()
    stop = threading.Event()
    peaks: dict = {}
    threads = [threading.Thread(target=p.run, args=(base_url, stop), daemon=True)
               for p in probes]
    threads.append(threading.Thread(target=_watch_memory, args=(server_pid, stop, peaks),
                                    daemon=True))
    command = [sys.executable, "-m", "bench.flood", "--url", base_url + "/v1/verify",
               "--pdf", str(pdf), "--clients", str(clients), "--seconds", str(seconds),
               "--answer-timeout", str(answer_timeout), "--mbps", str(mbps)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cpu_before = cpu_seconds(process_tree(server_pid))
    flooding = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                env=env, cwd=ROOT)
    for thread in threads:
        thread.start()
    try:
        out, err = flooding.communicate(timeout=seconds + 60)
    except subprocess.TimeoutExpired:
        flooding.kill()
        out, err = flooding.communicate()
    stop.set()
    for thread in threads:
        thread.join(timeout=40)
    idle = seconds_to_idle(server_pid)
    if flooding.returncode != 0:
        raise RuntimeError(f"the flood failed: {err.decode(errors='replace')[-2000:]}")
    reported = json.loads(out)
    answers = reported["answers"]
    return {
        "clients": clients, "seconds": seconds, "pdf_bytes": pdf.stat().st_size,
        "mbps_cap": mbps, "flood": answers,
        "verified_per_s": round(answers.get("200", {}).get("count", 0) / seconds, 2),
        "probes": {p.name: p.summary() for p in probes}, "quiet_probes": quiet,
        "seconds_to_idle": idle,
        "server_cpu_seconds": round(cpu_seconds(process_tree(server_pid)) - cpu_before, 1),
        "flood_client_cpu_seconds": reported["cpu_seconds"],
        "memory_peak": {k: round(v, 1) for k, v in peaks.items()},
    }


def standard_probes(ocsp_request: bytes, tsa_request: bytes, api_key: str,
                    issue_body: dict) -> Callable[[], list[ProbeLoop]]:
    """What everyone else asks of the server meanwhile (new loops at each call)."""
    return lambda: [
        ProbeLoop("healthz", lambda c: c.get("/healthz"), 200),
        ProbeLoop("ocsp", lambda c: c.post("/pki/ocsp", content=ocsp_request, headers={
            "Content-Type": "application/ocsp-request"}), 200, period=0.02),
        ProbeLoop("tsa", lambda c: c.post("/pki/tsa", content=tsa_request, headers={
            "Content-Type": "application/timestamp-query"}), 200, period=0.1),
        ProbeLoop("issuance", lambda c: c.post("/v1/licences", json=issue_body, headers={
            "Authorization": f"Bearer {api_key}"}), 201, period=0.25),
    ]


def tsa_request() -> bytes:
    import hashlib

    from asn1crypto import tsp

    return tsp.TimeStampReq({
        "version": 1,
        "message_imprint": {"hash_algorithm": {"algorithm": "sha256"},
                            "hashed_message": hashlib.sha256(b"flood probe").digest()},
        "cert_req": True,
    }).dump()


if __name__ == "__main__":
    sys.exit(main())
