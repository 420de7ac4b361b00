"""Per-group advice: when it is given, what it holds, and that alike groups get one method."""

import numpy as np
import pytest

from optadvisor.profiler import profile
from optadvisor.profiler.figures import Figures
from optadvisor.profiler.report import ProfileReport
from optadvisor.profiler.sample import make_sample
from optadvisor.profiler.synthetic import drifting_scale, stationary_gaussian, zipf_bag_of_words
from optadvisor.rules import RecommendationRequest, RuleSet, recommend
from optadvisor.rules.engine import recommend as recommend_whole_model
from optadvisor.rules.frameworks import constructor
from optadvisor.rules.groups import GroupVerdict, _by_kind, contrast
from tests.rules.conftest import DENSE_STATIONARY


def _request(**profile: object) -> RecommendationRequest:
    return RecommendationRequest.model_validate(
        {"profile": {"training_steps": 10_000, "tuning_budget": 4, **profile}}
    )


def _mixed_report() -> ProfileReport:
    table = zipf_bag_of_words(48, 2000, words_per_step=20)
    dense = drifting_scale(48, 512, decades=2.0) * 1e-2
    return profile(
        {
            "embedding.weight": make_sample("embedding.weight", table),
            "fc.weight": make_sample("fc.weight", dense),
        },
        training_steps=10_000,
    )


def test_a_sparse_table_beside_a_drifting_dense_layer_gets_per_group_advice(ruleset: RuleSet) -> None:
    report = _mixed_report()
    answer = recommend(_request(), ruleset, report)
    whole = recommend_whole_model(_request(), ruleset, report)
    assert answer.advice_scope == "per_group"
    # The top-level answer stays the single best choice for the whole model.
    assert (answer.method, answer.hyperparameters) == (whole.method, whole.hyperparameters)
    assert answer.configs.torch.class_ == whole.configs.torch.class_
    assert answer.configs.torch.kwargs == whole.configs.torch.kwargs
    assert answer.configs.torch.single_method_code == whole.configs.torch.code
    assert answer.groups is not None
    by_name = {name: group for group in answer.groups for name in group.parameters}
    assert set(by_name) == {"embedding.weight", "fc.weight"}
    dense = by_name["fc.weight"]
    assert dense.method != "adagrad"  # the drift guardrail holds on this group's own figures
    assert "no-adagrad-when-non-stationary" in answer.advice_scope_reason
    assert "nonstationarity" in answer.advice_scope_reason  # the figure that made the groups differ
    # Each group's rationale quotes its own figures.
    fc_figures = report.groups["fc.weight"].figures
    texts = " ".join(item.text for item in dense.rationale)
    assert f"non-stationarity {fc_figures.nonstationarity:.2f}" in texts
    assert f"{fc_figures.coordinates} coordinates" in texts
    table_texts = " ".join(item.text for item in by_name["embedding.weight"].rationale)
    assert f"sparsity {report.groups['embedding.weight'].figures.sparsity:.1%}" in table_texts
    # Each group's configs are its own method's.
    assert dense.configs.torch.class_ == constructor(dense.method, "torch")
    assert dense.configs.optax.function == constructor(dense.method, "optax")


def test_the_per_group_plan_names_groups_and_says_where_it_spends_runs(ruleset: RuleSet) -> None:
    answer = recommend(_request(), ruleset, _mixed_report())
    assert answer.groups is not None
    assert 1 < len(answer.tuning_plan) <= 4
    first = answer.tuning_plan[0]
    assert first.method is None and first.kwargs is None and first.groups is not None
    assert [(g.parameters, g.method, g.configuration) for g in first.groups] == [
        (g.parameters, g.method, g.configuration) for g in answer.groups
    ]
    for run in answer.tuning_plan[1:]:
        assert run.groups is not None
        changed = [
            (ours.parameters, ours.configuration)
            for ours, advised in zip(run.groups, first.groups, strict=True)
            if ours.configuration != advised.configuration
        ]
        assert len(changed) == 1  # one group tuned at a time, the others as advised
        assert f"tunes {', '.join(changed[0][0])}" in run.reason
        assert "the largest gain of any group's next run" in run.reason
    document = answer.model_dump(mode="json")
    assert {"parameters", "method", "kwargs"} <= set(document["tuning_plan"][0]["groups"][0])


