"""`cimedic analyze` of one small log as a user runs it: the default against `--no-kb`, in one run (issue 15).

Three homes, each analysed by fresh `cimedic` processes (wall time and peak RSS of the child, from
`resource.getrusage(RUSAGE_CHILDREN)` read around each run; runs alternate between the two commands so that a
change of load on a shared machine hits both alike):

- `clean`: a clean home every run (the first run ever: the database is created and migrated);
- `empty`: a home whose knowledge base holds only this log's own failure (every later run of a new user
  until a second kind of failure is recorded: nothing to compare with);
- `one`: a home holding one recorded failure of another log (the embedding model must load);
- `N` (default 10,000): a home holding N recorded failures, written through the knowledge base with the
  command line's model (the static embedding; what is measured is the query side: opening the stores,
  embedding one query, comparing it with the N).

    .venv/bin/python bench/cli_first_hour.py --runs 5 --stored 10000
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOG = ROOT / "examples" / "python-module-not-found.log"
OTHER = ROOT / "examples" / "pip-missing-package.log"


def run_cli(home: Path, args: Sequence[str]) -> tuple[float, float]:
    """(wall seconds, peak RSS in MB) of one `cimedic analyze` process."""
    env = {**os.environ, "CIMEDIC_HOME": str(home), "NO_COLOR": "1"}
    env.pop("CIMEDIC_LLM", None)
    started = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-m", "agent.cli", "analyze", *args, str(LOG)], capture_output=True, env=env
    )
    wall = time.perf_counter() - started
    if out.returncode != 0:
        raise SystemExit(f"cimedic failed: {out.stderr.decode()}")
    # The largest child so far (kilobytes on Linux): called from `measure`, this process has this one child.
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return wall, peak / 1024


def measure(home: Path, args: Sequence[str]) -> tuple[float, float]:
    """One run from a fresh child process of this script: RUSAGE_CHILDREN keeps the largest child ever, so
    each measurement needs a parent of its own."""
    code = (
        f"import sys, json; sys.path.insert(0, {str(Path(__file__).parent)!r}); import cli_first_hour as b; "
        f"from pathlib import Path; print(json.dumps(b.run_cli(Path({str(home)!r}), {list(args)!r})))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    wall, rss = json.loads(out.stdout)
    return float(wall), float(rss)


def fill(home: Path, n: int) -> None:
    """`n` recorded failures (distinct titles) in `home`'s knowledge base, embedded by the command line's
    model (the static embedding: what `analyze` compares with, in the collection it reads)."""
    from agent.cli.wiring import knowledge_settings
    from agent.config import Settings
    from agent.engine import analyze_file
    from agent.models import JobContext
    from knowledge import open_knowledge_base

    kb = open_knowledge_base(Settings(home=home), knowledge_settings())
    base = analyze_file(OTHER)
    items = []
    for i in range(n):
        d = base.model_copy(update={"fingerprint": f"bench-{i:06d}", "title": f"{base.title} #{i}"})
        items.append((d, JobContext(ci_system="local", job_id=i)))
    kb.record_many(items)
    kb.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--stored", type=int, default=10_000)
    ns = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        homes = {
            "clean": Path(tmp) / "clean",
            "empty": Path(tmp) / "empty",
            "one": Path(tmp) / "one",
            str(ns.stored): Path(tmp) / "many",
        }
        run_cli(homes["empty"], [])  # records the log's own failure
        subprocess.run(
            [sys.executable, "-m", "agent.cli", "kb", "add", str(OTHER)],
            env={**os.environ, "CIMEDIC_HOME": str(homes["one"])},
            check=True,
            capture_output=True,
        )
        fill(homes[str(ns.stored)], ns.stored)
        results = {}
        for label, home in homes.items():
            rows: dict[str, list[tuple[float, float]]] = {"default": [], "--no-kb": []}
            for _ in range(ns.runs):
                for name, args in (("default", []), ("--no-kb", ["--no-kb"])):
                    if label == "clean" and name == "default":
                        # a clean home every time: the run before recorded its failure
                        subprocess.run(["rm", "-rf", str(home)], check=True)
                    rows[name].append(measure(home, args))
            summary = {
                name: {
                    "wall_s": round(statistics.median(w for w, _ in runs), 2),
                    "rss_mb": round(statistics.median(r for _, r in runs), 1),
                }
                for name, runs in rows.items()
            }
            summary["ratio"] = {
                "wall": round(summary["default"]["wall_s"] / summary["--no-kb"]["wall_s"], 2),
                "rss": round(summary["default"]["rss_mb"] / summary["--no-kb"]["rss_mb"], 2),
            }
            results[label] = summary
            print(json.dumps({label: summary}), flush=True)
        print(json.dumps({"load_average": os.getloadavg(), "runs": ns.runs}))


if __name__ == "__main__":
    main()
