"""The corpus: every module in this package is one family of tasks.

A family module defines ``FAMILY`` (its name, also the prefix of its tasks' names) and ``tasks()``, its
procedural variants. Families are found by listing this package, so adding one is adding a module; a
private module (``_name``) holds pieces several families share and is not a family.
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache
from types import ModuleType

from benchmarks.evidence.task import Task


def _modules() -> list[ModuleType]:
    return [
        importlib.import_module(f"{__name__}.{info.name}")
        for info in sorted(pkgutil.iter_modules(__path__), key=lambda info: info.name)
        if not info.name.startswith("_")
    ]


@cache
def families() -> dict[str, tuple[Task, ...]]:
    """Each family's tasks, by family name."""
    return {module.FAMILY: tuple(module.tasks()) for module in _modules()}


def all_tasks() -> tuple[Task, ...]:
    return tuple(task for tasks in families().values() for task in tasks)


def task_named(name: str) -> Task:
    for task in all_tasks():
        if task.spec.name == name:
            return task
    raise KeyError(f"no corpus task named {name!r}")
