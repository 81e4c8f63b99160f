"""Engine throughput and memory on generated logs of 10 MB, 100 MB and 1 GB.

    python bench/speed.py [--sizes 10,100,1000] [--dir /tmp/cimedic-speed]

The logs are built from real-shaped content: a GitHub Actions job (pip/pytest/compiler chatter, with about
7% of lines holding words like error, fail, warning, the share measured on the LogChunks logs), one real
failure at the end. As in a real GitHub Actions log, every line has its own timestamp (100 ns resolution)
and its own numbers (versions, counters, durations, test names), about 86 bytes a line: no two lines are
alike, so nothing is saved by caching lines. `--repeating` builds the earlier, kinder log instead (one
timestamp per 200 lines drawn from a few fixed texts), for comparison with older figures. `--from DIR`
builds them by concatenating the real logs under DIR (for example ../shared/datasets/logchunks/logs) until
the size is reached, the real failure still at the end. Each size is analyzed in a fresh process
(`cimedic analyze --no-kb --no-llm -f json`) so that peak RSS is that run's own; the same file is counted
by `grep -ciE 'error|fail'` in the same run as the baseline. Medians of `--repeat` runs. `--in-process` also
times `agent.engine.analyze_file` on the same file in this process, after a first small analysis has loaded
the catalog and signals (the analysis alone, without interpreter start-up).
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

NEUTRAL = [
    "Collecting requests>=2.31 (from -r requirements.txt (line 4))",
    "  Downloading requests-2.32.3-py3-none-any.whl.metadata (4.6 kB)",
    "[INFO] Compiling 214 source files to /home/runner/work/app/app/target/classes",
    "   Compiling serde_json v1.0.117",
    "gcc -O2 -Wall -c src/util.c -o build/util.o",
    "ok  \tgithub.com/acme/app/internal/store\t0.412s",
    "Receiving objects:  47% (1203/2559), 1.21 MiB | 2.40 MiB/s",
    "[INFO] --- maven-resources-plugin:3.3.1:resources (default-resources) @ app ---",
    "added 1289 packages, and audited 1290 packages in 21s",
    "Get:12 http://archive.ubuntu.com/ubuntu jammy/main amd64 libssl3 amd64 3.0.2-0ubuntu1.15 [1903 kB]",
    "tests/test_api.py::test_list_users                                        [ 12%]",
    "Successfully installed certifi-2024.2.2 charset-normalizer-3.3.2 idna-3.7",
    "   Checking tokio v1.37.0",
    "Run npx jest --ci --reporters=default",
]
KEYWORDED = [
    "tests/test_api.py::test_create_user PASSED                                [ 13%]",
    "npm WARN deprecated inflight@1.0.6: This module is not supported, and leaks memory.",
    "WARNING: Retrying (Retry(total=4, connect=None, read=None)) after connection broken by 'ReadTimeout'",
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


# Line shapes of a real job; `{}` fields are filled with fresh numbers on every line.
UNIQUE_NEUTRAL = [
    "Receiving objects:  {}% ({}/{}), {}.{} MiB | {}.{} MiB/s",
    "tests/test_mod{}.py::test_case_{} [ {}%]",
    "  Downloading pkg{}-{}.{}.{}-py3-none-any.whl ({} kB)",
    "[INFO] Compiling {} source files to target/app{}",
    "   Compiling serde_json v1.0.{} (build {})",
    "gcc -O2 -Wall -c src/util{}.c -o build/util{}.o",
    "ok  \tgithub.com/acme/app/internal/store{}\t0.{}s",
    "Get:{} http://archive.ubuntu.com jammy/main libx{} [{} kB]",
]
UNIQUE_KEYWORDED = [
    "npm WARN deprecated pkg{}@{}.{}.{}: This module is not supported",
    "tests/test_errors{}.py::test_fail_path_{} PASSED [ {}%]",
    "WARNING: Retrying (Retry(total={})) after connection broken {}",
    "error_reporting = E_ALL (from php{}.ini)",
]
STAMP_START = 1_795_940_000 * 10**7  # 2026-11-28 in 100 ns ticks since the epoch


def stamp_of(ticks: int) -> str:
    seconds, frac = divmod(ticks, 10**7)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{frac:07d}Z "


def generate_unique(path: Path, size: int, seed: int = 7) -> None:
    rng = random.Random(seed)
    written = 0
    ticks = STAMP_START
    with path.open("w", encoding="utf-8", newline="\n") as out:
        out.write(stamp_of(ticks) + "##[group]Run pytest -q\n")
        while written < size:
            lines = []
            for _ in range(1000):
                ticks += rng.randrange(1, 40_000)
                shape = rng.choice(UNIQUE_KEYWORDED if rng.random() < 0.07 else UNIQUE_NEUTRAL)
                text = shape.format(*(rng.randrange(10**4) for _ in range(shape.count("{}"))))
                lines.append(stamp_of(ticks) + text + "\n")
            block = "".join(lines)
            out.write(block)
            written += len(block)
        out.write("".join(stamp_of(ticks + 1) + line + "\n" for line in FAILURE))


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
            block = "".join(
                stamp + (rng.choice(KEYWORDED) if rng.random() < 0.07 else rng.choice(NEUTRAL)) + "\n"
                for _ in range(200)
            )
            out.write(block)
            written += len(block)
        out.write("".join(f"2026-11-24T18:00:00.0000000Z {line}\n" for line in FAILURE))


def concatenate(path: Path, size: int, source: Path) -> None:
    logs = sorted(p for p in source.rglob("*.log") if p.is_file())
    written = 0
    with path.open("wb") as out:
        while written < size:
            for log in logs:
                data = log.read_bytes()
                out.write(data if data.endswith(b"\n") else data + b"\n")
                written += len(data)
                if written >= size:
                    break
        out.write("".join(f"{line}\n" for line in FAILURE).encode())


def peak_rss_mb_of(cmd: list[str]) -> tuple[float, float, str]:
    started = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, check=False)
    elapsed = time.perf_counter() - started
    rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # Linux reports kB; max over children
    return elapsed, rss, proc.stdout.decode("utf-8", "replace")


def _in_process(path: Path, repeat: int, size_mb: float) -> float:
    from agent.engine import analyze

    analyze("warming up: error: the catalog and signals load here\n", source="warm-up")
    from agent.engine import analyze_file

    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        analyze_file(path)
        times.append(time.perf_counter() - started)
    return size_mb / statistics.median(times)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="10,100,1000", help="sizes in MB")
    ap.add_argument("--dir", type=Path, default=Path("/tmp/cimedic-speed"))
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument(
        "--from", dest="source", type=Path, help="build the logs from the real logs under this folder"
    )
    ap.add_argument(
        "--repeating", action="store_true", help="the earlier log: one timestamp per 200 fixed lines"
    )
    ap.add_argument("--in-process", action="store_true", help="also time analyze_file in this process")
    args = ap.parse_args()
    args.dir.mkdir(parents=True, exist_ok=True)
    print(
        "| size | cimedic median s | MB/s | peak RSS MB | grep -ciE median s | ratio (cimedic/grep) | found |"
    )
    print("|---|---|---|---|---|---|---|")
    for size_mb in (int(s) for s in args.sizes.split(",")):
        kind = "real" if args.source else "repeating" if args.repeating else "unique"
        path = args.dir / f"log-{kind}-{size_mb}mb.log"
        if not path.exists() or path.stat().st_size < size_mb * 1_000_000:
            if args.source:
                concatenate(path, size_mb * 1_000_000, args.source)
            elif args.repeating:
                generate(path, size_mb * 1_000_000)
            else:
                generate_unique(path, size_mb * 1_000_000)
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
        if args.in_process:
            print(f"in process: {_in_process(path, args.repeat, actual):.1f} MB/s")
    print(f"\nmachine: {os.cpu_count()} cores, python {sys.version.split()[0]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
