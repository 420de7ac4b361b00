"""The built wheel installs one import name, `optadvisor`; with the `server` extra the service, the CLI and
the client start from it, and the base install alone is a client that needs no server packages.

The new environments borrow third-party packages from this test environment (no network, no second torch
install), never this checkout: the full one through a path file to site-packages (a plain directory, so
the editable install's import hook does not run), the client-only one through links to exactly the
distributions the base requirements pull in, so an import of anything else fails there as it would in a
training environment that installed only the base package.
"""

import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from benchmarks.server import stop, wait_until_ready
from tests.service.live_server import free_port

REPO_ROOT = Path(__file__).resolve().parents[1]
SUBPACKAGES = {"client", "optimizers", "profiler", "rules", "service"}
# pydantic is not among them: typer, the command line's parser, depends on it.
SERVER_ONLY = ("fastapi", "uvicorn", "starlette", "prometheus_client", "yaml", "torch", "sqlalchemy")

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # Built from a copy of the tracked files, so no build/ directory lands in the checkout.
    source = tmp_path_factory.mktemp("source") / "optadvisor"
    tracked = subprocess.run(
        ["git", "ls-files", "-z"], cwd=REPO_ROOT, check=True, capture_output=True, text=True
    ).stdout.split("\0")
    for name in filter(None, tracked):
        target = source / name
        target.parent.mkdir(parents=True, exist_ok=True)
        origin = REPO_ROOT / name
        if origin.is_symlink():
            target.symlink_to(os.readlink(origin))
        elif origin.exists():
            shutil.copy2(origin, target)
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", out, source],
        check=True,
        capture_output=True,
    )
    (built,) = out.glob("optadvisor-*.whl")
    return built


def _new_venv(root: Path, wheel: Path, borrowed: Path) -> Path:
    subprocess.run([sys.executable, "-m", "venv", root], check=True)
    site = subprocess.run(
        [root / "bin" / "python", "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    (Path(site) / "borrowed_dependencies.pth").write_text(f"{borrowed}\n")
    subprocess.run(
        [root / "bin" / "python", "-m", "pip", "install", "-q", "--no-deps", "--no-index", wheel],
        check=True,
        capture_output=True,
    )
    return root


@pytest.fixture(scope="module")
def venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    yield _new_venv(tmp_path_factory.mktemp("venv"), wheel, Path(sysconfig.get_paths()["purelib"]))


def _base_requirements(wheel: Path) -> list[Requirement]:
    """The wheel's own base requirements (its METADATA, not this environment's install of the checkout)."""
    with zipfile.ZipFile(wheel) as archive:
        (name,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        metadata = archive.read(name).decode()
    lines = [
        line.split(":", 1)[1].strip() for line in metadata.splitlines() if line.startswith("Requires-Dist:")
    ]
    return [Requirement(text) for text in lines if "extra ==" not in text]


def _base_closure(wheel: Path) -> set[str]:
    """The distributions the package's base requirements pull in, transitively (no extras)."""
    found: set[str] = set()
    pending = _base_requirements(wheel)
    while pending:
        requirement = pending.pop()
        if requirement.marker is not None and not requirement.marker.evaluate({"extra": ""}):
            continue
        distribution = importlib.metadata.distribution(requirement.name)
        name = distribution.metadata["Name"].lower()
        if name in found:
            continue
        found.add(name)
        pending.extend(Requirement(text) for text in distribution.requires or [])
    return found


@pytest.fixture(scope="module")
def client_venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    borrowed = tmp_path_factory.mktemp("client-packages")
    site = Path(sysconfig.get_paths()["purelib"])
    for name in _base_closure(wheel):
        for file in importlib.metadata.distribution(name).files or []:
            top = Path(file).parts[0]
            if top.endswith(".dist-info") or top == ".." or (borrowed / top).exists():
                continue
            (borrowed / top).symlink_to(site / top)
    yield _new_venv(tmp_path_factory.mktemp("client-venv"), wheel, borrowed)


def run_in(venv: Path, *args: str | Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run a command from the new environment, outside the checkout."""
    return subprocess.run(
        [str(arg) for arg in args],
        cwd=venv,
        env={**os.environ, "PATH": f"{venv / 'bin'}:{os.environ['PATH']}"},
        check=check,
        capture_output=True,
        text=True,
    )


def test_the_wheel_holds_one_top_level_package(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
    top_level = {name.split("/")[0] for name in names if not name.split("/")[0].endswith(".dist-info")}
    assert top_level == {"optadvisor"}
    subpackages = {
        name.split("/")[1] for name in names if name.startswith("optadvisor/") and name.count("/") >= 2
    }
    assert subpackages >= SUBPACKAGES
    data = {"optadvisor/rules/default.yaml", "optadvisor/rules/evidence.json", "optadvisor/py.typed"}
    assert data <= set(names)


def test_installed_modules_come_from_the_wheel_and_no_generic_name_is_importable(venv: Path) -> None:
    probe = (
        "import importlib.util, json, optadvisor.client.capture, optadvisor.service.app, optadvisor.rules; "
        "print(json.dumps({'file': optadvisor.rules.__file__, 'generic': "
        f"[n for n in {sorted(SUBPACKAGES)!r} if importlib.util.find_spec(n)]}}))"
    )
    found = json.loads(run_in(venv, venv / "bin" / "python", "-c", probe).stdout)
    assert found["file"].startswith(str(venv)), found
    assert found["generic"] == []


def test_the_service_the_cli_and_the_client_run_from_the_wheel(venv: Path, tmp_path: Path) -> None:
    assert "serve" in run_in(venv, venv / "bin" / "optadvisor", "--help").stdout
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
        assert "rmsprop" in run_in(venv, venv / "bin" / "optadvisor", "optimizers", "--url", url).stdout
        asked = (
            "import json, sys; from optadvisor.client import OptadvisorClient; "
            "print(json.dumps(OptadvisorClient(sys.argv[1]).recommend({'training_steps': 1000})))"
        )
        answer = json.loads(run_in(venv, venv / "bin" / "python", "-c", asked, url).stdout)
        assert answer["method"] in {"adagrad", "rmsprop", "adadelta", "adam", "adamw", "sgd"}
        assert answer["configs"]["torch"]["code"]
    finally:
        stop(process, timeout=20)


def test_the_base_install_is_a_client_without_server_packages(client_venv: Path) -> None:
    python = client_venv / "bin" / "python"
    probe = (
        "import importlib.util, json, optadvisor.client; "
        f"print(json.dumps([n for n in {list(SERVER_ONLY)!r} if importlib.util.find_spec(n)]))"
    )
    assert json.loads(run_in(client_venv, python, "-c", probe).stdout) == []
    assert "recommend" in run_in(client_venv, client_venv / "bin" / "optadvisor", "--help").stdout
    refused = run_in(client_venv, client_venv / "bin" / "optadvisor", "serve", check=False)
    assert refused.returncode != 0
    assert "pip install 'optadvisor[server]'" in refused.stderr + refused.stdout
    assert "Traceback" not in refused.stderr
