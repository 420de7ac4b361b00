"""Errors a new user meets say how to fix the request, over real HTTP."""

import io
import re
from pathlib import Path

import httpx
import numpy as np
import pytest
from test_errors import assert_problem, post_raw

from optadvisor.rules.request import DeclaredProfile

README = Path(__file__).resolve().parents[2] / "README.md"


@pytest.mark.parametrize(
    ("profile", "nearest"),
    [
        ({"sparsity": 0.9}, "gradient_sparsity"),
        ({"nonstationarity": 1.0}, "stationarity"),
        ({"steps": 5}, None),
    ],
)
def test_an_unknown_profile_field_lists_the_accepted_ones_and_the_nearest(
    api: httpx.Client, profile: dict[str, float], nearest: str | None
) -> None:
    problem = assert_problem(api.post("/v1/recommendations", json={"profile": profile}), 422)
    detail = str(problem["detail"])
    assert f"body.profile.{next(iter(profile))}: unknown field" in detail
    assert "Extra inputs are not permitted" not in detail
    assert all(field in detail for field in DeclaredProfile.model_fields)
    if nearest is not None:
        assert f"did you mean {nearest!r}?" in detail


@pytest.mark.parametrize("steps", ["1e5", "100000.0", "100000"])
def test_training_steps_written_as_an_integral_float_are_accepted(api: httpx.Client, steps: str) -> None:
    body = f'{{"profile": {{"training_steps": {steps}, "tuning_budget": 2.0}}}}'.encode()
    answer = post_raw(api, "/v1/recommendations", body)
    assert answer.status_code == 200, answer.text
    assert answer.json()["basis"]["descriptors"]["log_training_steps"] == pytest.approx(5.0)


def test_a_fractional_training_steps_is_refused_naming_it(api: httpx.Client) -> None:
    problem = assert_problem(api.post("/v1/recommendations", json={"profile": {"training_steps": 1.5}}), 422)
    assert "body.profile.training_steps" in str(problem["detail"])


def test_an_integer_beyond_64_bits_is_refused_naming_its_field(api: httpx.Client) -> None:
    body = b'{"profile": {"training_steps": 100000000000000000000000}}'
    problem = assert_problem(post_raw(api, "/v1/recommendations", body), 422)
    assert "outside the signed 64-bit range at profile.training_steps" in str(problem["detail"])


def test_a_missing_or_wrong_content_type_says_what_was_received(api: httpx.Client) -> None:
    missing = api.post("/v1/recommendations", content=b"{}", headers={"content-type": ""})
    assert "without a Content-Type header" in str(assert_problem(missing, 415)["detail"])
    wrong = assert_problem(post_raw(api, "/v1/recommendations", b"{}", "text/plain"), 415)
    assert "Content-Type 'text/plain' is not supported" in str(wrong["detail"])
    assert "application/json" in str(wrong["detail"])


def test_a_bare_array_as_a_gradient_group_is_told_how_to_wrap_it(api: httpx.Client) -> None:
    body = {"gradients": {"fc.weight": [[0.1, 0.2], [0.3, 0.4]]}}
    problem = assert_problem(api.post("/v1/profiles", json=body), 422)
    assert 'body.gradients.fc.weight: each gradient group is an object: {"format": "dense"' in str(
        problem["detail"]
    )


def test_a_one_dimensional_npy_is_refused_with_the_expected_shape(api: httpx.Client) -> None:
    buffer = io.BytesIO()
    np.save(buffer, np.random.default_rng(0).normal(0, 0.01, 256).astype("float32"))
    response = api.post(
        "/v1/profiles", files={"gradients": ("g.npy", buffer.getvalue(), "application/octet-stream")}
    )
    detail = str(assert_problem(response, 422)["detail"])
    assert "1-dimensional array of 256 values has no steps axis" in detail
    assert "shape (256, 1)" in detail


def test_the_readme_lists_every_declared_profile_field() -> None:
    section = README.read_text(encoding="utf-8").split("### The declared profile")[1].split("\n## ")[0]
    listed = re.findall(r"^\| `(\w+)` \|", section, flags=re.MULTILINE)
    assert listed == list(DeclaredProfile.model_fields)
