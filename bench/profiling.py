"""Where issuance time goes: cProfile over library issuances, read two ways.

- by step: cumulative time of the named steps of ``seal.issuance.issue_licence``
  (render, QR signing, validation material, PAdES sealing, store) and of the known costly
  calls inside them (time-stamp, OCSP, CRL, HSM sign, asn1crypto, database);
- by library: own time (tottime) of every function summed by the package it lives in,
  which says whose code the processor actually runs (reportlab, asn1crypto, sqlalchemy...).
"""

from __future__ import annotations

import cProfile
import io
import pstats
from collections import defaultdict

from certs.samples import sample_licence_data

# (label, file path fragment, function name): cumulative time is read for each.
STEPS = (
    ("issue_licence (all)", "seal/issuance.py", "issue_licence"),
    ("render_licence_pdf", "certs/render.py", "render_licence_pdf"),
    ("  finish_document (PDF/A, attachment)", "certs/document.py", "finish_document"),
    ("  make_qr_image", "certs/qr.py", "make_qr_image"),
    ("encode_qr_payload (QR signing)", "certs/qr.py", "encode_qr_payload"),
    ("gather_validation_material", "seal/validation_data.py", "gather_validation_material"),
    ("seal_pdf (PAdES, domain level)", "seal/pades.py", "seal_pdf"),
    ("  time-stamp (TSA respond)", "ca/tsa.py", "respond"),
    ("  OCSP respond", "ca/ocsp.py", "respond"),
    ("  validation_context", "seal/validation_data.py", "validation_context"),
    ("  PdfSigner.async_sign_pdf", "pdf_signer.py", "async_sign_pdf"),
    ("  seal image style (PIL)", "seal/pades.py", "_seal_style"),
    ("current_crls", "certseal/domain.py", "current_crl_der"),
    ("_store (record + commit)", "seal/issuance.py", "_store"),
    ("  session.commit", "sqlalchemy/orm/session.py", "commit"),
    ("allocate_licence_id", "certs/registry.py", "allocate_licence_id"),
    ("allocate_status_index", "certs/registry.py", "allocate_status_index"),
    ("HSM C_Sign (all)", "hsm/token.py", "sign_raw"),
    ("validate_licence_data", "certs/validation.py", "validate_licence_data"),
)

LIBRARIES = (
    ("reportlab", "/reportlab/"), ("asn1crypto", "/asn1crypto/"),
    ("pyhanko_certvalidator", "/pyhanko_certvalidator/"), ("pyhanko", "/pyhanko/"),
    ("sqlalchemy", "/sqlalchemy/"), ("sqlmodel", "/sqlmodel/"), ("PIL", "/PIL/"),
    ("qrcode", "/qrcode/"), ("cryptography", "/cryptography/"), ("pkcs11", "pkcs11"),
    ("jsonschema", "/jsonschema/"), ("cbor2", "cbor2"), ("fontTools", "/fontTools/"),
    ("certseal code", "/work/main/"), ("python stdlib", "/lib/python3"),
)


def _library_of(filename: str) -> str:
    if filename.startswith("~") or filename.startswith("<"):
        return "builtins (C: zlib, hashlib, sqlite3, ...)"
    for name, fragment in LIBRARIES:
        if fragment in filename:
            return name
    return "other"


def profile_issuance(under_test, count: int, type_code: str = "yyzz", top: int = 25) -> dict:
    data = sample_licence_data(type_code)
    under_test.issue(type_code, data)  # warm: fonts, caches, first OCSP answer
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(count):
        under_test.issue(type_code, data)
    profiler.disable()
    stats = pstats.Stats(profiler)
    raw = stats.stats  # type: ignore[attr-defined]
    total = sum(tt for (_, _, tt, _, _) in raw.values())
    per = 1000.0 / count

    steps = []
    for label, fragment, function in STEPS:
        cumulative = sum(ct for (file, _, name), (_, _, _, ct, _) in raw.items()
                         if name == function and fragment in file)
        # recursion-free top-level calls: cumulative is per distinct function, good enough
        steps.append({"step": label, "ms_per_licence": round(cumulative * per, 2)})

    by_library: dict[str, float] = defaultdict(float)
    for (file, _, _), (_, _, tt, _, _) in raw.items():
        by_library[_library_of(file)] += tt
    libraries = [{"library": name, "ms_per_licence": round(t * per, 2),
                  "share_pct": round(100 * t / total, 1)}
                 for name, t in sorted(by_library.items(), key=lambda kv: -kv[1])]

    hot = sorted(raw.items(), key=lambda kv: -kv[1][2])[:top]
    functions = [{"function": f"{_short(file)}:{line}({name})", "calls_per_licence":
                  round(nc / count, 1), "own_ms_per_licence": round(tt * per, 2),
                  "cum_ms_per_licence": round(ct * per, 2)}
                 for (file, line, name), (_, nc, tt, ct, _) in hot]
    text = io.StringIO()
    pstats.Stats(profiler, stream=text).sort_stats("cumulative").print_stats(40)
    return {"licences": count, "profiled_ms_per_licence": round(total * per, 2),
            "steps": steps, "by_library": libraries, "hottest_functions": functions,
            "cumulative_listing": text.getvalue()}


def _short(filename: str) -> str:
    for marker in ("site-packages/", "/work/main/", "/lib/python3.11/"):
        if marker in filename:
            return filename.split(marker, 1)[1]
    return filename


# (module, attribute) wrapped with a stopwatch for the wall-clock breakdown: the names
# ``seal.issuance`` imported, so wrapping them there times exactly the calls issuance makes.
TIMED = (
    ("seal.issuance", "render_licence_pdf"), ("certs.render", "make_qr_image"),
    ("certs.render", "finish_document"), ("seal.issuance", "encode_qr_payload"),
    ("seal.issuance", "gather_validation_material"), ("seal.issuance", "seal_pdf"),
    ("seal.issuance", "_store"), ("seal.issuance", "allocate_licence_id"),
    ("seal.issuance", "validate_licence_data"),
)


def wall_clock_steps(under_test, count: int, type_code: str = "yyzz") -> dict:
    """Milliseconds per licence spent in each step, by stopwatch (no profiler overhead,
    which inflates pure-Python code such as qrcode's mask search about threefold)."""
    import importlib
    import time

    spent: dict[str, float] = defaultdict(float)
    originals = []
    for module_name, attribute in TIMED:
        module = importlib.import_module(module_name)
        original = getattr(module, attribute)
        originals.append((module, attribute, original))

        def timed(*args, __original=original, __name=attribute, **kwargs):
            t0 = time.perf_counter()
            try:
                return __original(*args, **kwargs)
            finally:
                spent[__name] += time.perf_counter() - t0

        setattr(module, attribute, timed)
    data = sample_licence_data(type_code)
    try:
        under_test.issue(type_code, data)
        spent.clear()
        started = time.perf_counter()
        for _ in range(count):
            under_test.issue(type_code, data)
        total = time.perf_counter() - started
    finally:
        for module, attribute, original in originals:
            setattr(module, attribute, original)
    steps = {"issue_licence (all)": total, **spent}
    accounted = sum(spent[a] for m, a in TIMED if m == "seal.issuance")
    steps["other (lookups, QR claims, validation, ...)"] = total - accounted
    return {name: round(1000 * seconds / count, 2) for name, seconds in steps.items()}
