"""The figures a profile reports, per group and overall.

Each field is defined in one line (its description), which is also what the API documentation shows.
These names are a contract with `rules` and with clients: add fields freely, never rename one.
"""

from pydantic import BaseModel, ConfigDict, Field

from optadvisor.profiler.thresholds import (
    DYING_FRACTION,
    INTERMITTENT_AT_MOST,
    RARE_BELOW,
    STATIONARY_BELOW,
    as_share,
)


class Figures(BaseModel):
    """Measured figures of one gradient group, or of all groups weighted by their coordinate count."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    steps: int = Field(description="T: number of gradient steps in the sample.")
    window_steps: int = Field(
        description="Training steps the sample spans: steps x recorded_every (the request's number of "
        "training steps between two recorded ones). Drift slower than this is beyond what it can show."
    )
    coordinates: int = Field(description="D: number of coordinates measured (a subset when sampled).")
    sparsity: float = Field(
        description="Fraction of gradient entries that are exactly zero (over the whole tensor when exact "
        "per-step nonzero counts are sent)."
    )
    nonzero_frequency_p10: float = Field(
        description="10th percentile over coordinates of the fraction of steps with a nonzero gradient."
    )
    nonzero_frequency_median: float = Field(
        description="Median over coordinates of the fraction of steps with a nonzero gradient."
    )
    nonzero_frequency_p90: float = Field(
        description="90th percentile over coordinates of the fraction of steps with a nonzero gradient."
    )
    silent_coordinate_fraction: float = Field(
        description="Fraction of coordinates whose gradient is zero in every step of the sample: dead units, "
        "or features rarer than the sample can see (a window cannot tell the two apart, so neither is "
        "counted as rare)."
    )
    rare_coordinate_fraction: float = Field(
        description="Fraction of coordinates whose gradient is nonzero in at least one step but in at most "
        f"{as_share(RARE_BELOW)} of the steps (in one step when the sample has fewer than "
        f"{1 / RARE_BELOW:.0f}): rarely active features."
    )
    intermittent_coordinate_fraction: float = Field(
        description="Fraction of coordinates whose gradient is nonzero in at least one step and in at most "
        f"{as_share(INTERMITTENT_AT_MOST)} of them."
    )
    nonstationarity: float = Field(
        ge=0.0,
        le=1.0,
        description="0 when the stream's scale and direction stay put; towards 1 as they change by an "
        "order of magnitude within the sample: max of tanh(2 x excess sd of windowed log10 RMS) and the "
        "excess cosine similarity of adjacent window-mean directions, both beyond shuffled-window noise.",
    )
    drift_timescale_steps: float | None = Field(
        description="Typical number of training steps over which the stream's scale or direction changes: "
        "twice the lag at which adjacent-window similarity decays to 1/e, times recorded_every (null when "
        f"nonstationarity < {STATIONARY_BELOW:g})."
    )
    scale_spread_decades: float | None = Field(
        description="log10 of the ratio of the 90th to the 10th percentile of per-coordinate gradient RMS "
        "(coordinates that are ever nonzero)."
    )
    gsnr_median: float | None = Field(
        description="Median over coordinates of the gradient signal-to-noise ratio mean^2 / variance "
        "over steps (coordinates whose gradient varies)."
    )
    gsnr_p90: float | None = Field(
        description="90th percentile over coordinates of the gradient signal-to-noise ratio."
    )
    gradient_rms: float = Field(description="Root mean square of all gradient entries.")
    mean_to_spread_ratio: float | None = Field(
        description="Median over coordinates of |mean| / standard deviation of the gradient over steps."
    )
    parameter_rms: float | None = Field(
        description="Root mean square of the parameter values, when the client sent them."
    )
    typical_parameter_rms: float | None = Field(
        description="Parameter RMS of the group holding the median parameter, groups ordered by parameter "
        "RMS and weighted by tensor size: the scale most parameters have. Equal to parameter_rms for one "
        "group; below it when a few large-scale tensors (an N(0, 1) embedding table, say) dominate the "
        "overall RMS. Null without parameters."
    )
    adagrad_dying_step: float | None = Field(
        description="Projected step at which the median coordinate's Adagrad effective rate falls to "
        f"{as_share(DYING_FRACTION)} of "
        "its value after that coordinate's first update, from S(t) = S0 + g1^2 + p*r*(t - t1) per coordinate "
        "(p activity, r mean square when active; null beyond 1e9)."
    )
    adagrad_rate_ratio_at_training_steps: float | None = Field(
        description="Median coordinate's projected Adagrad effective rate at training_steps, relative to "
        "its value after its first update."
    )
    rmsprop_alpha: float = Field(description="RMSprop decay (torch alpha) the memory figures refer to.")
    rmsprop_half_life_steps: float = Field(
        description="Steps after which RMSprop's average gives a gradient half its weight: ln 0.5 / ln alpha."
    )
    rmsprop_matched_alpha: float | None = Field(
        description="RMSprop alpha whose memory 1/(1-alpha) equals drift_timescale_steps "
        "(null when stationary)."
    )
    adadelta_first_step: float = Field(
        description="Size of Adadelta's first steps implied by eps and rho: lr * sqrt(eps / (1 - rho)) "
        "(lr is 1 in torch and the paper)."
    )
    adadelta_first_step_to_parameter_rms: float | None = Field(
        description="adadelta_first_step divided by parameter_rms (null without parameters)."
    )
