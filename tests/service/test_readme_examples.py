"""Every ```bash block of the README (the API examples) succeeds against a live server, and so does every
```python block that uses the tracking module, as written, against the real MLflow (a local SQLite store) and
W&B (offline mode), and the per-group block (capture, answer, the answer's code trains the model).

Set-up and CLI snippets are fenced as ```sh and are not run here: they install things or start servers.
"""

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from live_server import REPO_ROOT, LiveServer

EXAMPLES = REPO_ROOT / "README.md"
BLOCKS = re.findall(r"```bash\n(.*?)```", EXAMPLES.read_text(encoding="utf-8"), flags=re.DOTALL)
TRACKER_BLOCKS = [
    block
    for block in re.findall(r"```python\n(.*?)```", EXAMPLES.read_text(encoding="utf-8"), flags=re.DOTALL)
    if "optadvisor.client.tracking" in block
]

GROUP_BLOCKS = [
    block
    for block in re.findall(r"```python\n(.*?)```", EXAMPLES.read_text(encoding="utf-8"), flags=re.DOTALL)
    if "advice_scope" in block
]


def test_there_is_an_example_per_endpoint() -> None:
    text = "\n".join(BLOCKS)
    for path in [
        "/v1/recommendations",
        "/v1/profiles",
        "/v1/replays",
        "/v1/optimizers",
        "/v1/rules",
        "/healthz",
        "/readyz",
        "/metrics",
        "/openapi.json",
        "/outcomes",
        "/next",
        "/report",
        "-X DELETE",
        "/v1/recommendations?limit=",
    ]:
        assert path in text, path


@pytest.mark.parametrize("block", BLOCKS, ids=[f"block{number}" for number in range(len(BLOCKS))])
def test_example_runs(block: str, server: LiveServer, tmp_path: Path) -> None:
    # The examples' python3 must be one with numpy: this interpreter's directory goes first on PATH.
    env = {
        **os.environ,
        "OPTADVISOR_URL": server.url,
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
    }
    assert _run(["bash", "-euo", "pipefail", "-c", block], env, tmp_path)


def _run(command: list[str], env: dict[str, str], folder: Path) -> str:
    """Run a snippet in `folder`; its standard output, once it has succeeded."""
    finished = subprocess.run(
        command, cwd=folder, env=env, check=False, capture_output=True, text=True, timeout=180
    )
    assert finished.returncode == 0, finished.stderr[-3000:]
    return finished.stdout


def test_there_is_a_snippet_per_tracker() -> None:
    assert [("import mlflow" in block, "import wandb" in block) for block in TRACKER_BLOCKS] == [
        (True, False),
        (False, True),
    ]


@pytest.mark.parametrize("block", TRACKER_BLOCKS, ids=["mlflow", "wandb"])
def test_tracker_snippet_runs(block: str, server: LiveServer, tmp_path: Path) -> None:
    tracker = "mlflow" if "import mlflow" in block else "wandb"
    if importlib.util.find_spec(tracker) is None:
        if os.environ.get("OPTADVISOR_REQUIRE_TRACKERS"):
            pytest.fail(f"OPTADVISOR_REQUIRE_TRACKERS is set but {tracker} is not installed")
        pytest.skip(f"{tracker} is not installed (pip install 'optadvisor[trackers]')")
    env = {
        **os.environ,
        "OPTADVISOR_URL": server.url,
        "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}",
        "WANDB_MODE": "offline",
        "WANDB_DIR": str(tmp_path),
        "WANDB_SILENT": "true",
    }
    env.pop("OPTADVISOR_API_KEY", None)
    printed = _run([sys.executable, "-c", block], env, tmp_path)
    assert "runs of the budget reported" in printed or tracker == "wandb"


def test_the_per_group_example_gets_per_group_advice_whose_code_trains(
    server: LiveServer, tmp_path: Path
) -> None:
    assert len(GROUP_BLOCKS) == 1
    env = {**os.environ, "OPTADVISOR_URL": server.url}
    env.pop("OPTADVISOR_API_KEY", None)
    printed = _run([sys.executable, "-c", GROUP_BLOCKS[0]], env, tmp_path)
    assert printed.startswith("per_group - ")  # the README's mixed model gets per-group advice
    assert "optimizer = " in printed  # the printed per-group code
    first, last = (
        float(value) for value in re.findall(r"first 50 steps ([0-9.]+), last 50 ([0-9.]+)", printed)[0]
    )
    assert last < first  # the pasted config trains the fresh model
