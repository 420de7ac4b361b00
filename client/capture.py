"""Capture gradients from your own PyTorch training loop and ask optadvisor for a recommendation.

    cap = GradientCapture(model, steps=50)
    ...  # in the loop, after loss.backward():
    cap.record()
    ...
    rec = cap.recommend("http://127.0.0.1:8000", profile={"training_steps": 100_000})

Each parameter tensor becomes one gradient group. Small tensors are recorded whole; larger ones through a
fixed, seeded random subset of coordinates, plus the exact per-step L2 norm and nonzero count of the whole
tensor, so the profiler can tell which figures are estimates. Recording is a gather by precomputed indices
into preallocated buffers on the gradient's device: no host synchronisation until the samples are sent.
float32 and float64 gradients on the CPU are recorded through numpy views of the same buffers, which costs
a fraction of torch's per-call dispatch and counts nonzeros far faster (see `_nonzero_count`).
"""

import math
import sys
import warnings
from dataclasses import dataclass, field
from typing import Any, TextIO

import numpy as np
import torch

from optadvisor.client.http import OptadvisorClient

DEFAULT_MAX_COORDINATES = 4096
# JSON costs about 20 bytes per value: this keeps a request near 20 MB whatever the model's size.
DEFAULT_MAX_TOTAL_VALUES = 1_000_000


# Values compared per pass when counting nonzeros: bounds the flags buffer at 1 MiB whatever the model.
_COUNT_CHUNK = 1 << 20


def _nonzero_count(flat: np.ndarray, flags: np.ndarray) -> int:
    """The exact number of nonzero values of a 1-D float array (-0.0 counts as zero).

    The comparison writes into `flags`, a reused bool buffer, chunk by chunk. Per 262,144 float32 values
    on the CPU: numpy's count_nonzero on floats takes about 160 µs (one value at a time) and
    torch.count_nonzero about 940 µs, a vectorised `!=` plus a count of the bools 33 µs, which also
    counts -0.0 as zero without the extra pass that counting the floats' bit patterns needs (43 µs).
    """
    count = 0
    for start in range(0, flat.size, flags.size):
        chunk = flat[start : start + flags.size]
        chunk_flags = flags[: chunk.size]
        np.not_equal(chunk, 0.0, out=chunk_flags)
        count += int(np.count_nonzero(chunk_flags))
    return count


@dataclass
class _CpuViews:
    """numpy views sharing memory with a recorder's torch buffers."""

    index: np.ndarray | None
    values: np.ndarray
    norms: np.ndarray
    nonzeros: np.ndarray


