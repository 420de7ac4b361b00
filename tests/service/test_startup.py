"""An invalid OPTADVISOR_RULES file stops start-up with the rule set's own message."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml
from live_server import REPO_ROOT, free_port


def test_invalid_rules_file_stops_startup(tmp_path: Path) -> None:
    ruleset = yaml.safe_load((REPO_ROOT / "rules" / "default.yaml").read_text(encoding="utf-8"))
    ruleset["explanations"][0]["id"] = "broken-rule"
    ruleset["explanations"][0]["source"] = ""
    rules_file = tmp_path / "rules.yaml"
    rules_file.write_text(yaml.safe_dump(ruleset), encoding="utf-8")
    shutil.copy(REPO_ROOT / "rules" / "evidence.json", tmp_path / "evidence.json")
    env = {**os.environ, "OPTADVISOR_RULES": str(rules_file), "OPTADVISOR_LOG_FORMAT": "text"}
    command = [sys.executable, "-m", "uvicorn", "optadvisor.service.app:app", "--port", str(free_port())]
    finished = subprocess.run(
        command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert finished.returncode != 0
    assert "RuleSetError" in finished.stderr
    assert "rule 'broken-rule': source" in finished.stderr
