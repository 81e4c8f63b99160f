"""Engine throughput and memory on generated logs of 10 MB, 100 MB and 1 GB.

    python bench/speed.py [--sizes 10,100,1000] [--dir /tmp/cimedic-speed]

The logs are built from real-shaped content: a GitHub Actions job (timestamps, groups, pip/pytest/compiler
chatter with occasional warnings and retried downloads), one real failure near the end. Each size is analyzed
in a fresh process (`cimedic analyze --no-kb --no-llm -f json`) so that peak RSS is that run's own; the same
file is counted by `grep -ciE 'error|fail'` in the same run as the baseline. Medians of `--repeat` runs.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

CHATTER = [
    "Collecting requests>=2.31 (from -r requirements.txt (line 4))",
    "  Downloading requests-2.32.3-py3-none-any.whl.metadata (4.6 kB)",
    "Requirement already satisfied: idna<4,>=2.5 in /opt/hostedtoolcache/Python/3.11.9/x64/lib/python3.11",
    "tests/test_api.py::test_list_users PASSED                                 [ 12%]",
    "tests/test_api.py::test_create_user PASSED                                [ 13%]",
    "[INFO] Compiling 214 source files to /home/runner/work/app/app/target/classes",
    "   Compiling serde_json v1.0.117",
    "gcc -O2 -Wall -c src/util.c -o build/util.o",
    "npm WARN deprecated inflight@1.0.6: This module is not supported, and leaks memory.",
    "WARNING: Retrying (Retry(total=4, connect=None, read=None)) after connection broken by 'ReadTimeout'",
    "ok  \tgithub.com/acme/app/internal/store\t0.412s",
    "error_reporting = E_ALL (from php.ini)",
]
FAILURE = [
    "=================================== FAILURES ===================================",
    "________________________________ test_checkout _________________________________",
    "    def test_checkout():",
    ">       assert cart.total() == Decimal('22.50')",
    "E       AssertionError: assert Decimal('23.75') == Decimal('22.50')",
    "tests/test_cart.py:28: AssertionError",
    "FAILED tests/test_cart.py::test_checkout - AssertionError: assert Decimal('23.75') == Decimal('22.50')",
    "##[error]Process completed with exit code 1.",
]


def generate(path: Path, size: int, seed: int = 7) -> None:
    rng = random.Random(seed)
    written = 0
    with path.open("w", encoding="utf-8", newline="\n") as out:
        out.write("2026-11-24T08:00:00.0000000Z ##[group]Run pytest -q\n")
        second = 0
        while written < size:
            second += 1
            clock = f"{8 + second // 3600 % 10:02d}:{second // 60 % 60:02d}:{second % 60:02d}"
            stamp = f"2026-11-24T{clock}.{rng.randrange(10**7):07d}Z "
            block = "".join(stamp + rng.choice(CHATTER) + "\n" for _ in range(200))
            out.write(block)
            written += len(block)
        out.write("".join(f"2026-11-24T18:00:00.0000000Z {line}\n" for line in FAILURE))


def peak_rss_mb_of(cmd: list[str]) -> tuple[float, float, str]:
    started = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, check=False)
    elapsed = time.perf_counter() - started
    rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # Linux reports kB; max over children
    return elapsed, rss, proc.stdout.decode("utf-8", "replace")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="10,100,1000", help="sizes in MB")
    ap.add_argument("--dir", type=Path, default=Path("/tmp/cimedic-speed"))
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    args.dir.mkdir(parents=True, exist_ok=True)
    print(
        "| size | cimedic median s | MB/s | peak RSS MB | grep -ciE median s | ratio (cimedic/grep) | found |"
    )
    print("|---|---|---|---|---|---|---|")
    for size_mb in (int(s) for s in args.sizes.split(",")):
        path = args.dir / f"log-{size_mb}mb.log"
        if not path.exists() or path.stat().st_size < size_mb * 1_000_000:
            generate(path, size_mb * 1_000_000)
        actual = path.stat().st_size / 1e6
        ours, grep, rss, found = [], [], 0.0, ""
        for _ in range(args.repeat):
            # A fresh interpreter per run: RUSAGE_CHILDREN's max then covers this size's runs only when sizes
            # grow, which they do in the default order.
            cmd = [
                sys.executable,
                "-m",
                "agent.cli",
                "analyze",
                "--no-kb",
                "--no-llm",
                "-f",
                "json",
                str(path),
            ]
            env_cmd = ["env", f"CIMEDIC_HOME={args.dir / 'home'}", *cmd]
            elapsed, rss, out = peak_rss_mb_of(env_cmd)
            ours.append(elapsed)
            found = json.loads(out)["title"] if out.strip() else "?"
            started = time.perf_counter()
            subprocess.run(["grep", "-ciE", "error|fail", str(path)], capture_output=True, check=False)
            grep.append(time.perf_counter() - started)
        med, gmed = statistics.median(ours), statistics.median(grep)
        ratio = med / gmed
        cells = [f"{actual:.0f} MB", f"{med:.2f}", f"{actual / med:.1f}", f"{rss:.0f}"]
        cells += [f"{gmed:.2f}", f"{ratio:.1f}x"]
        print("| " + " | ".join([*cells, found[:60]]) + " |")
        sys.stdout.flush()
    print(f"\nmachine: {os.cpu_count()} cores, python {sys.version.split()[0]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
