#!/usr/bin/env python3
"""Fold `perf script` output into stacks and draw them as a flame graph SVG.

    perf script -i perf.data | python3 tools/flamegraph.py --title "ringbolt" > flame.svg
    perf script -i perf.data | python3 tools/flamegraph.py --folded > stacks.txt
"""

from __future__ import annotations

import argparse
import html
import re
import sys
import zlib
from collections import Counter

_FRAME = re.compile(r"^\s*[0-9a-f]+\s+(.+?)\s+\((.*)\)\s*$")


def fold(lines) -> Counter:
    """perf script samples (header line, then frames leaf first) -> 'root;...;leaf' counts."""
    stacks: Counter = Counter()
    comm = None
    frames: list[str] = []

    def flush() -> None:
        if comm is not None:
            stacks[";".join([comm] + frames[::-1])] += 1

    for line in lines:
        line = line.rstrip("\n")
        if not line.strip():
            flush()
            comm, frames = None, []
            continue
        if not line.startswith((" ", "\t")):
            flush()
            comm, frames = line.split()[0], []
            continue
        m = _FRAME.match(line)
        if m:
            sym, dso = m.groups()
            sym = re.sub(r"\+0x[0-9a-f]+$", "", sym)
            if sym == "[unknown]":
                sym = f"[{dso.rsplit('/', 1)[-1]}]"
            frames.append(sym)
    flush()
    return stacks


def render(stacks: Counter, title: str, width: int = 1200, row: int = 16) -> str:
    tree: dict = {"n": 0, "c": {}}
    for stack, count in stacks.items():
        node = tree
        node["n"] += count
        for name in stack.split(";"):
            node = node["c"].setdefault(name, {"n": 0, "c": {}})
            node["n"] += count
    total = max(tree["n"], 1)
    depth = max((s.count(";") + 1 for s in stacks), default=1)
    height = (depth + 3) * row
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="monospace" font-size="11">',
        f'<rect width="100%" height="100%" fill="#fdfdf6"/><text x="{width / 2}" y="14" text-anchor="middle" font-size="14">'
        f"{html.escape(title)} ({total} samples)</text>",
    ]

    def walk(node: dict, x: float, level: int) -> None:
        for name, child in sorted(node["c"].items()):
            w = child["n"] / total * width
            if w >= 0.5:
                y = height - (level + 1) * row - 4
                hue = zlib.crc32(name.encode()) % 60
                label = html.escape(name)
                pct = 100.0 * child["n"] / total
                out.append(
                    f'<g><title>{label} ({child["n"]} samples, {pct:.2f}%)</title>'
                    f'<rect x="{x:.2f}" y="{y}" width="{w:.2f}" height="{row - 1}" fill="hsl({hue},85%,60%)" rx="1"/>'
                )
                chars = int(w / 7)
                if chars >= 3:
                    text = label if len(name) <= chars else html.escape(name[: chars - 2]) + ".."
                    out.append(f'<text x="{x + 2:.2f}" y="{y + row - 4}">{text}</text>')
                out.append("</g>")
                walk(child, x, level + 1)
            x += w

    walk(tree, 0.0, 0)
    out.append("</svg>")
    return "\n".join(out)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--title", default="perf")
    ap.add_argument("--folded", action="store_true", help="print folded stacks instead of an SVG")
    args = ap.parse_args()
    stacks = fold(sys.stdin)
    if args.folded:
        for stack, count in stacks.most_common():
            print(stack, count)
    else:
        sys.stdout.write(render(stacks, args.title))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
