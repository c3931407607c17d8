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

Live servers (fastapi_live.py): ``--live MODE`` runs the same tests with the TestClient
sending every request to a server process serving the test's app (``uvicorn``,
``ringbolt``, ``ringbolt-asgi`` on real FastAPI; ``ringbolt-swap`` on ringbolt.fastapi),
over ``--http 1.1`` or ``2``, and compares the run test for test with another: the second
``--live`` when two are given (``--live uvicorn --live ringbolt-asgi``), else the same app
through its TestClient (FastAPI's run for the real-FastAPI modes, the swapped run for
``ringbolt-swap``). The report lists every test whose outcome differs, with both messages
(build/fastapi-tutorial/compare-A-vs-B.json); the run fails above ``--max-diff`` of them.
Told apart, not counted: the tests racy under any live server (LIVE_RACES), and with
``--inherent`` (one ``--live`` against its TestClient) those whose outcome also differs
between FastAPI's TestClient and uvicorn live: what no live server gives (an exception the
app raised seen by the test, a patch of the test process, the client's address).

    python tests/fastapi_tutorial/run.py --live uvicorn --live ringbolt-asgi
    python tests/fastapi_tutorial/run.py --live ringbolt-swap --http 2 --inherent --reuse
    python tests/fastapi_tutorial/run.py --live ringbolt --http 2 --against live-ringbolt-h1

``--live ringbolt`` also counts the share of the served apps' routes that were planned,
from each server's start-up line ("N of M routes planned"): printed with the reasons of
the others, written to planned-LABEL.json; ``--min-planned`` fails under a share.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

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


LIVE_MODES = ("uvicorn", "ringbolt", "ringbolt-asgi", "ringbolt-swap")


def fresh_copy(root: Path, label: str) -> Path:
    """A copy of the source distribution as unpacked, for one live run: its servers write
    files where they run (the tutorial's SQLite database.db, log.txt), which another run
    must not find there."""
    dest = WORK / "live-work" / label
    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir(parents=True)
    with tarfile.open(WORK / f"{root.name}.tar.gz") as tar:
        tar.extractall(dest, filter="data")
    return dest / root.name


