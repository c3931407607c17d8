"""FastAPI's own tutorial tests against ringbolt.fastapi: the judge of "a FastAPI service
moves by changing its imports" (docs/from-fastapi.md).

    python tests/fastapi_tutorial/run.py [--version 0.165.0] [-k EXPR] [--min-total 95 --min-area 85]

1. FastAPI's source distribution of the pinned version is downloaded from PyPI into
   build/fastapi-tutorial/ (it carries ``tests/`` and ``docs_src/``; nothing of it is kept
   in this repository).
2. Its ``tests/test_tutorial`` run twice, unchanged, with FastAPI's own pytest settings:
   once on FastAPI itself (the sdist's ``fastapi`` package: the reference), once with the
   imports of ``fastapi`` and ``starlette`` made ringbolt's (fastapi_swap.py).
3. The score is the share of the tests that pass on FastAPI that also pass on ringbolt,
   in all and per tutorial area; the run fails under ``--min-total`` or with an area under
   ``--min-area`` (percent). Each test's outcome and the first lines of each failure are
   written to build/fastapi-tutorial/results.json.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import subprocess
import sys
import tarfile
import xml.etree.ElementTree as ET
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
WORK = REPO / "build" / "fastapi-tutorial"
DEFAULT_VERSION = "0.165.0"


def fetch(version: str) -> Path:
    """The unpacked source distribution of FastAPI ``version`` (downloaded once)."""
    root = WORK / f"fastapi-{version}"
    if (root / "tests" / "test_tutorial").is_dir():
        return root
    WORK.mkdir(parents=True, exist_ok=True)
    archive = WORK / f"fastapi-{version}.tar.gz"
    if not archive.exists():
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--disable-pip-version-check", "--no-deps",
                        "--no-binary", ":all:", "-d", str(WORK), f"fastapi=={version}"], check=True)
    with tarfile.open(archive) as tar:
        tar.extractall(WORK, filter="data")
    return root


def run_suite(root: Path, label: str, swap: bool, select: list[str], workers: int) -> dict[str, dict[str, str]]:
    """Run the tutorial tests; {test id: {"outcome", "message"}}."""
    xml = WORK / f"{label}.xml"
    env = dict(os.environ)
    if swap:
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(HERE), env.get("PYTHONPATH", "")) if p)
    cmd = [sys.executable, "-m", "pytest", *(select or ["tests/test_tutorial"]), "-q", "-p", "no:cacheprovider",
           "-p", "no:benchmark", "--continue-on-collection-errors", f"--junitxml={xml}", "-o", "junit_family=xunit1", "--tb=line"]
    if swap:
        cmd += ["-p", "fastapi_swap"]
    if workers > 1:
        cmd += ["-n", str(workers)]
    print(f"::: {label}: {' '.join(cmd[2:])}", flush=True)
    proc = subprocess.run(cmd, cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    tail = proc.stdout.strip().splitlines()[-1:] or ["(no output)"]
    print(f"::: {label}: {tail[0]}", flush=True)
    (WORK / f"{label}.log").write_text(proc.stdout)
    return parse_junit(xml)


def parse_junit(xml: Path) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    if not xml.exists():
        return out
    for case in ET.parse(xml).getroot().iter("testcase"):
        test_id = f"{case.get('file') or case.get('classname', '').replace('.', '/') + '.py'}::{case.get('name')}"
        outcome, message = "passed", ""
        for child in case:
            if child.tag in ("failure", "error"):
                outcome = child.tag
                message = (child.get("message") or child.text or "")[:600]
            elif child.tag == "skipped":
                outcome = "xfailed" if child.get("type") == "pytest.xfail" else "skipped"
                message = (child.get("message") or "")[:300]
        out[test_id] = {"outcome": outcome, "message": message}
    return out


def area_of(test_id: str) -> str:
    parts = test_id.split("/")
    return parts[parts.index("test_tutorial") + 1] if "test_tutorial" in parts else parts[0]


def score(reference: dict[str, dict[str, str]], ported: dict[str, dict[str, str]]) -> dict[str, list[int]]:
    """Per area: [passing on FastAPI, of those passing on ringbolt]."""
    table: dict[str, list[int]] = collections.defaultdict(lambda: [0, 0])
    for test_id, ref in reference.items():
        if ref["outcome"] != "passed":
            continue
        row = table[area_of(test_id)]
        row[0] += 1
        row[1] += ported.get(test_id, {}).get("outcome") == "passed"
    return dict(sorted(table.items()))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--version", default=DEFAULT_VERSION, help="FastAPI's version whose tests run")
    ap.add_argument("-k", dest="keyword", help="pytest -k expression (a subset of the tests)")
    ap.add_argument("--area", action="append", default=[], help="only these tutorial areas (test_query_params...)")
    ap.add_argument("--min-total", type=float, default=0.0, help="fail under this share (percent) in all")
    ap.add_argument("--min-area", type=float, default=0.0, help="fail when an area is under this share (percent)")
    ap.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1), help="pytest-xdist workers")
    ap.add_argument("--no-reference", action="store_true", help="reuse the last reference run (reference.xml)")
    args = ap.parse_args()

    root = fetch(args.version)
    # pytest takes the areas' folders instead of the whole tutorial tree
    select = [f"tests/test_tutorial/{a}" for a in args.area] or ["tests/test_tutorial"]
    if args.keyword:
        select += ["-k", args.keyword]
    if args.no_reference and (WORK / "reference.xml").exists():
        reference = parse_junit(WORK / "reference.xml")
    else:
        reference = run_suite(root, "reference", False, select, args.workers)
    ported = run_suite(root, "ringbolt", True, select, args.workers)
    if args.area:
        reference = {k: v for k, v in reference.items() if area_of(k) in args.area}

    table = score(reference, ported)
    total = [sum(r[0] for r in table.values()), sum(r[1] for r in table.values())]
    print(f"\n| area | pass on FastAPI | pass on ringbolt | share |\n|---|---:|---:|---:|")
    for area, (ref_n, ok_n) in table.items():
        print(f"| {area} | {ref_n} | {ok_n} | {100.0 * ok_n / max(ref_n, 1):.1f}% |")
    share = 100.0 * total[1] / max(total[0], 1)
    print(f"| **all** | {total[0]} | {total[1]} | {share:.1f}% |")
    (WORK / "results.json").write_text(json.dumps({"reference": reference, "ringbolt": ported,
                                                   "areas": table}, indent=1))
    failed = []
    if share < args.min_total:
        failed.append(f"{share:.1f}% in all, under {args.min_total}%")
    low = [f"{a} {100.0 * ok / n:.1f}%" for a, (n, ok) in table.items() if n and 100.0 * ok / n < args.min_area]
    if low:
        failed.append(f"areas under {args.min_area}%: {', '.join(low)}")
    if failed:
        print("::: FAILED: " + "; ".join(failed))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
