"""Snapshot the plans the rule set in force gives every corpus task, so the corpus can train them.

The held-out table compares the fitted engine with "today's rule set"; that rule set's plans are off the
grid (its learning rates are estimates), so they must be trained, not looked up. This asks the engine in
force for every (task, seed, budget, candidate set, what was sent) and writes the distinct configurations
and the plans to ``data/previous_advice.json``; ``generate`` then trains them beside the grid. Run once,
on a checkout of the commit whose rules are the baseline (the file records it), with the task profiles and
the captures of the corpus being built:

    python -m benchmarks.evidence list --profiles profiles.json        # in the corpus's checkout
    python -m benchmarks.evidence.previous_advice profiles.json CAPTURES OUTPUT   # in the baseline's
"""

from __future__ import annotations

import argparse
import json
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter

from benchmarks.evidence.dataset import Samples, read_captures
from optadvisor import profiler, rules

BUDGETS = (1, 4, 16)
CANDIDATES: dict[str, list[str]] = {
    "four": ["adagrad", "rmsprop", "adadelta", "adam"],
    "six": list(rules.METHODS),
}
# What the service was sent: everything the capture helper sends; the gradient arrays alone, as a user
# posting .npy files would; or nothing but the declared profile.
MODES = ("capture", "arrays", "declared")
_HELPER_ONLY_FIELDS = ("parameter_rms", "total_coordinates", "step_norms", "step_nonzeros")
_SAMPLES = TypeAdapter(dict[str, profiler.GradientSampleJSON])


def arrays_only(samples: Samples) -> Samples:
    return {
        group: {name: value for name, value in sample.items() if name not in _HELPER_ONLY_FIELDS}
        for group, sample in samples.items()
    }


def advise(
    profile: Mapping[str, Any], samples: Samples | None, budget: int, candidates: list[str]
) -> list[dict[str, Any]]:
    """The engine's tuning plan as the service would compute it: profile the samples, then recommend."""
    request = rules.RecommendationRequest.model_validate(
        {"profile": {**profile, "tuning_budget": budget}, "framework": "torch", "candidates": candidates}
    )
    measured = None
    if samples is not None:
        loaded = profiler.samples_from_json(_SAMPLES.validate_python(samples), profiler.Limits())
        measured = profiler.profile(loaded, training_steps=request.profile.training_steps, framework="torch")
    answer = rules.recommend(request, rules.load_ruleset(), measured)
    return [{"method": run.method, "kwargs": run.kwargs} for run in answer.tuning_plan]


def snapshot(profiles: Mapping[str, Mapping[str, Any]], captures: Path) -> dict[str, Any]:
    configs: dict[str, dict[str, dict[str, Any]]] = {}
    plans: dict[str, dict[str, list[str]]] = {}
    for (task_name, seed), samples in sorted(read_captures(captures).items()):
        profile = profiles[task_name]
        task_configs = configs.setdefault(task_name, {})
        keys_of = {json.dumps(config, sort_keys=True): key for key, config in task_configs.items()}
        for mode in MODES:
            sent = {"capture": samples, "arrays": arrays_only(samples), "declared": None}[mode]
            for label, candidates in CANDIDATES.items():
                for budget in BUDGETS:
                    keys = []
                    for config in advise(profile, sent, budget, candidates):
                        identity = json.dumps(config, sort_keys=True)
                        if identity not in keys_of:
                            keys_of[identity] = f"previous:{len(keys_of)}"
                            task_configs[keys_of[identity]] = config
                        keys.append(keys_of[identity])
                    plans.setdefault(task_name, {})[f"{mode}:{label}:{budget}:{seed}"] = keys
    commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout
    return {
        "rules_version": rules.load_ruleset().version,
        "commit": commit.strip(),
        "command": "python -m benchmarks.evidence.previous_advice",
        "configs": configs,
        "plans": plans,
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m benchmarks.evidence.previous_advice")
    parser.add_argument("profiles", type=Path, help="task name -> declared profile (JSON)")
    parser.add_argument("captures", type=Path, help="the corpus's captures.npz")
    parser.add_argument("output", type=Path, help="where to write previous_advice.json")
    arguments = parser.parse_args()
    document = snapshot(json.loads(arguments.profiles.read_text()), arguments.captures)
    arguments.output.write_text(json.dumps(document, indent=1, sort_keys=True) + "\n")
