"""Per-step overhead of GradientCapture.record() in a training loop, as a ratio to the uncaptured step.

Run: python benchmarks/capture_overhead.py [--smoke]
Writes benchmarks/results/capture_overhead.json (full runs) and prints the same JSON. Goal: overhead <= 5%.
Captured and uncaptured loops alternate; the overhead is the median over repeats of each back-to-back pair's
ratio, reported with the range of those ratios (the machine's noise), and the step times are medians.
Two more loops run in the same rotation: one records with `exact_aggregates=False` (the sampled coordinates
only: `sampled_only_overhead_ratio`), one only reads every gradient value once (a dot product per tensor):
the least any exact whole-tensor aggregate (norm, nonzero count) costs, `one_pass_overhead_ratio`.
"""

import argparse
import json
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Literal

import numpy as np
import torch

from client.capture import GradientCapture

Loop = Literal["uncaptured", "captured", "sampled_only", "one_pass"]

RESULTS = Path(__file__).parent / "results" / "capture_overhead.json"


Batches = Callable[[torch.Generator], tuple[torch.Tensor, torch.Tensor]]
Build = Callable[[], tuple[torch.nn.Module, Batches]]


def small_mlp() -> tuple[torch.nn.Module, Batches]:
    model = torch.nn.Sequential(
        torch.nn.Linear(256, 512),
        torch.nn.ReLU(),
        torch.nn.Linear(512, 512),
        torch.nn.ReLU(),
        torch.nn.Linear(512, 10),
    )
    return model, lambda g: (torch.randn(64, 256, generator=g), torch.randint(0, 10, (64,), generator=g))


def small_cnn() -> tuple[torch.nn.Module, Batches]:
    model = torch.nn.Sequential(
        torch.nn.Conv2d(3, 16, 3, padding=1),
        torch.nn.ReLU(),
        torch.nn.Conv2d(16, 32, 3, padding=1),
        torch.nn.ReLU(),
        torch.nn.AdaptiveAvgPool2d(4),
        torch.nn.Flatten(),
        torch.nn.Linear(32 * 16, 10),
    )
    return model, lambda g: (
        torch.randn(32, 3, 32, 32, generator=g),
        torch.randint(0, 10, (32,), generator=g),
    )


def seconds_per_step(
    build: Build,
    steps: int,
    loop: Loop,
) -> float:
    torch.manual_seed(0)
    model, batch = build()
    parameters = list(model.parameters())
    optimizer = torch.optim.SGD(parameters, lr=0.01)
    capture = (
        GradientCapture(model, steps=steps, exact_aggregates=loop == "captured")
        if loop in {"captured", "sampled_only"}
        else None
    )
    generator = torch.Generator().manual_seed(0)
    batches = [batch(generator) for _ in range(steps)]
    started = time.perf_counter()
    for inputs, targets in batches:
        optimizer.zero_grad()
        torch.autograd.backward(torch.nn.functional.cross_entropy(model(inputs), targets))
        if capture is not None:
            capture.record()
        elif loop == "one_pass":
            for parameter in parameters:
                flat = parameter.grad.reshape(-1).numpy()  # type: ignore[union-attr]
                np.dot(flat, flat)
        optimizer.step()
    return (time.perf_counter() - started) / steps


def measure(
    name: str,
    build: Build,
    steps: int,
    repeats: int,
) -> dict[str, float | int | str | list[float]]:
    seconds_per_step(build, 5, "captured")  # warm-up: allocator, kernels
    plain, captured, sampled, one_pass = [], [], [], []
    for _ in range(repeats):
        plain.append(seconds_per_step(build, steps, "uncaptured"))
        captured.append(seconds_per_step(build, steps, "captured"))
        sampled.append(seconds_per_step(build, steps, "sampled_only"))
        one_pass.append(seconds_per_step(build, steps, "one_pass"))
    base, with_capture = statistics.median(plain), statistics.median(captured)
    # Each repeat's ratio compares loops run back to back, so slow phases of the machine hit both alike.
    ratios = sorted(c / p - 1.0 for p, c in zip(plain, captured, strict=True))
    sampled_only = sorted(c / p - 1.0 for p, c in zip(plain, sampled, strict=True))
    floor = sorted(o / p - 1.0 for p, o in zip(plain, one_pass, strict=True))
    return {
        "model": name,
        "steps": steps,
        "repeats": repeats,
        "uncaptured_ms_per_step": round(base * 1e3, 4),
        "captured_ms_per_step": round(with_capture * 1e3, 4),
        "overhead_ratio": round(statistics.median(ratios), 4),
        "overhead_ratio_range": [round(ratios[0], 4), round(ratios[-1], 4)],
        "sampled_only_overhead_ratio": round(statistics.median(sampled_only), 4),
        "sampled_only_overhead_ratio_range": [round(sampled_only[0], 4), round(sampled_only[-1], 4)],
        "one_pass_overhead_ratio": round(statistics.median(floor), 4),
        "one_pass_overhead_ratio_range": [round(floor[0], 4), round(floor[-1], 4)],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="a few steps, to check the script runs (CI)")
    arguments = parser.parse_args()
    torch.set_num_threads(1)
    steps, repeats = (20, 1) if arguments.smoke else (200, 9)
    results = {
        "benchmark": "capture_overhead",
        "goal": "overhead_ratio <= 0.05",
        "torch": torch.__version__,
        "machine": platform.machine(),
        "threads": 1,
        "models": [measure("mlp", small_mlp, steps, repeats), measure("cnn", small_cnn, steps, repeats)],
    }
    text = json.dumps(results, indent=2)
    print(text)
    if not arguments.smoke:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
