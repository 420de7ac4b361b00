"""The CPU-heavy part of each POST endpoint, run in a compute worker: parse, validate, call the domain.

Each job returns its answer already serialised, so that work also stays off the event loop (a recommendation
with what its study keeps beside it: `service.studies.Advice`).
"""

import json
from dataclasses import dataclass
from typing import Any, TypeVar

from starlette.datastructures import UploadFile

from optadvisor import profiler, rules
from optadvisor.profiler import GradientSample, Limits
from optadvisor.profiler.figures import Figures
from optadvisor.profiler.report import ProfileReport, ReplayReport
from optadvisor.rules.groups import group_contrast
from optadvisor.rules.studies import StudySnapshot
from optadvisor.service.bodies import JsonBody, MultipartBody, parse_json, validate
from optadvisor.service.problems import ProblemError
from optadvisor.service.report import charts_of
from optadvisor.service.schemas import ProfileForm, ProfileRequest, RecommendationBody, ReplayRequest
from optadvisor.service.studies import Advice

R = TypeVar("R", ProfileReport, ReplayReport)


@dataclass(frozen=True)
class JobLimits:
    """The input bounds a job enforces beyond the body size."""

    gradients: Limits
    max_json_depth: int


def _uploaded_samples(upload: UploadFile | None, limits: Limits) -> dict[str, GradientSample]:
    if upload is None:
        raise ProblemError(
            422, "The multipart body needs a file in field 'gradients' (.npy, .npz or .safetensors)."
        )
    upload.file.seek(0)
    return profiler.samples_from_file(upload.filename or "", upload.file, limits)


def _unexpected_fields(body: MultipartBody, allowed: set[str]) -> None:
    extra = sorted(set(body.fields) - allowed)
    if extra:
        names = ", ".join(name[:40] for name in extra[:5])
        kind = "form field(s)" if body.location == "form" else "query parameter(s)"
        raise ProblemError(422, f"Unexpected {kind}: {names}; allowed: {', '.join(sorted(allowed))}.")


def _with_contrast(report: R, ruleset: rules.RuleSet | None, figures: dict[str, Figures]) -> R:
    """The report with the figure its groups differ in most (per-group advice starts from it)."""
    if ruleset is None or len(figures) < 2:
        return report
    return report.model_copy(update={"group_contrast": group_contrast(ruleset, figures)})


def profile_job(
    body: JsonBody | MultipartBody, limits: JobLimits, ruleset: rules.RuleSet | None = None
) -> bytes:
    """POST /v1/profiles: measure the samples."""
    if isinstance(body, JsonBody):
        request = validate(ProfileRequest, parse_json(body.raw, limits.max_json_depth))
        samples = profiler.samples_from_json(request.gradients, limits.gradients)
        training_steps, framework, every = request.training_steps, request.framework, request.recorded_every
    else:
        _unexpected_fields(body, {"training_steps", "framework", "recorded_every"})
        form = validate(ProfileForm, body.fields, prefix=(body.location,))
        samples = _uploaded_samples(body.upload, limits.gradients)
        training_steps, framework, every = form.training_steps, form.framework, form.recorded_every
    report = profiler.profile(
        samples, training_steps=training_steps, framework=framework, recorded_every=every
    )
    report = _with_contrast(report, ruleset, {name: group.figures for name, group in report.groups.items()})
    return report.model_dump_json().encode()


def _advice(
    request: RecommendationBody,
    ruleset: rules.RuleSet,
    studies: StudySnapshot,
    measured: profiler.ProfileReport | None,
    raw: str | None = None,
) -> Advice:
    """The rules' answer and what its study keeps: the request as validated (`raw`: its JSON as sent, when
    that JSON holds nothing but the request), its descriptors, and the measurements."""
    answer = rules.recommend(request, ruleset, measured, studies)
    kept = None
    if measured is not None:
        kept = json.dumps(
            {
                "overall": measured.overall.model_dump(mode="json"),
                "training_steps": measured.training_steps,
                "assumptions": list(measured.assumptions),
                "charts": charts_of(measured),
            },
            separators=(",", ":"),
        )
    return Advice(
        content=answer.model_dump_json().encode(),
        method=answer.method,
        descriptors=json.dumps(answer.basis.descriptors, separators=(",", ":")),
        request=raw if raw is not None else request.model_dump_json(exclude={"gradients"}),
        measured=kept,
    )


def recommendation_job(
    body: JsonBody | MultipartBody, ruleset: rules.RuleSet, studies: StudySnapshot, limits: JobLimits
) -> Advice:
    """POST /v1/recommendations: measure the samples, if any, then apply the rules."""
    samples: dict[str, GradientSample] | None = None
    if isinstance(body, JsonBody):
        request = validate(RecommendationBody, parse_json(body.raw, limits.max_json_depth))
        if request.gradients is not None:
            samples = profiler.samples_from_json(request.gradients, limits.gradients)
    else:
        _unexpected_fields(body, {"request"})
        text = body.fields.get("request", "{}")
        what = "Form field 'request'"
        request = validate(
            RecommendationBody,
            parse_json(text.encode(), limits.max_json_depth, what=what),
            ("form", "request"),
        )
        if request.gradients is not None:
            raise ProblemError(
                422, "Send gradients either inside the JSON or as the uploaded file, not both."
            )
        samples = _uploaded_samples(body.upload, limits.gradients)
    measured = None
    if samples is not None:
        training_steps = request.profile.training_steps
        measured = profiler.profile(
            samples,
            training_steps=training_steps,
            framework=request.framework,
            recorded_every=request.recorded_every,
            replays=False,
        )
    # RecommendationBody extends rules.RecommendationRequest, so the engine takes it as it is.
    return _advice(request, ruleset, studies, measured)


def declared_recommendation(
    document: Any, raw: bytes, ruleset: rules.RuleSet, studies: StudySnapshot
) -> Advice:
    """A recommendation from a parsed JSON body (`raw`) that holds no gradients: the rules alone
    (sub-millisecond)."""
    request = validate(RecommendationBody, document)
    return _advice(request, ruleset, studies, None, raw.decode())


def replay_job(body: JsonBody, limits: JobLimits, ruleset: rules.RuleSet | None = None) -> bytes:
    """POST /v1/replays: replay the samples through the requested runs (with two or more groups, and the
    figure they differ in most, measured as a profile measures it)."""
    request = validate(ReplayRequest, parse_json(body.raw, limits.max_json_depth))
    samples = profiler.samples_from_json(request.gradients, limits.gradients)
    report = profiler.replay(samples, request.runs, trace_coordinates=request.trace_coordinates)
    if ruleset is not None and len(samples) >= 2:
        measured = profiler.profile(samples, replays=False)
        report = _with_contrast(report, ruleset, {n: g.figures for n, g in measured.groups.items()})
    return report.model_dump_json().encode()
