"""``python -m benchmarks.evidence``: the evidence corpus, its outcomes dataset, the fit and its validation.

python -m benchmarks.evidence list                      # families and tasks
python -m benchmarks.evidence time [TASK ...]           # seconds each task's grid takes on one thread
nice -n 15 python -m benchmarks.evidence generate       # the whole dataset (see benchmarks/README.md)
python -m benchmarks.evidence fit                       # rules/evidence.json from the committed dataset
python -m benchmarks.evidence validate                  # the leave-one-family-out table
python -m benchmarks.evidence report                    # the READMEs' tables from the validation results
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path

from benchmarks.evidence.families import all_tasks, families
from benchmarks.evidence.fit import fit_all
from benchmarks.evidence.generate import generate, time_tasks
from benchmarks.evidence.report import write_reports
from benchmarks.evidence.validate import main_validate


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.evidence", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    listing = commands.add_parser("list", help="families and their tasks")
    listing.add_argument("--profiles", type=Path, help="also write each task's declared profile (JSON)")
    timing = commands.add_parser("time", help="per-task grid time on one thread, from 20 steps")
    timing.add_argument("tasks", nargs="*")
    generating = commands.add_parser("generate", help="train the grid on every task; write the dataset")
    generating.add_argument("--tasks", nargs="+", help="a subset of tasks (default: all)")
    generating.add_argument("--workers", type=int, default=2)
    generating.add_argument("--steps", type=int, help="fewer steps per run (smoke runs only)")
    generating.add_argument("--captures-only", action="store_true", help="write the captures, train nothing")
    commands.add_parser("fit", help="fit rules/evidence.json on every task of the committed dataset")
    commands.add_parser("validate", help="leave-one-family-out validation; writes benchmarks/results")
    commands.add_parser("report", help="rewrite the READMEs' evidence tables from the validation results")
    arguments = parser.parse_args(argv)
    if arguments.command == "list":
        if arguments.profiles:
            profiles = {task.spec.name: dict(task.spec.profile) for task in all_tasks()}
            arguments.profiles.write_text(json.dumps(profiles, indent=1, sort_keys=True) + "\n")
        for family, tasks in families().items():
            print(family)
            for task in tasks:
                print(f"  {task.spec.name}  ({task.spec.steps} steps, batch {task.spec.batch_size})")
    elif arguments.command == "time":
        names = arguments.tasks or [task.spec.name for task in all_tasks()]
        total = 0.0
        for name, seconds in time_tasks(names):
            total += seconds
            print(f"{seconds:7.1f} s  {name}", flush=True)
        print(f"{total:7.1f} s  in all (one thread)")
    elif arguments.command == "fit":
        evidence = fit_all()
        print(
            f"{len(evidence.tasks)} tasks; {evidence.neighbours} neighbours, shrinkage {evidence.shrinkage}"
        )
    elif arguments.command == "validate":
        main_validate()
        write_reports()
    elif arguments.command == "report":
        write_reports()
    else:
        generate(
            arguments.tasks,
            workers=arguments.workers,
            steps=arguments.steps,
            captures_only=arguments.captures_only,
        )


if __name__ == "__main__":
    main()
