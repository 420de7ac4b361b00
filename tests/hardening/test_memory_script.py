"""The memory benchmark's smoke mode: small bodies and budgets, every scenario within the documented bound."""

import json
from pathlib import Path

import pytest

from benchmarks.hardening.memory import SMOKE_SCENARIOS, main


@pytest.mark.slow
def test_smoke_run_stays_within_the_bound(tmp_path: Path) -> None:
    output = tmp_path / "memory.json"
    assert main(["--smoke", "--output", str(output)]) == 0
    runs = json.loads(output.read_text())["runs"]
    assert [run["scenario"] for run in runs] == list(SMOKE_SCENARIOS)
    for run in runs:
        assert run["within_bound"], run
        assert run["answered_all"], run
        assert set(run["server_answers"]) <= {"200", "413", "503"}
    # Something is measured: the bodies are worked on, not all refused.
    assert sum(run["server_answers"].get("200", 0) for run in runs) > 0
