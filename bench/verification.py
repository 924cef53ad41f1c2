"""Verification figures: a licence PDF offline (after a status-list sync) and online, the
QR text offline, a photo of the printed page; baselines: bare pyHanko validation of the
same PDF (trusting the root, no fetching) and poppler's ``pdfsig``, one process a file.

Our side runs with the accelerator (verify/accel) in place, as a verification process
does. The offline PDF figures are taken in rounds, interleaved, so load drift on a shared
machine hits all alike: ours with the accelerator, ours without it, pyHanko as shipped,
and pyHanko with the accelerator's readers (for reference)."""

from __future__ import annotations

import asyncio
import io
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

from asn1crypto import x509 as asn1_x509
from cryptography.hazmat.primitives import serialization
from PIL import Image, ImageFilter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import async_validate_pdf_signature
from pyhanko_certvalidator import ValidationContext

from bench.measure import Sample, time_calls
from certseal.verifying import Verifier, trust_source
from verify import accel
from verify.inputs import verify_blocking
from verify.limits import DEFAULT_LIMITS
from verify.pdf_qr import qr_texts_of_first_page


def photo_of_printed_page(pdf: bytes) -> bytes:
    """pdftoppm at 150 dpi, rotated 7 degrees, slightly blurred, JPEG (as the verify tests
    make their photos): what a counter's phone sends."""
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "page.pdf").write_bytes(pdf)
        subprocess.run(["pdftoppm", "-r", "150", "-f", "1", "-l", "1", "-png",
                        str(Path(tmp) / "page.pdf"), str(Path(tmp) / "page")],
                       check=True, timeout=60)
        page = Image.open(next(Path(tmp).glob("page*.png"))).convert("RGB")
    photo = page.rotate(7.0, expand=True, fillcolor=(90, 80, 70),
                        resample=Image.Resampling.BICUBIC).filter(ImageFilter.GaussianBlur(1.0))
    out = io.BytesIO()
    photo.save(out, format="JPEG", quality=70)
    return out.getvalue()


def _ours(data: bytes, verifier: Verifier, *, offline: bool, expect: str = "valid"):
    context = verifier.context(offline=offline)  # built once, as a counter's service does

    def run() -> None:
        report = verify_blocking(data, context)  # as the API and the CLI run it
        if report.verdict != expect:
            raise AssertionError(f"verdict {report.verdict}, expected {expect}: "
                                 f"{[c.code for c in report.checks if c.outcome != 'passed']}")
    return run


def _bare_pyhanko(pdf: bytes, root) -> callable:
    trust = asn1_x509.Certificate.load(root.public_bytes(serialization.Encoding.DER))

    def run() -> None:
        reader = PdfFileReader(io.BytesIO(pdf))
        context = ValidationContext(trust_roots=[trust], allow_fetching=False)
        status = asyncio.run(async_validate_pdf_signature(reader.embedded_signatures[0],
                                                          context))
        if not status.intact or not status.valid:
            raise AssertionError("bare pyHanko: signature not intact/valid")
    return run


def _pdfsig(path: Path) -> callable:
    def run() -> None:
        done = subprocess.run(["pdfsig", str(path)], capture_output=True, timeout=30)
        if b"Signature Validation: Signature is Valid" not in done.stdout:
            raise AssertionError("pdfsig: signature not valid: " + done.stdout[-300:].decode())
    return run


def interleaved(runs: dict[str, tuple[bool, Callable[[], None]]], count: int,
                budget_s: float, rounds: int = 5) -> dict[str, Sample]:
    """Each run (accelerated?, call) ``count`` times in all, in ``rounds`` rounds whose
    order rotates; the accelerator is put in place for the accelerated runs only and
    taken out after each."""
    merged = {name: Sample() for name in runs}
    names = list(runs)
    per_round = max(1, count // rounds)
    for number in range(rounds):
        for name in names[number % len(names):] + names[:number % len(names)]:
            accelerated, call = runs[name]
            with accel.accelerated(accelerated) as on:
                if on != accelerated:
                    raise RuntimeError(f"{name}: the accelerator could not be put in place: "
                                       f"{accel.audit()}")
                sample = time_calls(call, per_round, budget_s=budget_s / rounds)
            merged[name].latencies += sample.latencies
            merged[name].wall += sample.wall
    if not accel.shipped():
        raise RuntimeError("the accelerator was left in place")
    return merged


def verification(under_test, served: bool, count: int, budget_s: float) -> dict[str, Sample]:
    """``served``: a server answers at the domain's base URL (online checks, sync)."""
    pdf = under_test.licences["yyzz"].pdf
    root = under_test.domain.certificates().root
    qr_text = qr_texts_of_first_page(pdf, DEFAULT_LIMITS)[0].encode()
    photo = photo_of_printed_page(pdf)
    results: dict[str, Sample] = {}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "licence.pdf"
        path.write_bytes(pdf)
        verifier = Verifier([trust_source(under_test.published)], cache_dir=Path(tmp) / "c")
        if served:
            asyncio.run(verifier.sync())
        offline_expect = "valid" if served else "indeterminate"  # unsynced: status unknown
        ours = _ours(pdf, verifier, offline=True, expect=offline_expect)
        results.update(interleaved({
            "pdf_offline": (True, ours),
            "pdf_offline_shipped": (False, ours),
            "pyhanko_validate": (False, _bare_pyhanko(pdf, root)),
            "pyhanko_validate_our_readers": (True, _bare_pyhanko(pdf, root)),
        }, count, budget_s))
        with accel.accelerated(True):
            if served:
                results["pdf_online"] = time_calls(_ours(pdf, verifier, offline=False),
                                                   count, budget_s=budget_s)
                results["qr_text_offline"] = time_calls(
                    _ours(qr_text, verifier, offline=True), count * 10, budget_s=budget_s)
                results["photo_offline"] = time_calls(_ours(photo, verifier, offline=True),
                                                      count, budget_s=budget_s)
        results["pdfsig"] = time_calls(_pdfsig(path), count, budget_s=budget_s)
    return results
