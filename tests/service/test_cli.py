"""The `optadvisor` command against a live server: tables, exact JSON, one-line failures."""

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from gradient_payloads import npy_bytes
from live_server import REPO_ROOT, LiveServer, free_port

COMMAND = [sys.executable, "-m", "optadvisor.service.cli"]


def run_cli(*args: str, url: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*COMMAND, *args, "--url", url],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_optimizers_table_and_json(server: LiveServer) -> None:
    table = run_cli("optimizers", url=server.url)
    assert table.returncode == 0, table.stderr
    assert "adadelta" in table.stdout
    as_json = run_cli("optimizers", "rmsprop", "--json", url=server.url)
    assert as_json.returncode == 0, as_json.stderr
    assert json.loads(as_json.stdout) == httpx.get(f"{server.url}/v1/optimizers/rmsprop").json()


def test_one_optimizer_is_shown_as_text_with_its_brackets_intact(
    server: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "1000")  # no wrapping, so whole sentences can be looked for
    entry = httpx.get(f"{server.url}/v1/optimizers/adadelta").json()
    texts = [entry["failure_mode"], *entry["pitfalls"]]
    texts += [text for item in entry["behaviour"] for text in (item["topic"], item["explanation"])]
    assert any("[" in text for text in texts)  # E[g²]-style text, which console markup would eat
    shown = run_cli("optimizers", "adadelta", url=server.url)
    assert shown.returncode == 0, shown.stderr
    for text in texts:
        assert text in shown.stdout
    for parameter in entry["hyperparameters"]:
        assert f"{parameter['torch']['name']} = " in shown.stdout
    assert "\\u" not in shown.stdout


def test_recommend_from_profile_file_with_gradients(server: LiveServer, tmp_path: Path) -> None:
    profile = tmp_path / "profile.json"
    profile.write_text(json.dumps({"training_steps": 20000, "tuning_budget": 2}), encoding="utf-8")
    gradients = tmp_path / "grads.npy"
    gradients.write_bytes(npy_bytes())
    as_json = run_cli(
        "recommend",
        "--profile",
        str(profile),
        "--gradients",
        str(gradients),
        "--framework",
        "keras",
        "--json",
        url=server.url,
    )
    assert as_json.returncode == 0, as_json.stderr
    answer = json.loads(as_json.stdout)
    assert answer["framework"] == "keras"
    assert answer["measured"]["steps"] == 12
    measured = run_cli("recommend", "--profile", str(profile), "--gradients", str(gradients), url=server.url)
    assert measured.returncode == 0, measured.stderr
    assert "Measured in 12 steps of gradients" in measured.stdout
    assert f"sparsity {answer['measured']['sparsity']:.4g}" in " ".join(
        measured.stdout.replace("│", " ").split()
    )
    table = run_cli("recommend", "--profile", str(profile), url=server.url)
    assert table.returncode == 0, table.stderr
    assert "Measured in" not in table.stdout  # nothing was measured
    assert "Recommended:" in table.stdout
    assert "Tuning plan" in table.stdout


def test_recommend_from_whole_request_file(server: LiveServer, tmp_path: Path) -> None:
    request = tmp_path / "request.json"
    request.write_text(json.dumps({"profile": {"model_family": "rnn"}, "candidates": ["rmsprop", "sgd"]}))
    finished = run_cli("recommend", "--request", str(request), "--json", url=server.url)
    assert finished.returncode == 0, finished.stderr
    assert json.loads(finished.stdout)["method"] in ("rmsprop", "sgd")


def test_profile_command(server: LiveServer, tmp_path: Path) -> None:
    gradients = tmp_path / "layer.npy"
    gradients.write_bytes(npy_bytes())
    table = run_cli("profile", str(gradients), url=server.url)
    assert table.returncode == 0, table.stderr
    assert "sparsity" in table.stdout
    as_json = run_cli("profile", str(gradients), "--json", url=server.url)
    assert json.loads(as_json.stdout)["overall"]["steps"] == 12


def test_client_errors_are_one_line_and_nonzero(server: LiveServer, tmp_path: Path) -> None:
    request = tmp_path / "request.json"
    request.write_text(json.dumps({"profile": {"tuning_budget": 0}}))
    invalid = run_cli("recommend", "--request", str(request), url=server.url)
    assert invalid.returncode != 0
    assert invalid.stderr.count("\n") == 1
    assert "422" in invalid.stderr
    assert "Traceback" not in invalid.stderr
    unknown = run_cli("optimizers", "lion", url=server.url)
    assert unknown.returncode != 0
    assert unknown.stderr.count("\n") == 1


def test_json_files_holding_nan_or_infinity_are_one_line_and_nonzero(tmp_path: Path) -> None:
    # Python's json module reads these; the CLI refuses them before anything is sent (no server needed).
    url = f"http://127.0.0.1:{free_port()}"
    for option, text, word in [
        ("--profile", '{"training_steps": NaN}', "NaN"),
        ("--profile", '{"training_steps": 1000, "gradient_sparsity": -Infinity}', "-Infinity"),
        ("--request", '{"profile": {"training_steps": 1e999}}', "1e999"),
    ]:
        document = tmp_path / "document.json"
        document.write_text(text)
        finished = run_cli("recommend", option, str(document), url=url)
        assert finished.returncode != 0
        assert finished.stderr.count("\n") == 1
        assert f"{document} is not valid JSON: {word} is not a finite number" in finished.stderr
        assert "cannot reach" not in finished.stderr


