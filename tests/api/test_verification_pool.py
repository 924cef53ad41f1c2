"""POST /v1/verify through the verification pool, over real HTTP: PDFs are judged in
worker processes (same reports as in process), a request beyond capacity is answered 503
with Retry-After, a verification past its budget is stopped with its worker (a new one
takes its place), a worker's memory is capped, and QR text is judged in the server."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from pathlib import Path

import domain_kit
import httpx
import pool_kit
import pytest

from api.app import create_app
from certseal.verification_pool import VerificationPool
from certseal.verifying import verifier_for
from verify.inputs import verify_blocking
from verify.limits import DEFAULT_LIMITS
from verify.pdf_qr import qr_texts_of_first_page

PDF = {"Content-Type": "application/pdf"}


@contextlib.contextmanager
def served_with_pool(trust_domain, **settings):
    """The real app on loopback with a pool of these settings running ``pool_kit``'s
    scripted work in its workers."""
    configured = trust_domain.domain.settings.model_copy(update=settings)
    pool = VerificationPool(configured, work=pool_kit.scripted_work)
    app = create_app(configured, domain=trust_domain.domain, verification_pool=pool)
    try:
        with domain_kit.serving(trust_domain, app=app, port=domain_kit.free_port()) as url:
            yield url
    finally:
        pool.close()


def post_pdf(url: str, data: bytes, timeout: float = 30, **query) -> httpx.Response:
    return httpx.post(url + "/v1/verify", content=data, headers=PDF, timeout=timeout,
                      params=query)


def in_background(call, *args, **kwargs) -> dict:
    """Start ``call`` in a thread; the dict gets its answer (or error) and timings."""
    outcome: dict = {"started": time.monotonic()}

    def run() -> None:
        try:
            outcome["answer"] = call(*args, **kwargs)
        except Exception as exc:
            outcome["error"] = exc
        outcome["seconds"] = time.monotonic() - outcome["started"]

    outcome["thread"] = thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return outcome


def gone(pid: int) -> bool:
    """The process no longer runs (or is a zombie waiting for its parent)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def without_time(report: dict) -> dict:
    """The report less what depends on when it was made (and which worker made it)."""
    checks = [{**c, "details": {k: v for k, v in c["details"].items() if k != "age_seconds"}}
              for c in report["checks"]]
    return {**{k: v for k, v in report.items() if k not in ("verified_at", "worker_pid")},
            "checks": checks}


@pytest.mark.parametrize("offline", [True, False])
def test_reports_through_the_pool_are_the_in_process_reports(served_domain, offline):
    pdf = served_domain.licences["yyzz"].pdf
    answer = post_pdf(served_domain.base_url, pdf, offline=str(offline).lower())
    assert answer.status_code == 200, answer.text
    here = verify_blocking(pdf, verifier_for(served_domain.home).context(offline=offline))
    assert without_time(answer.json()) == without_time(here.to_json())
    assert answer.json()["verdict"] == here.verdict.value


def test_a_request_beyond_capacity_waits_then_gets_503_with_retry_after(trust_domain):
    pdf = trust_domain.licences["yyzz"].pdf
    with served_with_pool(trust_domain, verify_workers=1, verify_queue=1,
                          verify_queue_seconds=2.0) as url:
        assert post_pdf(url, pdf).status_code == 200  # the worker is up
        running = in_background(post_pdf, url, pool_kit.scripted(pdf, sleep=6))
        time.sleep(0.5)
        waiting = in_background(post_pdf, url, pdf)
        time.sleep(0.3)
        asked = time.monotonic()
        refused_at_once = post_pdf(url, pdf)
        refused_after = time.monotonic() - asked
        waiting["thread"].join(15)
        running["thread"].join(15)
        after = post_pdf(url, pdf)

    # One running, one waiting: no place left, refused without waiting.
    assert refused_at_once.status_code == 503 and refused_after < 1.0
    waited = waiting["answer"]
    assert waited.status_code == 503 and 2.0 <= waiting["seconds"] < 5.0
    for answer in (refused_at_once, waited):
        assert answer.headers["retry-after"] == "2"
        assert answer.headers["content-type"].startswith("application/problem+json")
        body = answer.json()
        assert body["code"] == "verification_busy" and body["status"] == 503
        assert "retry after 2 s" in body["detail"]
    assert running["answer"].status_code == 200  # it was only slow
    assert running["answer"].json()["verdict"] == after.json()["verdict"]


def test_a_verification_past_its_budget_is_stopped_and_its_worker_replaced(trust_domain):
    pdf = trust_domain.licences["yyzz"].pdf
    # A budget a loaded machine's fresh worker still meets for a genuine licence.
    with served_with_pool(trust_domain, verify_workers=1, verify_budget_seconds=4.0) as url:
        first = post_pdf(url, pdf)
        assert first.status_code == 200, first.text
        old_worker = first.json()["worker_pid"]
        started = time.monotonic()
        stuck = post_pdf(url, pool_kit.scripted(pdf, sleep=60))
        seconds = time.monotonic() - started
        after = post_pdf(url, pdf)

    assert stuck.status_code == 422, stuck.text
    assert stuck.json()["code"] == "input_too_complex"
    assert 4.0 <= seconds < 10  # stopped after the budget, within the grace and a tick
    assert after.status_code == 200 and after.json()["verdict"] == first.json()["verdict"]
    assert after.json()["worker_pid"] != old_worker
    assert gone(old_worker)


