"""The benchmark harness works: bench/run measures on a real trust domain and judges the
figures against the issue's targets (tiny counts: a few seconds, not a benchmark)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))  # the harness is not an installed package: bench/ at the root

from bench.chart import throughput_chart  # noqa: E402
from bench.measure import Sample  # noqa: E402
from bench.report import at_least, at_most, table  # noqa: E402


def test_quick_run_measures_issuance_baselines_and_scale(tmp_path):
    done = subprocess.run(
        [str(ROOT / "bench" / "run"), "--quick", "--json", "--only", "issuance,scale",
         "--scale", "20,300", "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    body = json.loads(done.stdout)
    assert body == json.loads((tmp_path / "results.json").read_text())
    rows = {row["figure"]: row for row in body["rows"]}
    library = rows["issuance, library, 1 process"]
    assert library["ours"] > 0 and library["baseline"] > 0
    assert library["ratio"] == round(library["ours"] / library["baseline"], 3)
    assert library["met"] in (True, False)
    assert body["results"]["issuance"]["hsm_raw_sign"]["rate_per_s"] > 100
    # Seeding moved the serial and status-index counters: issuing after it succeeded.
    scale = body["results"]["scale"]
    assert [p["stored_licences"] for p in scale] == [20, 300]
    assert all(p["count"] > 0 and p["errors"] == 0 for p in scale)
    assert body["machine"]["before"]["cores"] >= 1
    assert body["chart"] is None  # no throughput-against-concurrency section ran


def test_targets_say_by_how_much_they_are_missed():
    assert at_least("rate", 50.0, "/s", 100.0, ">= 100").gap == "missed by 50%"
    assert at_least("rate", 100.0, "/s", 100.0, ">= 100").met is True
    assert at_most("p99", 450.0, "ms", 300.0, "< 300 ms").gap == "missed by 50%"
    row = at_least("rate", 30.0, "/s", 60.0, ">= base", baseline=60.0, baseline_name="b")
    assert row.ratio == 0.5
    assert "0.50x" in table([row]) and "missed by 50%" in table([row])


def test_percentiles_are_nearest_rank_in_milliseconds():
    sample = Sample(latencies=[i / 1000 for i in range(1, 101)], wall=2.0)
    assert sample.p50 == 50.0 and sample.p99 == 99.0 and sample.rate == 50.0


def test_chart_is_a_png_with_both_panels(tmp_path):
    path = throughput_chart(tmp_path / "t.png", {"1 worker": [(1, 10.0), (4, 12.0)]},
                            {"ours": [(1, 900.0), (16, 1100.0)]}, "caption")
    image = Image.open(path)
    assert image.format == "PNG" and image.size[0] > image.size[1]
    # Something was drawn in each panel's series colour.
    colours = {c for _, c in image.getcolors(maxcolors=1 << 16)}
    assert (200, 40, 30) in colours
