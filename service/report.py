"""A study's report page: one self-contained HTML document with inline SVG pictures, no script, no
external request. Everything a client sent (metric names, tracker links, group names) is escaped, and the
page's Content-Security-Policy allows nothing but its own style block (by hash).

Pictures: each method's replayed effective step size over the captured steps (median with the 10th-90th
percentile band, in the largest gradient group); Adagrad's projected rate over the planned run; the drift the
profiler measured against the window and RMSprop's memory; and, once outcomes exist, metric against learning
rate per method."""

import base64
import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from typing import Any

import numpy as np

from optadvisor.profiler import ProfileReport
from optadvisor.rules.grid import ConfigPoint

_POINTS = 60  # samples kept per replayed series
_COLOURS = {
    "adagrad": "#1b9e77",
    "rmsprop": "#d95f02",
    "adadelta": "#7570b3",
    "adam": "#e7298a",
    "adamw": "#66a61e",
    "sgd": "#a6761d",
}
_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 60rem; color: #222; }
h1 { font-size: 1.4rem; } h2 { font-size: 1.1rem; margin-top: 2rem; }
table { border-collapse: collapse; }
td, th { padding: 0.2rem 0.6rem; border-bottom: 1px solid #ddd; text-align: left; }
.note { color: #555; font-size: 0.9rem; } svg { background: #fafafa; }
svg text { font-size: 11px; fill: #333; } .axis { stroke: #888; } .grid { stroke: #e4e4e4; }
"""
STYLE_HASH = base64.b64encode(hashlib.sha256(_STYLE.encode()).digest()).decode()
# Nothing may load or run: the page is its own style block and inline SVG.
CONTENT_SECURITY_POLICY = (
    f"default-src 'none'; style-src 'sha256-{STYLE_HASH}'; img-src 'none'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'"
)
REPORT_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    # The link may carry a token: it is not sent on to anywhere the page links.
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def _thin(values: Sequence[Any], picks: Sequence[int]) -> list[Any]:
    return [values[index] for index in picks]


def charts_of(report: ProfileReport) -> dict[str, Any]:
    """What the report pictures need of a profile beyond its overall figures: the replayed effective step
    sizes of its largest group, thinned to at most `_POINTS` steps."""
    if not report.groups:
        return {}
    name, group = max(report.groups.items(), key=lambda item: item[1].figures.coordinates)
    replay = {}
    for method, trajectory in group.replay.items():
        count = len(trajectory.steps)
        picks = sorted({round(i) for i in np.linspace(0, count - 1, min(count, _POINTS))}) if count else []
        replay[method] = {
            "steps": _thin(trajectory.steps, picks),
            "p10": _thin(trajectory.effective_step_p10, picks),
            "p50": _thin(trajectory.effective_step_p50, picks),
            "p90": _thin(trajectory.effective_step_p90, picks),
        }
    return {"group": name[:64], "coordinates": group.figures.coordinates, "replay": replay}


@dataclass(frozen=True)
class Axis:
    low: float
    high: float
    log: bool
    label: str

    def scale(self, value: float, start: float, length: float) -> float:
        low, high, value = (
            (math.log10(self.low), math.log10(self.high), math.log10(value))
            if self.log
            else (self.low, self.high, value)
        )
        return start + length * (value - low) / ((high - low) or 1.0)

    def ticks(self) -> list[float]:
        if self.log:
            first, last = math.floor(math.log10(self.low)), math.ceil(math.log10(self.high))
            step = max(1, (last - first) // 6)
            return [
                10.0**power for power in range(first, last + 1, step) if self.low <= 10.0**power <= self.high
            ]
        return [float(value) for value in np.linspace(self.low, self.high, 5)]


@dataclass(frozen=True)
class Series:
    label: str
    colour: str
    xs: list[float]
    ys: list[float]
    band: tuple[list[float], list[float]] | None = None  # lower and upper, same xs
    points_only: bool = False


_WIDTH, _HEIGHT, _LEFT, _BOTTOM, _TOP, _RIGHT = 760, 300, 70, 40, 15, 200


def _axis_of(values: Sequence[float], log: bool, label: str) -> Axis:
    finite = [value for value in values if math.isfinite(value) and (value > 0 or not log)]
    if not finite:
        return Axis(1.0, 10.0, log, label)
    low, high = min(finite), max(finite)
    if log:
        return (
            Axis(low / 1.5, high * 1.5, True, label)
            if low != high
            else Axis(low / 10, high * 10, True, label)
        )
    pad = (high - low) * 0.08 or abs(high) * 0.1 or 1.0
    return Axis(low - pad, high + pad, False, label)


@dataclass(frozen=True)
class _Plot:
    """A chart's drawing area: data coordinates to pixels, and which points a log axis can show."""

    x: Axis
    y: Axis
    width: float = _WIDTH - _LEFT - _RIGHT
    height: float = _HEIGHT - _TOP - _BOTTOM

    def px(self, value: float) -> float:
        return self.x.scale(value, _LEFT, self.width)

    def py(self, value: float) -> float:
        return self.y.scale(value, _TOP + self.height, -self.height)

    def usable(self, xv: float, yv: float) -> bool:
        ok = math.isfinite(xv) and math.isfinite(yv)
        return ok and (xv > 0 or not self.x.log) and (yv > 0 or not self.y.log)


def _frame(plot: _Plot) -> list[str]:
    """Grid lines, tick labels, the axes' box and their labels."""
    px, py, width, height = plot.px, plot.py, plot.width, plot.height
    parts = []
    for tick in plot.x.ticks():
        parts.append(
            f'<line class="grid" x1="{px(tick):.1f}" x2="{px(tick):.1f}" y1="{_TOP}" y2="{_TOP + height}"/>'
        )
        parts.append(
            f'<text x="{px(tick):.1f}" y="{_TOP + height + 14}" text-anchor="middle">{tick:.3g}</text>'
        )
    for tick in plot.y.ticks():
        parts.append(
            f'<line class="grid" x1="{_LEFT}" x2="{_LEFT + width}" y1="{py(tick):.1f}" y2="{py(tick):.1f}"/>'
        )
        parts.append(f'<text x="{_LEFT - 4}" y="{py(tick) + 4:.1f}" text-anchor="end">{tick:.3g}</text>')
    parts.append(f'<rect class="axis" fill="none" x="{_LEFT}" y="{_TOP}" width="{width}" height="{height}"/>')
    parts.append(
        f'<text x="{_LEFT + width / 2}" y="{_HEIGHT - 6}" text-anchor="middle">{escape(plot.x.label)}</text>'
    )
    parts.append(
        f'<text x="12" y="{_TOP + height / 2}" transform="rotate(-90 12 {_TOP + height / 2})" '
        f'text-anchor="middle">{escape(plot.y.label)}</text>'
    )
    return parts


def _marks(plot: _Plot, marks: Sequence[tuple[float, str]]) -> list[str]:
    """Labelled dashed vertical lines at x positions the axis can show."""
    parts = []
    y = plot.y.low if not plot.y.log else plot.y.high
    for mark, (position, label) in enumerate(marks):
        if plot.usable(position, y):
            parts.append(
                f'<line stroke="#444" stroke-dasharray="4 3" x1="{plot.px(position):.1f}" '
                f'x2="{plot.px(position):.1f}" y1="{_TOP}" y2="{_TOP + plot.height}"/>'
            )
            parts.append(
                f'<text x="{plot.px(position) + 3:.1f}" y="{_TOP + 12 + 13 * mark}">{escape(label)}</text>'
            )
    return parts


def _band(plot: _Plot, item: Series) -> list[str]:
    if item.band is None:
        return []
    lower, upper = item.band
    edge = [(xv, yv) for xv, yv in zip(item.xs, upper, strict=True) if plot.usable(xv, yv)]
    edge += [(xv, yv) for xv, yv in reversed(list(zip(item.xs, lower, strict=True))) if plot.usable(xv, yv)]
    if not edge:
        return []
    path = " ".join(f"{plot.px(xv):.1f},{plot.py(yv):.1f}" for xv, yv in edge)
    return [f'<polygon fill="{item.colour}" fill-opacity="0.15" stroke="none" points="{path}"/>']


def _series(plot: _Plot, item: Series, index: int) -> list[str]:
    """One series: its band, its line or points, and its legend entry."""
    parts = _band(plot, item)
    points = [
        (plot.px(xv), plot.py(yv)) for xv, yv in zip(item.xs, item.ys, strict=True) if plot.usable(xv, yv)
    ]
    if item.points_only:
        parts += [f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="4" fill="{item.colour}"/>' for cx, cy in points]
    elif points:
        path = " ".join(f"{cx:.1f},{cy:.1f}" for cx, cy in points)
        parts.append(f'<polyline fill="none" stroke="{item.colour}" stroke-width="2" points="{path}"/>')
    legend_y = _TOP + 14 + 16 * index
    parts.append(
        f'<rect x="{_WIDTH - _RIGHT + 10}" y="{legend_y - 9}" width="10" height="10" fill="{item.colour}"/>'
    )
    parts.append(f'<text x="{_WIDTH - _RIGHT + 24}" y="{legend_y}">{escape(item.label)}</text>')
    return parts


def chart(
    series: Sequence[Series], x: Axis, y: Axis, title: str, marks: Sequence[tuple[float, str]] = ()
) -> str:
    """An SVG line (or point) chart; `marks` are labelled vertical lines at x positions."""
    plot = _Plot(x, y)
    parts = [
        f'<svg role="img" aria-label="{escape(title)}" width="{_WIDTH}" height="{_HEIGHT}" '
        f'viewBox="0 0 {_WIDTH} {_HEIGHT}" xmlns="http://www.w3.org/2000/svg">',
        *_frame(plot),
        *_marks(plot, marks),
    ]
    for index, item in enumerate(series):
        parts += _series(plot, item, index)
    parts.append("</svg>")
    return "".join(parts)


def _numbers(values: Sequence[Any]) -> list[float]:
    return [float(value) if isinstance(value, int | float) else math.nan for value in values]


def step_size_chart(charts: dict[str, Any]) -> str:
    series = [
        Series(
            method,
            _COLOURS.get(method, "#333"),
            _numbers(replay["steps"]),
            _numbers(replay["p50"]),
            (_numbers(replay["p10"]), _numbers(replay["p90"])),
        )
        for method, replay in charts["replay"].items()
    ]
    xs = [value for item in series for value in item.xs]
    ys = [
        value
        for item in series
        for value in (*item.ys, *(item.band[0] if item.band else []), *(item.band[1] if item.band else []))
    ]
    return chart(
        series,
        _axis_of(xs, False, "captured step"),
        _axis_of(ys, True, "effective step size"),
        "Effective step size per method",
    )


def adagrad_chart(overall: dict[str, Any], training_steps: int) -> str:
    """Adagrad's rate relative to its first step, 1/sqrt(1 + c t), with c set by the measured dying step
    (the step at which the median coordinate's rate has fallen to 1%)."""
    dying = overall.get("adagrad_dying_step")
    if not isinstance(dying, int | float) or dying <= 0:
        return (
            '<p class="note">Adagrad\'s rate does not fall to 1% of its first step within the projection.</p>'
        )
    growth = (1.0 / 0.01**2 - 1.0) / dying
    end = max(float(training_steps), float(dying)) * 3
    steps = list(np.logspace(0, math.log10(end), 80))
    ratios = [1.0 / math.sqrt(1.0 + growth * step) for step in steps]
    series = [Series("adagrad (projected)", _COLOURS["adagrad"], steps, ratios)]
    marks = [(float(dying), f"1% at {dying:.3g}"), (float(training_steps), f"planned end {training_steps:,}")]
    return chart(
        series,
        Axis(1.0, end, True, "training step"),
        _axis_of(ratios, True, "rate / first rate"),
        "Adagrad's projected rate",
        marks,
    )


def drift_chart(overall: dict[str, Any], recorded_every: int) -> str:
    window = float(overall.get("window_steps") or 0) * recorded_every
    rows = [("window of the sample", window)]
    if isinstance(overall.get("drift_timescale_steps"), int | float):
        rows.append(("drift timescale", float(overall["drift_timescale_steps"])))
    if isinstance(overall.get("rmsprop_half_life_steps"), int | float):
        rows.append(("RMSprop half-life", float(overall["rmsprop_half_life_steps"])))
    colours = ("#555", "#d95f02", "#1b9e77")
    series = [
        Series(f"{label}: {value:,.0f}", colour, [value], [float(index + 1)], points_only=True)
        for index, ((label, value), colour) in enumerate(zip(rows, colours, strict=False))
    ]
    return chart(
        series,
        _axis_of([value for _, value in rows], True, "training steps"),
        Axis(0.0, len(rows) + 1.0, False, ""),
        "Drift against the window and RMSprop's memory",
    )


def _learning_rate(outcome: dict[str, Any]) -> float | None:
    if outcome.get("configuration"):
        return float(ConfigPoint.parse(outcome["configuration"]).settings()["lr"])
    kwargs = outcome.get("kwargs") or {}
    rate = kwargs.get("lr", kwargs.get("learning_rate"))
    return float(rate) if isinstance(rate, int | float) and rate > 0 else None


def outcomes_chart(outcomes: list[dict[str, Any]]) -> str:
    by_method: dict[str, tuple[list[float], list[float]]] = {}
    for outcome in outcomes:
        rate = _learning_rate(outcome)
        if rate is None or outcome.get("metric") is None or outcome.get("diverged"):
            continue
        xs, ys = by_method.setdefault(outcome.get("method") or "other", ([], []))
        xs.append(rate)
        ys.append(float(outcome["metric"]))
    if not by_method:
        return '<p class="note">No reported run has both a learning rate and a finite metric yet.</p>'
    series = [
        Series(method, _COLOURS.get(method, "#333"), xs, ys, points_only=True)
        for method, (xs, ys) in sorted(by_method.items())
    ]
    names = sorted({str(outcome.get("metric_name", "metric")) for outcome in outcomes})
    x = _axis_of([value for item in series for value in item.xs], True, "learning rate (torch semantics)")
    y = _axis_of([value for item in series for value in item.ys], False, " / ".join(names)[:80])
    return chart(series, x, y, "Reported metric against learning rate")


def _table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A table whose every cell is escaped."""
    head = "".join(f"<th>{escape(header)}</th>" for header in headers)
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(str(cell))}</td>" for cell in row) + "</tr>" for row in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def _measured_sections(
    measured: dict[str, Any], charts: dict[str, Any], request: dict[str, Any], training_steps: int | None
) -> list[str]:
    overall = measured["overall"]
    return [
        "<h2>Effective step size over the captured steps</h2>",
        f'<p class="note">Group {escape(charts["group"])} ({charts["coordinates"]:,} coordinates): median '
        "over coordinates, band from the 10th to the 90th percentile.</p>",
        step_size_chart(charts),
        "<h2>Adagrad's projected rate over the planned run</h2>",
        adagrad_chart(overall, training_steps or 1),
        "<h2>Drift</h2>",
        f'<p class="note">Non-stationarity measured: {float(overall.get("nonstationarity", 0.0)):.3g} '
        "(0: the gradient distribution stays put; 1: it changes by an order of magnitude).</p>",
        drift_chart(overall, int(request.get("recorded_every", 1))),
    ]


def _outcome_row(outcome: dict[str, Any]) -> list[object]:
    metric = outcome.get("metric")
    value = "diverged" if outcome.get("diverged") or metric is None else f"{metric:.6g}"
    tracker = (outcome.get("tracker") or {}).get("run", "")
    configuration = outcome.get("configuration") or "off the grid"
    return [outcome.get("method") or "", configuration, outcome.get("metric_name", ""), value, tracker]


def _kwargs_text(kwargs: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in kwargs.items())


def _plan_row(index: int, run: dict[str, Any]) -> list[Any]:
    """One run of the tuning plan; a per-group run lists each group's parameters, method and kwargs."""
    if run.get("groups"):
        groups = run["groups"]
        return [
            index,
            "; ".join(f"{', '.join(g['parameters'])}: {g['method']}" for g in groups),
            "; ".join(g["configuration"] for g in groups),
            "; ".join(f"{', '.join(g['parameters'])}: {_kwargs_text(g['kwargs'])}" for g in groups),
        ]
    return [index, run["method"], run["configuration"], _kwargs_text(run["kwargs"])]


def render(document: dict[str, Any], charts: dict[str, Any] | None, training_steps: int | None) -> str:
    """The report page of a study (`document` as GET /v1/recommendations/{id} returns it)."""
    answer, outcomes, request = document["answer"], document["outcomes"], document["request"]
    plan = [_plan_row(index, run) for index, run in enumerate(answer["tuning_plan"])]
    reasons = "".join(f"<li>{escape(item['text'])}</li>" for item in answer["rationale"])
    sections = [
        f"<h1>Study {escape(document['id'])}: {escape(answer['method'])} "
        f"({escape(answer['framework'])})</h1>",
        f'<p class="note">Created {escape(document["created_at"])}; rules {escape(answer["rules_version"])}; '
        f"evidence snapshot {escape(str(answer.get('evidence_version')))}.</p>",
        f"<h2>Why</h2><ul>{reasons}</ul>",
    ]
    if answer.get("advice_scope_reason"):
        sections.append(
            f"<p>Advice scope: {escape(str(answer.get('advice_scope')))}: "
            f"{escape(answer['advice_scope_reason'])}.</p>"
        )
    for group in answer.get("groups") or []:
        items = "".join(f"<li>{escape(item['text'])}</li>" for item in group["rationale"])
        sections.append(
            f"<h3>{escape(', '.join(group['parameters']))}: {escape(group['method'])}</h3><ul>{items}</ul>"
        )
    if answer.get("evidence"):
        sections.append(f"<p>{escape(answer['evidence']['text'])}.</p>")
    sections += ["<h2>Tuning plan</h2>", _table(["#", "method", "configuration", "kwargs"], plan)]
    measured = document.get("measured")
    if measured and charts:
        sections += _measured_sections(measured, charts, request, training_steps)
    else:
        sections.append('<p class="note">No gradients were sent with this request: nothing was measured.</p>')
    sections.append(f"<h2>Outcomes ({len(outcomes)})</h2>")
    if outcomes:
        headers = ["method", "configuration", "metric", "value", "tracker run"]
        sections += [outcomes_chart(outcomes), _table(headers, [_outcome_row(o) for o in outcomes])]
    else:
        sections.append('<p class="note">No outcome reported yet.</p>')
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>optadvisor study {escape(document['id'])}</title><style>{_STYLE}</style></head>"
        f"<body>{''.join(sections)}</body></html>"
    )
