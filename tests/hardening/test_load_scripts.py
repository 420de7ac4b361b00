"""The load, soak and overload scripts' smoke modes: a real server, a few seconds each, figures written."""

import json
from pathlib import Path

import pytest

from benchmarks.hardening.load import main


@pytest.mark.parametrize("mode", ["load", "soak", "overload"])
def test_smoke_run_passes_and_writes_figures(mode: str, tmp_path: Path) -> None:
    output = tmp_path / f"{mode}.json"
    flags = [] if mode == "load" else [f"--{mode}"]
    assert main(["--smoke", *flags, "--output", str(output)]) == 0

    figures = json.loads(output.read_text())
    assert figures["mode"] == mode
    assert figures["smoke"] is True
    assert figures["requests"] > 0
    assert figures["errors"] == 0
    assert figures["healthy_after"] is True
    assert figures["latency_ms"]["all"]["p50"] <= figures["latency_ms"]["all"]["p99"]
    if mode == "overload":
        assert set(figures["outcomes"]) <= {"200", "429", "503"}
        assert "503" in figures["outcomes"]
        assert figures["peak_growth_mb"] < figures["memory_bound_mb"]
