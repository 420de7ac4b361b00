"""A short schemathesis pass (every check, fixed seed) against the live server: no failures."""

from benchmarks.hardening.fuzz import SMOKE_EXAMPLES, SMOKE_SEED, run_schemathesis
from benchmarks.server import RunningServer


def test_schemathesis_finds_nothing(server: RunningServer) -> None:
    # One worker: with a fixed seed, the same cases every run.
    result = run_schemathesis(server.url, seed=SMOKE_SEED, max_examples=SMOKE_EXAMPLES, workers=1)
    assert result.exit_code == 0, result.output_tail
    assert result.cases_generated is not None
    assert result.cases_generated > 100
