"""Schemathesis with every check against a live server: zero failures expected.

    python benchmarks/hardening/fuzz.py                # spawn a server, fuzz for 60 s, write results
    python benchmarks/hardening/fuzz.py --seconds 300  # longer
    python benchmarks/hardening/fuzz.py --url URL      # fuzz a running server instead
    python benchmarks/hardening/fuzz.py --smoke        # a few examples per operation, fixed seed (CI)

Writes benchmarks/results/hardening_fuzz.json (not in smoke mode) and prints the summary.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from benchmarks.server import REPOSITORY, running_server

CONFIG = Path(__file__).with_name("schemathesis.toml")
RESULTS = REPOSITORY / "benchmarks" / "results" / "hardening_fuzz.json"
SMOKE_EXAMPLES = 5
SMOKE_SEED = 20240607


@dataclass(frozen=True)
class FuzzResult:
    exit_code: int
    seconds: float
    cases_generated: int | None
    failures: int | None
    seed: int
    output_tail: str


def run_schemathesis(
    url: str, *, seed: int, max_time: int | None = None, max_examples: int | None = None, workers: int = 2
) -> FuzzResult:
    """Run `schemathesis run <url>/openapi.json --checks all` and summarise it (exit 0 = no failures)."""
    command = [
        sys.executable, "-m", "schemathesis.cli", "--config-file", str(CONFIG), "--no-color",
        "run", f"{url}/openapi.json", "--checks", "all", "--seed", str(seed), "--workers", str(workers),
        "--request-timeout", "30",
    ]  # fmt: skip
    if max_time is not None:
        command += ["--max-time", str(max_time)]
    if max_examples is not None:
        command += ["--max-examples", str(max_examples)]
    started = time.monotonic()
    # Run from a scratch directory: schemathesis writes its report folder into the working directory.
    with tempfile.TemporaryDirectory() as scratch:
        finished = subprocess.run(command, cwd=scratch, capture_output=True, text=True, check=False)
    seconds = time.monotonic() - started
    output = finished.stdout + finished.stderr
    generated = re.search(r"(\d+) generated", output)
    failures = re.search(r"(\d+) unique failures?", output)
    return FuzzResult(
        exit_code=finished.returncode,
        seconds=round(seconds, 1),
        cases_generated=int(generated.group(1)) if generated else None,
        failures=int(failures.group(1)) if failures else (0 if finished.returncode == 0 else None),
        seed=seed,
        output_tail=output[-6000:],
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--url", help="fuzz this running server instead of spawning one")
    parser.add_argument("--seconds", type=int, default=60, help="time budget of the full run")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--smoke", action="store_true", help=f"{SMOKE_EXAMPLES} examples per operation")
    args = parser.parse_args(argv)

    def fuzz(url: str) -> FuzzResult:
        if args.smoke:
            return run_schemathesis(url, seed=SMOKE_SEED, max_examples=SMOKE_EXAMPLES, workers=1)
        return run_schemathesis(url, seed=args.seed, max_time=args.seconds)

    if args.url:
        result = fuzz(args.url)
    else:
        with (
            tempfile.TemporaryDirectory() as logs,
            running_server(Path(logs), {"log_level": "WARNING"}) as server,
        ):
            result = fuzz(server.url)
    print(result.output_tail)
    if not args.smoke:
        document = {"benchmark": "schemathesis --checks all", "smoke": False, **asdict(result)}
        document.pop("output_tail")
        RESULTS.write_text(json.dumps(document, indent=2) + "\n")
    return 0 if result.exit_code == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
