"""The benchmark's smoke mode, end to end: a real server, captured gradients, advice, training, outputs."""

import json
from pathlib import Path

from benchmarks.quality.__main__ import SMOKE_PROBLEMS, main


def test_smoke_run_asks_a_spawned_server_and_writes_every_output(tmp_path: Path) -> None:
    assert main(["--spawn", "--smoke", "--workers", "1", "--output-dir", str(tmp_path)]) == 0

    document = json.loads((tmp_path / "quality.json").read_text())
    assert document["settings"]["smoke"] is True
    assert [cell["problem"] for cell in document["cells"]] == list(SMOKE_PROBLEMS)
    for cell in document["cells"]:
        # The advice came from the service: it carries the rule set's version and the measured figures.
        assert cell["rules_version"]
        assert cell["measured"]["steps"] >= 2
        assert 1 <= len(cell["plan"]) <= cell["budget"] == 1
        assert 1 <= cell["recommendation"]["rank"] <= 7
        # Its kept configs were trained again on a seed no choice was made on.
        assert cell["fresh_seeds"]["seeds"] == document["settings"]["fresh_seeds"] == [100]
        assert 1 <= cell["fresh_seeds"]["recommendation"]["rank"] <= 7
    assert "| sparse_logreg_short | 1 |" in (tmp_path / "quality.md").read_text()
    assert (tmp_path / "quality_curves.png").read_bytes()[:4] == b"\x89PNG"
