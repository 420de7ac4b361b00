"""Step time of the built-in optimizers against torch.optim's default on CPU, and page faults per step.

Three layouts (one 10M-element tensor, 200 tensors of 50k, 2,000 tensors of 1k), with one and with
two torch threads, for the six methods in each framework's semantics (``optimizers.create(method,
framework=...)``). The reference is torch.optim's class for the method, default implementation (on
CPU its single-tensor loop), on identical parameters and gradients. Keras and Optax flavours are
compared with the same torch.optim reference: they do a little more work per step (goal 1.3×
instead of 1.2×).

For each layout, thread count and method, the reference and the three flavours take turns in a
shuffled order within each repeat, each running ``--steps`` steps timed one by one; a repeat's
ratio is the flavour's median step over the reference's median step. The figures are the median
ratio over ``--repeats`` repeats with its range, so a slow phase of the shared machine hits all
implementations alike. Minor page faults (``getrusage``) are counted over the timed, steady-state
steps, after warm-up steps that create the state. Writes benchmarks/results/optimizer_step.json.

    python benchmarks/optimizer_step.py           # full run (about ten minutes)
    python benchmarks/optimizer_step.py --smoke   # seconds-long run for CI
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.reference import TORCH_CLASSES
from optadvisor import optimizers

RESULTS = Path(__file__).resolve().parent / "results" / "optimizer_step.json"
GOAL_RATIO = {"torch": 1.2, "keras": 1.3, "optax": 1.3}
WARM_UP_STEPS = 3

LEARNING_RATE = {"torch": "lr", "keras": "learning_rate", "optax": "learning_rate"}


def settings(method: str, framework: str) -> dict[str, Any]:
    """``framework``'s defaults except a learning rate (Optax requires one) and SGD's momentum.

    SGD runs with momentum so that it keeps state like the others; adadelta's learning rate is 1.0
    (torch's default, and Optax's default of None would make it climb).
    """
    values: dict[str, Any] = {LEARNING_RATE[framework]: 1.0 if method == "adadelta" else 1e-3}
    if method == "sgd":
        values["momentum"] = 0.9
    return values


def layouts(smoke: bool) -> dict[str, list[int]]:
    """Tensor sizes per layout; the smoke run keeps the shapes' character at a fraction of the size."""
    if smoke:
        return {"one 200k tensor": [200_000], "20 × 5k": [5_000] * 20, "200 × 1k": [1_000] * 200}
    return {"one 10M tensor": [10_000_000], "200 × 50k": [50_000] * 200, "2,000 × 1k": [1_000] * 2_000}


def make_parameters(sizes: list[int]) -> list[torch.Tensor]:
    generator = torch.Generator().manual_seed(1)
    params = []
    for size in sizes:
        param = torch.randn(size, generator=generator).requires_grad_()
        param.grad = torch.randn(size, generator=generator)
        params.append(param)
    return params


def minor_faults() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


@dataclass
class Contender:
    name: str
    optimizer: torch.optim.Optimizer
    ratios: list[float] = field(default_factory=list)
    medians_ms: list[float] = field(default_factory=list)
    faults_per_step: list[float] = field(default_factory=list)

    def run(self, steps: int) -> float:
        """Median seconds of ``steps`` steps; records the page faults they took."""
        times = []
        faults_before = minor_faults()
        for _ in range(steps):
            start = time.perf_counter()
            self.optimizer.step()
            times.append(time.perf_counter() - start)
        self.faults_per_step.append((minor_faults() - faults_before) / steps)
        median = statistics.median(times)
        self.medians_ms.append(median * 1e3)
        return median


def compare(
    method: str, sizes: list[int], repeats: int, steps: int, shuffle: random.Random
) -> list[Contender]:
    """The reference first, then one contender per framework, with the ratios of each repeat."""
    reference = Contender(
        "torch.optim", TORCH_CLASSES[method](make_parameters(sizes), **settings(method, "torch"))
    )
    flavours = [
        Contender(
            framework,
            optimizers.create(
                method, make_parameters(sizes), framework=framework, **settings(method, framework)
            ),
        )
        for framework in optimizers.FRAMEWORKS
    ]
    contenders = [reference, *flavours]
    for contender in contenders:
        for _ in range(WARM_UP_STEPS):
            contender.optimizer.step()
    for _ in range(repeats):
        order = contenders[:]
        shuffle.shuffle(order)
        medians = {contender.name: contender.run(steps) for contender in order}
        for flavour in flavours:
            flavour.ratios.append(medians[flavour.name] / medians[reference.name])
    return contenders


