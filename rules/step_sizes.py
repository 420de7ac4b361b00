"""How large each method's steps are per unit learning rate over a run, from its update rule.

Pure functions of the method's hyperparameters, the run's length and the gradients' mean-to-spread
ratio; tests/rules/test_step_size_estimates.py replays gradients through the optimizers to check them.
"""

import math

import numpy as np


def target_step(parameter_rms: float, training_steps: float, run_travel: float) -> float:
    """The step that lets a run of `training_steps` noisy updates walk `run_travel` parameter RMS."""
    return run_travel * parameter_rms / math.sqrt(training_steps)


def adam_step_per_lr(beta1: float, signal: float) -> float:
    """RMS step per unit lr of Adam/AdamW: momentum keeps the mean and averages the noise down."""
    noise = (1.0 - beta1) / (1.0 + beta1)
    return math.sqrt((signal**2 + noise) / (1.0 + signal**2))


def adagrad_step_rms(steps: int) -> float:
    """Constant step per unit lr that walks as far as Adagrad's lr/sqrt(t) steps over `steps`."""
    harmonic = math.log(steps) + 0.5772156649 + 1.0 / (2.0 * steps)
    return math.sqrt(harmonic / steps)


def rmsprop_step_rms(alpha: float, steps: int, centered_signal: float | None) -> float:
    """RMS step per unit lr of torch's RMSprop over `steps`, for gradients of RMS 1.

    With b_t = 1 - alpha^t its E[g²] is b_t (no bias correction: early steps are larger); centered, it
    divides by E[g²] - E[g]² = b_t (1 + rho²) - b_t² rho² for gradients of mean/spread rho (normalised to
    RMS 1), which ends sqrt(1 + rho²) times smaller than the RMS once E[g] has caught up with the mean.
    """
    # Beyond ~40 memory lengths alpha^t < 1e-17: b_t is 1 to float precision.
    exact = min(steps, math.ceil(40.0 / (1.0 - alpha)))
    b = 1.0 - alpha ** np.arange(1, exact + 1, dtype=np.float64)
    if centered_signal is None:
        early, late = b**-0.5, 1.0
    else:
        energy = 1.0 + centered_signal**2
        early = np.sqrt(energy / (b * energy - b**2 * centered_signal**2))
        late = math.sqrt(energy)
    return (float(np.sum(early)) + late * (steps - exact)) / steps


def adadelta_step_rms(eps: float, decay: float, signal: float, steps: int) -> float:
    """RMS of Adadelta's steps at lr=1 over `steps`, from the expected recursion of its E[dx²] (D).

    A step is about sqrt(D + eps) x g / sqrt(E[g²]_t), and D takes (1-decay) of its square. The damping
    c_t = E[g² / E[g²]_t] drives it: torch folds g_t into E[g²]_t before dividing, which damps large
    gradients (c = 0.89 for Gaussian noise and rho = 0.9), while E[g²]_t starting at zero inflates the first
    steps (c_1 = 1/(1-rho)). With c < 1, D levels off at c eps / (1-c) instead of growing for ever.
    """
    nodes, weights = np.polynomial.hermite_e.hermegauss(64)
    weights = weights / np.sum(weights)
    squares = (signal + nodes) ** 2 / (1.0 + signal**2)  # gradients of mean/spread `signal`, E[g²] = 1
    # E[g²]_{t-1} = 1 - decay^t (no bias correction); after ~10 memory lengths it is 1 and c_t is c.
    warm_up = min(steps, math.ceil(10.0 / (1.0 - decay)))
    memory = 1.0 - decay ** np.arange(warm_up + 1, dtype=np.float64)
    damping = (squares / (decay * memory[:, None] + (1.0 - decay) * squares)) @ weights
    total, d = 0.0, 0.0
    for t in range(warm_up):
        square = float(damping[t]) * (d + eps)
        total += square
        d = decay * d + (1.0 - decay) * square
    c, rest = float(damping[warm_up]), steps - warm_up
    if rest:
        if c >= 1.0 - 1e-9:  # consistent gradients: D grows by (1-decay) eps every step
            d_sum = rest * d + (1.0 - decay) * eps * rest * (rest - 1) / 2.0
        else:
            saturation = c * eps / (1.0 - c)
            q = 1.0 - (1.0 - decay) * (1.0 - c)  # D moves towards saturation by (1-q) of the gap per step
            d_sum = rest * saturation - (saturation - d) * (1.0 - q**rest) / (1.0 - q)
        total += c * (d_sum + rest * eps)
    return math.sqrt(total / steps)