def test_unreachable_server_is_one_line_and_nonzero() -> None:
    finished = run_cli("optimizers", url=f"http://127.0.0.1:{free_port()}")
    assert finished.returncode != 0
    assert finished.stderr.count("\n") == 1
    assert "cannot reach" in finished.stderr
    assert "Traceback" not in finished.stderr
    for url in ("localhost:8000", "http://[::1"):
        malformed = run_cli("optimizers", url=url)
        assert malformed.returncode != 0
        assert malformed.stderr.count("\n") == 1
        assert f"invalid server URL {url!r}" in malformed.stderr


def test_console_script_is_the_cli() -> None:
    finished = subprocess.run(
        [str(Path(sys.executable).parent / "optadvisor"), "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert finished.returncode == 0
    for command in ("serve", "recommend", "profile", "optimizers"):
        assert command in finished.stdout


def test_serve_refuses_bad_settings_and_rule_files_in_one_line(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("rules: [", encoding="utf-8")
    cases = [
        (
            {"OPTADVISOR_PORT": "eighty", "OPTADVISOR_MAX_REQUEST_BYTES": "1"},
            ["OPTADVISOR_PORT: ", "OPTADVISOR_MAX_REQUEST_BYTES: "],
        ),
        (
            {"OPTADVISOR_RULES": str(tmp_path / "missing.yaml")},
            [f"cannot read rule file {tmp_path / 'missing.yaml'}"],
        ),
        ({"OPTADVISOR_RULES": str(broken)}, [f"rule file {broken} is not valid YAML"]),
    ]
    for environment, expected in cases:
        finished = subprocess.run(
            [*COMMAND, "serve", "--port", str(free_port())],
            cwd=REPO_ROOT,
            env={**os.environ, **environment},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert finished.returncode != 0
        assert finished.stderr.count("\n") == 1, finished.stderr
        for part in expected:
            assert part in finished.stderr


def test_recommend_without_anything_to_go_on_says_what_to_give(server: LiveServer) -> None:
    nothing = run_cli("recommend", url=server.url)
    assert nothing.returncode != 0
    assert "nothing to recommend from: give --profile FILE" in nothing.stderr
    assert "--gradients FILE" in nothing.stderr and "--request FILE" in nothing.stderr


def test_profile_names_each_figure_in_words(
    server: LiveServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "1000")
    gradients = tmp_path / "grads.npy"
    gradients.write_bytes(npy_bytes())
    shown = run_cli("profile", str(gradients), url=server.url)
    assert shown.returncode == 0, shown.stderr
    schema = httpx.get(f"{server.url}/openapi.json").json()["components"]["schemas"]["Figures"]["properties"]
    for name in ("gsnr_median", "mean_to_spread_ratio", "sparsity"):
        line = next(line for line in shown.stdout.splitlines() if f" {name} " in line)
        assert schema[name]["description"].split(". ")[0].rstrip(".")[:60] in line


def test_studies_and_outcome_commands(server: LiveServer, tmp_path: Path) -> None:
    answer = httpx.post(
        f"{server.url}/v1/recommendations", json={"profile": {"model_family": "mlp", "tuning_budget": 2}}
    ).json()
    study = answer["id"]
    listed = run_cli("studies", "list", "--limit", "200", "--json", url=server.url)
    assert study in [item["id"] for item in json.loads(listed.stdout)["items"]]
    reported = run_cli(
        "outcome", study, "--plan-index", "0", "--metric", "0.91", "--higher-is-better", url=server.url
    )
    assert reported.returncode == 0, reported.stderr
    assert "Stored outcome" in reported.stdout and "Next:" in reported.stdout
    by_kwargs = run_cli(
        "outcome",
        study,
        "--method",
        "sgd",
        "--kwargs",
        '{"lr": 0.1}',
        "--metric",
        "0.5",
        "--json",
        url=server.url,
    )
    assert json.loads(by_kwargs.stdout)["outcome"]["configuration"] == "sgd:+4:0"
    assert json.loads(by_kwargs.stdout)["next"]["done"] is True
    shown = run_cli("studies", "show", study, url=server.url)
    assert "0.91" in shown.stdout and "sgd:+4:0" in shown.stdout
    done = run_cli("studies", "next", study, url=server.url)
    assert "Done: 2 of 2 runs" in done.stdout and "budget of 2 runs is spent" in done.stdout
    page = tmp_path / "report.html"
    saved = run_cli("studies", "report", study, "--output", str(page), url=server.url)
    assert saved.returncode == 0 and "<svg" in page.read_text()
    unnamed = run_cli("outcome", study, "--metric", "1", url=server.url)
    assert unnamed.returncode == 1 and "--plan-index" in unnamed.stderr
    missing = run_cli("studies", "show", "0" * 32, url=server.url)
    assert missing.returncode == 1 and len(missing.stderr.strip().splitlines()) == 1