@dataclass
class _TensorRecorder:
    """Buffers and sampled coordinates of one parameter tensor."""

    parameter: torch.Tensor
    index: torch.Tensor | None  # None: every coordinate is recorded
    values: torch.Tensor  # [steps, coordinates sampled]
    norms: torch.Tensor  # [steps], exact over the whole tensor
    nonzeros: torch.Tensor  # [steps], exact over the whole tensor
    flags: np.ndarray  # scratch for `_nonzero_count`, shared by a capture's recorders
    exact_aggregates: bool  # whether `norms` and `nonzeros` are recorded
    cpu_views: _CpuViews | None = field(init=False)

    def __post_init__(self) -> None:
        on_cpu = self.values.device.type == "cpu" and self.values.dtype in {torch.float32, torch.float64}
        self.cpu_views = (
            _CpuViews(
                index=None if self.index is None else self.index.numpy(),
                values=self.values.numpy(),
                norms=self.norms.numpy(),
                nonzeros=self.nonzeros.numpy(),
            )
            if on_cpu
            else None
        )

    def record(self, step: int) -> None:
        gradient = self.parameter.grad
        if gradient is None:  # unused this step: its gradient is exactly zero, as the buffers already say
            return
        if gradient.is_sparse:
            gradient = gradient.to_dense()
        if self.cpu_views is not None:  # numpy's reshape costs a tenth of torch's per call
            self._record_cpu(step, gradient.detach().numpy().reshape(-1), self.cpu_views)
            return
        flat = gradient.detach().reshape(-1)
        if self.index is None:
            self.values[step].copy_(flat)
            return
        torch.index_select(flat, 0, self.index, out=self.values[step])
        if not self.exact_aggregates:
            return
        # Half-precision gradients are summed in float32 (a bfloat16 dot is off by about 0.2%).
        self.norms[step] = torch.linalg.vector_norm(flat, dtype=self.norms.dtype)
        self.nonzeros[step] = torch.count_nonzero(flat)

    def _record_cpu(self, step: int, flat: np.ndarray, views: _CpuViews) -> None:
        if views.index is None:
            views.values[step] = flat
            return
        if self.exact_aggregates:
            # The first pass reads the gradient from memory; the count and the gather then find it in cache.
            views.norms[step] = math.sqrt(np.dot(flat, flat))
            views.nonzeros[step] = _nonzero_count(flat, self.flags)
        # The indices are in range by construction; the default mode="raise" copies `out` through a buffer.
        np.take(flat, views.index, out=views.values[step], mode="wrap")

    def recorded_nothing(self, step: int) -> bool:
        """Whether step `step` recorded only zeros (reads the small recorded row, and the exact count)."""
        if self.index is not None and self.exact_aggregates:
            return bool(self.nonzeros[step] == 0)
        return not bool(self.values[step].any())

    def finite_steps(self, steps: int) -> torch.Tensor:
        """Whether each of the first `steps` rows, and its exact norm if recorded, is finite (bool, CPU)."""
        finite = torch.isfinite(self.values[:steps]).all(dim=1)
        if self.index is not None and self.exact_aggregates:
            finite &= torch.isfinite(self.norms[:steps])
        return finite.cpu()

    def sample_json(self, rows: torch.Tensor) -> dict[str, Any]:
        """The recorded steps `rows` (indices, CPU) in the service's JSON form."""
        rows = rows.to(self.values.device)
        sample: dict[str, Any] = {
            "format": "dense",
            "values": self.values.index_select(0, rows).double().cpu().tolist(),
            "parameter_rms": float(self.parameter.detach().double().pow(2).mean().sqrt()),
        }
        if self.index is not None:
            sample["total_coordinates"] = self.parameter.numel()
        if self.index is not None and self.exact_aggregates:
            sample["step_norms"] = self.norms.index_select(0, rows).double().cpu().tolist()
            sample["step_nonzeros"] = [
                int(count) for count in self.nonzeros.index_select(0, rows).cpu().tolist()
            ]
        return sample


def _listed(steps: list[int], shown: int = 5) -> str:
    named = ", ".join(str(step) for step in steps[:shown])
    return named if len(steps) <= shown else f"{named}, … ({len(steps)} in all)"


