"""The run's figures: medians over rounds, the printed tables, the JSON and the plot."""

from __future__ import annotations

import json
import os
import statistics
from typing import Any, Iterable

FIELDS = ("rps", "p99_ms", "cpu_us_per_req", "cpu_user_us_per_req", "cpu_sys_us_per_req", "cpu_busy",
          "load_busy", "load_sleeps_per_1k")


def median(values: Iterable[float | None]) -> float | None:
    vals = [v for v in values if v is not None]
    return statistics.median(vals) if vals else None


def summarize(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per (profile, connections, system): the median of each field over the
    rounds that produced a result, and how many did."""
    groups: dict[tuple[str, int, str], list[dict[str, Any]]] = {}
    order: list[tuple[str, int, str]] = []
    for r in runs:
        key = (r["profile"], r["connections"], r["system"])
        if key not in groups:
            groups[key] = []
            order.append(key)
        groups[key].append(r)
    out = []
    for key in order:
        rows = groups[key]
        good = [r for r in rows if r.get("error") is None]
        row: dict[str, Any] = {"profile": key[0], "connections": key[1], "system": key[2],
                               "rounds_ok": len(good), "rounds": len(rows),
                               "non_2xx": sum(r.get("non_2xx", 0) for r in good),
                               "errors": sum(r.get("errors", 0) for r in good)}
        for f in FIELDS:
            row[f] = median(r.get(f) for r in good)
        failures = [r["error"] for r in rows if r.get("error")]
        if failures:
            row["failure"] = failures[0]
        out.append(row)
    return out


def _fmt(value: float | None, spec: str) -> str:
    return "—" if value is None else format(value, spec)


def table(summary: list[dict[str, Any]], validation: dict[str, dict[str, Any]]) -> str:
    """Markdown tables, one per (profile, connections)."""
    lines: list[str] = []
    seen: list[tuple[str, int]] = []
    for row in summary:
        key = (row["profile"], row["connections"])
        if key not in seen:
            seen.append(key)
    for profile, conns in seen:
        rows = [r for r in summary if r["profile"] == profile and r["connections"] == conns]
        lines += ["", f"### {profile}, {conns} connections", "",
                  "| system | req/s | p99 ms | CPU µs/req (user + sys) | server CPU busy | load busy, "
                  "sleeps/1k req | validation | rounds |",
                  "|---|---:|---:|---:|---:|---:|---|---:|"]
        for r in rows:
            v = validation.get(r["system"], {}).get(profile, {})
            verdict = ("pass" if v.get("ok") else f"FAIL ({v.get('failed', '?')})") if v else "—"
            busy = None if r["cpu_busy"] is None else r["cpu_busy"] * 100
            note = f" ({r['failure']})" if r.get("failure") and not r["rounds_ok"] else ""
            bad = f", {r['non_2xx']} non-2xx" if r["non_2xx"] else ""
            split = (f" ({_fmt(r.get('cpu_user_us_per_req'), '.2f')} + {_fmt(r.get('cpu_sys_us_per_req'), '.2f')})"
                     if r.get("cpu_user_us_per_req") is not None else "")
            load_busy = None if r.get("load_busy") is None else r["load_busy"] * 100
            lines.append(f"| {r['system']} | {_fmt(r['rps'], ',.0f')} | {_fmt(r['p99_ms'], '.2f')} | "
                         f"{_fmt(r['cpu_us_per_req'], '.1f')}{split} | {_fmt(busy, '.0f')}% | "
                         f"{_fmt(load_busy, '.0f')}%, {_fmt(r.get('load_sleeps_per_1k'), '.1f')} | {verdict}{bad} | "
                         f"{r['rounds_ok']}/{r['rounds']}{note} |")
    return "\n".join(lines)


def matrix(summary: list[dict[str, Any]], validation: dict[str, dict[str, Any]]) -> str:
    """One Markdown table for the whole run: a row per (profile, connections), a column per
    system, each cell "CPU µs/req (req/s)"; a system that failed validation is marked ✗."""
    systems: list[str] = []
    keys: list[tuple[str, int]] = []
    cells: dict[tuple[str, int, str], dict[str, Any]] = {}
    for r in summary:
        if r["system"] not in systems:
            systems.append(r["system"])
        if (r["profile"], r["connections"]) not in keys:
            keys.append((r["profile"], r["connections"]))
        cells[(r["profile"], r["connections"], r["system"])] = r
    lines = ["| profile | conns | " + " | ".join(systems) + " |", "|---|---:|" + "---:|" * len(systems)]
    for profile, conns in keys:
        row = []
        for s in systems:
            r = cells.get((profile, conns, s))
            if r is None:
                row.append("")
            elif r["cpu_us_per_req"] is None:
                row.append("failed")
            else:
                bad = "" if validation.get(s, {}).get(profile, {}).get("ok", True) else " ✗"
                row.append(f"{r['cpu_us_per_req']:.1f} ({r['rps'] / 1000:.1f}k){bad}")
        lines.append(f"| {profile} | {conns} | " + " | ".join(row) + " |")
    return "\n".join(lines)


def write_json(path: str, data: dict[str, Any]) -> None:
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path + ".tmp", "w") as f:
        json.dump(data, f, indent=1, default=str)
    os.replace(path + ".tmp", path)


def plot(path: str, summary: list[dict[str, Any]]) -> str | None:
    """Bars of req/s and CPU µs per request for each (profile, connections), one PNG;
    None when matplotlib is not installed."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    keys: list[tuple[str, int]] = []
    for r in summary:
        if (r["profile"], r["connections"]) not in keys:
            keys.append((r["profile"], r["connections"]))
    if not keys:
        return None
    fig, axes = plt.subplots(len(keys), 2, figsize=(12, 2.6 * len(keys)), squeeze=False)
    for i, (profile, conns) in enumerate(keys):
        rows = [r for r in summary if r["profile"] == profile and r["connections"] == conns]
        names = [r["system"] for r in rows]
        for j, (field, label) in enumerate((("rps", "req/s"), ("cpu_us_per_req", "server CPU µs per request"))):
            ax = axes[i][j]
            vals = [r[field] or 0 for r in rows]
            colors = ["#c0392b" if n.startswith("ringbolt") else "#7f8c8d" for n in names]
            ax.barh(names, vals, color=colors)
            ax.set_title(f"{profile}, {conns} conns: {label}", fontsize=9)
            ax.tick_params(labelsize=8)
            ax.invert_yaxis()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
