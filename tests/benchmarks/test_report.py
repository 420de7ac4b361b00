"""The README's service benchmark table is generated from the committed result files."""

import json
from pathlib import Path

import pytest

from benchmarks import report


def test_the_readme_table_is_the_one_the_committed_results_give() -> None:
    text = report.README.read_text()
    assert report.render(text, report.load_results()) == text, "run python -m benchmarks.report"


def test_every_result_file_the_table_reads_gives_rows() -> None:
    results = report.load_results()
    assert {"optimizer_step", "engine_latency", "profiler_throughput", "service_throughput"} <= set(results)
    rows = report.table(results).splitlines()
    assert rows[:2] == ["| what | figure | goal |", "|---|---|---|"]
    assert len(rows) >= 2 + 6


def test_a_changed_result_changes_the_table(tmp_path: Path) -> None:
    results = report.load_results()
    engine = json.loads(json.dumps(results["engine_latency"]))
    for row in engine["results"].values():
        row["engine_median_us"] = 2000.0
    changed = report.table({**results, "engine_latency": engine})
    assert "2000 µs median" in changed and "≤ 1 ms (**not met**)" in changed


def test_a_document_without_the_markers_is_refused() -> None:
    with pytest.raises(ValueError, match="benchmarks:service"):
        report.render("# no table here\n", report.load_results())
