"""Each speed benchmark's --smoke mode runs end to end and reports the figures it exists to measure.

The full runs are not part of the suite (they take minutes and their numbers need a quiet machine); these
check that the scripts still work and still produce their ratios.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _run(*arguments: str) -> str:
    finished = subprocess.run(
        [sys.executable, *arguments],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert finished.returncode == 0, finished.stderr[-2000:]
    return finished.stdout


def test_optimizer_step_smoke_reports_ratios_and_page_faults_for_every_case(tmp_path: Path) -> None:
    output = tmp_path / "optimizer_step.json"
    _run("benchmarks/optimizer_step.py", "--smoke", "--output", str(output))
    report = json.loads(output.read_text())
    cases = {(r["layout"], r["threads"], r["method"], r["framework"]) for r in report["results"]}
    assert cases == {
        (layout, threads, method, framework)
        for layout in report["layouts"]
        for threads in (1, 2)
        for method in ("adagrad", "rmsprop", "adadelta", "adam", "adamw", "sgd")
        for framework in ("torch", "keras", "optax")
    }
    for row in report["results"]:
        low, high = row["ratio_range"]
        assert 0 < low <= row["ratio_median"] <= high
        assert row["ours_faults_per_step"] >= 0 and row["torch_faults_per_step"] >= 0


def test_engine_latency_smoke_reports_microseconds(tmp_path: Path) -> None:
    output = tmp_path / "engine_latency.json"
    _run("benchmarks/engine_latency.py", "--smoke", "--output", str(output))
    report = json.loads(output.read_text())
    assert report["results"]
    for figures in report["results"].values():
        assert figures["engine_median_us"] > 0


@pytest.mark.parametrize("mode", ["--in-process", "--spawn"])
def test_profiler_throughput_smoke_reports_rate_and_memory(mode: str, tmp_path: Path) -> None:
    output = tmp_path / "profiler_throughput.json"
    printed = _run("benchmarks/profiler_throughput.py", mode, "--smoke", "--output", str(output))
    assert json.loads(output.read_text())
    figures = dict(line.split(maxsplit=1) for line in printed.splitlines() if line.strip())
    assert float(figures["mb_per_s"]) > 0
    assert float(figures["ratio_to_numpy_pass"]) > 0
    assert float(figures["peak_rss_growth_to_payload"]) >= 0


def test_capture_overhead_smoke_reports_both_models() -> None:
    report = json.loads(_run("benchmarks/capture_overhead.py", "--smoke"))
    assert {model["model"] for model in report["models"]} == {"mlp", "cnn"}
    for model in report["models"]:
        assert model["captured_ms_per_step"] > 0
        for figure in ("sampled_only_overhead_ratio", "one_pass_overhead_ratio"):
            low, high = model[f"{figure}_range"]
            assert low <= model[figure] <= high


def test_log_writer_smoke_reports_each_mode_against_no_log() -> None:
    lines = _run("benchmarks/log_writer.py", "--smoke").splitlines()
    modes = {line.split()[0]: line for line in lines}
    assert set(modes) == {"none", "batched", "queue_listener"}
    assert "ratio to none 1.000" in modes["none"]


def test_small_requests_smoke_reports_each_case_beside_the_declared_answer(tmp_path: Path) -> None:
    output = tmp_path / "small.json"
    printed = _run("benchmarks/small_requests.py", "--smoke", "--output", str(output))
    report = json.loads(output.read_text())
    assert report["declared_ms"]["median_ms"] > 0
    assert [case["case"] for case in report["cases"]] == ["dense", "capture"]
    for case in report["cases"]:
        assert 0 < case["range_ms"][0] <= case["median_ms"] <= case["range_ms"][1]
        assert case["met"] == (case["median_ms"] <= case["goal_ms"])
    ratio = report["json_to_npy"]
    assert ratio["min"] <= ratio["median"] <= ratio["max"]
    assert "declared profile" in printed
