"""GradientCapture: exact aggregates, fixed subsets, and a real training loop ending in a recommendation."""

import json
import warnings

import pytest
import torch
from live_server import LiveServer

from optadvisor.client import OptadvisorClient
from optadvisor.client.capture import GradientCapture


def _model() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(64, 96), torch.nn.ReLU(), torch.nn.Linear(96, 3))


def _train(
    model: torch.nn.Module, capture: GradientCapture, steps: int, *, bad_batch: int | None = None
) -> list[float]:
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    generator = torch.Generator().manual_seed(1)
    norms = []
    for step in range(steps):
        inputs = torch.randn(16, 64, generator=generator)
        if step == bad_batch:
            inputs[0, 0] = float("nan")  # NaN gradients for this one step (and the step is skipped below)
        targets = torch.randint(0, 3, (16,), generator=generator)
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(model(inputs), targets).backward()
        norms.append(float(model[0].weight.grad.norm()))  # type: ignore[index]
        capture.record()
        if step != bad_batch:
            optimizer.step()
    return norms


def test_large_tensors_are_subsampled_with_exact_aggregates() -> None:
    model = _model()
    capture = GradientCapture(model, steps=5, max_coordinates=100, seed=3)
    norms = _train(model, capture, steps=7)
    assert capture.done
    samples = capture.gradients()
    weight = samples["0.weight"]
    assert len(weight["values"]) == 5
    assert len(weight["values"][0]) == 100
    assert weight["total_coordinates"] == 64 * 96
    assert weight["step_norms"] == pytest.approx(norms[:5], rel=1e-5)
    assert all(0 < count <= 64 * 96 for count in weight["step_nonzeros"])
    small = samples["2.bias"]
    assert len(small["values"][0]) == 3
    assert "total_coordinates" not in small
    assert small["parameter_rms"] > 0


def test_the_subset_is_fixed_by_the_seed() -> None:
    def sampled(seed: int) -> list[list[float]]:
        model = _model()
        capture = GradientCapture(model, steps=2, max_coordinates=50, seed=seed)
        _train(model, capture, steps=2)
        return list(capture.gradients()["0.weight"]["values"])

    assert sampled(7) == sampled(7)
    assert sampled(7) != sampled(8)


def test_attach_records_before_each_optimizer_step() -> None:
    model = _model()
    capture = GradientCapture(model, steps=3)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    capture.attach(optimizer)
    for _ in range(5):
        optimizer.zero_grad()
        model(torch.randn(4, 64)).sum().backward()
        optimizer.step()
    assert capture.recorded == 3


def test_every_kth_step_is_recorded_and_the_request_says_so(client_server: LiveServer) -> None:
    model = _model()
    capture = GradientCapture(model, steps=4, every=3)
    norms = _train(model, capture, steps=15)
    assert capture.recorded == 4
    assert capture.done
    # Calls 0, 3, 6 and 9 were recorded (each tensor's exact norm is sent beside its sampled values).
    assert capture.gradients()["0.weight"]["step_norms"] == pytest.approx([norms[i] for i in (0, 3, 6, 9)])
    with OptadvisorClient(client_server.url, api_key="client-key") as client:
        answer = capture.recommend(client, profile={"training_steps": 5000})
    assert answer["measured"]["steps"] == 4
    assert answer["measured"]["window_steps"] == 12


def test_the_capture_says_what_it_sends(
    client_server: LiveServer, capsys: pytest.CaptureFixture[str]
) -> None:
    model = _model()
    capture = GradientCapture(model, steps=3, max_coordinates=1000)
    _train(model, capture, steps=3)
    with OptadvisorClient(client_server.url, api_key="client-key") as client:
        capture.profile(client)
    sent = capsys.readouterr().err.splitlines()[-1]
    # Only 0.weight (6,144 values) exceeds 1,000 coordinates: 3 steps x (1,000 + 96 + 288 + 3) values.
    assert sent == (
        "optadvisor: sending 3 recorded steps (every 1) of 4 tensors (3 whole, 1 as coordinate samples with "
        "exact norms and nonzero counts); 4,161 values"
    )


def test_recording_after_zero_grad_warns_at_once_naming_the_tensors() -> None:
    """The most common mistake: record() after optimizer.zero_grad() sees no gradient, or only zeros."""
    model = _model()
    capture = GradientCapture(model, steps=5, progress=False)
    model(torch.randn(4, 64)).sum().backward()
    torch.optim.SGD(model.parameters(), lr=0.1).zero_grad(set_to_none=True)
    with pytest.warns(
        RuntimeWarning, match=r"no parameter has a gradient \('0.weight', '0.bias', '2.weight'"
    ):
        capture.record()
    zeroed = GradientCapture(model, steps=5, progress=False)
    model(torch.randn(4, 64)).sum().backward()
    torch.optim.SGD(model.parameters(), lr=0.1).zero_grad(set_to_none=False)
    with pytest.warns(RuntimeWarning, match="every gradient is exactly zero"):
        zeroed.record()


