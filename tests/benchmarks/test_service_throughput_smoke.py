"""benchmarks/service_throughput.py --smoke drives every target and reports throughput, latency, server CPU
per request and the answer cache's hit rate.

The smoke run takes seconds; its numbers are not checked against any goal, only that each target was measured
with every request answered 2xx, that varied bodies never hit the answer cache while a repeated body does,
and that the ratios follow from the per-target figures.
"""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.service_throughput import figures_from_http_load, parse_wrk

ROOT = Path(__file__).resolve().parents[2]
TARGETS = {"bare", "varied", "declared"}


def _smoke(output: Path, *options: str) -> dict[str, object]:
    finished = subprocess.run(
        [sys.executable, "benchmarks/service_throughput.py", "--smoke", "--output", str(output), *options],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=400,
        check=False,
    )
    assert finished.returncode == 0, finished.stderr[-3000:]
    for name in TARGETS:
        assert name in finished.stdout
    report: dict[str, object] = json.loads(output.read_text())
    return report


def _assert_figures(report: dict[str, object]) -> None:
    repeats = report["repeats"]
    assert isinstance(repeats, list) and len(repeats) == 1
    (run,) = repeats
    targets = run["targets"]
    assert set(targets) == TARGETS
    for figures in targets.values():
        assert figures["requests"] > 0
        assert figures["requests_per_second"] > 0
        assert figures["ok_per_second"] == pytest.approx(figures["requests_per_second"])
        assert 0 < figures["p50_ms"] <= figures["p99_ms"]
        assert figures["non_2xx"] == 0
        assert figures["transport_errors"] == 0
        assert figures["server_cpu_us_per_request"] > 0
    assert targets["varied"]["cache_hit_rate"] == 0
    assert targets["declared"]["cache_hit_rate"] > 0.5
    bare = targets["bare"]
    for name in ("varied", "declared"):
        assert run["ratios"][f"{name}_to_bare"] == pytest.approx(
            targets[name]["ok_per_second"] / bare["ok_per_second"]
        )
        assert run["ratios"][f"{name}_cpu_to_bare"] == pytest.approx(
            targets[name]["server_cpu_us_per_request"] / bare["server_cpu_us_per_request"]
        )
        spread = report["ratios"][f"{name}_to_bare"]
        assert spread["min"] <= spread["median"] <= spread["max"]
    in_process = report["in_process"]
    assert isinstance(in_process, dict)
    for name in ("bare", "declared", "varied"):
        assert in_process[f"{name}_wall_us_per_request"] > 0
        assert in_process[f"{name}_cpu_us_per_request"] > 0
    shares = in_process["varied_layers"]["shares"]
    assert sum(shares.values()) == pytest.approx(1.0, abs=0.01)
    assert shares["engine (rules.recommend, config building aside)"] > 0


@pytest.mark.parametrize("tool", ["auto", "python"])
def test_smoke_measures_every_target(tool: str, tmp_path: Path) -> None:
    report = _smoke(tmp_path / "service_throughput.json", "--tool", tool)
    expected_tool = "wrk" if tool == "auto" and shutil.which("wrk") else "python"
    assert report["tool"] == expected_tool
    _assert_figures(report)


WRK_OUTPUT = """Running 30s test @ http://127.0.0.1:40000/v1/recommendations
  2 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    40.12ms   20.00ms   1.20s    90.00%
    Req/Sec   400.00    100.00   600.00     75.00%
  Latency Distribution
     50%  850.00us
     75%   45.00ms
     90%   60.00ms
     99%    1.50s
  24000 requests in 30.00s, 100.00MB read
  Socket errors: connect 0, read 1, write 0, timeout 2
  Non-2xx or 3xx responses: 600
Requests/sec:    800.00
Transfer/sec:      3.33MB
"""


def test_wrk_summary_is_read_with_units_and_error_counts() -> None:
    figures = parse_wrk(WRK_OUTPUT)
    assert figures.requests == 24_000
    assert figures.seconds == pytest.approx(30.0)
    assert figures.requests_per_second == pytest.approx(800.0)
    assert figures.ok_per_second == pytest.approx((24_000 - 600) / 30.0)
    assert figures.p50_ms == pytest.approx(0.85)
    assert figures.p99_ms == pytest.approx(1500.0)
    assert figures.non_2xx == 600
    assert figures.transport_errors == 3


def test_wrk_summary_without_a_request_count_is_refused() -> None:
    with pytest.raises(ValueError, match="no request count"):
        parse_wrk("unable to connect to 127.0.0.1:1 Connection refused\n")


def test_python_load_report_separates_rejections_from_transport_errors() -> None:
    report = {
        "seconds": 2.0,
        "outcomes": {"200": 90, "503": 10, "ReadError": 4},
        "p50_ms": 3.0,
        "p99_ms": 9.0,
    }
    figures = figures_from_http_load(report)
    assert figures.requests == 100
    assert figures.requests_per_second == pytest.approx(50.0)
    assert figures.ok_per_second == pytest.approx(45.0)
    assert figures.non_2xx == 10
    assert figures.transport_errors == 4
