"""The catalogue is JSON data consistent with create() and with torch's own defaults."""

from __future__ import annotations

import inspect
import json

import pytest
import torch

from optadvisor import optimizers
from optadvisor.optimizers import catalogue

TORCH_CLASSES = {
    "adagrad": torch.optim.Adagrad,
    "rmsprop": torch.optim.RMSprop,
    "adadelta": torch.optim.Adadelta,
    "adam": torch.optim.Adam,
    "adamw": torch.optim.AdamW,
    "sgd": torch.optim.SGD,
}


def test_entries_cover_every_method_and_serialise() -> None:
    assert [e.name for e in catalogue.entries()] == list(optimizers.METHODS)
    for entry in catalogue.entries():
        document = json.loads(json.dumps(entry.model_dump(mode="json")))
        assert set(document["update_rule"]) == set(optimizers.FRAMEWORKS)
        assert document["pitfalls"] and document["behaviour"] and document["failure_mode"]
        assert all(h["torch"] is None or h["torch"]["range"] for h in document["hyperparameters"])


def test_name_mapping_links_alpha_rho_decay() -> None:
    mapping = {m.canonical: m for m in catalogue.entry("rmsprop").name_mapping}
    assert (mapping["alpha"].torch, mapping["alpha"].keras, mapping["alpha"].optax) == (
        "alpha",
        "rho",
        "decay",
    )


def test_behaviour_figures_are_computed() -> None:
    rmsprop_text = " ".join(b.explanation for b in catalogue.entry("rmsprop").behaviour)
    assert "α = 0.99 → memory ≈ 100 steps, half-life 69 steps" in rmsprop_text
    adagrad_text = " ".join(b.explanation for b in catalogue.entry("adagrad").behaviour)
    assert "after 10,000 dense updates it is 1% of its first-step value" in adagrad_text


@pytest.mark.parametrize("method", optimizers.METHODS)
def test_torch_defaults_match_torch_optim(method: str) -> None:
    signature = inspect.signature(TORCH_CLASSES[method])
    for name, default in optimizers.defaults(method).items():
        assert signature.parameters[name].default == default, name


@pytest.mark.parametrize("method", optimizers.METHODS)
@pytest.mark.parametrize("framework", optimizers.FRAMEWORKS)
def test_catalogue_ranges_drive_create(method: str, framework: str) -> None:
    specs = [h.in_framework(framework) for h in catalogue.entry(method).hyperparameters]
    required = {spec.name: 0.1 for spec in specs if spec is not None and spec.required}
    for spec in specs:
        if spec is None or spec.type != "float" or spec.minimum is None:
            continue
        with pytest.raises(ValueError, match=spec.name):
            optimizers.create(
                method, [torch.zeros(1)], framework=framework, **{**required, spec.name: spec.minimum - 1}
            )


def test_defaults_show_required_learning_rate_as_none() -> None:
    assert optimizers.defaults("rmsprop", "optax")["learning_rate"] is None
    assert optimizers.defaults("adadelta", "keras")["learning_rate"] == 0.001
