"""The built wheel installs one import name, `optadvisor`, and the client, the CLI and the service start
from it in a virtual environment that has never seen this checkout.

The new environment borrows the test environment's third-party packages through a path file (so the test
needs no network and no second torch install), but not this checkout: the path file adds a plain directory,
which does not run the editable install's import hook.
"""

import json
import os
import subprocess
import sys
import sysconfig
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from benchmarks.server import stop, wait_until_ready
from tests.service.live_server import free_port

REPO_ROOT = Path(__file__).resolve().parents[1]
SUBPACKAGES = {"client", "optimizers", "profiler", "rules", "service"}

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            out,
            REPO_ROOT,
        ],
        check=True,
        capture_output=True,
    )
    (built,) = out.glob("optadvisor-*.whl")
    return built


@pytest.fixture(scope="module")
def venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", root], check=True)
    python = root / "bin" / "python"
    site = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    (Path(site) / "borrowed_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run(
        [python, "-m", "pip", "install", "-q", "--no-deps", "--no-index", wheel],
        check=True,
        capture_output=True,
    )
    yield root


def run_in(venv: Path, *args: str | Path) -> str:
    """Run a command from the new environment, outside the checkout, and return its output."""
    result = subprocess.run(
        [str(arg) for arg in args],
        cwd=venv,
        env={**os.environ, "PATH": f"{venv / 'bin'}:{os.environ['PATH']}"},
        check=True,
        capture_output=True,
        text=True,
    )
    return result.stdout


def test_the_wheel_holds_one_top_level_package(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        top_level = {name.split("/")[0] for name in names if not name.split("/")[0].endswith(".dist-info")}
    assert top_level == {"optadvisor"}
    assert {
        name.split("/")[1] for name in names if name.count("/") >= 2 and name.startswith("optadvisor/")
    } >= (SUBPACKAGES)
    assert "optadvisor/rules/default.yaml" in names
    assert "optadvisor/py.typed" in names


def test_installed_modules_come_from_the_wheel_and_no_generic_name_is_importable(venv: Path) -> None:
    probe = (
        "import importlib.util, json, optadvisor.client.capture, optadvisor.service.app, optadvisor.rules; "
        "print(json.dumps({'file': optadvisor.rules.__file__, 'generic': "
        f"[n for n in {sorted(SUBPACKAGES)!r} if importlib.util.find_spec(n)]}}))"
    )
    found = json.loads(run_in(venv, venv / "bin" / "python", "-c", probe))
    assert found["file"].startswith(str(venv)), found
    assert found["generic"] == []


def test_the_service_the_cli_and_the_client_run_from_the_wheel(venv: Path, tmp_path: Path) -> None:
    assert "serve" in run_in(venv, venv / "bin" / "optadvisor", "--help")
    port = free_port()
    log_path = tmp_path / "server.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [venv / "bin" / "optadvisor", "serve"],
            cwd=venv,
            env={**os.environ, "OPTADVISOR_PORT": str(port), "OPTADVISOR_HOST": "127.0.0.1"},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(url, process, lambda: log_path.read_text(errors="replace"), timeout=90)
        assert "rmsprop" in run_in(venv, venv / "bin" / "optadvisor", "optimizers", "--url", url)
        asked = (
            "import json, sys; from optadvisor.client import OptadvisorClient; "
            "print(json.dumps(OptadvisorClient(sys.argv[1]).recommend({'training_steps': 1000})))"
        )
        answer = json.loads(run_in(venv, venv / "bin" / "python", "-c", asked, url))
        assert answer["method"] in {"adagrad", "rmsprop", "adadelta", "adam", "adamw", "sgd"}
        assert answer["configs"]["torch"]["code"]
    finally:
        stop(process, timeout=20)
