"""The outcomes dataset and the captures stored beside it: formats, reading, writing, hashing.

``outcomes.json.gz`` holds, for every task, the final metric of every grid configuration (and of any extra
configuration) on every seed, ``null`` for a diverged run, a short score curve per run, the untrained
model's metric, and the task's declared profile. ``captures.npz`` holds, for every task and seed, the
gradient samples ``GradientCapture`` recorded in the first steps of a run with Adam at its defaults,
exactly as the capture helper would send them (values float32, exact norms and nonzero counts), so the
engine can be refitted from the repository without training anything.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import numpy as np

DATA_DIR = Path(__file__).parent / "data"
OUTCOMES_PATH = DATA_DIR / "outcomes.json.gz"
CAPTURES_PATH = DATA_DIR / "captures.npz"
FORMAT = 1
_SEP = "::"

Samples = dict[str, dict[str, Any]]


@dataclass(frozen=True)
class TaskOutcomes:
    """One task's record in the dataset."""

    name: str
    family: str
    steps: int
    batch_size: int
    metric: str
    gap_basis: str
    profile: Mapping[str, Any]
    variant: Mapping[str, Any]
    initial: tuple[float | None, ...]  # per seed: the untrained model's metric
    outcomes: Mapping[str, tuple[float | None, ...]]  # config key -> per-seed metric (None: diverged)
    curves: Mapping[str, tuple[tuple[float | None, ...], ...]] = field(default_factory=dict)
    extra: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # off-grid key -> method, kwargs
    seconds: float = 0.0

    def as_json(self) -> dict[str, Any]:
        return {
            "family": self.family,
            "steps": self.steps,
            "batch_size": self.batch_size,
            "metric": self.metric,
            "gap_basis": self.gap_basis,
            "profile": dict(self.profile),
            "variant": dict(self.variant),
            "initial": list(self.initial),
            "outcomes": {key: list(values) for key, values in self.outcomes.items()},
            "curves": {key: [list(curve) for curve in curves] for key, curves in self.curves.items()},
            "extra": {key: dict(config) for key, config in self.extra.items()},
            "seconds": round(self.seconds, 2),
        }

    @staticmethod
    def from_json(name: str, record: Mapping[str, Any]) -> TaskOutcomes:
        return TaskOutcomes(
            name=name,
            family=record["family"],
            steps=record["steps"],
            batch_size=record["batch_size"],
            metric=record["metric"],
            gap_basis=record["gap_basis"],
            profile=record["profile"],
            variant=record["variant"],
            initial=tuple(record["initial"]),
            outcomes={key: tuple(values) for key, values in record["outcomes"].items()},
            curves={key: tuple(tuple(c) for c in curves) for key, curves in record.get("curves", {}).items()},
            extra=record.get("extra", {}),
            seconds=record.get("seconds", 0.0),
        )


@dataclass(frozen=True)
class Dataset:
    """The whole outcomes dataset and how it was made."""

    seeds: tuple[int, ...]
    grid: tuple[str, ...]
    tasks: Mapping[str, TaskOutcomes]
    provenance: Mapping[str, Any]

    def families(self) -> dict[str, list[TaskOutcomes]]:
        grouped: dict[str, list[TaskOutcomes]] = {}
        for task in self.tasks.values():
            grouped.setdefault(task.family, []).append(task)
        return grouped


def write_outcomes(dataset: Dataset, path: Path = OUTCOMES_PATH) -> None:
    document = {
        "format": FORMAT,
        "provenance": dict(dataset.provenance),
        "seeds": list(dataset.seeds),
        "grid": list(dataset.grid),
        "tasks": {name: task.as_json() for name, task in sorted(dataset.tasks.items())},
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(document, indent=None, separators=(",", ":"), allow_nan=False, sort_keys=True)
    # mtime=0: the same data gives the same bytes, so the file's hash identifies its content.
    with path.open("wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as compressed:
        compressed.write(text.encode())


def read_outcomes(path: Path = OUTCOMES_PATH) -> Dataset:
    document = json.loads(gzip.decompress(path.read_bytes()))
    if document.get("format") != FORMAT:
        raise ValueError(f"{path}: format {document.get('format')!r}, expected {FORMAT}")
    return Dataset(
        seeds=tuple(document["seeds"]),
        grid=tuple(document["grid"]),
        tasks={name: TaskOutcomes.from_json(name, record) for name, record in document["tasks"].items()},
        provenance=document["provenance"],
    )


def file_hash(path: Path) -> str:
    return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()


def write_captures(captures: Mapping[tuple[str, int], Samples], path: Path = CAPTURES_PATH) -> None:
    """Store each (task, seed)'s samples; values as float32, as ``GradientCapture`` recorded them."""
    arrays: dict[str, np.ndarray] = {}
    for (task, seed), samples in sorted(captures.items()):
        for group, sample in samples.items():
            prefix = _SEP.join((task, str(seed), group))
            arrays[f"{prefix}{_SEP}values"] = np.asarray(sample["values"], dtype=np.float32)
            arrays[f"{prefix}{_SEP}parameter_rms"] = np.asarray(sample["parameter_rms"], dtype=np.float64)
            for name, dtype in (("total_coordinates", np.int64), ("step_norms", np.float64)):
                if name in sample:
                    arrays[f"{prefix}{_SEP}{name}"] = np.asarray(sample[name], dtype=dtype)
            if "step_nonzeros" in sample:
                arrays[f"{prefix}{_SEP}step_nonzeros"] = np.asarray(sample["step_nonzeros"], dtype=np.int64)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, **cast(dict[str, Any], arrays))


def read_captures(path: Path = CAPTURES_PATH) -> dict[tuple[str, int], Samples]:
    """The stored samples in the service's JSON form, as the capture helper sends them."""
    captures: dict[tuple[str, int], Samples] = {}
    with np.load(path, allow_pickle=False) as archive:
        for key in archive.files:
            task, seed, group, name = key.split(_SEP)
            sample = captures.setdefault((task, int(seed)), {}).setdefault(group, {"format": "dense"})
            value = archive[key]
            sample[name] = value.item() if value.ndim == 0 else value.tolist()
    return captures
