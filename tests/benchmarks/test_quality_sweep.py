"""The seed-spread tool: each config of a grid on every seed, summarised."""

import json
import math
from pathlib import Path

import pytest

from benchmarks.quality.search_space import Config
from benchmarks.quality.sweep import ConfigSpread, grid, main, table


def test_grid_crosses_every_rate_with_every_setting() -> None:
    configs = grid("rmsprop", [0.01, 0.001], [{"alpha": 0.9}, {"alpha": 0.99}])
    assert configs == [
        Config.of("rmsprop", {"lr": 0.01, "alpha": 0.9}),
        Config.of("rmsprop", {"lr": 0.01, "alpha": 0.99}),
        Config.of("rmsprop", {"lr": 0.001, "alpha": 0.9}),
        Config.of("rmsprop", {"lr": 0.001, "alpha": 0.99}),
    ]
    assert grid("adam", [0.003], []) == [Config.of("adam", {"lr": 0.003})]
    assert grid("rmsprop", [0.01], [{"alpha": 0.9}], {"centered": True}) == [
        Config.of("rmsprop", {"lr": 0.01, "alpha": 0.9, "centered": True})
    ]


def test_a_diverged_run_makes_the_mean_inf_but_not_the_median() -> None:
    spread = ConfigSpread(Config.of("adam", {"lr": 1.0}), (0.2, math.inf, 0.4))
    assert spread.diverged == 1
    assert spread.mean == math.inf
    assert spread.median == 0.4
    assert spread.as_dict()["metrics"] == [0.2, None, 0.4]
    rows = table([spread, ConfigSpread(Config.of("adam", {"lr": 0.1}), (0.2, 0.3, 0.4))])
    assert "| adam(lr=0.1) | 0.3 | +0.0% | 0.3 | 0.2 – 0.4 | 0 |" in rows
    assert "| adam(lr=1) | inf | +inf% |" in rows


def test_the_command_trains_each_config_on_each_seed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    output = tmp_path / "sweep.json"
    arguments = ["digits_mlp", "sgd", "--lr", "0.1", "-1", "--with", "momentum=0.5", "--seeds", "100", "101"]
    assert main([*arguments, "--steps", "3", "--workers", "1", "--json", str(output)]) == 0

    printed = capsys.readouterr().out
    assert "digits_mlp, 3 steps, seeds 100, 101" in printed
    document = json.loads(output.read_text())
    refused, trained = sorted(document["configs"], key=lambda config: config["kwargs"]["lr"])
    assert refused["diverged"] == 2 and refused["mean"] is None  # torch refuses lr=-1: inf on every seed
    assert trained["diverged"] == 0
    assert trained["kwargs"] == {"lr": 0.1, "momentum": 0.5}
    assert len(trained["metrics"]) == 2 and trained["metrics"][0] != trained["metrics"][1]


def test_a_setting_must_be_name_equals_value() -> None:
    with pytest.raises(SystemExit):
        main(["digits_mlp", "sgd", "--lr", "0.1", "--set", "momentum"])
