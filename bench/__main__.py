"""bench/run: measure certseal beside its baselines (issue 8) and print a table, one JSON
object (--json) and a PNG chart (bench/out/throughput.png).

    bench/run [--quick] [--json] [--only SECTION[,SECTION...]] [--out DIR]
              [--memory-licences N] [--scale 1000,100000] [--wait-quiet LOAD]

Sections: issuance, api, verification, ocsp, memory, scale, profile, flood (default: all).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

SECTIONS = ("issuance", "api", "verification", "ocsp", "memory", "scale", "profile",
            "flood")


@dataclass(frozen=True)
class Plan:
    """How much to measure: counts are per figure, budgets (seconds) cap each one."""

    library: int = 100
    api_per_level: int = 200  # requests at concurrency c: max(this, 4 * c)
    levels: tuple[int, ...] = (1, 4, 8, 16)
    verification: int = 50
    ocsp_requests: int = 20_000
    ocsp_timeout_s: float = 60.0
    memory_licences: int = 10_000
    scale_sizes: tuple[int, ...] = (1_000, 100_000)
    scale_issues: int = 50
    profile_licences: int = 30
    budget_s: float = 120.0
    flood_clients: int = 200  # issue 13: 200 concurrent 5 MB verifications, one address
    flood_seconds: float = 30.0
    flood_mbps: float = 1000.0  # their uploads together, as through one gigabit link


QUICK = Plan(library=15, api_per_level=8, levels=(1, 4, 8), verification=10, ocsp_requests=2_000,
             ocsp_timeout_s=15.0, memory_licences=100, scale_sizes=(1_000, 10_000),
             scale_issues=10, profile_licences=10, budget_s=15.0, flood_clients=30,
             flood_seconds=8.0)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="bench/run", description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="small counts: about a minute")
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    p.add_argument("--only", default=",".join(SECTIONS),
                   help=f"comma-separated sections of {', '.join(SECTIONS)}")
    p.add_argument("--out", type=Path, default=Path(__file__).parent / "out",
                   help="where the chart and results.json go (default bench/out)")
    p.add_argument("--memory-licences", type=int, help="licences in the memory run")
    p.add_argument("--scale", help="stored-licence counts to measure at, e.g. 1000,100000")
    p.add_argument("--wait-quiet", type=float, default=None, metavar="LOAD",
                   help="first wait (up to 10 min) for the 1-min load average to fall "
                        "under LOAD")
    p.add_argument("--keep", action="store_true", help="keep the temporary trust domains")
    args = p.parse_args(argv)
    unknown = set(args.only.split(",")) - set(SECTIONS)
    if unknown:
        p.error(f"unknown section(s): {', '.join(sorted(unknown))}")
    return args


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    plan = QUICK if args.quick else Plan()
    if args.memory_licences:
        plan = replace(plan, memory_licences=args.memory_licences)
    if args.scale:
        plan = replace(plan, scale_sizes=tuple(int(s) for s in args.scale.split(",")))
    only = set(args.only.split(","))

    from bench.measure import machine, wait_for_quiet

    before = (wait_for_quiet(args.wait_quiet, 600) if args.wait_quiet is not None
              else machine())
    log(f"machine: {before}")
    started = time.perf_counter()
    results = run(plan, only, keep=args.keep)
    after = machine()

    from bench.targets import rows_for

    rows = rows_for(results)
    body = {
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "quick": args.quick, "sections": sorted(only),
        "machine": {"before": before, "after": after},
        "seconds": round(time.perf_counter() - started, 1),
        "plan": plan.__dict__, "rows": [r.to_json() for r in rows], "results": results,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    chart = draw_chart(results, args.out, before, after)
    body["chart"] = str(chart) if chart else None
    (args.out / "results.json").write_text(json.dumps(body, indent=1, ensure_ascii=False))
    if args.json:
        print(json.dumps(body, ensure_ascii=False))
    else:
        from bench.report import table

        print(table(rows))
        print(f"\nload average (1/5/15 min) before {before['load_average']}, after "
              f"{after['load_average']} on {before['cores']} cores; {body['seconds']} s")
        if "ocsp" in results:
            print("OCSP baseline: openssl ocsp responding for a software CA of the same "
                  "shape (P-256, delegated signer, same number of certificates): our CA "
                  "keys are in the HSM and cannot be given to openssl.")
        if "profile" in results:
            print("\nissuance, ms per licence by stopwatch (no profiler):")
            for step, ms in results["profile"]["wall_clock_ms"].items():
                print(f"  {step:45s} {ms:8.2f}")
            print("issuance, own time by library under cProfile (inflated ~2x):")
            for entry in results["profile"]["cprofile"]["by_library"][:10]:
                print(f"  {entry['library']:45s} {entry['share_pct']:6.1f}%")
        print(f"\nfull results: {args.out / 'results.json'}; chart: {chart}")
    return 0


def run(plan: Plan, only: set[str], *, keep: bool) -> dict:
    from bench import issuance, profiling, verification
    from bench.environment import bench_domain, serving

    results: dict = {}
    workers = os.cpu_count() or 1
    with bench_domain(keep=keep) as under_test:
        port = int(under_test.base_url.rsplit(":", 1)[1])
        if "issuance" in only:
            log("issuance: library path and baselines")
            library = issuance.library_issuance(under_test, plan.library, plan.budget_s)
            base = issuance.baselines(under_test, plan.library, plan.budget_s)
            results["issuance"] = {"library": library.summary(),
                                   **{k: v.summary() for k, v in base.items()}}
        if "profile" in only:
            log("profile: issuance")
            results["profile"] = {
                "wall_clock_ms": profiling.wall_clock_steps(under_test,
                                                            plan.profile_licences),
                "cprofile": profiling.profile_issuance(under_test, plan.profile_licences)}
        need_server = only & {"api", "verification", "ocsp"}
        with (serving(under_test.home, port) if need_server
              else contextlib.nullcontext()) as server:
            if "verification" in only:
                log("verification")
                samples = verification.verification(under_test, True, plan.verification,
                                                    plan.budget_s)
                results["verification"] = {k: v.summary() for k, v in samples.items()}
            if "ocsp" in only:
                results["ocsp"] = run_ocsp(under_test, server, plan)
            if "api" in only:
                results["api"] = run_api(under_test, server, plan, workers)
        if "memory" in only:
            # A fresh worker: the API runs above leave the high-water mark of 16
            # concurrent issuances in theirs.
            log(f"memory: {plan.memory_licences} licences through one fresh worker")
            from bench.environment import domain_kit

            with serving(under_test.home, domain_kit.free_port()) as fresh:
                results["memory"] = issuance.memory_run(
                    fresh, under_test.api_key, plan.memory_licences,
                    budget_s=max(plan.budget_s, plan.memory_licences * 1.0))
        if "flood" in only:
            log(f"flood: {plan.flood_clients} clients verifying 5 MB PDFs, {plan.flood_seconds} s")
            results["flood"] = run_flood(under_test, port, plan)
    if "scale" in only:
        log(f"scale: issuance with {plan.scale_sizes} licences stored")
        with bench_domain(keep=keep) as scale_domain:
            results["scale"] = issuance.scale(scale_domain, plan.scale_sizes,
                                              plan.scale_issues, plan.budget_s)
    return results


def run_ocsp(under_test, server, plan: Plan) -> dict:
    import tempfile

    from bench import ocsp
    from bench.environment import domain_kit

    if not ocsp.ab_available():
        log("ocsp: skipped, ab not installed (apt-get install apache2-utils)")
        return {"skipped": "ab (apache2-utils) is not installed"}
    log("ocsp: ours and openssl ocsp, driven by ab")
    with tempfile.TemporaryDirectory() as tmp:
        ours_request = Path(tmp) / "ours.der"
        ours_request.write_bytes(ocsp.our_request(under_test))
        certificates = ocsp.issued_count(under_test)
        paths = ocsp.software_ca(Path(tmp) / "baseline", certificates)
        with ocsp.openssl_responder(paths, domain_kit.free_port()) as baseline_url:
            runs = ocsp.compare(server.base_url + "/pki/ocsp", ours_request, baseline_url,
                                paths["request"], requests=plan.ocsp_requests,
                                timeout_s=plan.ocsp_timeout_s,
                                ours_port=int(server.base_url.rsplit(":", 1)[1]))
        in_process = ocsp.in_process(under_test, ours_request.read_bytes(),
                                     min(plan.ocsp_requests, 5000), plan.budget_s)
    return {"baseline_certificates": certificates, **runs,
            **{f"in_process_{k}": v.summary() for k, v in in_process.items()}}


def run_flood(under_test, port: int, plan: Plan) -> dict:
    """A fresh one-worker server on the domain's own port (its certificates' OCSP URL),
    with the per-client verification limit off: the pool, not the rate limit, is what
    must hold (an attacker has many addresses)."""
    import tempfile

    from bench import flood
    from bench.environment import serving
    from bench.ocsp import our_request
    from certs.samples import sample_licence_data

    with tempfile.TemporaryDirectory() as tmp:
        pdf = Path(tmp) / "flood.pdf"
        pdf.write_bytes(flood.flood_pdf(under_test.licences["yyzz"].pdf))
        probes = flood.standard_probes(our_request(under_test), flood.tsa_request(),
                                       under_test.api_key,
                                       {"type": "yyzz", "data": sample_licence_data("yyzz")})
        with serving(under_test.home, port,
                     env={"CERTSEAL_RATE_LIMIT_VERIFY": "off"}) as server:
            return flood.run_flood(server.base_url, server.process.pid, pdf, probes,
                                   clients=plan.flood_clients, seconds=plan.flood_seconds,
                                   mbps=plan.flood_mbps)


def run_api(under_test, server, plan: Plan, workers: int) -> dict:
    from bench import issuance
    from bench.environment import domain_kit, serve_supports_workers, serving

    out: dict = {"workers": workers, "one_worker": {}, "all_workers": {}}
    for level in plan.levels:
        log(f"api: one worker, concurrency {level}")
        sample = issuance.api_issuance([server], under_test.api_key, level,
                                       max(plan.api_per_level, 4 * level), plan.budget_s)
        out["one_worker"][str(level)] = sample.summary()
    if workers < 2:
        return out
    forks = serve_supports_workers()
    out["mode"] = ("certseal serve --workers N" if forks else
                   "N single-worker certseal serve processes, clients spread over them")
    with contextlib.ExitStack() as stack:
        if forks:
            servers = [stack.enter_context(serving(under_test.home, domain_kit.free_port(),
                                                   workers=workers))]
        else:
            servers = [server] + [stack.enter_context(serving(under_test.home,
                                                              domain_kit.free_port()))
                                  for _ in range(workers - 1)]
        for level in plan.levels:
            if level < workers:
                continue
            log(f"api: {workers} workers, concurrency {level}")
            sample = issuance.api_issuance(servers, under_test.api_key, level,
                                           max(plan.api_per_level, 4 * level),
                                           plan.budget_s)
            out["all_workers"][str(level)] = sample.summary()
    return out


def draw_chart(results: dict, out: Path, before: dict, after: dict) -> Path | None:
    from bench.chart import throughput_chart

    api = results.get("api", {})
    issuance = {}
    if api.get("one_worker"):
        issuance["1 worker"] = [(int(c), s["rate_per_s"]) for c, s in api["one_worker"].items()]
    if api.get("all_workers"):
        issuance[f"{api['workers']} workers"] = [
            (int(c), s["rate_per_s"]) for c, s in api["all_workers"].items()]
    ocsp_series = {}
    o = results.get("ocsp", {})
    for name in ("ours", "openssl"):
        points = [(c, o[f"{name}_c{c}"]["rate_per_s"]) for c in (1, 16)
                  if f"{name}_c{c}" in o]
        if points:
            ocsp_series["certseal" if name == "ours" else "openssl ocsp"] = points
    if not issuance and not ocsp_series:
        return None
    caption = (f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, {before['cores']} cores, "
               f"load average before {before['load_average'][0]}, after "
               f"{after['load_average'][0]}")
    return throughput_chart(out / "throughput.png", issuance, ocsp_series, caption)


if __name__ == "__main__":
    sys.exit(main())
