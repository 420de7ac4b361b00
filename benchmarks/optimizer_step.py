"""Step time of the built-in optimizers (torch flavour) against torch.optim's default on CPU.

Two workloads: many small tensors (a model-like list) and one 10M-element tensor. For each of
the six methods single ``step()`` calls of both implementations alternate on identical parameters
and gradients, so machine noise hits both alike; the fastest step of each is compared as the
ratio ours / torch.optim (goal ≤ 1.2), medians are recorded too.
Writes benchmarks/results/optimizer_step.json.

    python benchmarks/optimizer_step.py           # full run (a few minutes)
    python benchmarks/optimizer_step.py --smoke   # seconds-long run for CI
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from optadvisor import optimizers

RESULTS = Path(__file__).resolve().parent / "results" / "optimizer_step.json"

# Settings that exercise each method's main path (momentum, centered, amsgrad stay off: the defaults).
REFERENCES: dict[str, tuple[Callable[..., torch.optim.Optimizer], dict[str, Any]]] = {
    "adagrad": (torch.optim.Adagrad, {"lr": 1e-2}),
    "rmsprop": (torch.optim.RMSprop, {"lr": 1e-3}),
    "adadelta": (torch.optim.Adadelta, {"lr": 1.0}),
    "adam": (torch.optim.Adam, {"lr": 1e-3}),
    "adamw": (torch.optim.AdamW, {"lr": 1e-3}),
    "sgd": (torch.optim.SGD, {"lr": 1e-3, "momentum": 0.9}),
}


def small_tensor_shapes(count: int, smallest: int, largest: int) -> list[tuple[int, ...]]:
    """``count`` shapes with sizes spread log-uniformly between ``smallest`` and ``largest`` elements."""
    generator = torch.Generator().manual_seed(0)
    exponents = torch.empty(count).uniform_(
        float(torch.tensor(smallest).log()), float(torch.tensor(largest).log()), generator=generator
    )
    return [(int(torch.exp(e)),) for e in exponents]


def make_parameters(shapes: list[tuple[int, ...]]) -> list[torch.Tensor]:
    generator = torch.Generator().manual_seed(1)
    params = []
    for shape in shapes:
        param = torch.randn(shape, generator=generator).requires_grad_()
        param.grad = torch.randn(shape, generator=generator)
        params.append(param)
    return params


def step_seconds(optimizer: torch.optim.Optimizer) -> float:
    start = time.perf_counter()
    optimizer.step()
    return time.perf_counter() - start


def compare(method: str, shapes: list[tuple[int, ...]], samples: int) -> dict[str, float]:
    """Alternate single steps of both implementations; the fastest sample is the least disturbed one."""
    reference_class, settings = REFERENCES[method]
    ours = optimizers.create(method, make_parameters(shapes), **settings)
    reference = reference_class(make_parameters(shapes), **settings)
    ours.step()  # warm-up: lazy state creation and allocator caches
    reference.step()
    ours_times, reference_times = [], []
    for _ in range(samples):
        ours_times.append(step_seconds(ours))
        reference_times.append(step_seconds(reference))
    return {
        "ours_ms": min(ours_times) * 1e3,
        "torch_ms": min(reference_times) * 1e3,
        "ours_median_ms": statistics.median(ours_times) * 1e3,
        "torch_median_ms": statistics.median(reference_times) * 1e3,
        "ratio": min(ours_times) / min(reference_times),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--smoke", action="store_true", help="seconds-long run with smaller workloads")
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument(
        "--threads", type=int, default=1, help="torch intra-op threads (1 keeps shared machines quiet)"
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    workloads: dict[str, list[tuple[int, ...]]]
    if args.smoke:
        workloads = {
            "200 small tensors": small_tensor_shapes(200, 1_000, 10_000),
            "one 1M tensor": [(1_000_000,)],
        }
        samples = 5
    else:
        workloads = {
            "200 small tensors": small_tensor_shapes(200, 1_000, 100_000),
            "one 10M tensor": [(10_000_000,)],
        }
        samples = 30

    torch.manual_seed(0)
    results: dict[str, dict[str, dict[str, float]]] = {}
    for workload, shapes in workloads.items():
        results[workload] = {method: compare(method, shapes, samples) for method in optimizers.METHODS}

    report = {
        "smoke": args.smoke,
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "machine": platform.machine(),
        "goal_ratio": 1.2,
        "workloads": {
            name: {"tensors": len(s), "elements": sum(x[0] for x in s)} for name, s in workloads.items()
        },
        "results": results,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n")

    print(f"{'workload':<20} {'method':<9} {'ours ms':>9} {'torch ms':>9} {'ratio':>6}")
    for workload, by_method in results.items():
        for method, figures in by_method.items():
            print(
                f"{workload:<20} {method:<9} {figures['ours_ms']:>9.3f} {figures['torch_ms']:>9.3f} "
                f"{figures['ratio']:>6.2f}"
            )
    print(f"written to {args.output}")


if __name__ == "__main__":
    main()
