"""REINFORCE on CartPole, with the classic cart-pole dynamics vectorised in numpy (no gym dependency).

Each step rolls out a batch of episodes with the current policy and takes one policy-gradient step:
the data distribution moves with the policy, the regime where the source text recommends RMSprop.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from benchmarks.quality.loop import run_steps
from benchmarks.quality.problem import OptimizerFactory, TrainingObserver, TrainResult

GRAVITY = 9.8
CART_MASS = 1.0
POLE_MASS = 0.1
POLE_HALF_LENGTH = 0.5
FORCE = 10.0
TIME_STEP = 0.02
ANGLE_LIMIT = 12 * 2 * np.pi / 360
POSITION_LIMIT = 2.4


def cartpole_step(states: np.ndarray, push_right: np.ndarray) -> np.ndarray:
    """Advance (x, x_dot, theta, theta_dot) rows by one Euler step of the standard cart-pole physics."""
    x, x_dot, theta, theta_dot = states.T
    force = np.where(push_right, FORCE, -FORCE)
    cos, sin = np.cos(theta), np.sin(theta)
    total_mass = CART_MASS + POLE_MASS
    temp = (force + POLE_MASS * POLE_HALF_LENGTH * theta_dot**2 * sin) / total_mass
    theta_acc = (GRAVITY * sin - cos * temp) / (
        POLE_HALF_LENGTH * (4.0 / 3.0 - POLE_MASS * cos**2 / total_mass)
    )
    x_acc = temp - POLE_MASS * POLE_HALF_LENGTH * theta_acc * cos / total_mass
    return np.stack(
        [
            x + TIME_STEP * x_dot,
            x_dot + TIME_STEP * x_acc,
            theta + TIME_STEP * theta_dot,
            theta_dot + TIME_STEP * theta_acc,
        ],
        axis=1,
    )


def fallen(states: np.ndarray) -> np.ndarray:
    beyond: np.ndarray = (np.abs(states[:, 0]) > POSITION_LIMIT) | (np.abs(states[:, 2]) > ANGLE_LIMIT)
    return beyond


@dataclass(frozen=True)
class Rollout:
    observations: torch.Tensor  # (horizon, episodes, 4)
    actions: torch.Tensor  # (horizon, episodes)
    alive: torch.Tensor  # (horizon, episodes): the step happened before the episode ended
    lengths: np.ndarray  # (episodes,)


@dataclass(frozen=True)
class CartPoleReinforce:
    name: str = "cartpole_reinforce"
    regime: str = "policy-gradient RL (REINFORCE on CartPole, 8 episodes per step, horizon 200)"
    steps: int = 60
    episodes: int = 8
    horizon: int = 200
    hidden: int = 32
    discount: float = 0.99
    metric: str = "1 - mean episode length / 200 over the whole run"

    @property
    def profile(self) -> dict[str, Any]:
        return {"model_family": "rl", "training_steps": self.steps, "convex": False}

    def build(self, seed: int) -> tuple[nn.Module, np.random.Generator]:
        torch.manual_seed(seed)
        policy = nn.Sequential(nn.Linear(4, self.hidden), nn.Tanh(), nn.Linear(self.hidden, 2))
        return policy, np.random.default_rng([seed, 5])

    def rollout(self, policy: nn.Module, rng: np.random.Generator) -> Rollout:
        states = rng.uniform(-0.05, 0.05, (self.episodes, 4))
        alive = np.ones(self.episodes, dtype=bool)
        observations, actions, alive_steps = [], [], []
        with torch.no_grad():
            for _ in range(self.horizon):
                probabilities = torch.softmax(policy(torch.from_numpy(states).float()), dim=1)[:, 1].numpy()
                push_right = rng.random(self.episodes) < probabilities
                observations.append(states)
                actions.append(push_right)
                alive_steps.append(alive.copy())
                states = cartpole_step(states, push_right)
                alive &= ~fallen(states)
                if not alive.any():
                    break
        alive_array = np.array(alive_steps)
        return Rollout(
            observations=torch.from_numpy(np.array(observations)).float(),
            actions=torch.from_numpy(np.array(actions)).long(),
            alive=torch.from_numpy(alive_array),
            lengths=alive_array.sum(axis=0),
        )

    def _advantages(self, alive: torch.Tensor) -> torch.Tensor:
        """Normalised discounted rewards-to-go (reward 1 per step alive)."""
        rewards = alive.double()
        returns = torch.zeros_like(rewards)
        running = torch.zeros(rewards.shape[1], dtype=torch.float64)
        for t in range(rewards.shape[0] - 1, -1, -1):
            running = rewards[t] + self.discount * running
            returns[t] = running
        valid = returns[alive]
        return ((returns - valid.mean()) / (valid.std() + 1e-8)).float()

    def train(
        self,
        optimizer_factory: OptimizerFactory,
        seed: int,
        steps: int | None = None,
        observer: TrainingObserver | None = None,
    ) -> TrainResult:
        policy, rng = self.build(seed)
        shortfalls: list[float] = []

        def step_loss(_step: int) -> torch.Tensor:
            rollout = self.rollout(policy, rng)
            shortfalls.append(1.0 - float(rollout.lengths.mean()) / self.horizon)
            log_probabilities = torch.log_softmax(policy(rollout.observations), dim=2)
            chosen = log_probabilities.gather(2, rollout.actions.unsqueeze(2)).squeeze(2)
            advantages = self._advantages(rollout.alive)
            return -(chosen * advantages)[rollout.alive].sum() / self.episodes

        def mean_shortfall(_curve: list[float]) -> float:
            # The whole run, not its end: a good policy can balance every episode late in training,
            # and a metric near zero would make relative gaps meaningless; how fast it learns is the score.
            return float(np.mean(shortfalls))

        result = run_steps(
            policy,
            optimizer_factory,
            steps or self.steps,
            step_loss=step_loss,
            final_metric=mean_shortfall,
            observer=observer,
        )
        # The surrogate loss is not a performance measure; the curve reports the episode shortfall.
        return TrainResult(
            curve=shortfalls,
            final_metric=result.final_metric,
            diverged=result.diverged,
            seconds=result.seconds,
        )


CARTPOLE = CartPoleReinforce()
