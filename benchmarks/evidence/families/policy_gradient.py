"""REINFORCE agents with a learned baseline on contextual bandits and short-horizon tabular MDPs.

The agent is one network (an MLP, or a linear map) whose outputs are the softmax policy's logits and a
value, the baseline. Each step it acts on a batch of contexts (bandit) or plays a batch of episodes (MDP)
with the current policy, actions drawn by inverse CDF from precomputed uniforms with the probabilities
detached, and takes one REINFORCE step: the log-probabilities of the actions taken, weighted by the reward
(to go) minus the detached baseline, plus the baseline's squared error.

- ``bandit``: a contextual bandit whose arm means are linear in a Gaussian context, ``x . w_a(t) + b_a``,
  with noisy rewards. In the drifting variants each arm's weights rotate between two random directions,
  ``w_a(t) = cos(phi_t) u_a + sin(phi_t) v_a``, over ``cycles`` turns of the run, so the best arm for a
  context keeps changing; the others are stationary.
- ``gridworld`` / ``chain``: finite-horizon MDPs simulated inside the loss. A 5x5 grid with slippery moves,
  a goal in a corner (episodes start in any other cell) and two penalty cells; a five-state chain whose
  far end pays well but whose "forward" moves often fail, next to a small sure reward at the start
  (RiverSwim-like: a policy that settles for the small reward early is stuck in a local optimum).

The metric is the mean per-step regret of the policy before each update, scored online: the expected gap
between the best arm's mean and the policy's (bandit), or between the optimal action value and the
policy's at the visited state and time (MDP; ``Q*`` by backward induction, so an episode's summed gaps are,
in expectation, its shortfall from the optimal return). Regret can approach zero in the stationary tasks,
so ``gap_basis`` is ``initial``. Variants change the arms, the context size, the drift speed, the MDP, the
episode length, the episodes per step and the run length.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np
import torch
from torch import Tensor, nn

from benchmarks.evidence.families._layers import mlp
from benchmarks.evidence.task import Batch, Forward, Online, TaskSpec

FAMILY = "policy_gradient"
REWARD_NOISE = 0.5  # std of the bandit's reward noise, half the spread of the arm means
ARM_BIAS = 0.3  # std of the bandit's per-arm offsets
GRID = 5
GRID_SLIP = 0.2  # probability that a grid move goes in a uniformly random direction instead
GRID_PENALTY = -0.5  # reward on entering one of the penalty cells
CHAIN = 5
CHAIN_SUCCESS = 0.6  # probability that "forward" moves forward (else it stays, or slips back)
CHAIN_SMALL = 0.05  # the sure reward of "back" at the start


def _draw(probabilities: Tensor, uniform: Tensor) -> Tensor:
    """Indices drawn from the rows of ``probabilities`` (no gradient) by inverse CDF of ``uniform``."""
    # The first index whose cumulative probability exceeds the uniform; the clamp catches rounding at 1.
    index = (uniform[..., None] > probabilities.cumsum(dim=-1)).sum(dim=-1)
    return index.clamp(max=probabilities.shape[-1] - 1)


def _pick(rows: Tensor, index: Tensor) -> Tensor:
    return rows.gather(-1, index[..., None]).squeeze(-1)


def _act(output: Tensor, uniform: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """(Detached probabilities, the action drawn by inverse CDF, its log-probability, the baseline)."""
    logits, value = output[..., :-1], output[..., -1]
    log_probabilities = logits - logits.logsumexp(dim=-1, keepdim=True)
    probabilities = log_probabilities.detach().exp()
    action = _draw(probabilities, uniform)
    return probabilities, action, _pick(log_probabilities, action), value


def _reinforce(log_probability: Tensor, value: Tensor, reward: Tensor) -> Tensor:
    return (-(reward - value.detach()) * log_probability + 0.5 * (reward - value) ** 2).mean()


@dataclass(frozen=True)
class BanditStream:
    contexts: Tensor  # [steps, batch, context]
    means: Tensor  # [steps, batch, arms]
    rewards: Tensor  # [steps, batch, arms]: means plus noise
    uniforms: Tensor  # [steps, batch]


@dataclass(frozen=True)
class Bandit(Online):
    arms: int
    context: int
    cycles: float  # turns of the arms' rotation over the run; 0 is stationary
    widths: tuple[int, ...]
    batch_size: int
    steps: int

    @property
    def spec(self) -> TaskSpec:
        model = "linear" if not self.widths else "mlp" + "x".join(map(str, self.widths))
        drift = {"stationarity": "non_stationary"} if self.cycles else {}
        return TaskSpec(
            family=FAMILY,
            name=f"{FAMILY}/bandit-a{self.arms}-c{self.context}-drift{self.cycles:g}-{model}"
            f"-b{self.batch_size}-s{self.steps}",
            steps=self.steps,
            batch_size=self.batch_size,
            metric="mean per-step regret (online)",
            profile={"model_family": "rl", "training_steps": self.steps, **drift},
            gap_basis="initial",
            variant={"problem": "bandit", "arms": self.arms, "context": self.context, "cycles": self.cycles},
        )

    def build(self, seed: int) -> nn.Module:
        torch.manual_seed(seed)
        return mlp((self.context, *self.widths, self.arms + 1))  # the policy's logits and the baseline

    def data(self, seed: int) -> BanditStream:
        rng = np.random.default_rng([seed, 31])
        start, end = rng.normal(size=(2, self.context, self.arms)) / np.sqrt(self.context)
        bias = ARM_BIAS * rng.normal(size=self.arms)
        phase = 2 * np.pi * self.cycles * np.arange(self.steps) / self.steps
        weights = np.cos(phase)[:, None, None] * start + np.sin(phase)[:, None, None] * end
        contexts = rng.normal(size=(self.steps, self.batch_size, self.context))
        means = np.einsum("sbc,sca->sba", contexts, weights) + bias
        rewards = means + REWARD_NOISE * rng.normal(size=means.shape)
        uniforms = rng.random((self.steps, self.batch_size))
        return BanditStream(
            *(torch.from_numpy(a.astype(np.float32)) for a in (contexts, means, rewards, uniforms))
        )

    def batch(self, data: BanditStream, step: int) -> Batch:
        return {
            "contexts": data.contexts[step],
            "means": data.means[step],
            "rewards": data.rewards[step],
            "uniforms": data.uniforms[step],
        }

    def loss(self, forward: Forward, batch: Batch) -> tuple[Tensor, Tensor]:
        probabilities, action, log_probability, value = _act(forward(batch["contexts"]), batch["uniforms"])
        reward = _pick(batch["rewards"], action)
        means = batch["means"]
        regret = (probabilities * (means.amax(dim=-1, keepdim=True) - means)).sum(dim=-1).mean()
        return _reinforce(log_probability, value, reward), regret


@dataclass(frozen=True)
class Mdp:
    """A finite-horizon MDP's tables, and the optimal action values by backward induction."""

    outcomes: Tensor  # [state, action, 2, next state]: the transition probabilities and the rewards
    start: Tensor  # [state]: the distribution of the first state
    gaps: Tensor  # [time, state, action]: V*_t(s) - Q*_t(s, a)


