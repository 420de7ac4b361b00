"""Every ```bash block of the README (the API examples) succeeds against a live server.

Set-up and CLI snippets are fenced as ```sh and are not run here: they install things or start servers.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from live_server import REPO_ROOT, LiveServer

EXAMPLES = REPO_ROOT / "README.md"
BLOCKS = re.findall(r"```bash\n(.*?)```", EXAMPLES.read_text(encoding="utf-8"), flags=re.DOTALL)


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
    finished = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", block],
        cwd=tmp_path,
        env=env,
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert finished.returncode == 0, finished.stderr
    assert finished.stdout
