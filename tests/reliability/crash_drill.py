"""Kill -9 `certseal serve` in the middle of concurrent issuance, restart it, replay every
Idempotency-Key, and check that nothing was lost, half-made or made twice.

Used by tests/reliability/test_crash_replay.py (one short round) and by scripts/soak
(several rounds on one home).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import reliability_kit as kit


@dataclass
class CrashRound:
    attempted: list[str] = field(default_factory=list)  # keys sent (answer or not)
    acknowledged: dict[str, str] = field(default_factory=dict)  # key -> licence id
    other_answers: list[int] = field(default_factory=list)  # non-2xx before the kill
    licences_before: int = 0
    licences_after_kill: int = 0
    replay_issued: int = 0  # keys whose first licence came only on replay
    replay_replayed: int = 0
    replay_mismatches: list[str] = field(default_factory=list)
    restart_seconds: float = 0.0
    kill_at_seconds: float = 0.0

    def summary(self) -> dict:
        return {"attempted": len(self.attempted), "acknowledged": len(self.acknowledged),
                "errors_before_kill": len(self.other_answers),
                "committed_at_kill": self.licences_after_kill - self.licences_before,
                "replay_replayed": self.replay_replayed,
                "replay_issued": self.replay_issued,
                "replay_mismatches": len(self.replay_mismatches),
                "kill_at_s": round(self.kill_at_seconds, 2),
                "restart_s": round(self.restart_seconds, 2)}


def fire_and_kill(server: kit.ServerProcess, api_key: str, engine, *, tag: str,
                  threads: int = 8, per_thread: int = 40, kill_after_acks: int = 12,
                  max_seconds: float = 30.0) -> CrashRound:
    """`threads` clients issue with unique keys until `kill_after_acks` answers came back
    (or `max_seconds`), then the server's process group gets SIGKILL mid-flight."""
    result = CrashRound(licences_before=kit.licence_count(engine))
    lock = threading.Lock()
    dead = threading.Event()

    def client(number: int) -> None:
        with httpx.Client(base_url=server.url, timeout=60) as http:
            for i in range(per_thread):
                if dead.is_set():
                    return
                key = f"{tag}-{number}-{i}"
                with lock:
                    result.attempted.append(key)
                try:
                    answer = kit.issue(http, api_key, key)
                except httpx.HTTPError:
                    return  # the server died under this request: unacknowledged
                with lock:
                    if answer.status_code in (200, 201):
                        result.acknowledged[key] = answer.json()["licence_id"]
                    else:
                        result.other_answers.append(answer.status_code)

    workers = [threading.Thread(target=client, args=(n,), daemon=True)
               for n in range(threads)]
    started = time.monotonic()
    for worker in workers:
        worker.start()
    while time.monotonic() - started < max_seconds:
        with lock:
            if len(result.acknowledged) >= kill_after_acks:
                break
        time.sleep(0.01)
    result.kill_at_seconds = time.monotonic() - started
    server.kill9()
    dead.set()
    for worker in workers:
        worker.join(timeout=90)
    assert not any(w.is_alive() for w in workers), "a client hung after the kill"
    result.licences_after_kill = kit.licence_count(engine)
    return result


def restart_and_replay(server: kit.ServerProcess, api_key: str, result: CrashRound,
                       threads: int = 8) -> None:
    """Restart and send every attempted key again (same body): an acknowledged key must
    come back as the same licence, replayed; any other key yields exactly one licence."""
    result.restart_seconds = server.start()
    lock = threading.Lock()
    keys = list(result.attempted)

    def replay(chunk: list[str]) -> None:
        with httpx.Client(base_url=server.url, timeout=60) as http:
            for key in chunk:
                answer = kit.issue(http, api_key, key)
                with lock:
                    if answer.status_code not in (200, 201):
                        result.replay_mismatches.append(f"{key}: {answer.status_code}")
                        continue
                    body = answer.json()
                    if answer.status_code == 200 and body["replayed"]:
                        result.replay_replayed += 1
                    else:
                        result.replay_issued += 1
                    first = result.acknowledged.get(key)
                    if first is not None and (first != body["licence_id"]
                                              or not body["replayed"]):
                        result.replay_mismatches.append(
                            f"{key}: acknowledged {first}, replay gave {body}")
                    result.acknowledged.setdefault(key, body["licence_id"])

    chunks = [keys[n::threads] for n in range(threads)]
    workers = [threading.Thread(target=replay, args=(c,), daemon=True) for c in chunks]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=300)
    assert not any(w.is_alive() for w in workers), "replay hung"


def check_licences(server: kit.ServerProcess, home: Path, api_key: str,
                   licence_ids: list[str], cache_dir: Path) -> dict[str, str]:
    """Download each licence as its department and verify it as a counter would;
    {licence id: problem} for those that fail."""
    problems = {}
    with httpx.Client(base_url=server.url, timeout=60,
                      headers={"Authorization": f"Bearer {api_key}"}) as http:
        for licence_id in licence_ids:
            answer = http.get(f"/v1/licences/{licence_id}/pdf")
            if answer.status_code != 200 or not answer.content.startswith(b"%PDF"):
                problems[licence_id] = f"download {answer.status_code}"
                continue
            verdict = kit.verify_pdf_verdict(home, answer.content, cache_dir)
            if verdict != "valid":
                problems[licence_id] = f"verdict {verdict}"
    return problems