def test_alike_groups_get_one_method_for_the_whole_model(ruleset: RuleSet) -> None:
    report = profile(
        {
            "fc1.weight": make_sample("fc1.weight", stationary_gaussian(48, 512, scale=1e-2, seed=1)),
            "fc2.weight": make_sample("fc2.weight", stationary_gaussian(48, 256, scale=1e-2, seed=2)),
        },
        training_steps=10_000,
    )
    answer = recommend(_request(model_family="mlp"), ruleset, report)
    assert answer.advice_scope == "whole_model"
    assert answer.groups is None
    assert "one method serves every group" in answer.advice_scope_reason
    assert answer.configs.torch.code == answer.configs.torch.single_method_code
    assert answer == recommend_whole_model(_request(model_family="mlp"), ruleset, report).model_copy(
        update={"advice_scope_reason": answer.advice_scope_reason}
    )


@pytest.mark.parametrize("measured", [False, True])
def test_without_two_measured_groups_the_scope_is_the_whole_model(ruleset: RuleSet, measured: bool) -> None:
    report = (
        profile({"w": make_sample("w", stationary_gaussian(32, 64, scale=1e-2))}, training_steps=1000)
        if measured
        else None
    )
    answer = recommend(_request(), ruleset, report)
    assert answer.advice_scope == "whole_model" and answer.groups is None
    assert answer.advice_scope_reason
    assert "advice_scope" in answer.model_dump()


def test_a_group_with_no_signal_is_left_to_the_whole_model_method(ruleset: RuleSet) -> None:
    report = profile(
        {
            "embedding.weight": make_sample(
                "embedding.weight", zipf_bag_of_words(48, 2000, words_per_step=20)
            ),
            "fc.weight": make_sample("fc.weight", drifting_scale(48, 512, decades=2.0) * 1e-2),
            "frozen.weight": make_sample("frozen.weight", np.zeros((48, 16), dtype=np.float32)),
        },
        training_steps=10_000,
    )
    answer = recommend(_request(), ruleset, report)
    assert answer.advice_scope == "per_group" and answer.groups is not None
    assert all("frozen.weight" not in group.parameters for group in answer.groups)
    assert "frozen.weight carried no gradient signal" in answer.advice_scope_reason


def test_contrast_names_the_figure_the_groups_differ_in_most(ruleset: RuleSet) -> None:
    report = _mixed_report()
    found = contrast(_request().profile, ruleset.evidence, {n: g.figures for n, g in report.groups.items()})
    assert found is not None
    assert found.descriptor in {
        "nonstationarity",
        "sparsity",
        "silent_fraction",
        "intermittent_fraction",
        "log_gsnr",
        "scale_spread_decades",
        "log_gradient_to_parameter",
    }
    assert found.spreads > 1.0
    assert contrast(_request().profile, ruleset.evidence, {"one": report.groups["fc.weight"].figures}) is None


def _verdict(name: str, sparsity: float, coordinates: int, gap: float, blocked: bool = False) -> GroupVerdict:
    figures = Figures.model_validate({**DENSE_STATIONARY, "sparsity": sparsity, "coordinates": coordinates})
    return GroupVerdict(
        name=name,
        figures=figures,
        own=None,  # type: ignore[arg-type]  # not read by the split
        own_column=len(name),
        rows=[0],
        weights=np.ones(1),
        own_regret=0.1,
        whole_regret=0.1 + gap,
        blocked_by=["a-guardrail"] if blocked else [],
    )


def test_a_model_of_one_kind_is_split_only_by_a_guardrail() -> None:
    dense = [_verdict("fc1.weight", 0.0, 512, 0.2), _verdict("fc1.bias", 0.0, 8, 0.3)]
    assert [verdict.served_badly for verdict in _by_kind(dense)] == [False, False]
    guarded = [*dense, _verdict("fc2.weight", 0.0, 64, 0.0, blocked=True)]
    assert [verdict.served_badly for verdict in _by_kind(guarded)] == [False, False, True]


def test_the_largest_group_of_a_kind_decides_for_its_kind() -> None:
    verdicts = [
        _verdict("embedding.weight", 0.95, 4096, 0.08),  # the sparse kind, behind by more than 5%
        _verdict("other_table.weight", 0.9, 128, 0.0),
        _verdict("fc.weight", 0.0, 512, 0.04),  # the dense kind, within 5%
        _verdict("fc.bias", 0.0, 8, 0.5),
    ]
    decided = _by_kind(verdicts)
    assert [verdict.served_badly for verdict in decided] == [True, True, False, False]
    assert decided[1].follows == "embedding.weight"
    assert decided[1].own_column == decided[0].own_column  # it takes the table's recommendation
