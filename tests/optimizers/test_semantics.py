"""Framework semantics are composed from small steps: each link does its one job, each framework's
rule is built from them, and the rule travels with the optimizer (copies, pickles) while
``state_dict()`` stays plain data."""

from __future__ import annotations

import copy
import io
import pickle

import pytest
import torch

from optadvisor import optimizers
from optadvisor.optimizers import semantics
from optadvisor.optimizers.chunks import Chunk
from optadvisor.optimizers.frameworks import RULES


def _param(values: list[float]) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.float64, requires_grad=True)


def test_denominators_place_eps_inside_or_after_the_square_root() -> None:
    v = [torch.tensor([0.0, 4.0], dtype=torch.float64)]
    after = semantics.EpsAfterSqrt()(v, 0.5, [torch.empty(2, dtype=torch.float64)])[0]
    under = semantics.EpsUnderSqrt()(v, 0.5, [torch.empty(2, dtype=torch.float64)])[0]
    assert after.tolist() == [0.5, 2.5]
    assert under.tolist() == pytest.approx([0.5**0.5, 4.5**0.5])


def test_zero_guard_makes_zero_accumulators_infinite_only_without_eps() -> None:
    v = [torch.tensor([0.0, 4.0], dtype=torch.float64)]
    guard = semantics.ZeroGuard(semantics.EpsUnderSqrt())
    assert guard(v, 0.0, [torch.empty(2, dtype=torch.float64)])[0].tolist() == [float("inf"), 2.0]
    assert guard(v, 1e-2, [torch.empty(2, dtype=torch.float64)])[0][0].item() == pytest.approx(0.1)


def test_weight_decay_links_decouple_or_couple() -> None:
    param, grad = _param([2.0]), torch.tensor([1.0], dtype=torch.float64)
    group = {"lr": 0.1, "weight_decay": 0.5, "maximize": False}
    chunk = Chunk([[param.detach()], [grad]], None, [[torch.empty(1, dtype=torch.float64)]])
    coupled = semantics.CoupledDecay().gradients(group, chunk)
    assert coupled[0].item() == 1.0 + 0.5 * 2.0 and param.item() == 2.0
    decoupled = semantics.DecoupledDecay().gradients(group, chunk)
    assert decoupled[0] is grad and param.item() == pytest.approx(2.0 * (1 - 0.1 * 0.5))


def test_adadelta_direction_is_a_sign() -> None:
    assert semantics.Descent().scale(0.3) == -0.3
    assert semantics.Ascent().scale(0.3) == 0.3


@pytest.mark.parametrize("nesterov", [False, True])
def test_momentum_placements_agree_while_lr_is_constant(nesterov: bool) -> None:
    results = []
    for placement in (semantics.LrOutsideBuffer(), semantics.LrInsideBuffer()):
        param = _param([1.0, -1.0])
        optimizer = optimizers.SGD(
            [param], lr=0.1, momentum=0.9, nesterov=nesterov, rule=semantics.SGDRule(momentum=placement)
        )
        for step in range(4):
            param.grad = torch.tensor([0.5, step - 1.0], dtype=torch.float64)
            optimizer.step()
        results.append(param.detach().clone())
    torch.testing.assert_close(results[0], results[1])


def test_momentum_placements_differ_when_lr_changes() -> None:
    """torch rescales the whole buffer by the current lr; Keras and Optax keep each step's lr."""
    results = []
    for placement in (semantics.LrOutsideBuffer(), semantics.LrInsideBuffer()):
        param = _param([0.0])
        optimizer = optimizers.SGD([param], lr=1.0, momentum=0.5, rule=semantics.SGDRule(momentum=placement))
        for lr in (1.0, 0.1):
            optimizer.param_groups[0]["lr"] = lr
            param.grad = torch.ones(1, dtype=torch.float64)
            optimizer.step()
        results.append(param.item())
    assert results[0] == pytest.approx(-1.0 - 0.1 * 1.5)
    assert results[1] == pytest.approx(-1.0 - (0.5 * 1.0 + 0.1))


def test_every_framework_has_a_rule_of_each_methods_kind() -> None:
    kinds = {
        "adagrad": semantics.AdagradRule,
        "rmsprop": semantics.RMSpropRule,
        "adadelta": semantics.AdadeltaRule,
        "adam": semantics.AdamRule,
        "adamw": semantics.AdamRule,
        "sgd": semantics.SGDRule,
    }
    assert set(RULES) == set(optimizers.FRAMEWORKS)
    for framework, rules in RULES.items():
        assert set(rules) == set(optimizers.METHODS), framework
        for method, rule in rules.items():
            assert isinstance(rule, kinds[method])
            rate = {"lr": 0.1} if framework == "torch" else {"learning_rate": 0.1}
            optimizer = optimizers.create(method, [_param([1.0])], framework=framework, **rate)
            assert optimizer.rule == rule


def test_optax_rmsprop_options_choose_its_links() -> None:
    optimizer = optimizers.create(
        "rmsprop",
        [_param([1.0])],
        framework="optax",
        learning_rate=0.1,
        eps_in_sqrt=False,
        bias_correction=True,
        initial_scale=1.0,
    )
    assert optimizer.rule == semantics.RMSpropRule(
        averages=semantics.BiasCorrectedAverages(1.0),
        denominator=semantics.EpsAfterSqrt(),
        momentum=semantics.LrInsideBuffer(),
    )
    assert "eps_in_sqrt" not in optimizer.param_groups[0]


def test_a_rule_can_mix_frameworks_links() -> None:
    """Keras' denominator with torch's momentum: a composition no framework ships, still runnable."""
    param = _param([1.0, 2.0])
    rule = semantics.RMSpropRule(denominator=semantics.EpsUnderSqrt())
    optimizer = optimizers.RMSprop([param], lr=0.01, momentum=0.9, eps=1e-4, rule=rule)
    param.grad = torch.tensor([0.1, -0.2], dtype=torch.float64)
    optimizer.step()
    v = 0.01 * param.grad**2
    expected = torch.tensor([1.0, 2.0], dtype=torch.float64) - 0.01 * param.grad / (v + 1e-4).sqrt()
    torch.testing.assert_close(param.detach(), expected)


@pytest.mark.parametrize("framework", ["keras", "optax"])
def test_the_rule_travels_with_copies_and_pickles(framework: str) -> None:
    param = _param([1.0, -2.0])
    optimizer = optimizers.create("rmsprop", [param], framework=framework, learning_rate=0.1, momentum=0.9)
    for twin in (copy.deepcopy(optimizer), pickle.loads(pickle.dumps(optimizer))):
        assert twin.rule == optimizer.rule
        twin_param = twin.param_groups[0]["params"][0]
        param.grad, twin_param.grad = torch.ones(2, dtype=torch.float64), torch.ones(2, dtype=torch.float64)
        before = param.detach().clone()
        optimizer.step()
        twin.step()
        assert torch.equal(param, twin_param)
        param.data.copy_(before)
        optimizer.state.clear()


def test_state_dict_is_plain_data() -> None:
    """No rule object in the parameter groups: ``torch.load(weights_only=True)`` reads it back."""
    param = _param([1.0])
    optimizer = optimizers.create("adam", [param], framework="keras")
    param.grad = torch.ones(1, dtype=torch.float64)
    optimizer.step()
    buffer = io.BytesIO()
    torch.save(optimizer.state_dict(), buffer)
    buffer.seek(0)
    loaded = torch.load(buffer, weights_only=True)
    fresh = optimizers.create("adam", [_param([1.0])], framework="keras")
    fresh.load_state_dict(loaded)
    assert fresh.rule == optimizer.rule
