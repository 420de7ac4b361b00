"""What a clone carries: run artefacts stay out of git, and the install extras keep their roles."""

import subprocess
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    "artefact",
    [
        ".schemathesis/report.json",
        ".hypothesis/examples/x",
        "optadvisor.db",
        "optadvisor.db-wal",
        "optadvisor.db-shm",
        "service/optadvisor.db",
        "dist/optadvisor-0.1.0-py3-none-any.whl",
    ],
)
def test_run_artefacts_are_ignored_by_git(artefact: str) -> None:
    checked = subprocess.run(
        ["git", "check-ignore", "--no-index", "--quiet", artefact], cwd=ROOT, check=False
    )
    assert checked.returncode == 0, f"{artefact} would be committed"


def _extras() -> dict[str, list[str]]:
    extras: dict[str, list[str]] = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    return extras


def _names(requirements: list[str]) -> set[str]:
    return {
        requirement.split("[")[0].split(">")[0].split("<")[0].split("=")[0].strip()
        for requirement in requirements
    }


def test_the_test_extra_holds_no_linters_and_the_lint_extra_no_test_frameworks() -> None:
    extras = _extras()
    linters = {"ruff", "mypy"}
    assert linters <= _names(extras["lint"])
    assert not linters & _names(extras["test"])
    assert "pytest" in _names(extras["test"]) and "pytest" not in _names(extras["lint"])


def test_the_base_install_carries_no_server_or_framework_packages() -> None:
    base = _names(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"])
    assert not base & {"fastapi", "uvicorn", "torch", "keras", "jax", "optax", "sqlalchemy"}
    assert "torch" in _names(_extras()["capture"]) and "fastapi" in _names(_extras()["server"])