def test_a_correct_capture_warns_about_nothing_and_reports_its_progress(
    capsys: pytest.CaptureFixture[str],
) -> None:
    model = _model()
    capture = GradientCapture(model, steps=8)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _train(model, capture, steps=8)
    lines = capsys.readouterr().err.splitlines()
    assert lines == [f"optadvisor: recorded {n}/8 steps" for n in (2, 4, 6, 8)]
    quiet = GradientCapture(model, steps=4, progress=False)
    _train(model, quiet, steps=4)
    assert capsys.readouterr().err == ""


def test_too_few_steps_are_refused() -> None:
    with pytest.raises(ValueError, match="steps"):
        GradientCapture(_model(), steps=1)
    with pytest.raises(ValueError, match="Invalid max_coordinates: 0"):
        GradientCapture(_model(), max_coordinates=0)
    with pytest.raises(ValueError, match="Invalid max_total_values: -5"):
        GradientCapture(_model(), max_total_values=-5)
    with pytest.raises(ValueError, match="Invalid every: 0"):
        GradientCapture(_model(), every=0)
    capture = GradientCapture(_model(), steps=4)
    with pytest.raises(ValueError, match="recorded"):
        capture.gradients()


def test_training_loop_ends_in_a_recommendation(client_server: LiveServer) -> None:
    model = _model()
    capture = GradientCapture(model, steps=20, max_coordinates=512)
    _train(model, capture, steps=25)
    with OptadvisorClient(client_server.url, api_key="client-key") as client:
        answer = capture.recommend(client, profile={"training_steps": 5000, "model_family": "mlp"})
        # The answer is a stored study: its id takes outcomes, and the study keeps what was measured.
        assert client.study(answer["id"])["measured"]["overall"]["steps"] == 20
    assert answer["measured"]["steps"] == 20
    assert answer["configs"]["torch"]["code"]
    assert answer["links"]["outcomes"] == f"/v1/recommendations/{answer['id']}/outcomes"


def test_a_step_with_nan_gradients_is_left_out_and_the_recommendation_still_comes(
    client_server: LiveServer,
) -> None:
    model = _model()
    capture = GradientCapture(model, steps=20, max_coordinates=512)
    _train(model, capture, steps=20, bad_batch=7)
    warning = "1 of the 20 recorded steps hold non-finite gradients"
    with (
        OptadvisorClient(client_server.url, api_key="client-key") as client,
        pytest.warns(RuntimeWarning, match=warning),
    ):
        answer = capture.recommend(client, profile={"training_steps": 5000})
    assert answer["measured"]["steps"] == 19
    assert answer["configs"]["torch"]["code"]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.float16, torch.bfloat16])
def test_nonzero_counts_and_norms_are_exact_whatever_the_zeros_sign(dtype: torch.dtype) -> None:
    model = torch.nn.Linear(100, 100, bias=False).to(dtype)
    capture = GradientCapture(model, steps=3, max_coordinates=10)
    generator = torch.Generator().manual_seed(0)
    expected_counts, expected_norms = [], []
    for step in range(3):
        gradient = torch.randn(100, 100, generator=generator).to(dtype)
        gradient[gradient.abs() < 0.5] = 0.0
        if step > 0:  # -0.0 is a zero too: its bits are not
            gradient[:, : 10 * step] = -0.0
        model.weight.grad = gradient
        expected_counts.append(int(torch.count_nonzero(gradient)))
        expected_norms.append(float(gradient.double().norm()))
        capture.record()
    sample = capture.gradients()["weight"]
    assert sample["step_nonzeros"] == expected_counts
    assert expected_counts[2] < expected_counts[1] < expected_counts[0]
    assert sample["step_norms"] == pytest.approx(expected_norms, rel=1e-3)


def test_nonzero_counts_are_exact_on_a_tensor_of_more_than_a_million_values() -> None:
    model = torch.nn.Linear(1100, 1000, bias=False)  # 1.1 M values: counted in more than one pass
    capture = GradientCapture(model, steps=2, max_coordinates=10)
    generator = torch.Generator().manual_seed(1)
    expected = []
    for _ in range(2):
        gradient = torch.randn(1000, 1100, generator=generator)
        gradient[gradient.abs() < 1.0] = 0.0
        gradient[-1, -500:] = -0.0  # zeros in the last, partial pass
        gradient[0, 0] = 1.0
        model.weight.grad = gradient
        expected.append(int(torch.count_nonzero(gradient)))
        capture.record()
    assert capture.gradients()["weight"]["step_nonzeros"] == expected


