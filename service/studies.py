"""Studies: each answered recommendation stored with what it was asked, outcomes reported back, the next
run proposed from them, and the snapshot of cross-study evidence answers quote. No HTTP here beyond the
problem errors the routes pass on; the database calls are synchronous (the routes run them in threads)."""

import base64
import binascii
import hashlib
import json
import math
import random
from dataclasses import asdict, dataclass
from datetime import timedelta
from functools import cached_property
from itertools import groupby
from typing import Any

from optadvisor.profiler.figures import Figures
from optadvisor.rules import RuleSet
from optadvisor.rules.ask_tell import NextStep, Reported, configuration_of, next_run
from optadvisor.rules.studies import EvidencePolicy, StudyOutcome, StudySnapshot
from optadvisor.service.links import ReportLinks
from optadvisor.service.problems import ProblemError
from optadvisor.service.schemas import OutcomeBody, RecommendationBody
from optadvisor.service.settings import Settings
from optadvisor.service.storage.store import FinishedRun, Outcome, Store, Study, now
from optadvisor.service.storage.writer import GroupWriter

PREFIX = "/v1/recommendations"
# Most recent studies with outcomes a snapshot of cross-study evidence reads.
SNAPSHOT_STUDIES = 20_000


@dataclass(frozen=True)
class Advice:
    """A computed answer and what its study keeps beside it; `len` is the bytes it holds (for the cache)."""

    content: bytes  # the rules' answer as JSON, without the study's id and links
    method: str
    descriptors: str  # JSON: the request's descriptors, for cross-study similarity
    request: str  # JSON: the request as validated, without gradients
    measured: str | None  # JSON: the profiler's overall figures, projections' length, assumptions, charts

    def __len__(self) -> int:
        return len(self.content) + len(self.descriptors) + len(self.request) + len(self.measured or "")

    @cached_property
    def key(self) -> str:
        """The stored advice's name: what it holds, hashed (studies with the same answer share one row)."""
        digest = hashlib.sha256(self.content)
        digest.update(b"\0" + self.descriptors.encode() + b"\0" + (self.measured or "").encode())
        return digest.hexdigest()


@dataclass(frozen=True)
class StoredProfile:
    """A study's stored measurements, read back as the engine reads a profiler report."""

    overall: Figures
    training_steps: int | None
    assumptions: list[str]


def new_id() -> str:
    """A fresh study or outcome id: 128 random bits. From `random`, not `uuid4`: ids must be unique, not
    secret (another key's study is a 404 whatever its id; report links are signed), and `os.urandom`, which
    uuid4 calls, took 130 µs per call on the benchmark machine. `random` is reseeded in forked children."""
    return f"{random.getrandbits(128):032x}"


def owner_of(key: str) -> str:
    """Who owns the studies made with API key `key`: a digest, so the store never holds a key."""
    return hashlib.sha256(b"optadvisor owner\0" + key.encode()).hexdigest()[:32]


def study_links(study_id: str, token: str | None) -> dict[str, str]:
    """Where a study's resources are; the report's carries its signed token when there is one."""
    own = f"{PREFIX}/{study_id}"
    return {
        "self": own,
        "outcomes": f"{own}/outcomes",
        "next": f"{own}/next",
        "report": f"{own}/report" + (f"?token={token}" if token else ""),
    }


def with_study(study_id: str, links: dict[str, str], content: bytes) -> bytes:
    """Advice (JSON) with the study's id and links in front: spliced, the advice is serialised already."""
    head = json.dumps({"id": study_id, "links": links}, separators=(",", ":"))
    return head[:-1].encode() + b"," + content[1:]


def policy_of(settings: Settings) -> EvidencePolicy:
    """The cross-study evidence policy the settings set."""
    return EvidencePolicy(
        min_studies=settings.evidence_min_studies,
        min_keys=settings.evidence_min_keys,
        key_weight_cap=settings.evidence_key_weight_cap,
        max_move=settings.evidence_max_move,
    )


def cursor_of(seq: int) -> str:
    return base64.urlsafe_b64encode(f"s{seq}".encode()).decode().rstrip("=")


def seq_of(cursor: str) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        text = ""
    if len(cursor) > 32 or not text.startswith("s") or not text[1:].isdigit():
        raise ProblemError(422, "Invalid value at query.cursor: not a cursor this service gave.")
    return int(text[1:])


def _loss(metric: float | None, lower_is_better: bool, diverged: bool) -> float:
    if diverged or metric is None:
        return math.inf
    return metric if lower_is_better else -metric


