"""Prompt size per analysis on the development datasets: how many tokens one LLM question costs.

Usage:
    .venv/bin/python bench/llm_prompt_tokens.py ../shared/datasets [--max-tokens 6000] [--tokenize URL]

For each log (LogChunks and the failing CiDiff logs) the engine's diagnosis is turned into the prompt the
explainer would send (redacted, trimmed to the budget) and its size is estimated (characters / 3.5). With
`--tokenize http://127.0.0.1:PORT` (a running llama.cpp server; `--tokenize auto` starts one with
tests/llm_server.py) each prompt is also counted by the model's own tokenizer (`POST /tokenize`, https://github.com/ggml-org/llama.cpp/blob/master/tools/server/README.md),
to check the estimate. Prints median, p95 and max, and how often a section had to be trimmed.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import urllib.request
from collections import Counter
from pathlib import Path

from agent.engine import analyze_file
from agent.llm.prompt import build_prompt
from agent.logtext import split_lines
from agent.redact import Redactor


def cases(root: Path) -> list[Path]:
    paths: list[Path] = []
    for line in (root / "logchunks" / "cases.jsonl").read_text().splitlines():
        paths.append(root / "logchunks" / json.loads(line)["log"])
    for line in (root / "cidiff" / "cases.jsonl").read_text().splitlines():
        paths.append(root / "cidiff" / json.loads(line)["fail"])
    return paths


def read_lines(path: Path) -> list[str]:
    return split_lines(path.read_bytes().decode("utf-8", errors="replace"))


def tokenize(url: str, text: str) -> int:
    request = urllib.request.Request(
        f"{url.rstrip('/')}/tokenize",
        data=json.dumps({"content": text}).encode(),
        headers={"content-type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        return len(json.loads(response.read())["tokens"])


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("datasets", type=Path)
    parser.add_argument("--max-tokens", type=int, default=6000)
    parser.add_argument("--limit", type=int, default=0)
    parser.add_argument("--tokenize", metavar="URL", help="llama.cpp server base URL (without /v1), or auto")
    args = parser.parse_args()
    if args.tokenize == "auto":
        sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
        from llm_server import llama_server

        with llama_server() as url:
            args.tokenize = url.removesuffix("/v1")
            return measure(args)
    return measure(args)


def measure(args: argparse.Namespace) -> int:
    paths = cases(args.datasets)
    if args.limit:  # spread over both datasets and all languages
        paths = paths[:: max(1, len(paths) // args.limit)][: args.limit]
    redactor = Redactor()
    estimated: list[float] = []
    counted: list[float] = []
    ratios: list[float] = []
    trimmed: Counter[str] = Counter()
    started = time.monotonic()
    build_time = 0.0
    for path in paths:
        diagnosis = analyze_file(path)
        lines = read_lines(path)
        t0 = time.perf_counter()
        prompt = build_prompt(diagnosis, lines, redactor=redactor, max_tokens=args.max_tokens)
        build_time += time.perf_counter() - t0
        estimated.append(prompt.estimated_tokens)
        trimmed.update(set(prompt.trimmed))
        if args.tokenize:
            real = tokenize(args.tokenize, prompt.system + "\n" + prompt.user)
            counted.append(real)
            ratios.append(real / max(prompt.estimated_tokens, 1))
    n = len(estimated)
    print(f"cases: {n} ({time.monotonic() - started:.0f}s); prompt budget {args.max_tokens} estimated tokens")
    print(
        f"estimated prompt tokens: median {statistics.median(estimated):.0f},"
        f" p95 {pct(estimated, 0.95):.0f}, "
        f"max {max(estimated):.0f}, mean {statistics.mean(estimated):.0f}"
    )
    print(f"prompt build time: mean {1000 * build_time / n:.1f} ms")
    if counted:
        print(
            f"Gemma tokenizer: median {statistics.median(counted):.0f}, p95 {pct(counted, 0.95):.0f}, "
            f"max {max(counted):.0f}; real/estimate median {statistics.median(ratios):.2f}, "
            f"max {max(ratios):.2f}"
        )
    for section, count in sorted(trimmed.items()):
        print(f"trimmed {section}: {count}/{n} ({100 * count / n:.0f}%)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
