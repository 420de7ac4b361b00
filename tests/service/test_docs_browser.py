"""/docs renders its endpoint list in headless Chromium with no internet: assets come from the service."""

from pathlib import Path

from browser import run_browser
from live_server import LiveServer


def test_docs_render_every_endpoint(server: LiveServer, tmp_path: Path) -> None:
    dom = run_browser(
        tmp_path / "profile", "--virtual-time-budget=15000", "--dump-dom", f"{server.url}/docs"
    ).stdout
    for path in ["/v1/profiles", "/v1/recommendations", "/v1/replays", "/v1/optimizers/{name}", "/v1/rules"]:
        assert f'data-path="{path}"' in dom, path
    assert "Unable to render" not in dom
