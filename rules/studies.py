"""Cross-study evidence: what the outcomes users reported on their own studies say about similar requests.

A finished study (one with reported outcomes) is described by the descriptors its request had and by the
method and grid configuration of its best reported run. For a new request, the similar studies are those at
least as alike as the evidence base's similar tasks were (the same descriptors and distance,
``rules.similarity``). They are reported in every answer ("on N similar studies from K clients, the
recommended method was best in M"), and may move the advice only under the policy: enough studies from
enough distinct API keys, each key's weight capped, the total move bounded. Without API keys there are no
client identities, so nothing moves. The move is an explicit bonus on the configurations that won in the
similar studies, which the greedy plan weighs against its regret objective (``evidence.greedy_plan``).

A snapshot is immutable and named by a hash of its content and policy (`version`), so an answer that names
it can be recomputed.
"""

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from functools import cached_property

import numpy as np

from optadvisor.optimizers.catalogue.names import Method
from optadvisor.rules.evidence import Matrix
from optadvisor.rules.similarity import Descriptors, DescriptorTable


@dataclass(frozen=True)
class StudyOutcome:
    """One finished study: whose it is, what its request looked like, what won among its reported runs."""

    owner: str  # a fingerprint of the API key; "" when the service runs without keys
    descriptors: Descriptors
    best_method: Method
    best_configuration: str | None  # the grid key of the best run, None when it was off the grid


@dataclass(frozen=True)
class EvidencePolicy:
    """When and how far other studies may move the advice (the service's settings)."""

    min_studies: int = 20
    min_keys: int = 5
    key_weight_cap: float = 0.2
    max_move: float = 0.05


@dataclass(frozen=True)
class CrossStudy:
    """The similar studies of one request, and the bonus per configuration they earn."""

    similar: tuple[StudyOutcome, ...]
    clients: int
    moves: dict[str, float]
    why_not: str | None  # why nothing moved, when nothing did

    def best_in(self, method: str) -> int:
        """In how many of the similar studies `method` was best."""
        return sum(study.best_method == method for study in self.similar)


class StudySnapshot:
    """The finished studies the service read at one time, with the policy in force."""

    def __init__(self, studies: Sequence[StudyOutcome], policy: EvidencePolicy) -> None:
        self.studies = tuple(studies)
        self.policy = policy
        self._tables: dict[tuple[tuple[str, float], ...], DescriptorTable] = {}

    @cached_property
    def version(self) -> str:
        """First 12 hex digits of the sha256 of the canonical JSON of the studies and the policy."""
        content = {"policy": asdict(self.policy), "studies": [asdict(study) for study in self.studies]}
        canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:12]

    def distances(self, query: Descriptors, spreads: Mapping[str, float]) -> Matrix:
        """The evidence base's distance (`rules.similarity.DescriptorTable`) from `query` to every study."""
        key = tuple(sorted(spreads.items()))
        if key not in self._tables:
            self._tables[key] = DescriptorTable([study.descriptors for study in self.studies], spreads)
        return self._tables[key].distances(query)

    def cross_study(self, query: Descriptors, spreads: Mapping[str, float], cutoff: float) -> CrossStudy:
        """The studies within `cutoff` of `query`, and what they move under the policy."""
        if not self.studies:
            return CrossStudy((), 0, {}, "no study has reported outcomes yet")
        near = np.flatnonzero(self.distances(query, spreads) <= cutoff + 1e-12)
        similar = tuple(self.studies[index] for index in near)
        keyed: dict[str, list[StudyOutcome]] = {}
        for study in similar:
            if study.owner:
                keyed.setdefault(study.owner, []).append(study)
        counted = sum(len(studies) for studies in keyed.values())
        policy = self.policy
        if not keyed:
            why = "the studies carry no client identity (the service runs without API keys)"
            return CrossStudy(similar, 0, {}, why if similar else "no similar study has reported outcomes")
        if counted < policy.min_studies or len(keyed) < policy.min_keys:
            why = (
                f"{counted} studies from {len(keyed)} clients are fewer than the {policy.min_studies} "
                f"studies from {policy.min_keys} clients needed to move the advice"
            )
            return CrossStudy(similar, len(keyed), {}, why)
        moves: dict[str, float] = {}
        for studies in keyed.values():
            # A key's weight is its share of the studies, capped: no client can carry more than the cap.
            weight = min(len(studies) / counted, policy.key_weight_cap)
            for study in studies:
                if study.best_configuration is not None:
                    share = policy.max_move * weight / len(studies)
                    moves[study.best_configuration] = moves.get(study.best_configuration, 0.0) + share
        if not moves:
            return CrossStudy(similar, len(keyed), {}, "none of their best runs was a grid configuration")
        return CrossStudy(similar, len(keyed), {key: round(value, 6) for key, value in moves.items()}, None)
