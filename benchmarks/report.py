"""The README's "Evidence: service benchmarks" table, generated from the result files.

    python -m benchmarks.report            # rewrite the table in README.md from benchmarks/results/*.json
    python -m benchmarks.report --check    # exit 1 if README.md's table differs from what the results give

The table sits between ``<!-- benchmarks:service -->`` and ``<!-- /benchmarks:service -->`` in README.md;
each row reads one result file that a benchmark in this folder writes (a row whose file is missing is left
out), and `tests/benchmarks/test_report.py` checks the README agrees with the committed results, so no
figure in it is copied by hand.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS_DIR = ROOT / "benchmarks" / "results"
README = ROOT / "README.md"
MARKER = "benchmarks:service"
_BLOCK = re.compile(rf"(<!-- {MARKER} -->\n).*?(<!-- /{MARKER} -->)", re.DOTALL)

Row = tuple[str, str, str]


def _met(met: bool) -> str:
    return "met" if met else "**not met**"


def _range(low: float, high: float, digits: int = 2, unit: str = "") -> str:
    if f"{low:.{digits}f}" == f"{high:.{digits}f}":
        return f"{low:.{digits}f}{unit}"
    return f"{low:.{digits}f}–{high:.{digits}f}{unit}"


def optimizer_step(results: Mapping[str, Any]) -> list[Row]:
    torch_rows = [row for row in results["results"] if row["framework"] == "torch"]
    other = [row for row in results["results"] if row["framework"] != "torch"]
    medians = [row["ratio_median"] for row in torch_rows]
    over = [row for row in torch_rows if row["ratio_median"] > 1.2]
    other_over = [row for row in other if row["ratio_median"] > 1.3]
    faults = max(row["ours_faults_per_step"] for row in results["results"])
    figure = (
        f"torch semantics: medians {_range(min(medians), max(medians))}× over {len(torch_rows)} cells "
        f"(methods × layouts × 1 and 2 threads), {len(over)} over 1.2; Keras/Optax: {len(other_over)} of "
        f"{len(other)} over 1.3; page faults per step: {faults:g}"
    )
    return [
        (
            "optimizer step time vs torch.optim (6 methods; one 10M tensor, 200 × 50k, 2,000 × 1k)",
            figure,
            "≤ 1.2× torch, ≤ 1.3× Keras/Optax, no faults "
            f"({_met(not over and not other_over and faults == 0)})",
        )
    ]


def engine_latency(results: Mapping[str, Any]) -> list[Row]:
    medians = [row["engine_median_us"] for row in results["results"].values()]
    return [
        (
            "rules engine, declared-only profiles, a different training length each call",
            f"{_range(min(medians), max(medians), 0)} µs median ({len(medians)} profiles)",
            f"≤ {results['goal_us'] / 1000:g} ms ({_met(max(medians) <= results['goal_us'])})",
        )
    ]


def profiler_throughput(results: Mapping[str, Any]) -> list[Row]:
    rows: list[Row] = []
    labels = {
        "in_process": "profiler, 256 MiB `.npy`, in-process",
        "spawned_server": "profiler, 256 MiB `.npy` as the raw body of `POST /v1/profiles`, end to end",
        "spawned_server_multipart": "profiler, 256 MiB `.npy` as a multipart form, end to end",
    }
    for mode, label in labels.items():
        found = results.get(mode)
        if found is None:
            continue
        runs = found["wall_seconds_per_request"]
        rate = found.get("median_mb_per_s", found["mb_per_s"])
        low, high = found.get("mb_per_s_range", [rate, rate])
        memory_goal = found.get("goal_memory_ratio", 3.0)
        ratio = found["peak_rss_growth_to_payload"]
        figure = f"{rate:.0f} MB/s, median of {len(runs)} runs ({low:.0f}–{high:.0f})"
        if ratio is not None:
            figure += f"; peak RSS growth {ratio:.2f}× the payload"
        load = found.get("machine", {}).get("load")
        if load:
            figure += f"; load average {load[0]:.1f}"
        goal = f"≥ 200 MB/s ({_met(rate >= 200)})"
        if ratio is not None:
            goal += f"; ≤ {memory_goal:g}× ({_met(ratio <= memory_goal)})"
        rows.append((label, figure, goal))
    return rows


def service_throughput(results: Mapping[str, Any]) -> list[Row]:
    ratios = results["ratios"]
    if "varied_to_bare" not in ratios:  # a result file written before varied bodies were driven
        return []
    repeats = results["repeats"]
    hits = [run["targets"]["varied"]["cache_hit_rate"] for run in repeats]
    bare = [run["targets"]["bare"]["ok_per_second"] for run in repeats]
    varied = [run["targets"]["varied"]["ok_per_second"] for run in repeats]
    declared = [run["targets"]["declared"]["ok_per_second"] for run in repeats]

    def spread(name: str, digits: int = 2) -> str:
        value = ratios[name]
        return f"{value['median']:.{digits}f}× ({_range(value['min'], value['max'], digits)})"

    load = results["load"]
    rows = [
        (
            "`POST /v1/recommendations`, declared profiles varied per request (answer cache hit rate "
            f"{max(hits):.0%}), studies stored, vs a bare FastAPI endpoint; wrk, {load['connections']} "
            f"connections, {len(repeats)} runs",
            f"throughput {spread('varied_to_bare')} ({min(varied):,.0f}–{max(varied):,.0f} against "
            f"{min(bare):,.0f}–{max(bare):,.0f} requests/s); server CPU per request "
            f"{spread('varied_cpu_to_bare')} bare's; load average {results['load_average_before'][0]:.1f} "
            f"before, {results['load_average_after'][0]:.1f} after",
            f"≥ 0.5× ({_met(results['goal_throughput_met'])}); CPU ≤ 2× ({_met(results['goal_cpu_met'])})",
        ),
        (
            "the same, one repeated declared profile (advice from the answer cache, each request a stored "
            "study)",
            f"throughput {spread('declared_to_bare')} "
            f"({min(declared):,.0f}–{max(declared):,.0f} requests/s); "
            f"CPU per request {spread('declared_cpu_to_bare')} bare's",
            "—",
        ),
    ]
    return rows


def small_requests(results: Mapping[str, Any]) -> list[Row]:
    rows: list[Row] = []
    declared = results["declared_ms"]
    for case in results["cases"]:
        goal = case.get("goal_ms")
        low, high = case["range_ms"]
        rows.append(
            (
                f"{case['label']}, in-process",
                f"{case['median_ms']:.1f} ms median ({_range(low, high, 1)}), CPU "
                f"{case['cpu_median_ms']:.1f} ms; declared profile {declared['median_ms']:.1f} ms "
                f"(CPU {declared['cpu_median_ms']:.1f} ms) in the same run",
                "—" if goal is None else f"≤ {goal:g} ms ({_met(case['median_ms'] <= goal)})",
            )
        )
    load = results.get("load_average_before_after")
    if load and rows:
        what, figure, goal = rows[0]
        rows[0] = (what, f"{figure}; load average {load[0][0]:.1f}", goal)
    json_rate = results.get("json_to_npy")
    if json_rate is not None:
        rows.append(
            (
                f"profiling {json_rate['label']}: dense JSON against the same array as raw `.npy`",
                f"{json_rate['median']:.2f}× the `.npy` rate ({_range(json_rate['min'], json_rate['max'])})",
                f"≥ 0.8× ({_met(json_rate['median'] >= 0.8)})",
            )
        )
    return rows


def worker_throughput(results: Mapping[str, Any]) -> list[Row]:
    summary = results["summary"]
    two = summary["two_to_one"]
    share = summary["two_workers_smallest_share"]
    return [
        (
            "`optadvisor serve --workers 2` vs 1, varied declared bodies",
            f"{two['median']:.2f}× ({_range(*two['range'])}); smaller worker's share "
            f"{share['median']:.0%} ({share['range'][0]:.0%}–{share['range'][1]:.0%})",
            "reported",
        )
    ]


def capture_overhead(results: Mapping[str, Any]) -> list[Row]:
    rows: list[Row] = []
    for model in results["models"]:
        whole = model.get("whole_run_overhead_ratio")
        if whole is None:
            continue
        low, high = model["overhead_ratio_range"]
        rows.append(
            (
                f"capture helper, {model['model'].upper()} ({model['uncaptured_ms_per_step']:.1f} ms step): "
                f"{model['whole_run']}",
                f"{whole:+.2%} over the run; a recorded step {model['overhead_ratio']:+.0%} "
                f"({low:+.0%} to {high:+.0%})",
                f"≤ 1% ({_met(whole <= 0.01)})",
            )
        )
    return rows


def hardening(results: Mapping[str, Mapping[str, Any]]) -> list[Row]:
    rows: list[Row] = []
    load, soak = results.get("hardening_load"), results.get("hardening_soak")
    if load is not None:
        wait = load["compute_wait_p99_s_at_most"]
        text = (
            f"load {load['seconds']:.0f} s, {load['clients']} clients: {load['requests']:,} requests, "
            f"{load['errors']} errors, compute wait p99 ≤ {wait:g} s"
        )
        if soak is not None:
            text += f"; soak {soak['seconds']:.0f} s: RSS {soak['rss']['growth_mb_after_warmup']:+.1f} MB"
        rows.append(
            ("load and soak", text, f"0 errors; p99 wait ≤ 1 s ({_met(wait <= 1 and not load['errors'])})")
        )
    overload, memory = results.get("hardening_overload"), results.get("hardening_memory")
    if overload is not None and memory is not None:
        peaks = [run["peak_growth_mb"] for run in memory["runs"]]
        bound = memory["runs"][0]["bound_mb"]
        within = all(run["within_bound"] for run in memory["runs"])
        peak, overload_bound = overload["peak_growth_mb"], overload["memory_bound_mb"]
        rows.append(
            (
                "memory under overload (expanding bodies; 12 MiB uploads)",
                f"peak growth {min(peaks):,.0f}–{max(peaks):,.0f} MB against {bound:,.0f} MB; overload peak "
                f"+{peak:.0f} MB (bound {overload_bound:.0f})",
                f"within the bound ({_met(within and peak <= overload_bound)})",
            )
        )
    fuzz = results.get("hardening_fuzz")
    if fuzz is not None:
        rows.append(
            (
                f"fuzzing: schemathesis, all checks, {fuzz['seconds']:.0f} s",
                f"{fuzz['cases_generated']:,} cases, {fuzz['failures']} failures",
                f"0 failures ({_met(fuzz['failures'] == 0)})",
            )
        )
    return rows


_SOURCES: list[tuple[str, Callable[[Mapping[str, Any]], list[Row]]]] = [
    ("optimizer_step", optimizer_step),
    ("engine_latency", engine_latency),
    ("profiler_throughput", profiler_throughput),
    ("service_throughput", service_throughput),
    ("small_requests", small_requests),
    ("worker_throughput", worker_throughput),
    ("capture_overhead", capture_overhead),
]
_HARDENING = ("hardening_load", "hardening_soak", "hardening_overload", "hardening_memory", "hardening_fuzz")


def load_results(results_dir: Path = RESULTS_DIR) -> dict[str, Any]:
    names = [name for name, _ in _SOURCES] + list(_HARDENING)
    return {
        name: json.loads(path.read_text())
        for name in names
        if (path := results_dir / f"{name}.json").exists()
    }


def table(results: Mapping[str, Any]) -> str:
    rows: list[Row] = []
    for name, reader in _SOURCES:
        if name in results:
            rows += reader(results[name])
    rows += hardening({name: results[name] for name in _HARDENING if name in results})
    lines = ["| what | figure | goal |", "|---|---|---|"]
    lines += [f"| {what} | {figure} | {goal} |" for what, figure, goal in rows]
    return "\n".join(lines) + "\n"


def render(text: str, results: Mapping[str, Any]) -> str:
    if not _BLOCK.search(text):
        raise ValueError(f"no <!-- {MARKER} --> block to fill")
    return _BLOCK.sub(lambda match: match.group(1) + table(results) + match.group(2), text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--check", action="store_true", help="only check that README.md is up to date")
    args = parser.parse_args(argv)
    text = README.read_text()
    rendered = render(text, load_results())
    if args.check:
        if rendered != text:
            print("README.md's service benchmark table is out of date: run python -m benchmarks.report")
            return 1
        return 0
    README.write_text(rendered)
    return 0


if __name__ == "__main__":
    sys.exit(main())
