"""Headless Chromium for the page tests: found on PATH, required where OPTADVISOR_REQUIRE_BROWSER is set
(CI), run offline with a throwaway profile."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

BROWSER = shutil.which("chromium")


def require_browser() -> str:
    """Chromium's path; skips the test without it, or fails it where CI requires it."""
    if BROWSER is None:
        if os.environ.get("OPTADVISOR_REQUIRE_BROWSER"):
            pytest.fail("OPTADVISOR_REQUIRE_BROWSER is set but chromium is not installed")
        pytest.skip("chromium is not installed (set OPTADVISOR_REQUIRE_BROWSER=1 to make this a failure)")
    return BROWSER


def run_browser(profile: Path, *options: str) -> subprocess.CompletedProcess[str]:
    """Run headless Chromium with `options` (e.g. --dump-dom URL) and a profile in `profile`."""
    command = [
        require_browser(),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={profile}",
        *options,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=True)
