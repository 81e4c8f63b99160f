"""Latency and evidence verification with the local model (llama.cpp server + Gemma 3 270M, 127.0.0.1).

Usage:
    .venv/bin/python bench/llm_latency.py ../shared/datasets [--limit 12] [--url http://127.0.0.1:PORT/v1]

Without `--url` the server is started here (tests/llm_server.py). Cases are spread over the datasets
(every k-th LogChunks case and CiDiff failing log). For each: the engine's diagnosis, then one explanation
through the same `openai-compatible:URL#model` path users configure, caching off. Reports end-to-end
latency (median, p95), real prompt/completion tokens, how many answers were valid structured output, how
often at least one evidence line verified, and the share of cited lines that verified.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from llm_prompt_tokens import cases, pct, read_lines

from agent.engine import analyze_file
from agent.llm import LlmExplainer, LlmOptions, build_chain


def run(url: str, paths: list[Path], max_output: int) -> None:
    chain = build_chain(f"openai-compatible:{url}#gemma3-270m")
    options = LlmOptions(
        timeout=600,
        deadline=900,
        retries=0,
        cache=False,
        max_prompt_tokens=3000,
        max_output_tokens=max_output,
    )
    latencies: list[float] = []
    prompt_tokens: list[float] = []
    completion_tokens: list[float] = []
    statuses: dict[str, int] = {}
    cited = verified_lines = with_evidence = 0
    with LlmExplainer(chain, options=options) as ex:
        for path in paths:
            diagnosis = analyze_file(path)
            lines = read_lines(path)
            result = ex.explain(diagnosis, lines)
            outcome = ex.last_outcome
            statuses[outcome.status] = statuses.get(outcome.status, 0) + 1
            latencies.append(outcome.latency)
            if outcome.prompt_tokens:
                prompt_tokens.append(outcome.prompt_tokens)
                completion_tokens.append(outcome.completion_tokens)
            cited += outcome.cited
            verified_lines += outcome.verified_lines
            if result is not None and result.verified:
                with_evidence += 1
            print(
                json.dumps(
                    {
                        "log": str(path.relative_to(path.parents[3])),
                        "status": outcome.status,
                        "latency_s": round(outcome.latency, 1),
                        "prompt_tokens": outcome.prompt_tokens,
                        "completion_tokens": outcome.completion_tokens,
                        "cited": outcome.cited,
                        "verified": outcome.verified_lines,
                        "errors": [a.detail[:120] for a in outcome.attempts if a.detail],
                    }
                ),
                flush=True,
            )
    n = len(paths)
    answered = statuses.get("ok", 0) + statuses.get("unverified", 0)
    print(f"cases: {n}; statuses: {statuses}")
    median, p95 = statistics.median(latencies), pct(latencies, 0.95)
    print(f"latency per explanation: median {median:.1f}s, p95 {p95:.1f}s")
    if prompt_tokens:
        print(
            f"real prompt tokens: median {statistics.median(prompt_tokens):.0f},"
            f" p95 {pct(prompt_tokens, 0.95):.0f};"
            f" completion tokens median {statistics.median(completion_tokens):.0f}"
        )
    print(f"valid structured answers: {answered}/{n}")
    print(
        f"answers with verified evidence: {with_evidence}/{n}; cited lines verified: {verified_lines}/{cited}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("datasets", type=Path)
    parser.add_argument("--limit", type=int, default=12)
    parser.add_argument("--url", help="OpenAI-compatible base URL of a running llama.cpp server")
    parser.add_argument("--max-output", type=int, default=512)
    args = parser.parse_args()
    every = cases(args.datasets)
    step = max(1, len(every) // args.limit)
    paths = every[::step][: args.limit]
    if args.url:
        run(args.url, paths, args.max_output)
        return 0
    from llm_server import llama_server

    t0 = time.monotonic()
    with llama_server() as url:
        print(f"llama-server ready in {time.monotonic() - t0:.1f}s at {url}", flush=True)
        run(url, paths, args.max_output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