def run_suite(root: Path, label: str, swap: bool, select: list[str], workers: int, live: str = "",
              http: str = "1.1", reuse: bool = False, launch: str = "fork") -> dict[str, dict[str, str]]:
    """Run the tutorial tests; {test id: {"outcome", "message"}}. With `live`, through
    live servers (fastapi_live.py), in a fresh copy of the tests. With `reuse`, the last
    run's results when there are."""
    xml = WORK / f"{label}.xml"
    if reuse and xml.exists():
        print(f"::: {label}: reusing {xml}", flush=True)
        return parse_junit(xml)
    if live:
        root = fresh_copy(root, label)
        shutil.rmtree(WORK / "live-logs" / label, ignore_errors=True)  # (planned_share reads this run's)
    env = dict(os.environ)
    if swap or live:
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(HERE), env.get("PYTHONPATH", "")) if p)
    cmd = [sys.executable, "-m", "pytest", *(select or ["tests/test_tutorial"]), "-q", "-p", "no:cacheprovider",
           "-p", "no:benchmark", "--continue-on-collection-errors", f"--junitxml={xml}", "-o", "junit_family=xunit1",
           "--tb=line", "--dist", "loadgroup"]  # FastAPI's own: the tests sharing the working directory on one worker
    if swap:
        cmd += ["-p", "fastapi_swap"]
    if live:
        # (fastapi_live groups each file's tests on one worker: its apps' servers start once)
        cmd += ["-p", "fastapi_live", "--live-server", live, "--live-http", http, "--live-launch", launch,
                f"--live-logs={WORK / 'live-logs' / label}"]
    if workers > 1:
        cmd += ["-n", str(workers)]
    print(f"::: {label}: {' '.join(cmd[2:])}", flush=True)
    started = time.monotonic()
    proc = subprocess.run(cmd, cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    tail = proc.stdout.strip().splitlines()[-1:] or ["(no output)"]
    print(f"::: {label}: {tail[0]} ({time.monotonic() - started:.0f} s here)", flush=True)
    (WORK / f"{label}.log").write_text(proc.stdout)
    return parse_junit(xml)


# `ringbolt serve`'s start-up lines (at info): "N of M routes planned[: the whole app ...]",
# then "  GET /x: ASGI: <reason>" for each route not planned
_SUMMARY = re.compile(r"\] INFO: (\d+) of (\d+) routes planned(?:: (.*))?$")
_NOT_PLANNED = re.compile(r"\] INFO:   (\S+ \S+): ASGI: (.*)$")


def planned_share(label: str) -> dict[str, Any] | None:
    """The share of the served apps' routes that ringbolt planned, from the start-up lines
    in the live run's server logs (each app once, however many times it was started); None
    when no log says it (uvicorn, or no ringbolt of this release). Written to
    planned-LABEL.json with every route not planned and why."""
    apps: dict[str, dict[str, Any]] = {}
    for log in sorted((WORK / "live-logs" / label).glob("*.log")):
        target, current = "", None
        for line in log.read_text(errors="replace").splitlines():
            if line.startswith("$ "):
                words = line.split()
                target = words[words.index("serve") + 1] if "serve" in words else ""
                current = None
                continue
            m = _SUMMARY.search(line)
            if m and target and target not in apps:
                current = apps[target] = {"planned": int(m.group(1)), "routes": int(m.group(2)),
                                          "whole": m.group(3), "not_planned": {}}
                continue
            m = _NOT_PLANNED.search(line)
            if m and current is not None:
                current["not_planned"][m.group(1)] = m.group(2)
    if not apps:
        return None
    planned = sum(a["planned"] for a in apps.values())
    routes = sum(a["routes"] for a in apps.values())
    why: collections.Counter[str] = collections.Counter()
    for a in apps.values():
        if a["whole"]:
            if a["routes"]:
                why[f"the whole app: {a['whole']}"] += a["routes"]
        for reason in a["not_planned"].values():
            why[reason] += 1
    result = {"apps": len(apps), "routes": routes, "planned": planned, "share": 100.0 * planned / max(routes, 1),
              "why": dict(why.most_common()), "by_app": apps}
    (WORK / f"planned-{label}.json").write_text(json.dumps(result, indent=1))
    print(f"::: {label}: {planned} of {routes} routes planned ({result['share']:.1f}%) in {len(apps)} apps; "
          f"not planned, by reason (planned-{label}.json):")
    for reason, n in why.most_common():
        print(f"    {n:4d}  {reason[:150]}")
    return result


def live_label(mode: str, http: str, launch: str = "fork") -> str:
    return f"live-{mode}-h{http.split('.')[0]}" + ("" if launch == "fork" else f"-{launch}")


# Tests whose outcome through a live server is a race, whatever the server.
LIVE_RACES = {
    # Starlette's TestClient returns once the response's background task ran; a live
    # client gets the response first
    "tests/test_tutorial/test_background_tasks/": "reads log.txt, which a background task writes after the response",
    # each test gives its app an in-memory engine, which the server does not see: the apps
    # of both files share database.db in the working directory, and the files may run at once
    "tests/test_tutorial/test_sql_databases/": "the servers share database.db; the test's in-memory engine is the "
                                               "test process's",
}


def race_of(test_id: str) -> str | None:
    return next((why for prefix, why in LIVE_RACES.items() if test_id.startswith(prefix)), None)


def compare(label_a: str, run_a: dict[str, dict[str, str]], label_b: str, run_b: dict[str, dict[str, str]],
            inherent: dict[str, str] | None = None) -> int:
    """Prints and writes (compare-A-vs-B.json) the tests whose outcome differs between two
    runs, with both messages; the number of them, less those told apart: a race of any
    live server (LIVE_RACES), or, given `inherent` (test id: why), a test whose outcome
    differs between FastAPI's TestClient and uvicorn too (what no live server gives)."""
    diffs: list[dict[str, Any]] = []
    apart: list[dict[str, Any]] = []
    same: collections.Counter[str] = collections.Counter()
    for test_id in sorted(set(run_a) | set(run_b)):
        a = run_a.get(test_id, {"outcome": "not run", "message": ""})
        b = run_b.get(test_id, {"outcome": "not run", "message": ""})
        if a["outcome"] == b["outcome"]:
            same[a["outcome"]] += 1
            continue
        why = race_of(test_id) or (inherent or {}).get(test_id)
        (apart if why else diffs).append({"test": test_id, label_a: a, label_b: b, **({"why": why} if why else {})})
    counts = ", ".join(f"{n} {outcome}" for outcome, n in sorted(same.items()))
    print(f"\n::: {label_a} vs {label_b}: {sum(same.values())} tests alike ({counts}), {len(diffs)} differ"
          + (f", {len(apart)} more as any live server would (below)" if apart else ""))
    for d in diffs:
        print(f"- {d['test']}")
        for label in (label_a, label_b):
            message = " ".join(d[label]["message"].split())[:300]
            print(f"    {label}: {d[label]['outcome']}{': ' + message if message else ''}")
    if apart:
        print(f"::: told apart ({len(apart)}):")
        for d in apart:
            print(f"- {d['test']}: {d[label_a]['outcome']} / {d[label_b]['outcome']} ({d['why']})")
    (WORK / f"compare-{label_a}-vs-{label_b}.json").write_text(json.dumps({"differ": diffs, "apart": apart},
                                                                           indent=1))
    return len(diffs)


def inherent_to_live(reference: dict[str, dict[str, str]], uvicorn: dict[str, dict[str, str]]) -> dict[str, str]:
    """The tests whose outcome differs between FastAPI's TestClient and a live uvicorn: what
    no live server gives (a server's exception raised in the test, a patch of the test
    process, the client's address), with uvicorn's message."""
    out = {}
    for test_id, ref in reference.items():
        live = uvicorn.get(test_id, {"outcome": "not run", "message": ""})
        if ref["outcome"] != live["outcome"]:
            message = " ".join(live["message"].split())[:160]
            out[test_id] = f"FastAPI's TestClient: {ref['outcome']}, uvicorn live: {live['outcome']} {message}".strip()
    return out


# `--dist loadgroup` appends "@<group>" to a grouped test's id: FastAPI's workdir_lock, or the
# file's own (fastapi_live.py groups each file's tests)
_XDIST_GROUP = re.compile(r"@(?:workdir_lock|[\w./-]+\.py)$")


def parse_junit(xml: Path) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    if not xml.exists():
        return out
    for case in ET.parse(xml).getroot().iter("testcase"):
        path = case.get("file") or case.get("classname", "").replace(".", "/") + ".py"
        name = _XDIST_GROUP.sub("", case.get("name") or "")  # the id without its xdist group
        test_id = f"{path}::{name}"
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
    ap.add_argument("--live", action="append", default=[], choices=LIVE_MODES,
                    help="run through live servers of this kind and compare (once or twice; see above)")
    ap.add_argument("--http", choices=("1.1", "2"), default="1.1", help="the live client's HTTP version")
    ap.add_argument("--reuse", action="store_true",
                    help="live: reuse the runs compared against (TestClient's, uvicorn's for --inherent) when their "
                         "results are there; the --live runs always run")
    ap.add_argument("--launch", choices=("fork", "exec"), default="fork",
                    help="live: servers forked from a process that imported FastAPI once, or each its own command")
    ap.add_argument("--max-diff", type=int, default=0, help="live: fail above this many tests that differ")
    ap.add_argument("--against", metavar="LABEL",
                    help="live: compare the one --live run with an earlier run's results (LABEL.xml: "
                         "live-ringbolt-h1 for --live ringbolt --http 2)")
    ap.add_argument("--min-planned", type=float, default=0.0,
                    help="live: fail when `--live ringbolt` planned under this share (percent) of the served apps' "
                         "routes (its start-up lines, in planned-LABEL.json)")
    ap.add_argument("--inherent", action="store_true",
                    help="one --live against its TestClient: tell apart the tests whose outcome differs between "
                         "FastAPI's TestClient and uvicorn live too (runs both, or reuses them)")
    args = ap.parse_args()

    root = fetch(args.version)
    # pytest takes the areas' folders instead of the whole tutorial tree
    select = [f"tests/test_tutorial/{a}" for a in args.area] or ["tests/test_tutorial"]
    if args.keyword:
        select += ["-k", args.keyword]
    if args.live:
        return main_live(args, root, select)
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


def main_live(args: argparse.Namespace, root: Path, select: list[str]) -> int:
    """Live runs compared test for test (two --live, or one and its TestClient twin)."""
    if len(args.live) > 2 or (args.against and len(args.live) > 1):
        raise SystemExit("run.py: error: --live at most twice, once with --against (the two runs compared)")
    if args.http == "2" and "uvicorn" in args.live:
        raise SystemExit("run.py: error: --http 2 with uvicorn: it serves no HTTP/2 here (its --http2 needs zttp)")
    runs = []
    for mode in args.live:
        label = live_label(mode, args.http, args.launch)
        runs.append((label, run_suite(root, label, mode == "ringbolt-swap", select, args.workers, live=mode,
                                      http=args.http, launch=args.launch)))
    if args.against:  # an earlier run's results (another HTTP version's of the same server)
        xml = WORK / f"{args.against}.xml"
        if not xml.exists():
            raise SystemExit(f"run.py: error: --against {args.against}: no {xml} (run it first)")
        runs.insert(0, (args.against, parse_junit(xml)))
    elif len(runs) == 1:  # against the same tests through the TestClient
        swap = args.live[0] == "ringbolt-swap"
        label = "ringbolt" if swap else "reference"
        runs.insert(0, (label, run_suite(root, label, swap, select, args.workers,
                                         reuse=args.reuse or (args.no_reference and not swap))))
    inherent = None
    if args.inherent and len(args.live) == 1 and not args.against:
        reference = run_suite(root, "reference", False, select, args.workers, reuse=args.reuse or args.no_reference)
        uvicorn = (runs[-1][1] if args.live == ["uvicorn"] and args.launch == "fork" else
                   run_suite(root, live_label("uvicorn", "1.1"), False, select, args.workers, live="uvicorn",
                             reuse=args.reuse))
        inherent = inherent_to_live(reference, uvicorn)
    if args.area:
        runs = [(label, {k: v for k, v in run.items() if area_of(k) in args.area}) for label, run in runs]
    (label_a, run_a), (label_b, run_b) = runs
    differ = compare(label_a, run_a, label_b, run_b, inherent)
    failed = 0
    if differ > args.max_diff:
        print(f"::: FAILED: {differ} tests differ between {label_a} and {label_b} (allowed: {args.max_diff})")
        failed = 1
    for mode in args.live:
        if mode != "ringbolt":  # (the only mode whose apps are planned: FastAPI's, served by ringbolt serve)
            continue
        label = live_label(mode, args.http, args.launch)
        shares = planned_share(label)
        if args.min_planned and (shares is None or shares["share"] < args.min_planned):
            got = "no start-up line" if shares is None else f"{shares['share']:.1f}%"
            print(f"::: FAILED: {label}: {got} of the routes planned, under {args.min_planned}%")
            failed = 1
    return failed


if __name__ == "__main__":
    sys.exit(main())
