"""Careless input at the command line, run as a subprocess: `certseal issue` names every
broken rule on one line (in the locale's language), never a traceback; `issue-batch`
always reads the file to its end, reports each bad line with its number and errors, sums
up once, and a rerun replays."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import domain_kit

from certs.identifiers import make_resident_id
from certs.samples import sample_licence_data


def certseal(home: Path, *args: str, lang: str = "C.UTF-8"):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("CERTSEAL_", "LC_", "LANG"))}
    env |= {"CERTSEAL_HSM_PIN": domain_kit.TEST_PIN_ENV["hsm_pin"], "LANG": lang}
    return subprocess.run([sys.executable, "-m", "certseal.cli", *args, "--home", str(home)],
                          capture_output=True, text=True, env=env, timeout=300)


CARELESS = sample_licence_data("yyzz") | {"名称": "福" * 64, "法定代表人": ""}


def test_issue_names_every_broken_rule_without_a_traceback(trust_domain, tmp_path):
    data = tmp_path / "data.json"
    data.write_text(json.dumps(CARELESS, ensure_ascii=False), encoding="utf-8")
    args = ("issue", "--department", trust_domain.department_id, "--type", "yyzz",
            "--data", str(data), "--out", str(tmp_path / "x.pdf"))
    done = certseal(trust_domain.home, *args)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr and len(done.stderr.splitlines()) == 1
    assert "名称: must be at most 60 characters long (has 64)" in done.stderr
    assert "法定代表人: must not be blank" in done.stderr
    as_json = certseal(trust_domain.home, *args, "--json", lang="zh_CN.UTF-8")
    error = json.loads(as_json.stdout)["error"]
    assert error["code"] == "invalid_licence_data"
    assert [(e["field"], e["rule"]) for e in error["errors"]] == [
        ("名称", "max_length"), ("法定代表人", "blank")]
    assert "长度不得超过 60 个字符" in as_json.stderr
    traditional = certseal(trust_domain.home, *args, lang="zh_TW.UTF-8")
    assert "長度不得超過 60 個字元" in traditional.stderr


def test_issue_refuses_deep_or_broken_json_files_cleanly(trust_domain, tmp_path):
    for name, text in (("deep", "[" * 100_000), ("deep object", '{"a":' * 50_000),
                       ("not UTF-8", "名称".encode("gbk"))):
        data = tmp_path / "data.json"
        data.write_bytes(text if isinstance(text, bytes) else text.encode())
        done = certseal(trust_domain.home, "issue", "--department",
                        trust_domain.department_id, "--type", "yyzz", "--data", str(data),
                        "--out", str(tmp_path / "x.pdf"))
        assert done.returncode == 3, (name, done.stderr)
        assert "Traceback" not in done.stderr and done.stderr.startswith("certseal: error:")


def test_batch_always_finishes_the_file_and_a_rerun_replays(trust_domain, tmp_path):
    lines: list[str] = []
    bad: dict[int, str] = {}
    for n in range(50):
        person = sample_licence_data("zyzgzs") | {
            "公民身份号码": make_resident_id(f"44010119850101{n:03d}"),
            "出生日期": "1985-01-01", "性别": "男" if n % 2 else "女",
            "证书编号": f"24350100{n:08d}"}
        if n % 7 == 3:  # the crash of issue 14: a too-long and an empty field
            person |= {"姓名": "王" * 40, "职业（工种）": ""}
            bad[n + 1] = "invalid_licence_data"
        line = json.dumps({"type": "zyzgzs", "data": person}, ensure_ascii=False)
        if n == 10:
            line, bad[n + 1] = "[" * 50_000, "invalid_record"
        if n == 20:
            line, bad[n + 1] = "{broken", "invalid_record"
        if n == 30:
            line, bad[n + 1] = "42", "invalid_record"
        if n == 40:
            line = line.replace("王晓燕", "王\\u202e晓燕")
            bad[n + 1] = "invalid_licence_data"
        lines.append(line)
    source = tmp_path / "batch.jsonl"
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    args = ("issue-batch", "--department", trust_domain.department_id, "--out-dir",
            str(tmp_path / "pdfs"), "--json", str(source))
    first = certseal(trust_domain.home, *args)
    assert first.returncode == 1, first.stderr
    assert "Traceback" not in first.stderr
    summary = json.loads(first.stdout)
    assert summary["issued"] + summary["failed"] == 50
    assert {f["line"]: f["code"] for f in summary["failures"]} == bad
    for failure in summary["failures"]:
        assert f"line {failure['line']}: " in first.stderr
        if failure["code"] == "invalid_licence_data":
            assert failure["errors"], failure
    too_long = next(f for f in summary["failures"] if f["line"] == 4)
    assert {e["field"]: e["rule"] for e in too_long["errors"]} == {
        "姓名": "max_length", "职业（工种）": "blank"}
    assert first.stderr.strip().splitlines()[-1] == (
        f"certseal: 50 records: {summary['issued']} issued, 0 replayed, "
        f"{summary['failed']} failed")
    again = json.loads(certseal(trust_domain.home, *args).stdout)
    assert (again["issued"], again["replayed"], again["failed"]) == (
        0, summary["issued"], summary["failed"])
    assert sorted(x["licence_id"] for x in again["licences"]) == sorted(
        x["licence_id"] for x in summary["licences"])


def test_a_csv_row_with_extra_cells_or_a_huge_cell_fails_alone(trust_domain, tmp_path):
    data = sample_licence_data("yyzz") | {"名称": "福州闽江坏行测试有限公司"}  # rows of its own
    flat = {k: v for k, v in data.items() if not isinstance(v, dict)}
    flat |= {f"营业期限.{k}": v for k, v in data["营业期限"].items()}
    header = list(flat)
    rows = [
        [flat[h] for h in header],
        [flat[h] for h in header] + ["surplus"],
        [("x" * 200_000 if h == "经营范围" else flat[h]) for h in header],
        [(flat[h] + "二" if h == "名称" else flat[h]) for h in header],
    ]
    import csv
    source = tmp_path / "batch.csv"
    with source.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)
    done = certseal(trust_domain.home, "issue-batch", "--department",
                    trust_domain.department_id, "--type", "yyzz", "--out-dir",
                    str(tmp_path / "out"), "--json", str(source))
    assert "Traceback" not in done.stderr
    summary = json.loads(done.stdout)
    assert (summary["issued"] + summary["replayed"], summary["failed"]) == (2, 2), summary
    assert {f["line"] for f in summary["failures"]} == {3, 4}


def test_department_names_are_clean_text_and_ids_have_one_spelling(trust_domain, tmp_path):
    from certs.identifiers import make_uscc
    from seal.models import Department

    uscc = make_uscc("11440100MB0014001")
    for name in ("广州市\u202e局理管督监场市", "广州\u200b市场监督管理局", "广州市\x1b[0m局"):
        refused = certseal(trust_domain.home, "department", "add", "--name", name,
                           "--uscc", uscc, "--types", "yyzz")
        assert refused.returncode == 1 and "Traceback" not in refused.stderr, refused.stderr
        assert "invisible or control character (U+" in refused.stderr
    added = certseal(trust_domain.home, "department", "add", "--name",
                     "  广州市\u3000测试局 ", "--uscc", uscc.lower(), "--types", "yyzz", "--json")
    assert added.returncode == 0, added.stderr
    assert json.loads(added.stdout)["department_id"] == uscc
    with trust_domain.domain.session() as session:
        assert session.get(Department, uscc).name == "广州市\u3000测试局"
    data = tmp_path / "data.json"
    data.write_text(json.dumps(sample_licence_data("yyzz"), ensure_ascii=False), "utf-8")
    issued = certseal(trust_domain.home, "issue", "--department", uscc.lower(), "--type",
                      "yyzz", "--data", str(data), "--out", str(tmp_path / "x.pdf"), "--json")
    assert issued.returncode == 0, issued.stderr