def summary(reference: Contender, flavour: Contender) -> dict[str, Any]:
    return {
        "ratio_median": statistics.median(flavour.ratios),
        "ratio_range": [min(flavour.ratios), max(flavour.ratios)],
        "ratios": flavour.ratios,
        "ours_ms_median": statistics.median(flavour.medians_ms),
        "torch_ms_median": statistics.median(reference.medians_ms),
        "ours_faults_per_step": statistics.median(flavour.faults_per_step),
        "torch_faults_per_step": statistics.median(reference.faults_per_step),
    }


def describe(row: dict[str, Any]) -> str:
    low, high = row["ratio_range"]
    return (
        f"{row['layout']:<15} {row['threads']} {row['method']:<9} {row['framework']:<6} "
        f"ratio {row['ratio_median']:.2f} ({low:.2f}-{high:.2f})  "
        f"ours {row['ours_ms_median']:8.2f} ms  torch {row['torch_ms_median']:8.2f} ms  "
        f"faults/step ours {row['ours_faults_per_step']:.0f} torch {row['torch_faults_per_step']:.0f}"
    )


def markdown(report: dict[str, Any]) -> str:
    """The README's tables: median ratio (range) per method and framework for each layout and thread
    count, then page faults per steady-state step (ours: the most of the three frameworks)."""
    thread_counts = sorted({row["threads"] for row in report["results"]})
    columns = [(layout, threads) for layout in report["layouts"] for threads in thread_counts]
    ratios: dict[tuple[str, str], dict[tuple[str, int], str]] = {}
    faults: dict[str, dict[tuple[str, int], list[float]]] = {}
    for row in report["results"]:
        column, (low, high) = (row["layout"], row["threads"]), row["ratio_range"]
        ratios.setdefault((row["method"], row["framework"]), {})[column] = (
            f"{row['ratio_median']:.2f} ({low:.2f}–{high:.2f})"
        )
        most = faults.setdefault(row["method"], {}).get(column, [0.0])[0]
        faults[row["method"]][column] = [max(most, row["ours_faults_per_step"]), row["torch_faults_per_step"]]
    header = " | ".join(f"{layout}, {threads} thread{'s' * (threads > 1)}" for layout, threads in columns)
    lines = [f"| method | framework | {header} |", "|---|---|" + "---|" * len(columns)]
    for (method, framework), by_column in ratios.items():
        lines.append(f"| {method} | {framework} | " + " | ".join(by_column[c] for c in columns) + " |")
    lines += ["", f"| page faults per step: ours / torch.optim | {header} |", "|---|" + "---|" * len(columns)]
    for method, counts in faults.items():
        cells = (f"{counts[c][0]:.0f} / {counts[c][1]:.0f}" for c in columns)
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--smoke", action="store_true", help="seconds-long run with smaller layouts")
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="torch intra-op thread counts")
    parser.add_argument("--repeats", type=int, default=None, help="interleaved repeats (default 7; smoke 1)")
    parser.add_argument("--steps", type=int, default=None, help="timed steps per repeat (default 5; smoke 2)")
    parser.add_argument("--methods", nargs="+", default=list(optimizers.METHODS), choices=optimizers.METHODS)
    parser.add_argument("--markdown", type=Path, help="print the README tables of a result file and exit")
    args = parser.parse_args()
    if args.markdown:
        print(markdown(json.loads(args.markdown.read_text())))
        return
    repeats = args.repeats or (1 if args.smoke else 7)
    steps = args.steps or (2 if args.smoke else 5)
    shuffle = random.Random(0)

    rows = []
    load_before = os.getloadavg()
    for layout, sizes in layouts(args.smoke).items():
        for threads in args.threads:
            torch.set_num_threads(threads)
            for method in args.methods:
                reference, *flavours = compare(method, sizes, repeats, steps, shuffle)
                for flavour in flavours:
                    row = {"layout": layout, "threads": threads, "method": method, "framework": flavour.name}
                    rows.append(row | summary(reference, flavour))
                    print(describe(rows[-1]), flush=True)

    report = {
        "smoke": args.smoke,
        "torch": torch.__version__,
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "load_average_before_after": [load_before[0], os.getloadavg()[0]],
        "goal_ratio": GOAL_RATIO,
        "repeats": repeats,
        "steps_per_repeat": steps,
        "layouts": {
            name: {"tensors": len(sizes), "elements": sum(sizes)}
            for name, sizes in layouts(args.smoke).items()
        },
        "results": rows,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    print(f"written to {args.output}")


if __name__ == "__main__":
    main()
