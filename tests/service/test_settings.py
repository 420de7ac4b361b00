"""Settings come from OPTADVISOR_* variables, and the README's table documents every one of them."""

from pathlib import Path

import pytest
from pydantic import ValidationError

from optadvisor.service.settings import Settings

README = Path(__file__).resolve().parents[2] / "README.md"


def test_every_setting_is_documented_in_the_readme_table() -> None:
    table_rows = [
        line for line in README.read_text(encoding="utf-8").splitlines() if line.startswith("| `OPTADVISOR_")
    ]
    documented = {row.split("`")[1] for row in table_rows}
    expected = {f"OPTADVISOR_{name.upper()}" for name in Settings.model_fields}
    assert documented == expected


def test_settings_read_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPTADVISOR_PORT", "9123")
    monkeypatch.setenv("OPTADVISOR_API_KEYS", " first, second ,,")
    settings = Settings()
    assert settings.port == 9123
    assert settings.api_keys == ["first", "second"]


def test_out_of_range_setting_is_refused_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPTADVISOR_PORT", "70000")
    with pytest.raises(ValidationError, match="port"):
        Settings()


def test_the_body_buffer_must_hold_the_largest_body(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPTADVISOR_MAX_REQUEST_BYTES", str(64 * 1024 * 1024))
    monkeypatch.setenv("OPTADVISOR_MAX_BUFFERED_BYTES", str(32 * 1024 * 1024))
    with pytest.raises(ValidationError, match="max_buffered_bytes"):
        Settings()