def _solve(transitions: np.ndarray, rewards: np.ndarray, start: np.ndarray, horizon: int) -> Mdp:
    future = np.zeros(transitions.shape[0])
    gaps = []
    for _ in range(horizon):
        values = (transitions * (rewards + future)).sum(axis=-1)  # Q*_t [state, action]
        future = values.max(axis=-1)
        gaps.append(future[:, None] - values)
    tables = (np.stack([transitions, rewards], axis=2), start, np.stack(gaps[::-1]))
    return Mdp(*(torch.from_numpy(table.astype(np.float32)) for table in tables))


@cache
def _gridworld(horizon: int) -> Mdp:
    """Moves up, down, left, right; off-grid moves stay put; the goal (far corner) is absorbing."""
    states = GRID * GRID
    goal, penalties = states - 1, {GRID * 1 + 3, GRID * 3 + 1}
    moves = ((-1, 0), (1, 0), (0, -1), (0, 1))
    target = np.zeros((states, len(moves)), dtype=np.int64)
    for state in range(states):
        row, column = divmod(state, GRID)
        for index, (down, right) in enumerate(moves):
            r, c = min(max(row + down, 0), GRID - 1), min(max(column + right, 0), GRID - 1)
            target[state, index] = goal if state == goal else r * GRID + c
    intended = np.zeros((states, len(moves), states))
    intended[np.arange(states)[:, None], np.arange(len(moves)), target] = 1.0
    transitions = (1 - GRID_SLIP) * intended + GRID_SLIP * intended.mean(axis=1, keepdims=True)
    entering = np.zeros(states)
    entering[goal], entering[list(penalties)] = 1.0, GRID_PENALTY
    rewards = np.broadcast_to(entering, transitions.shape).copy()
    rewards[goal] = 0.0  # the goal pays once, on arrival
    # Episodes start anywhere but the goal: from the far corner alone, a random walk would rarely find it.
    start = np.full(states, 1.0 / (states - 1))
    start[goal] = 0.0
    return _solve(transitions, rewards, start, horizon)


