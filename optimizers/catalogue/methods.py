"""The catalogue's prose: update rules, pitfalls and behaviour, with figures computed from formulas."""

from __future__ import annotations

from optadvisor.optimizers.catalogue.hyperparameters import HYPERPARAMETERS
from optadvisor.optimizers.catalogue.models import Behaviour, MethodEntry
from optadvisor.optimizers.theory import (
    adadelta_first_step,
    adadelta_first_step_limit,
    adagrad_rate_ratio,
    adagrad_updates_until_ratio,
    ema_half_life_steps,
    ema_memory_steps,
)

# Quoted by the rules (profiler.thresholds.QUOTED) and served with them.
ADAGRAD_DECAY_STEPS = 10_000


def _memory(decay: float) -> str:
    return (
        f"α = {decay:g} → memory ≈ {ema_memory_steps(decay):.0f} steps, "
        f"half-life {ema_half_life_steps(decay):.3g} steps"
    )


def _adagrad() -> MethodEntry:
    ratio = adagrad_rate_ratio(ADAGRAD_DECAY_STEPS)
    return MethodEntry(
        name="adagrad",
        title="Adagrad",
        summary="Per-coordinate learning rates from the running sum of squared gradients; rarely-updated "
        "coordinates keep large steps, which suits sparse features.",
        update_rule={
            "torch": "S ← S + g²;  θ ← θ − lr_t·g/(sqrt(S) + eps),  lr_t = lr/(1 + (t − 1)·lr_decay);  "
            "S₀ = initial_accumulator_value = 0; weight_decay adds wd·θ to g",
            "keras": "S ← S + g²;  θ ← θ − lr·g/sqrt(S + epsilon);  S₀ = 0.1; "
            "weight_decay: θ ← θ·(1 − lr·wd) before the step",
            "optax": "S ← S + g²;  θ ← θ − lr·g·where(S > 0, 1/sqrt(S + eps), 0);  S₀ = 0.1",
        },
        hyperparameters=HYPERPARAMETERS["adagrad"],
        pitfalls=[
            "Keras and Optax start the accumulator at 0.1, torch at 0: the first torch step is lr·sign(g), "
            "the first Keras/Optax step is smaller when |g| is below about 0.3.",
            "ε sits outside the square root in torch (1e-10) and inside in Keras and Optax (1e-7).",
            "Keras weight_decay is decoupled (θ ← θ·(1 − lr·wd)); torch weight_decay is L2 on the gradient.",
            "Optax adagrad has no default learning rate; Keras defaults to 0.001, torch to 0.01.",
            "lr_decay exists only in torch.",
        ],
        behaviour=[
            Behaviour(
                topic="Why the rate dies",
                explanation="S is a sum that never forgets, so with gradients of constant size the effective "
                f"rate lr/sqrt(S) falls like 1/sqrt(t): after {ADAGRAD_DECAY_STEPS:,} dense updates it is "
                f"{ratio:.0%} of its first-step value, and 10% already after "
                f"{adagrad_updates_until_ratio(0.1):.0f} updates.",
            ),
            Behaviour(
                topic="Sparse coordinates",
                explanation="A coordinate updated in a fraction p of the steps has seen p·t updates, so its "
                "rate is 1/sqrt(p) times that of a dense coordinate: rare features keep learning.",
            ),
        ],
        failure_mode="The accumulator only grows, so on long dense runs the step size decays towards 0 "
        "and training stalls.",
        constructors={
            "torch": "torch.optim.Adagrad",
            "keras": "keras.optimizers.Adagrad",
            "optax": "optax.adagrad",
        },
    )


