"""certseal issue-batch: many licences from JSON Lines or CSV on the issuance code path;
bad records reported by line without stopping the rest; a rerun replays."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import domain_kit

from certs.samples import sample_licence_data


def batch(home: Path, *args: str):
    env = {k: v for k, v in os.environ.items() if not k.startswith("CERTSEAL_")}
    env["CERTSEAL_HSM_PIN"] = domain_kit.TEST_PIN_ENV["hsm_pin"]
    return subprocess.run([sys.executable, "-m", "certseal.cli", "issue-batch", "--home",
                           str(home), *args], capture_output=True, text=True, env=env,
                          timeout=300)


def test_jsonl_batch_reports_each_record_and_a_rerun_replays(trust_domain, tmp_path):
    person = sample_licence_data("zyzgzs")
    other = dict(person, 证书编号="2435010000309999")
    bad = dict(person, 公民身份号码="350102199005120029")
    lines = [json.dumps({"type": "zyzgzs", "data": d}, ensure_ascii=False)
             for d in (person, other, bad)]
    lines.insert(1, "{not json")
    source = tmp_path / "batch.jsonl"
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "pdfs"
    args = ("--department", trust_domain.department_id, "--out-dir", str(out), "--json",
            str(source))
    first = batch(trust_domain.home, *args)
    assert first.returncode == 1, first.stderr
    summary = json.loads(first.stdout)
    assert (summary["issued"], summary["replayed"], summary["failed"]) == (2, 0, 2)
    assert {f["line"] for f in summary["failures"]} == {2, 4}
    assert "公民身份号码" in first.stderr and "line 4" in first.stderr
    for licence in summary["licences"]:
        assert Path(licence["pdf"]).read_bytes().startswith(b"%PDF-")
    again = json.loads(batch(trust_domain.home, *args).stdout)
    assert (again["issued"], again["replayed"]) == (0, 2)
    assert sorted(x["licence_id"] for x in again["licences"]) == \
        sorted(x["licence_id"] for x in summary["licences"])


def test_csv_batch_with_nested_columns(trust_domain, tmp_path):
    data = sample_licence_data("yyzz")
    flat = {k: v for k, v in data.items() if not isinstance(v, dict)}
    for key, value in data["营业期限"].items():
        flat[f"营业期限.{key}"] = value
    source = tmp_path / "batch.csv"
    with source.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(flat))
        writer.writeheader()
        writer.writerow(flat)
        writer.writerow(dict(flat, 名称="福州闽江第二科技有限公司"))
    done = batch(trust_domain.home, "--department", trust_domain.department_id, "--type",
                 "yyzz", "--out-dir", str(tmp_path / "out"), "--json", str(source))
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["issued"] == 2


def test_csv_without_type_and_missing_file_are_unusable(trust_domain, tmp_path):
    source = tmp_path / "x.csv"
    source.write_text("名称\nx\n", encoding="utf-8")
    done = batch(trust_domain.home, "--department", trust_domain.department_id,
                 "--out-dir", str(tmp_path / "o"), str(source))
    assert done.returncode == 3 and "--type" in done.stderr
    missing = batch(trust_domain.home, "--department", trust_domain.department_id,
                    "--out-dir", str(tmp_path / "o"), str(tmp_path / "nope.jsonl"))
    assert missing.returncode == 3 and "no such file" in missing.stderr
