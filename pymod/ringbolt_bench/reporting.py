"""The harness's report: one measured round of one system (RoundResult), the medians over
rounds, the Markdown tables with their ratios to a baseline, the machine it ran on, and
the charts (when matplotlib is importable)."""
from __future__ import annotations

import datetime as dt
import os
import platform
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional


@dataclass
class RoundResult:
    system: str
    scenario: str
    round: int
    ok: bool
    error: str = ""
    rps: float = 0.0
    p50_ms: Optional[float] = None
    p99_ms: Optional[float] = None
    non_2xx: int = 0
    socket_errors: int = 0
    requests: int = 0
    cpu_us_per_req: Optional[float] = None
    peak_rss_mib: Optional[float] = None


def median(values: list[Optional[float]]) -> Optional[float]:
    vals = [v for v in values if v is not None]
    return statistics.median(vals) if vals else None


def fmt(value: Optional[float], spec: str = ".0f") -> str:
    return "n/a" if value is None else format(value, spec)


def ratio(value: Optional[float], base: Optional[float]) -> str:
    if value is None or not base:
        return "n/a"
    return f"{value / base:.2f}"


def machine_info() -> dict[str, str]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"kernel": platform.release(), "cpu": cpu, "cpus": str(os.cpu_count()),
            "date": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
            "python": platform.python_version()}


def summarize(results: list[RoundResult], systems: list[str]) -> dict[str, dict[str, Any]]:
    out = {}
    for name in systems:
        rows = [r for r in results if r.system == name and r.ok]
        out[name] = {
            "rounds_ok": len(rows),
            "rps": median([r.rps for r in rows]),
            "p50_ms": median([r.p50_ms for r in rows]),
            "p99_ms": median([r.p99_ms for r in rows]),
            "cpu_us_per_req": median([r.cpu_us_per_req for r in rows]),
            "peak_rss_mib": median([r.peak_rss_mib for r in rows]),
            "non_2xx": sum(r.non_2xx for r in rows),
            "socket_errors": sum(r.socket_errors for r in rows),
        }
    return out


def render_markdown(args: Any, command_line: str, info: dict[str, str],
                    per_scenario: dict[str, tuple[list[str], list[RoundResult], dict[str, str]]],
                    charts: dict[str, list[Path]]) -> str:
    lines = ["# ringbolt load comparison", "",
             f"- date: {info['date']}",
             f"- machine: kernel `{info['kernel']}`, CPU `{info['cpu']}`, {info['cpus']} CPUs",
             f"- command: `{command_line}`",
             f"- generator: {args.generator}; duration {args.duration:g}s after {args.warmup:g}s warm-up; "
             f"{args.connections} connections; pipeline depth {args.pipeline}; {args.rounds} round(s), "
             f"systems interleaved per round",
             f"- pinning: servers on CPUs `{args.server_cpus}`, load generator on CPUs `{args.load_cpus}`",
             f"- baseline for ratios: `{args.baseline}` (first one measured in each scenario)", ""]
    for scen, (systems, results, unavailable) in per_scenario.items():
        summary = summarize(results, systems)
        # --baseline may list fallbacks: the first one measured in this scenario is used
        candidates = [b.strip() for b in args.baseline.split(",") if b.strip()]
        base_name = next((b for b in candidates if summary.get(b, {}).get("rounds_ok")), None)
        base = summary[base_name] if base_name else {}
        base_text = f"`{base_name}`" if base_name else \
            f"`{args.baseline}` (not measured in this scenario, so ratios are n/a)"
        lines += [f"## Scenario `{scen}`", "",
                  f"Medians over rounds. `x base` = ratio to {base_text}.", "",
                  "| system | req/s | x base | p50 ms | p99 ms | CPU µs/req | CPU x base | peak RSS MiB "
                  "| non-2xx | socket errors | rounds ok |",
                  "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for name in systems:
            s = summary[name]
            if s["rounds_ok"] == 0:
                continue
            lines.append(
                f"| {name} | {fmt(s['rps'])} | {ratio(s['rps'], base.get('rps'))} | "
                f"{fmt(s['p50_ms'], '.3f')} | {fmt(s['p99_ms'], '.3f')} | "
                f"{fmt(s['cpu_us_per_req'], '.2f')} | "
                f"{ratio(s['cpu_us_per_req'], base.get('cpu_us_per_req'))} | "
                f"{fmt(s['peak_rss_mib'], '.1f')} | {s['non_2xx']} | {s['socket_errors']} | "
                f"{s['rounds_ok']}/{args.rounds} |")
        problems = [f"- `{n}`: unavailable: {why}" for n, why in unavailable.items()]
        for r in results:
            if not r.ok:
                problems.append(f"- `{r.system}` round {r.round}: {r.error}")
        if problems:
            lines += ["", "Not measured:", ""] + problems
        lines += ["", "<details><summary>Per round</summary>", "",
                  "| round | system | req/s | p50 ms | p99 ms | CPU µs/req | peak RSS MiB | non-2xx | socket errors |",
                  "|---:|---|---:|---:|---:|---:|---:|---:|---:|"]
        for r in results:
            if r.ok:
                lines.append(f"| {r.round} | {r.system} | {fmt(r.rps)} | {fmt(r.p50_ms, '.3f')} | "
                             f"{fmt(r.p99_ms, '.3f')} | {fmt(r.cpu_us_per_req, '.2f')} | "
                             f"{fmt(r.peak_rss_mib, '.1f')} | {r.non_2xx} | {r.socket_errors} |")
        lines += ["", "</details>", ""]
        for chart in charts.get(scen, []):
            try:
                rel = os.path.relpath(chart, Path(args.out).resolve().parent)
            except ValueError:
                rel = str(chart)
            lines.append(f"![{chart.stem}]({rel})")
        lines.append("")
    return "\n".join(lines)


def draw_charts(stem: str, scenario: str, systems: list[str], results: list[RoundResult],
                results_dir: Path) -> list[Path]:
    """Bar charts of requests/s, CPU per request and p99 as PNG files in `results_dir`."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    summary = summarize(results, systems)
    names = [n for n in systems if summary[n]["rounds_ok"]]
    if not names:
        return []
    results_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for key, label in (("rps", "requests/s (higher is better)"),
                       ("cpu_us_per_req", "server CPU µs per request (lower is better)"),
                       ("p99_ms", "p99 latency ms (lower is better)")):
        values = [summary[n][key] or 0.0 for n in names]
        fig, ax = plt.subplots(figsize=(max(5, 1.1 * len(names) + 2), 3.6))
        bars = ax.bar(names, values, color="#4a78b5")
        ax.bar_label(bars, labels=[f"{v:,.2f}" if v < 100 else f"{v:,.0f}" for v in values], fontsize=8)
        ax.set_title(f"{scenario}: {label}", fontsize=10)
        ax.tick_params(axis="x", labelrotation=30, labelsize=8)
        fig.tight_layout()
        path = results_dir / f"{stem}-{scenario}-{key}.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        paths.append(path)
    return paths