def _rmsprop() -> MethodEntry:
    return MethodEntry(
        name="rmsprop",
        title="RMSprop",
        summary="Adagrad with an exponential moving average instead of a sum, so the step size tracks the "
        "recent gradient scale instead of dying.",
        update_rule={
            "torch": "v ← α·v + (1 − α)·g²;  d = sqrt(v) + eps (centered: sqrt(v − m²) + eps);  "
            "θ ← θ − lr·g/d;  momentum: b ← μ·b + g/d, θ ← θ − lr·b",
            "keras": "v ← ρ·v + (1 − ρ)·g²;  d = sqrt(v + epsilon) (centered: sqrt(v − m² + epsilon));  "
            "θ ← θ − lr·g/d;  momentum: b ← μ·b + lr·g/d, θ ← θ − b",
            "optax": "ν ← decay·ν + (1 − decay)·g² (ν₀ = initial_scale);  d = sqrt(ν + eps) or sqrt(ν) + eps "
            "(eps_in_sqrt);  u = lr·g/d;  momentum: b ← u + μ·b, θ ← θ − b (nesterov: θ ← θ − (u + μ·b))",
        },
        hyperparameters=HYPERPARAMETERS["rmsprop"],
        pitfalls=[
            "torch alpha = Keras rho = Optax decay, with defaults 0.99 vs 0.9 vs 0.9: "
            f"{_memory(0.99)} against {_memory(0.9)}.",
            "ε is outside the square root in torch and inside in Keras and Optax (Optax: eps_in_sqrt=False "
            "gives the torch form); the difference matters when v is small or ε large.",
            "With momentum, torch keeps lr outside the buffer and Keras/Optax inside: identical at constant "
            "lr, different under a learning-rate schedule.",
            "Keras weight_decay is decoupled; torch weight_decay is L2 on the gradient; "
            "Optax rmsprop has none.",
            "Centered variance v − m² can round below 0; torch then takes sqrt of a negative number.",
        ],
        behaviour=[
            Behaviour(
                topic="Memory of the decay rate",
                explanation=f"{_memory(0.99)}; {_memory(0.9)}; {_memory(0.999)}.",
            ),
            Behaviour(
                topic="Why it does not die",
                explanation="v is an average, not a sum: with stationary gradients it settles at E[g²], "
                "so the "
                "step size settles at lr/sqrt(E[g²]) instead of decaying to 0.",
            ),
        ],
        failure_mode="A short memory (small α) makes the denominator as noisy as the gradients; a long one "
        "reacts slowly when the gradient scale changes.",
        constructors={
            "torch": "torch.optim.RMSprop",
            "keras": "keras.optimizers.RMSprop",
            "optax": "optax.rmsprop",
        },
    )


def _adadelta() -> MethodEntry:
    torch_first = adadelta_first_step_limit(1e-6, 0.9)
    keras_first = adadelta_first_step_limit(1e-7, 0.95)
    return MethodEntry(
        name="adadelta",
        title="Adadelta",
        summary="RMSprop whose step is rescaled by the running RMS of its own past updates, so the units "
        "work out without a global learning rate.",
        update_rule={
            "torch": "E_g ← ρ·E_g + (1 − ρ)·g²;  δ = sqrt(E_dx + eps)/sqrt(E_g + eps)·g;  "
            "E_dx ← ρ·E_dx + (1 − ρ)·δ²;  θ ← θ − lr·δ",
            "keras": "same recursion; θ ← θ − learning_rate·δ; "
            "weight_decay: θ ← θ·(1 − lr·wd) before the step",
            "optax": "same recursion after g ← g + weight_decay·θ; θ ← θ − learning_rate·δ, "
            "but learning_rate=None gives θ ← θ + δ",
        },
        hyperparameters=HYPERPARAMETERS["adadelta"],
        pitfalls=[
            "Keras' default learning_rate is 0.001 where the paper (and torch) use 1.0: Keras steps are "
            "1000× smaller.",
            "optax.adadelta(learning_rate=None) applies no scaling and no sign flip, so it moves up the "
            "gradient; always pass learning_rate=1.0.",
            "Default rho is 0.9 in torch and Optax, 0.95 in Keras; default eps 1e-6 vs 1e-7.",
            "Keras weight_decay is decoupled; torch and Optax add weight_decay·θ to the gradient.",
        ],
        behaviour=[
            Behaviour(
                topic="How the learning rate disappears",
                explanation="δ = RMS[Δx]/RMS[g]·g has the units of θ, so no global rate is needed: lr only "
                "scales δ and is 1.0 in the paper's form.",
            ),
            Behaviour(
                topic="First steps are sized by sqrt(ε)",
                explanation="E_dx starts at 0, so the first step is sqrt(ε)/sqrt((1 − ρ)g² + ε)·|g| → "
                f"sqrt(ε/(1 − ρ)) for large gradients: {torch_first:.3g} with torch defaults "
                f"(ε = 1e-6, ρ = 0.9; {adadelta_first_step(1e-6, 0.9, 1e-3):.3g} for |g| = 1e-3), "
                f"{keras_first:.3g} with Keras' ε = 1e-7, ρ = 0.95 before its lr of 0.001.",
            ),
        ],
        failure_mode="Start-up is slow and set by ε rather than by the problem; lr is only a scale, so "
        "tuning it like an SGD learning rate misleads.",
        constructors={
            "torch": "torch.optim.Adadelta",
            "keras": "keras.optimizers.Adadelta",
            "optax": "optax.adadelta",
        },
    )


