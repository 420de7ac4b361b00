"""A study's report page in headless Chromium, offline: it renders its pictures, breaks no rule of its own
Content-Security-Policy and raises no error (the browser's console is read from its log)."""

import subprocess
from pathlib import Path

import httpx
import numpy as np
from browser import require_browser, run_browser
from live_server import LiveServer


def _browser(tmp_path: Path, *options: str) -> subprocess.CompletedProcess[str]:
    # The console's messages go to stderr with logging on.
    return run_browser(tmp_path / "profile", "--enable-logging=stderr", "--v=0", *options)


def test_the_report_renders_its_pictures_without_errors(server: LiveServer, tmp_path: Path) -> None:
    require_browser()
    values = np.random.default_rng(3).normal(0, 0.01, (24, 128))
    values[:, ::2] = 0
    body = {
        "profile": {"model_family": "mlp", "training_steps": 20000, "tuning_budget": 4},
        "gradients": {"encoder.weight": {"format": "dense", "values": values.tolist()}},
    }
    answer = httpx.post(f"{server.url}/v1/recommendations", json=body, timeout=60).json()
    for index, run in enumerate(answer["tuning_plan"][:3]):
        report = {
            "method": run["method"],
            "kwargs": run["kwargs"],
            "metric": 0.4 + 0.1 * index,
            "metric_name": "val_loss",
        }
        assert (
            httpx.post(f"{server.url}{answer['links']['outcomes']}", json=report, timeout=30).status_code
            == 201
        )
    url = server.url + answer["links"]["report"]
    screenshot = tmp_path / "report.png"
    shot = _browser(tmp_path, "--window-size=1000,2600", f"--screenshot={screenshot}", url)
    dom = _browser(tmp_path, "--dump-dom", url).stdout
    assert screenshot.stat().st_size > 20_000
    assert dom.count("<svg") == 4 and "<polyline" in dom and "<circle" in dom
    log = shot.stderr + "\n" + _browser(tmp_path, "--dump-dom", url).stderr
    for sign in ("Refused to", "Content Security Policy", "Uncaught", "ERR_"):
        assert sign not in log, [line for line in log.splitlines() if sign in line][:3]