class GradientCapture:
    """Records the gradients of `model`'s trainable parameters for `steps` optimizer steps.

    Call `record()` once per optimizer step, after the step's last `loss.backward()` (or `attach(optimizer)`
    to have it called before each `optimizer.step()`); calls after `steps` recorded steps do nothing. What is
    recorded is the gradient as it stands at that moment: call it after any unscaling (torch.amp.GradScaler's
    `unscale_`) so the service sees the true scale; `attach` does so by construction, since the scaler
    unscales before it calls `optimizer.step()` and skips that call on overflow steps.

    Args:
        model: the module whose parameters are recorded (each tensor is one group, named as in
            `named_parameters()`).
        steps: steps to record (>= 2).
        max_coordinates: most coordinates recorded per tensor (default 4,096).
        max_total_values: cap on values over all tensors and steps; the per-tensor count shrinks to fit.
        every: record one step in `every` (the first, then every `every`-th call): `steps` recorded steps
            then span `steps * every` training steps, so the service can see slower drift, and the
            capture's cost is spread over more of the run. The requests say so (`recorded_every`).
        seed: seed of the coordinate subsets, so a rerun samples the same coordinates.
        progress: report the steps recorded (at each quarter of `steps`) and what was sent on stderr;
            False is silent.
        exact_aggregates: also record each subsampled tensor's exact per-step L2 norm and nonzero count
            (default). Each costs a pass over the whole gradient, most of the capture's overhead on a
            small model (benchmarks/README.md, capture_overhead); without them the profiler estimates
            sparsity and gradient scale from the sampled coordinates and says so.
    """

    def __init__(  # noqa: PLR0913  public constructor: keyword-only capture options with defaults
        self,
        model: torch.nn.Module,
        steps: int = 50,
        *,
        max_coordinates: int = DEFAULT_MAX_COORDINATES,
        max_total_values: int = DEFAULT_MAX_TOTAL_VALUES,
        every: int = 1,
        seed: int = 0,
        progress: bool = True,
        exact_aggregates: bool = True,
    ) -> None:
        if steps < 2:
            raise ValueError(f"Invalid steps: {steps} (at least 2 are needed)")
        if every < 1:
            raise ValueError(f"Invalid every: {every} (record one step in `every`, at least 1)")
        if max_coordinates < 1:
            raise ValueError(f"Invalid max_coordinates: {max_coordinates}")
        if max_total_values < 1:
            raise ValueError(f"Invalid max_total_values: {max_total_values}")
        parameters = [(name, p) for name, p in model.named_parameters() if p.requires_grad]
        if not parameters:
            raise ValueError("The model has no trainable parameters")
        per_tensor = min(max_coordinates, max(1, max_total_values // (steps * len(parameters))))
        generator = torch.Generator().manual_seed(seed)
        self.steps = steps
        self.every = every
        self.recorded = 0
        self.calls = 0  # record() calls so far, recorded or skipped
        self._report: TextIO | None = sys.stderr if progress else None
        self._warned = False
        largest = max(p.numel() for _, p in parameters) if exact_aggregates else 0
        flags = np.empty(min(largest, _COUNT_CHUNK), dtype=np.bool_)
        self._recorders = {
            name: self._recorder(
                p, per_tensor, steps, generator, flags=flags, exact_aggregates=exact_aggregates
            )
            for name, p in parameters
        }
        self._hook: Any = None

    @staticmethod
    def _recorder(  # noqa: PLR0913  keyword-only recorder settings, named at the one call
        parameter: torch.Tensor,
        coordinates: int,
        steps: int,
        generator: torch.Generator,
        *,
        flags: np.ndarray,
        exact_aggregates: bool,
    ) -> _TensorRecorder:
        size = parameter.numel()
        index = None
        if size > coordinates:
            chosen = torch.randperm(size, generator=generator)[:coordinates].sort().values
            index = chosen.to(parameter.device)
        width = size if index is None else coordinates
        return _TensorRecorder(
            parameter=parameter,
            index=index,
            values=torch.zeros(steps, width, dtype=parameter.dtype, device=parameter.device),
            norms=torch.zeros(
                steps, dtype=torch.promote_types(parameter.dtype, torch.float32), device=parameter.device
            ),
            nonzeros=torch.zeros(steps, dtype=torch.int64, device=parameter.device),
            flags=flags,
            exact_aggregates=exact_aggregates,
        )

    @property
    def done(self) -> bool:
        """Whether `steps` steps have been recorded."""
        return self.recorded >= self.steps

    def record(self) -> bool:
        """Record the current gradients as the next step, if this call is one in `every`; False once
        `steps` steps are recorded."""
        if self.done:
            return False
        call, self.calls = self.calls, self.calls + 1
        if call % self.every:
            return True
        if all(recorder.parameter.grad is None for recorder in self._recorders.values()):
            self._warn_no_gradients("no parameter has a gradient")
        for recorder in self._recorders.values():
            recorder.record(self.recorded)
        # Only the first recorded step is checked for all-zero gradients: the check reads the recorded rows
        # back, which on a GPU would wait for the device every step.
        if self.recorded == 0 and all(recorder.recorded_nothing(0) for recorder in self._recorders.values()):
            self._warn_no_gradients("every gradient is exactly zero")
        self.recorded += 1
        self._say_progress()
        return True

    def _warn_no_gradients(self, what: str) -> None:
        """Warn, once per capture, that a recorded step carries no gradient at all."""
        if self._warned:
            return
        self._warned = True
        names = list(self._recorders)
        shown = ", ".join(repr(name) for name in names[:4]) + (
            f", … ({len(names)} in all)" if len(names) > 4 else ""
        )
        warnings.warn(
            f"record() at call {self.calls}: {what} ({shown}). Call record() after loss.backward() and "
            "before optimizer.zero_grad(), or use attach(optimizer): such steps tell the service nothing.",
            RuntimeWarning,
            stacklevel=3,
        )

    def _say_progress(self) -> None:
        quarter = max(1, self.steps // 4)
        if self._report is not None and (self.recorded % quarter == 0 or self.recorded == self.steps):
            span = f" (one step in {self.every})" if self.every > 1 else ""
            print(f"optadvisor: recorded {self.recorded}/{self.steps} steps{span}", file=self._report)

    step = record

    def attach(self, optimizer: torch.optim.Optimizer) -> None:
        """Record automatically before each `optimizer.step()` until `steps` steps are recorded."""

        def before_step(*_: object) -> None:
            if not self.record():
                self.detach()

        self.detach()
        self._hook = optimizer.register_step_pre_hook(before_step)

    def detach(self) -> None:
        """Stop recording automatically (undo `attach`)."""
        if self._hook is not None:
            self._hook.remove()
            self._hook = None

    def gradients(self) -> dict[str, dict[str, Any]]:
        """The recorded samples in the service's JSON form, one group per parameter tensor.

        A step whose recorded values or exact norm hold an inf or NaN (an overflow under mixed precision, a
        diverging run) is left out with a RuntimeWarning naming it: JSON cannot carry those values and the
        profile would be meaningless with them. A norm whose square overflows the gradient's dtype counts too.

        Raises:
            ValueError: fewer than 2 steps recorded, or left once non-finite steps are removed; or a
                parameter itself holds non-finite values.
        """
        if self.recorded < 2:
            raise ValueError(f"Only {self.recorded} step(s) recorded; at least 2 are needed")
        finite = {name: recorder.finite_steps(self.recorded) for name, recorder in self._recorders.items()}
        kept = torch.stack(list(finite.values())).all(dim=0)
        rows = kept.nonzero().flatten()
        if len(rows) < self.recorded:
            dropped = (~kept).nonzero().flatten().tolist()
            where = ", ".join(repr(name) for name, steps in finite.items() if not steps.all())
            problem = (
                f"{len(dropped)} of the {self.recorded} recorded steps hold non-finite gradients "
                f"(step {_listed(dropped)}; in {where})"
            )
            if len(rows) < 2:
                raise ValueError(f"{problem}: fewer than 2 finite steps are left")
            warnings.warn(
                f"{problem}; they are left out of the samples. Under torch.amp.GradScaler, record after "
                "scaler.unscale_(optimizer), or use attach(optimizer): it skips the steps the scaler skips.",
                RuntimeWarning,
                stacklevel=2,
            )
        samples = {name: recorder.sample_json(rows) for name, recorder in self._recorders.items()}
        for name, sample in samples.items():
            if not math.isfinite(sample["parameter_rms"]):
                raise ValueError(f"Parameter {name!r} holds non-finite values: the run has diverged")
        return samples

    def _sent(self, samples: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        """Say what is about to be sent, then hand the samples on."""
        if self._report is not None:
            sampled = sum("total_coordinates" in sample for sample in samples.values())
            exact = any("step_norms" in sample for sample in samples.values())
            values = sum(len(sample["values"]) * len(sample["values"][0]) for sample in samples.values())
            steps = len(next(iter(samples.values()))["values"])
            print(
                f"optadvisor: sending {steps} recorded steps (every {self.every}) of {len(samples)} tensors "
                f"({len(samples) - sampled} whole, {sampled} as coordinate samples"
                f"{' with exact norms and nonzero counts' if exact else ''}); {values:,} values",
                file=self._report,
            )
        return samples

    def recommend(
        self,
        client: OptadvisorClient | str | None = None,
        *,
        profile: dict[str, Any] | None = None,
        framework: str | None = None,
        candidates: list[str] | None = None,
    ) -> dict[str, Any]:
        """Send the samples with `profile` to POST /v1/recommendations; `client` may be a server URL."""
        if isinstance(client, OptadvisorClient):
            return client.recommend(
                profile,
                gradients=self._sent(self.gradients()),
                framework=framework,
                candidates=candidates,
                recorded_every=self.every,
            )
        with OptadvisorClient(client) as own_client:
            return self.recommend(own_client, profile=profile, framework=framework, candidates=candidates)

    def profile(
        self,
        client: OptadvisorClient | str | None = None,
        *,
        training_steps: int | None = None,
        framework: str | None = None,
    ) -> dict[str, Any]:
        """Send the samples to POST /v1/profiles and return the measured profile."""
        if isinstance(client, OptadvisorClient):
            return client.profile(
                self._sent(self.gradients()),
                training_steps=training_steps,
                framework=framework,
                recorded_every=self.every,
            )
        with OptadvisorClient(client) as own_client:
            return self.profile(own_client, training_steps=training_steps, framework=framework)