def snapshot_of(runs: list[FinishedRun], policy: EvidencePolicy) -> StudySnapshot:
    """The cross-study evidence in `runs` (every outcome of the studies read, grouped by study)."""
    finished = []
    for _, group in groupby(runs, key=lambda run: run.study_seq):
        outcomes = list(group)
        best = min(outcomes, key=lambda run: _loss(run.metric, run.lower_is_better, run.diverged))
        if best.method is None or math.isinf(_loss(best.metric, best.lower_is_better, best.diverged)):
            continue
        descriptors = json.loads(best.descriptors)
        finished.append(StudyOutcome(best.owner, descriptors, best.method, best.configuration))  # type: ignore[arg-type]
    return StudySnapshot(finished, policy)


class Studies:
    """The service's studies over one store."""

    def __init__(
        self, store: Store, writer: GroupWriter, links: ReportLinks, policy: EvidencePolicy, ruleset: RuleSet
    ) -> None:
        self.store = store
        self.writer = writer
        self.report_links = links
        self.policy = policy
        self.ruleset = ruleset
        self.snapshot = StudySnapshot([], policy)
        self._snapshot_saved = False

    # --- answers ------------------------------------------------------------------------------------------

    def links(self, study_id: str) -> dict[str, str]:
        return study_links(study_id, self.report_links.token(study_id))

    def answer(self, study_id: str, content: bytes) -> bytes:
        return with_study(study_id, self.links(study_id), content)

    async def create(self, owner: str, advice: Advice) -> bytes:
        """Store a new study for `advice` (committed before this returns) and answer with its id."""
        study_id = new_id()
        moment = now()
        await self.writer.insert(
            {
                "id": study_id,
                "owner": owner,
                "created_at": moment,
                "request": advice.request,
                "advice": advice.key,
                "method": advice.method,
            },
            {
                "hash": advice.key,
                "created_at": moment,
                "answer": advice.content.decode(),
                "descriptors": advice.descriptors,
                "measured": advice.measured,
            },
        )
        return self.answer(study_id, advice.content)

    # --- reading ------------------------------------------------------------------------------------------

    def find(self, study_id: str, owner: str | None) -> Study:
        """The study, or 404 (also for another key's study: its existence is not disclosed)."""
        study = self.store.study(study_id, owner) if len(study_id) <= 32 else None
        if study is None:
            raise ProblemError(404, "No study with this id (for this API key).")
        return study

    def with_outcomes(self, study_id: str, owner: str | None) -> tuple[Study, list[Outcome]]:
        """The study (or 404, as `find`) and every outcome reported to it, oldest first."""
        study = self.find(study_id, owner)
        return study, self.store.outcomes(study.id)

    def outcome_document(self, outcome: Outcome) -> dict[str, Any]:
        body: dict[str, Any] = json.loads(outcome.body)
        return {
            "id": outcome.id,
            "study_id": outcome.study_id,
            "created_at": outcome.created_at.isoformat(),
            **body,
            "links": {"study": f"{PREFIX}/{outcome.study_id}", "next": f"{PREFIX}/{outcome.study_id}/next"},
        }

    def document(self, study: Study, outcomes: list[Outcome]) -> dict[str, Any]:
        """GET /v1/recommendations/{id}: the answer, what was asked and measured, every outcome."""
        measured = json.loads(study.measured) if study.measured else None
        return {
            "id": study.id,
            "created_at": study.created_at.isoformat(),
            "links": self.links(study.id),
            "request": json.loads(study.request),
            "measured": None
            if measured is None
            else {"overall": measured["overall"], "assumptions": measured["assumptions"]},
            "answer": json.loads(self.answer(study.id, study.answer.encode())),
            "outcomes": [self.outcome_document(outcome) for outcome in outcomes],
        }

    def listing(self, owner: str, limit: int, cursor: str | None) -> dict[str, Any]:
        before = seq_of(cursor) if cursor is not None else None
        found = self.store.studies(owner, limit + 1, before)
        page = found[:limit]
        items = []
        for summary in page:
            answer = json.loads(summary.study.answer)
            items.append(
                {
                    "id": summary.study.id,
                    "created_at": summary.study.created_at.isoformat(),
                    "method": summary.study.method,
                    "framework": answer["framework"],
                    "outcomes": summary.outcomes,
                    "links": self.links(summary.study.id),
                }
            )
        more = len(found) > limit
        return {"items": items, "next_cursor": cursor_of(page[-1].study.seq) if more else None}

    # --- outcomes -----------------------------------------------------------------------------------------

    def _resolve(self, study: Study, body: OutcomeBody) -> tuple[str | None, str | None]:
        """The (method, grid configuration) an outcome names."""
        answer = json.loads(study.answer)
        framework = answer["framework"]
        if body.plan_index is not None:
            plan = answer["tuning_plan"]
            if body.plan_index >= len(plan):
                raise ProblemError(
                    422,
                    f"Invalid value at body.plan_index: this study's tuning plan has {len(plan)} runs "
                    f"(0 to {len(plan) - 1}).",
                )
            run = plan[body.plan_index]
            if run.get("groups"):  # a per-group run: named as the groups it sets
                return self._resolve_groups(
                    [(group["method"], group["kwargs"]) for group in run["groups"]], framework
                )
            return run["method"], run["configuration"]
        if body.method is not None:
            return body.method, configuration_of(body.method, body.kwargs or {}, framework)
        assert body.groups is not None
        return self._resolve_groups(
            [(group.method, group.kwargs) for group in body.groups.values()], framework
        )

    @staticmethod
    def _resolve_groups(
        groups: list[tuple[str, dict[str, Any]]], framework: str
    ) -> tuple[str | None, str | None]:
        """A per-group run's method and configuration: those its groups share, else None."""
        found = {
            (method, configuration_of(method, kwargs, framework))  # type: ignore[arg-type]
            for method, kwargs in groups
        }
        methods = {method for method, _ in found}
        configurations = {configuration for _, configuration in found}
        method = methods.pop() if len(methods) == 1 else None
        return method, configurations.pop() if len(configurations) == 1 else None

    def add_outcome(
        self, study: Study, body: OutcomeBody, idempotency_key: str | None
    ) -> tuple[dict[str, Any], bool]:
        """Store a reported run (once per idempotency key): (its document, whether it was new)."""
        method, configuration = self._resolve(study, body)
        stored = body.model_dump(mode="json", exclude_none=True) | {
            "method": method,
            "configuration": configuration,
        }
        canonical = json.dumps(stored, sort_keys=True, separators=(",", ":"))
        fingerprint = hashlib.sha256(canonical.encode()).hexdigest()
        row = {
            "id": new_id(),
            "study_id": study.id,
            "idempotency_key": idempotency_key,
            "fingerprint": fingerprint,
            "created_at": now(),
            "body": canonical,
            "method": method,
            "configuration": configuration,
            "metric": body.metric,
            "lower_is_better": body.lower_is_better,
            "diverged": body.diverged,
        }
        result = self.store.add_outcome(row)
        if result is None:
            raise ProblemError(404, "No study with this id (for this API key).")
        outcome, created = result
        if not created and outcome.fingerprint != fingerprint:
            raise ProblemError(
                422,
                "This Idempotency-Key was already used for a different outcome of this study; use a new key "
                "for a new report.",
            )
        return self.outcome_document(outcome), created

    # --- ask/tell -----------------------------------------------------------------------------------------

    def next_step(self, study: Study, outcomes: list[Outcome]) -> NextStep:
        request = RecommendationBody.model_validate_json(study.request)
        answer = json.loads(study.answer)
        measured = None
        if study.measured:
            stored = json.loads(study.measured)
            measured = StoredProfile(
                Figures.model_validate(stored["overall"]), stored["training_steps"], stored["assumptions"]
            )
        runs = []
        for index, outcome in enumerate(outcomes, 1):
            body = json.loads(outcome.body)
            runs.append(
                Reported(
                    label=f"run {index}",
                    method=outcome.method,  # type: ignore[arg-type]
                    configuration=outcome.configuration,
                    metric=outcome.metric,
                    diverged=outcome.diverged,
                    lower_is_better=outcome.lower_is_better,
                    metric_name=body.get("metric_name", "metric"),
                )
            )
        plan = [run["configuration"] for run in answer["tuning_plan"] if run.get("configuration")]
        return next_run(request, self.ruleset, runs, plan=plan, measured=measured)

    # --- upkeep -------------------------------------------------------------------------------------------

    def refresh_snapshot(self) -> bool:
        """Read the finished studies again; True when the evidence changed (and the new snapshot is kept)."""
        snapshot = snapshot_of(self.store.finished_runs(SNAPSHOT_STUDIES), self.policy)
        if snapshot.version == self.snapshot.version and self._snapshot_saved:
            return False
        self.store.save_snapshot(snapshot.version, [asdict(study) for study in snapshot.studies])
        changed = snapshot.version != self.snapshot.version
        self.snapshot, self._snapshot_saved = snapshot, True
        return changed

    def purge(self, retention_days: float) -> int:
        if retention_days <= 0:
            return 0
        return self.store.purge(now() - timedelta(days=retention_days))