def _adam(name: str) -> MethodEntry:
    decoupled = name == "adamw"
    title = "AdamW" if decoupled else "Adam"
    return MethodEntry(
        name=name,
        title=title,
        summary="Momentum on the gradient plus RMSprop-style scaling, both bias-corrected"
        + (", with decoupled weight decay." if decoupled else "."),
        update_rule={
            "torch": ("θ ← θ·(1 − lr·wd); " if decoupled else "")
            + "m ← β₁m + (1 − β₁)g;  v ← β₂v + (1 − β₂)g²;  θ ← θ − lr/(1 − β₁ᵗ)·m/(sqrt(v/(1 − β₂ᵗ)) + eps)",
            "keras": ("θ ← θ·(1 − lr·wd); " if decoupled else "")
            + "same moments;  θ ← θ − lr·sqrt(1 − β₂ᵗ)/(1 − β₁ᵗ)·m/(sqrt(v) + epsilon)",
            "optax": ("θ ← θ − lr·wd·θ; " if decoupled else "")
            + "same moments;  θ ← θ − lr·m̂/(sqrt(v̂) + eps)",
        },
        hyperparameters=HYPERPARAMETERS[name],
        pitfalls=[
            'Keras adds epsilon before bias correction ("epsilon hat"), torch and Optax after it.',
            "Default weight decay of AdamW: torch 1e-2, Keras 0.004, Optax 1e-4."
            if decoupled
            else "torch Adam weight_decay is L2 on the gradient; Keras Adam weight_decay is decoupled.",
        ],
        behaviour=[
            Behaviour(
                topic="Memory of the moments",
                explanation=f"β₁ = 0.9 → memory ≈ {ema_memory_steps(0.9):.0f} steps; "
                f"β₂ = 0.999 → memory ≈ {ema_memory_steps(0.999):.0f} steps, "
                f"half-life {ema_half_life_steps(0.999):.0f} steps.",
            ),
        ],
        failure_mode="Steps are about lr per coordinate whatever the gradient scale; "
        + ("the decay strength moves with lr." if decoupled else "L2 decay is normalised away."),
        constructors={
            "torch": f"torch.optim.{title}",
            "keras": f"keras.optimizers.{title}",
            "optax": f"optax.{name}",
        },
    )


def _sgd() -> MethodEntry:
    return MethodEntry(
        name="sgd",
        title="SGD",
        summary="One global learning rate, optionally with (Nesterov) momentum: the non-adaptive baseline.",
        update_rule={
            "torch": "b ← μ·b + (1 − dampening)·g (b₁ = g);  θ ← θ − lr·b  (nesterov: θ ← θ − lr·(g + μ·b))",
            "keras": "b ← μ·b − lr·g;  θ ← θ + b  (nesterov: θ ← θ + μ·b − lr·g)",
            "optax": "b ← g + μ·b;  θ ← θ − lr·b  (nesterov: θ ← θ − lr·(g + μ·b))",
        },
        hyperparameters=HYPERPARAMETERS["sgd"],
        pitfalls=[
            "Keras keeps lr inside the momentum buffer, torch and Optax outside: different under schedules.",
            "Keras weight_decay is decoupled, torch weight_decay is L2 on the gradient.",
        ],
        behaviour=[
            Behaviour(
                topic="Momentum as an average",
                explanation="μ = 0.9 amplifies a steady gradient by 1/(1 − μ) = "
                f"{ema_memory_steps(0.9):.0f}.",
            ),
        ],
        failure_mode="The stable lr is bounded by the sharpest direction, so flat directions move slowly.",
        constructors={"torch": "torch.optim.SGD", "keras": "keras.optimizers.SGD", "optax": "optax.sgd"},
    )


ENTRIES: dict[str, MethodEntry] = {
    entry.name: entry
    for entry in (_adagrad(), _rmsprop(), _adadelta(), _adam("adam"), _adam("adamw"), _sgd())
}
