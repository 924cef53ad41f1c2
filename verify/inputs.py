"""One entry point for whatever a relying party hands over: PDF bytes, a PNG/JPEG image
holding the QR code, or the QR text itself."""

from __future__ import annotations

import asyncio
import contextvars
import threading
import time

from certs.qr import PREFIX
from verify.context import VerificationContext
from verify.errors import TooComplex, UnusableInput
from verify.image import decode_qr_image
from verify.pdf import verify_pdf
from verify.qr import verify_qr_text
from verify.report import VerificationReport

_PNG = b"\x89PNG\r\n\x1a\n"
_JPEG = b"\xff\xd8\xff"


def kind_of(data: bytes) -> str:
    """"pdf", "image" or "qr-text" by content, not by file name."""
    if not data:
        raise UnusableInput("the input is empty")
    if b"%PDF-" in data[:1024]:
        return "pdf"
    if data.startswith(_PNG) or data.startswith(_JPEG):
        return "image"
    try:
        text = data.decode("utf-8").strip()
    except UnicodeDecodeError:
        text = ""
    if text.startswith(PREFIX):
        return "qr-text"
    raise UnusableInput("not a PDF, a PNG/JPEG image or a licence QR text "
                        f"(QR texts start with {PREFIX})")


async def verify_bytes(data: bytes, context: VerificationContext) -> VerificationReport:
    """Judge ``data`` within the context's time budget (limits.verify_seconds): a hostile
    input that keeps the verifier busy past it is refused as too complex. The budget
    interrupts the work where it yields (network, threads, pyHanko's awaits); work that
    never yields (an offline check is all CPU) is refused once it is done past it."""
    budget = context.limits.verify_seconds
    started = time.monotonic()
    try:
        async with asyncio.timeout(budget):
            report = await _verify_bytes(data, context)
    except TimeoutError:
        raise TooComplex(f"verification took longer than {budget} s") from None
    if time.monotonic() - started > budget:
        raise TooComplex(f"verification took longer than {budget} s")
    return report


_thread_loops = threading.local()


def verify_blocking(data: bytes, context: VerificationContext) -> VerificationReport:
    """``verify_bytes`` for callers without an event loop (a worker thread of the API, the
    CLI): run on an event loop of this thread's own, kept for its next verification.

    ``asyncio.run`` builds and tears down a loop (selector, self-pipe, signal handling)
    per call, about 85 us: more than a third of a QR check's own work. A loop is never
    shared between threads; each call runs in a fresh copy of the caller's context, and
    tasks a verification leaves behind (cut off by the time budget) are cancelled before
    it returns, as ``asyncio.run`` would. Must not be called from a running event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass
    else:
        raise RuntimeError("verify_blocking cannot run on an event loop: await verify_bytes")
    loop = getattr(_thread_loops, "loop", None)
    if loop is None or loop.is_closed():
        loop = _thread_loops.loop = asyncio.new_event_loop()
    task = loop.create_task(verify_bytes(data, context), context=contextvars.copy_context())
    try:
        return loop.run_until_complete(task)
    finally:
        _cancel_leftovers(loop)


def _cancel_leftovers(loop: asyncio.AbstractEventLoop) -> None:
    left = [t for t in asyncio.all_tasks(loop) if not t.done()]
    if not left:
        return
    for task in left:
        task.cancel()
    loop.run_until_complete(asyncio.gather(*left, return_exceptions=True))


async def _verify_bytes(data: bytes, context: VerificationContext) -> VerificationReport:
    kind = kind_of(data)
    if kind == "pdf":
        return await verify_pdf(data, context)
    if kind == "image":
        # zxing and Pillow work is CPU-bound: keep it off the event loop.
        text = await asyncio.to_thread(decode_qr_image, data, context.limits)
        return await verify_qr_text(text, context)
    return await verify_qr_text(data.decode("utf-8"), context)
