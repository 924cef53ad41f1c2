"""The issue's targets (issue 8, "Targets"), judged on the figures of one run."""

from __future__ import annotations

from bench.report import Row, at_least, at_most, info


def _get(d: dict, *keys, default=None):
    for key in keys:
        if not isinstance(d, dict) or key not in d:
            return default
        d = d[key]
    return d


def rows_for(r: dict) -> list[Row]:
    rows: list[Row] = []
    iss = r.get("issuance", {})
    library = _get(iss, "library", "rate_per_s")
    if iss:
        bb = _get(iss, "pyhanko_bb_reserved", "rate_per_s")
        rows.append(at_least(
            "issuance, library, 1 process", library, "licences/s", bb,
            ">= bare pyHanko B-B", baseline=bb, baseline_name="pyHanko B-B, bytes_reserved"))
        rows.append(info("  B-B through our SealSigner (not the baseline)",
                         _get(iss, "pyhanko_bb_seal_signer", "rate_per_s"), "sig/s"))
        rows.append(info("  bare pyHanko B-B, size dry run", _get(iss, "pyhanko_bb_default",
                                                                  "rate_per_s"), "sig/s"))
        rows.append(info("  raw HSM ECDSA P-256 sign (floor)",
                         _get(iss, "hsm_raw_sign", "rate_per_s"), "sig/s"))
        rows.append(info("  library p50 latency", _get(iss, "library", "p50_ms"), "ms"))

    api = r.get("api", {})
    if api:
        workers = api.get("workers", 1)
        for level, s in api.get("one_worker", {}).items():
            rows.append(info(f"issuance, API, 1 worker, c={level} (p99 {s['p99_ms']:.0f} ms)",
                             s["rate_per_s"], "licences/s"))
        all_workers = api.get("all_workers", {})
        for level, s in all_workers.items():
            rows.append(info(f"issuance, API, {workers} workers, c={level} "
                             f"(p99 {s['p99_ms']:.0f} ms)", s["rate_per_s"], "licences/s"))
        if all_workers and library:
            best = max(s["rate_per_s"] for s in all_workers.values())
            rows.append(at_least(f"issuance, API, {workers} workers, best", best,
                                 "licences/s", 1.6 * library,
                                 f">= 1.6x library rate ({workers} cores)", baseline=library,
                                 baseline_name="library, 1 process"))
            c8 = all_workers.get("8")
            if c8:
                rows.append(at_most(f"issuance, API, {workers} workers, p99 at c=8",
                                    c8["p99_ms"], "ms", 300.0, "< 300 ms"))

    ver = r.get("verification", {})
    if ver:
        pyhanko = _get(ver, "pyhanko_validate", "rate_per_s")
        pdfsig = _get(ver, "pdfsig", "rate_per_s")
        rows.append(at_least("verify PDF offline, every check", _get(ver, "pdf_offline",
                                                                     "rate_per_s"),
                             "files/s", pyhanko or 0, ">= bare pyHanko validation",
                             baseline=pyhanko, baseline_name="pyHanko validate"))
        rows.append(info("  the same, accelerator off", _get(
            ver, "pdf_offline_shipped", "rate_per_s"), "files/s", baseline=pyhanko,
            baseline_name="pyHanko validate"))
        rows.append(info("  pyHanko validate with the accelerator", _get(
            ver, "pyhanko_validate_our_readers", "rate_per_s"), "files/s"))
        rows.append(info("verify PDF online", _get(ver, "pdf_online", "rate_per_s"),
                         "files/s", baseline=pdfsig, baseline_name="pdfsig per file"))
        rows.append(info("  pdfsig per file (process)", pdfsig, "files/s"))
        rows.append(at_least("verify QR text offline", _get(ver, "qr_text_offline",
                                                            "rate_per_s"),
                             "texts/s/core", 5000, ">= 5,000/s per core"))
        rows.append(at_most("verify QR photo, p50 to verdict", _get(ver, "photo_offline",
                                                                    "p50_ms"),
                            "ms", 50.0, "p50 < 50 ms"))

    o = r.get("ocsp", {})
    if o and "skipped" not in o:
        base1 = _get(o, "openssl_c1", "rate_per_s")
        base16 = _get(o, "openssl_c16", "rate_per_s")
        rows.append(at_least("OCSP c=1", _get(o, "ours_c1", "rate_per_s"), "responses/s",
                             0.5 * (base1 or 0), ">= 0.5x openssl c=1", baseline=base1,
                             baseline_name="openssl ocsp c=1"))
        c16 = o.get("ours_c16", {})
        rate16 = c16.get("rate_per_s") if c16.get("all_answered") else 0.0
        rows.append(at_least("OCSP c=16, all answered", rate16, "responses/s",
                             0.5 * (base1 or 0), "all answered, >= 0.5x openssl c=1",
                             baseline=base16, baseline_name="openssl ocsp c=16"
                             + ("" if _get(o, "openssl_c16", "all_answered") else
                                ", NOT all answered")))
        idle = o.get("ours_c16_idle_connection", {})
        rows.append(Row("OCSP c=16 with an idle connection open", idle.get("rate_per_s"),
                        "responses/s", target="every request answered",
                        met=bool(idle.get("all_answered")),
                        gap="" if idle.get("all_answered") else
                        f"{idle.get('complete', 0)}/{idle.get('requested', 0)} answered"))
        rows.append(info("  OCSP responder alone, in process (no HTTP)",
                         _get(o, "in_process_respond_only", "rate_per_s"), "responses/s"))

    m = r.get("memory", {})
    if m:
        rows.append(at_most(f"peak RSS per worker, {m['licences']} licences", m["peak_mb"],
                            "MB", 250.0, "< 250 MB"))
        rows.append(at_most("RSS growth per worker (warm -> end)", m["growth_pct"], "%",
                            10.0, "< 10%"))

    f = r.get("flood", {})
    if f:
        probes, answers = f["probes"], f["flood"]
        who = f"{f['clients']} clients x {f['pdf_bytes'] / 2**20:.0f} MB verify"
        ocsp = probes["ocsp"]
        rows.append(at_most(f"flood ({who}): OCSP p99", ocsp["p99_ms"] if not ocsp["errors"]
                            else None, "ms", 100.0, "< 100 ms, all answered",
                            baseline=_get(f, "quiet_probes", "ocsp", "p99_ms"),
                            baseline_name="same probe, no flood"))
        for name in ("healthz", "tsa", "issuance"):
            p = probes[name]
            rows.append(info(f"  {name} p99 (max {p['max_ms']:.0f} ms, {p['errors']} failed)",
                             p["p99_ms"], "ms", baseline=_get(f, "quiet_probes", name,
                                                              "p99_ms"),
                             baseline_name="no flood"))
        rows.append(info("  flood verified", f["verified_per_s"], "PDFs/s"))
        rows.append(info("  flood refused 503", _get(answers, "503", "rate_per_s", default=0),
                         "answers/s"))
        longest = max((a["max_ms"] for a in answers.values()), default=None)
        rows.append(info("  flood's longest answer (upload included)",
                         longest and longest / 1000, "s"))
        rows.append(at_most("flood: seconds to idle after the clients left",
                            f["seconds_to_idle"], "s", 5.0, "within seconds (< 5 s)"))
        rows.append(at_most("flood: verification pool peak RSS (sum)",
                            _get(f, "memory_peak", "pool_mb"), "MB", 1024.0, "< 1 GB"))
        rows.append(info("  server process peak RSS", _get(f, "memory_peak", "server_mb"),
                         "MB"))

    scale = r.get("scale", [])
    if len(scale) >= 2:
        first, last = scale[0], scale[-1]
        for point in scale:
            rows.append(info(f"issuance with {point['stored_licences']:,} stored",
                             point["rate_per_s"], "licences/s"))
        rows.append(at_least(f"rate at {last['stored_licences']:,} / at "
                             f"{first['stored_licences']:,}",
                             last["rate_per_s"] / first["rate_per_s"]
                             if first["rate_per_s"] else None, "ratio", 0.9, ">= 0.9"))
    return rows