@cache
def _chain(horizon: int) -> Mdp:
    """Actions back (sure; pays a little at the start) and forward (often fails; pays at the end)."""
    transitions = np.zeros((CHAIN, 2, CHAIN))
    rewards = np.zeros((CHAIN, 2, CHAIN))
    for state in range(CHAIN):
        transitions[state, 0, max(state - 1, 0)] = 1.0
        ahead = min(state + 1, CHAIN - 1)
        transitions[state, 1, ahead] += CHAIN_SUCCESS
        transitions[state, 1, state] += (1 - CHAIN_SUCCESS) * 0.8
        transitions[state, 1, max(state - 1, 0)] += (1 - CHAIN_SUCCESS) * 0.2
    rewards[0, 0, 0] = CHAIN_SMALL
    rewards[CHAIN - 1, 1, CHAIN - 1] = 1.0
    return _solve(transitions, rewards, np.eye(CHAIN)[0], horizon)


@dataclass(frozen=True)
class EpisodeNoise:
    actions: Tensor  # [steps, horizon, batch] uniforms for drawing actions
    moves: Tensor  # [steps, horizon + 1, batch] uniforms for drawing the first and the next states


@dataclass(frozen=True)
class Episodic(Online):
    world: str  # gridworld, chain
    horizon: int
    widths: tuple[int, ...]
    batch_size: int
    steps: int

    @property
    def mdp(self) -> Mdp:
        return (_gridworld if self.world == "gridworld" else _chain)(self.horizon)

    @property
    def spec(self) -> TaskSpec:
        model = "linear" if not self.widths else "mlp" + "x".join(map(str, self.widths))
        return TaskSpec(
            family=FAMILY,
            name=f"{FAMILY}/{self.world}-H{self.horizon}-{model}-b{self.batch_size}-s{self.steps}",
            steps=self.steps,
            batch_size=self.batch_size,
            metric="mean per-step regret (online)",
            profile={"model_family": "rl", "training_steps": self.steps},
            gap_basis="initial",
            variant={"problem": self.world, "horizon": self.horizon, "widths": list(self.widths)},
        )

    def build(self, seed: int) -> nn.Module:
        torch.manual_seed(seed)
        states, actions, _, _ = self.mdp.outcomes.shape
        # The optimal finite-horizon policy depends on the time left, so time is an input too.
        return mlp((states + self.horizon, *self.widths, actions + 1))

    def data(self, seed: int) -> EpisodeNoise:
        rng = np.random.default_rng([seed, 37])
        actions = rng.random((self.steps, self.horizon, self.batch_size))
        moves = rng.random((self.steps, self.horizon + 1, self.batch_size))
        return EpisodeNoise(
            torch.from_numpy(actions.astype(np.float32)), torch.from_numpy(moves.astype(np.float32))
        )

    def batch(self, data: EpisodeNoise, step: int) -> Batch:
        return {"actions": data.actions[step], "moves": data.moves[step]}

    def loss(self, forward: Forward, batch: Batch) -> tuple[Tensor, Tensor]:
        mdp = self.mdp
        states, actions, _, _ = mdp.outcomes.shape
        outcomes = mdp.outcomes.reshape(states * actions, 2, states)  # rows by (state, action) pair
        episodes = batch["actions"].shape[-1]
        state = _draw(mdp.start.expand(episodes, states), batch["moves"][0])
        one_hot, times = torch.eye(states), torch.eye(self.horizon)
        log_probabilities, values, rewards, regrets = [], [], [], []
        for t in range(self.horizon):
            features = torch.cat([one_hot[state], times[t].expand(episodes, self.horizon)], dim=-1)
            probabilities, action, log_probability, value = _act(forward(features), batch["actions"][t])
            regrets.append((probabilities * mdp.gaps[t][state]).sum(dim=-1))
            successors, payoffs = outcomes[state * actions + action].unbind(dim=1)
            following = _draw(successors, batch["moves"][t + 1])
            rewards.append(_pick(payoffs, following))
            log_probabilities.append(log_probability)
            values.append(value)
            state = following
        # Reward to go: REINFORCE credits each action with the rewards that follow it.
        to_go = torch.stack(rewards, dim=0).flip(0).cumsum(dim=0).flip(0)
        loss = _reinforce(torch.stack(log_probabilities), torch.stack(values), to_go)
        return loss, torch.stack(regrets).mean()


def tasks() -> list[Bandit | Episodic]:
    return [
        Bandit(5, 8, 1.0, (), 32, 1000),
        Bandit(10, 4, 3.0, (32,), 16, 600),
        Bandit(8, 16, 0.0, (), 64, 400),
        Episodic("gridworld", 10, (32,), 24, 600),
        Episodic("chain", 8, (32,), 32, 600),
        Episodic("chain", 10, (), 16, 1000),
    ]