def test_without_exact_aggregates_only_the_subset_is_sent_and_the_profile_says_so(
    client_server: LiveServer,
) -> None:
    notes = {}
    for exact in (True, False):
        model = _model()
        capture = GradientCapture(model, steps=4, max_coordinates=100, exact_aggregates=exact)
        _train(model, capture, steps=4)
        weight = capture.gradients()["0.weight"]
        assert weight["total_coordinates"] == 64 * 96
        assert ("step_norms" in weight, "step_nonzeros" in weight) == (exact, exact)
        with OptadvisorClient(client_server.url, api_key="client-key") as client:
            report = capture.profile(client, training_steps=1_000)
        notes[exact] = next(note for note in report["estimates"] if note.startswith("0.weight"))
    assert "exact from the per-step aggregates" in notes[True]
    assert "exact from the per-step aggregates" not in notes[False]


def _sampled_coordinates(capture: GradientCapture, model: torch.nn.Module) -> list[int]:
    """The coordinates of the first layer's weight that `capture` samples: record a gradient naming them."""
    weight = model[0].weight  # type: ignore[index]
    weight.grad = torch.arange(weight.numel(), dtype=weight.dtype).reshape(weight.shape)
    capture.record()
    return [int(value) for value in capture._recorders["0.weight"].values[0].tolist()]


@pytest.mark.parametrize("exact", [True, False])
def test_steps_with_non_finite_gradients_are_left_out_with_a_warning(exact: bool) -> None:
    model = _model()
    capture = GradientCapture(model, steps=6, max_coordinates=10, exact_aggregates=exact)
    sampled = set(_sampled_coordinates(capture, model))
    unsampled = next(i for i in range(64 * 96) if i not in sampled)
    generator = torch.Generator().manual_seed(0)
    rows = []
    for step in range(1, 6):
        for parameter in model.parameters():
            parameter.grad = torch.randn(parameter.shape, generator=generator)
        if step == 2:  # outside the sample: only the exact norm can see it
            model[0].weight.grad.view(-1)[unsampled] = float("inf")  # type: ignore[index]
        if step == 4:
            model[2].bias.grad[1] = float("nan")  # type: ignore[index]
        rows.append(model[2].bias.grad.tolist())  # type: ignore[index]
        capture.record()
    dropped = [2, 4] if exact else [4]
    with pytest.warns(RuntimeWarning) as caught:
        samples = capture.gradients()
    message = str(caught[0].message)
    assert f"{len(dropped)} of the 6 recorded steps hold non-finite gradients" in message
    assert f"step {', '.join(map(str, dropped))};" in message
    assert "'2.bias'" in message
    assert ("'0.weight'" in message) == exact
    kept = [row for step, row in enumerate(rows, start=1) if step not in dropped]
    assert samples["2.bias"]["values"][1:] == kept
    assert len(samples["0.weight"]["values"]) == 6 - len(dropped)
    if exact:
        assert len(samples["0.weight"]["step_norms"]) == len(samples["0.weight"]["step_nonzeros"]) == 4
    json.dumps(samples, allow_nan=False)  # what the client sends


def test_too_few_finite_steps_or_a_diverged_parameter_are_refused() -> None:
    model = _model()
    capture = GradientCapture(model, steps=3)
    for value in (1.0, float("nan"), float("inf")):
        for parameter in model.parameters():
            parameter.grad = torch.full_like(parameter, value)
        capture.record()
    with pytest.raises(ValueError, match=r"2 of the 3 recorded steps .* fewer than 2 finite steps are left"):
        capture.gradients()

    model = _model()
    capture = GradientCapture(model, steps=2)
    _train(model, capture, steps=2)
    with torch.no_grad():
        model[2].weight[0, 0] = float("inf")  # type: ignore[index]
    with pytest.raises(ValueError, match=r"'2\.weight' holds non-finite values"):
        capture.gradients()


def test_attach_under_a_grad_scaler_records_unscaled_gradients_and_skips_overflow_steps() -> None:
    model = _model()
    capture = GradientCapture(model, steps=4)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0**16)
    capture.attach(optimizer)
    generator = torch.Generator().manual_seed(2)
    stepped = []
    for step in range(5):
        inputs = torch.randn(16, 64, generator=generator)
        if step == 1:
            inputs[0, 0] = float("inf")  # a bad batch: the scaler finds inf gradients and skips the step
        optimizer.zero_grad()
        scaler.scale(
            torch.nn.functional.cross_entropy(model(inputs), torch.zeros(16, dtype=torch.long))
        ).backward()
        scaler.step(optimizer)
        scaler.update()
        if step != 1:
            stepped.append(model[2].bias.grad.tolist())  # type: ignore[index]
    assert capture.done
    assert capture.gradients()["2.bias"]["values"] == stepped
