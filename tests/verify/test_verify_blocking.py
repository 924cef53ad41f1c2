"""verify_blocking: what the API's worker threads and the CLI call. It keeps one event
loop per thread (never shared), gives the same reports as ``asyncio.run(verify_bytes)``,
leaves no task behind and refuses to run on a running loop."""

from __future__ import annotations

import asyncio
import threading

import pytest

import verify.inputs as inputs
from verify.inputs import verify_blocking, verify_bytes
from verify.limits import DEFAULT_LIMITS
from verify.pdf_qr import qr_texts_of_first_page


def _codes(report) -> list[tuple[str, str]]:
    return [(c.code, c.outcome.value) for c in report.checks]


def test_same_reports_as_asyncio_run(trust_domain, synced_counter):
    context = synced_counter.context(offline=True)
    pdf = trust_domain.licences["yyzz"].pdf
    qr = qr_texts_of_first_page(pdf, DEFAULT_LIMITS)[0].encode()
    for data in (qr, pdf, qr):
        ours = verify_blocking(data, context)
        reference = asyncio.run(verify_bytes(data, context))
        assert ours.verdict == reference.verdict == "valid"
        assert _codes(ours) == _codes(reference)


def test_a_tampered_qr_is_still_invalid(trust_domain, synced_counter):
    context = synced_counter.context(offline=True)
    qr = qr_texts_of_first_page(trust_domain.licences["yyzz"].pdf, DEFAULT_LIMITS)[0]
    good = verify_blocking(qr.encode(), context)
    assert good.verdict == "valid"
    # The signature's last bit flipped: the payload decodes, the signature must fail on
    # the reused loop as on a fresh one.
    forged = _flip_signature(qr)
    report = verify_blocking(forged.encode(), context)
    assert report.verdict == "invalid"
    assert report.check("qr.signature").outcome.value == "failed"


def _flip_signature(qr: str) -> str:
    import zlib

    import base45
    import cbor2

    from certs.qr import PREFIX

    cose = zlib.decompress(base45.b45decode(qr[len(PREFIX):]))
    message = cbor2.loads(cose)
    protected, unprotected, payload, signature = message.value
    signature = signature[:-1] + bytes([signature[-1] ^ 1])
    forged = cbor2.dumps(cbor2.CBORTag(message.tag, [protected, unprotected, payload,
                                                     signature]))
    return PREFIX + base45.b45encode(zlib.compress(forged, 9)).decode("ascii")


def test_one_loop_per_thread_reused_never_shared(trust_domain, synced_counter):
    context = synced_counter.context(offline=True)
    qr = qr_texts_of_first_page(trust_domain.licences["yyzz"].pdf, DEFAULT_LIMITS)[0].encode()
    seen: dict[str, list[int]] = {}

    def work(name: str) -> None:
        loops = []
        for _ in range(3):
            assert verify_blocking(qr, context).verdict == "valid"
            loops.append(id(inputs._thread_loops.loop))
        seen[name] = loops

    threads = [threading.Thread(target=work, args=(f"t{i}",)) for i in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(seen) == ["t0", "t1", "t2"]
    for loops in seen.values():
        assert len(set(loops)) == 1  # reused within a thread
    assert len({loops[0] for loops in seen.values()}) == 3  # one per thread


def test_tasks_left_behind_are_cancelled(trust_domain, synced_counter, monkeypatch):
    """A verification that starts a task and returns (as one cut off by its time budget
    does) leaves nothing running on the kept loop."""
    context = synced_counter.context(offline=True)
    qr = qr_texts_of_first_page(trust_domain.licences["yyzz"].pdf, DEFAULT_LIMITS)[0]
    started: list[asyncio.Task] = []
    real = inputs.verify_qr_text

    async def with_a_straggler(text, ctx):
        started.append(asyncio.get_running_loop().create_task(asyncio.sleep(3600)))
        return await real(text, ctx)

    monkeypatch.setattr(inputs, "verify_qr_text", with_a_straggler)
    assert verify_blocking(qr.encode(), context).verdict == "valid"
    assert started and started[0].cancelled()
    assert not [t for t in asyncio.all_tasks(inputs._thread_loops.loop) if not t.done()]


def test_refused_on_a_running_loop(trust_domain, synced_counter):
    context = synced_counter.context(offline=True)
    qr = qr_texts_of_first_page(trust_domain.licences["yyzz"].pdf, DEFAULT_LIMITS)[0].encode()

    async def inside() -> None:
        with pytest.raises(RuntimeError, match="await verify_bytes"):
            verify_blocking(qr, context)

    asyncio.run(inside())


# verify_bytes arms its time budget only once the work first suspends (work that never
# yields cannot be interrupted anyway): the budget must still cut off work that waits,
# and work that waits briefly must give the same report as work that does not.

class _Waiting:
    """A licence-status source that waits (as an unreachable server makes it) before
    answering what the real one answers."""

    def __init__(self, real, seconds: float) -> None:
        self.real, self.seconds, self.cancelled = real, seconds, False

    async def status_of(self, ref, *, offline):
        try:
            await asyncio.sleep(self.seconds)
        except asyncio.CancelledError:
            self.cancelled = True
            raise
        return await self.real.status_of(ref, offline=offline)


def _with_status(context, source, seconds: float | None = None):
    import dataclasses

    limits = (context.limits if seconds is None
              else dataclasses.replace(context.limits, verify_seconds=seconds))
    return dataclasses.replace(context, licence_status=source, limits=limits)


def test_work_that_waits_past_the_budget_is_cut_off(trust_domain, synced_counter):
    import time

    from verify.errors import TooComplex

    context = synced_counter.context(offline=True)
    qr = qr_texts_of_first_page(trust_domain.licences["yyzz"].pdf, DEFAULT_LIMITS)[0]
    waiting = _Waiting(context.licence_status, 3600)
    started = time.monotonic()
    with pytest.raises(TooComplex):
        verify_blocking(qr.encode(), _with_status(context, waiting, seconds=0.3))
    assert time.monotonic() - started < 5
    assert waiting.cancelled
    with pytest.raises(TooComplex):  # through asyncio.run as well
        asyncio.run(verify_bytes(qr.encode(), _with_status(context, _Waiting(
            context.licence_status, 3600), seconds=0.3)))


def test_work_that_waits_within_the_budget_gives_the_same_report(trust_domain,
                                                                  synced_counter):
    context = synced_counter.context(offline=True)
    qr = qr_texts_of_first_page(trust_domain.licences["yyzz"].pdf, DEFAULT_LIMITS)[0]
    direct = verify_blocking(qr.encode(), context)
    for seconds in (0, 0.01):
        waited = verify_blocking(qr.encode(), _with_status(
            context, _Waiting(context.licence_status, seconds)))
        assert _codes(waited) == _codes(direct) and waited.verdict == "valid"
        ours, theirs = (r.check("licence.status") for r in (waited, direct))
        assert (ours.message_en, ours.details["status"]) == (theirs.message_en,
                                                             theirs.details["status"])
    forged = _flip_signature(qr)
    report = verify_blocking(forged.encode(), _with_status(
        context, _Waiting(context.licence_status, 0.01)))
    assert report.verdict == "invalid" and report.check("qr.signature").outcome == "failed"


def test_errors_of_the_first_step_are_raised_unchanged(synced_counter):
    from verify.errors import UnusableInput

    context = synced_counter.context(offline=True)
    with pytest.raises(UnusableInput, match="empty"):
        verify_blocking(b"", context)
    with pytest.raises(UnusableInput, match="not a PDF"):
        asyncio.run(verify_bytes(b"hello", context))
