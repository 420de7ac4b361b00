"""The names every layer shares are declared once, in `optimizers.catalogue.names`."""

import ast
from pathlib import Path

import pytest

from optadvisor import optimizers, profiler, rules
from optadvisor.optimizers import catalogue
from optadvisor.optimizers.catalogue.names import FRAMEWORKS, METHODS, framework_name, framework_names

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("optimizers", "profiler", "rules", "service", "client")
HOME = ROOT / "optimizers" / "catalogue" / "names.py"
# service/examples.py is the hand-written OpenAPI example being replaced by a schema generated from the
# models (issue 21, part B); until then its framework enum is checked against FRAMEWORKS by
# tests/service/test_names_served.py.
ALLOWED = {ROOT / "service" / "examples.py"}


def test_every_layer_reexports_the_catalogue_names() -> None:
    assert optimizers.METHODS is METHODS and optimizers.FRAMEWORKS is FRAMEWORKS
    assert rules.METHODS is METHODS and rules.FRAMEWORKS is FRAMEWORKS
    assert [entry.name for entry in catalogue.entries()] == list(METHODS)
    assert profiler.ReplayRun.model_fields["method"].annotation is catalogue.Method


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_the_name_maps_are_the_catalogues(method: str, framework: str) -> None:
    expected = {
        mapping.canonical: getattr(mapping, framework)
        for mapping in catalogue.entry(method).name_mapping
        if getattr(mapping, framework) is not None
    }
    assert framework_names(method, framework) == expected
    # Every name the map gives is one the framework's optimizer accepts.
    assert set(expected.values()) <= set(optimizers.defaults(method, framework))


def test_framework_name_spells_each_quantity_as_the_framework_does() -> None:
    assert [framework_name("rmsprop", "alpha", f) for f in FRAMEWORKS] == ["alpha", "rho", "decay"]
    assert [framework_name("adadelta", "eps", f) for f in FRAMEWORKS] == ["eps", "epsilon", "eps"]
    with pytest.raises(ValueError, match="lr_decay"):
        framework_name("adagrad", "lr_decay", "keras")
    with pytest.raises(ValueError, match="framework"):
        framework_names("adam", "jax")


def _spelled_out(node: ast.AST, names: tuple[str, ...]) -> bool:
    """A tuple, list, set or subscript (Literal[...]) whose string elements are exactly `names`."""
    elements: list[ast.expr] = []
    if isinstance(node, ast.Tuple | ast.List | ast.Set):
        elements = list(node.elts)
    strings = {e.value for e in elements if isinstance(e, ast.Constant) and isinstance(e.value, str)}
    return len(elements) == len(names) and strings == set(names)


def test_no_other_module_spells_out_the_methods_or_frameworks() -> None:
    found = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if path == HOME or path in ALLOWED:
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if _spelled_out(node, METHODS) or _spelled_out(node, FRAMEWORKS):
                    found.append(f"{path.relative_to(ROOT)}:{getattr(node, 'lineno', '?')}")
    assert not found, f"declare them in optimizers/catalogue/names.py and import them: {found}"