def test_a_worker_verifies_without_the_hsm_or_its_pin(trust_domain):
    pdf = trust_domain.licences["yyzz"].pdf
    with served_with_pool(trust_domain, verify_workers=1) as url:
        answer = post_pdf(url, pdf).json()
        worker = answer["worker_pid"]
        maps = Path(f"/proc/{worker}/maps").read_text()
    assert trust_domain.domain.settings.hsm_pin is not None  # the server has one
    assert answer["checks"] and answer["worker_given_pin"] is False
    # No PKCS#11 library loaded. (python-pkcs11's Python modules are imported, through
    # certseal.verifying -> certseal.trust -> certseal.home -> hsm.token.)
    assert "softhsm" not in maps and "pkcs11" not in maps.lower()


def test_a_worker_may_not_use_more_than_its_memory(trust_domain):
    pdf = trust_domain.licences["yyzz"].pdf
    with served_with_pool(trust_domain, verify_workers=1, verify_worker_memory_mb=300) as url:
        first = post_pdf(url, pdf)
        worker = first.json()["worker_pid"]
        limits = Path(f"/proc/{worker}/limits").read_text()
        greedy = post_pdf(url, pool_kit.scripted(pdf, alloc_mb=400))
        after = post_pdf(url, pdf)

    address_space = next(ln for ln in limits.splitlines() if ln.startswith("Max address"))
    assert address_space.split()[3] == str(300 * 1024 * 1024)
    assert greedy.status_code == 422 and greedy.json()["code"] == "input_too_complex"
    assert after.status_code == 200 and after.json()["verdict"] == first.json()["verdict"]


def test_a_client_that_leaves_frees_its_worker_at_once(trust_domain):
    pdf = trust_domain.licences["yyzz"].pdf
    with served_with_pool(trust_domain, verify_workers=1, verify_queue_seconds=10.0,
                          verify_budget_seconds=30.0) as url:
        old_worker = post_pdf(url, pdf).json()["worker_pid"]
        with pytest.raises(httpx.ReadTimeout):
            post_pdf(url, pool_kit.scripted(pdf, sleep=60), timeout=1.0)
        started = time.monotonic()
        after = post_pdf(url, pdf)
        seconds = time.monotonic() - started

    # Had the abandoned verification gone on (30 s budget), this one would have waited
    # its 10 s for a 503: it had a new worker as soon as one had started.
    assert after.status_code == 200, after.text
    assert seconds < 10.0
    assert after.json()["worker_pid"] != old_worker and gone(old_worker)


def test_a_client_that_leaves_while_waiting_gives_its_place_back(trust_domain):
    pdf = trust_domain.licences["yyzz"].pdf
    with served_with_pool(trust_domain, verify_workers=1, verify_queue=1,
                          verify_queue_seconds=4.0) as url:
        assert post_pdf(url, pdf).status_code == 200
        running = in_background(post_pdf, url, pool_kit.scripted(pdf, sleep=2))
        time.sleep(0.5)
        with pytest.raises(httpx.ReadTimeout):  # waits for the worker, then leaves
            post_pdf(url, pdf, timeout=0.5)
        time.sleep(0.2)
        waited = post_pdf(url, pdf)  # the waiting place is free again
        running["thread"].join(10)
    assert waited.status_code == 200, waited.text
    assert running["answer"].status_code == 200


def test_qr_text_is_judged_in_the_server_while_every_worker_is_busy(trust_domain):
    pdf = trust_domain.licences["zyzgzs"].pdf
    (text,) = qr_texts_of_first_page(pdf, DEFAULT_LIMITS)
    with served_with_pool(trust_domain, verify_workers=1, verify_queue=0,
                          verify_queue_seconds=1.0) as url:
        assert post_pdf(url, pdf).status_code == 200
        running = in_background(post_pdf, url, pool_kit.scripted(pdf, sleep=3))
        time.sleep(0.5)
        qr = httpx.post(url + "/v1/verify", json={"qr": text}, timeout=10)
        raw_qr = httpx.post(url + "/v1/verify", content=text.encode(), timeout=10,
                            headers={"Content-Type": "text/plain"})
        pdf_now = post_pdf(url, pdf)
        running["thread"].join(10)

    assert pdf_now.status_code == 503  # the only place is taken
    assert raw_qr.status_code == 503  # a raw upload takes a place before it is read
    assert qr.status_code == 200 and qr.json()["verdict"] == "valid"
    assert "worker_pid" not in qr.json()


def test_a_worker_is_replaced_after_its_number_of_verifications(trust_domain):
    pdf = trust_domain.licences["yyzz"].pdf
    with served_with_pool(trust_domain, verify_workers=1, verify_worker_max_tasks=2) as url:
        pids = [post_pdf(url, pdf).json()["worker_pid"] for _ in range(4)]
    assert pids[0] == pids[1] != pids[2] == pids[3]


def test_a_pool_whose_idle_worker_died_starts_again(trust_domain):
    """pebble gives up on a pool when a worker dies with no task running (it then refuses
    every task): the next verification starts a new pool."""
    pdf = trust_domain.licences["yyzz"].pdf
    with served_with_pool(trust_domain, verify_workers=1) as url:
        first = post_pdf(url, pdf)
        worker = first.json()["worker_pid"]
        os.kill(worker, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while not gone(worker) and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)  # pebble's manager notices within its 0.1 s tick
        after = post_pdf(url, pdf)
    assert after.status_code == 200, after.text
    assert after.json()["verdict"] == first.json()["verdict"]
    assert after.json()["worker_pid"] != worker
