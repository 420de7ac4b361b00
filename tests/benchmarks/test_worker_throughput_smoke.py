"""benchmarks/worker_throughput.py --smoke runs one and two workers on varied bodies and reports the spread.

Its numbers are not checked against any goal: only that both servers were measured with every request
answered 2xx, that each worker's share comes from its own metrics, and that no answer came from the cache.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_worker_throughput_smoke_reports_both_servers_and_each_workers_share(tmp_path: Path) -> None:
    output = tmp_path / "worker_throughput.json"
    finished = subprocess.run(
        [
            sys.executable,
            "benchmarks/worker_throughput.py",
            "--smoke",
            "--tool",
            "python",
            "--output",
            str(output),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=400,
        check=False,
    )
    assert finished.returncode == 0, finished.stderr[-3000:]
    report = json.loads(output.read_text())
    assert [run["workers"] for run in report["runs"]] == [1, 2]
    for run in report["runs"]:
        assert run["ok_per_second"] > 0
        assert run["non_2xx"] == 0 and run["transport_errors"] == 0
        assert len({worker["pid"] for worker in run["per_worker"]}) == run["workers"]
        assert sum(worker["share"] for worker in run["per_worker"]) == pytest.approx(1.0)
        assert sum(worker["recommendations"] for worker in run["per_worker"]) == run["requests"]
        assert run["cache_hits"] == 0
    ratio = report["summary"]["two_to_one"]
    assert ratio["median"] == pytest.approx(
        report["runs"][1]["ok_per_second"] / report["runs"][0]["ok_per_second"]
    )
