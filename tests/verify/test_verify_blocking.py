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
