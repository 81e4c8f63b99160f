"""Load on the GitHub App: N signed deliveries against `cimedic serve`, backed by the GitHub simulator.

    .venv/bin/python bench/webhook_load.py [--deliveries 1000] [--prs 100] [--concurrency 16]
                                           [--backend sqlite|postgres+redis] [--workers 0]

Measures, in one run:
- ack latency p50/p99 of POST /webhooks/github (verify, persist, enqueue, 202) and, for comparison, of a bare
  FastAPI endpoint that only answers 202, under the same load generator;
- time from a delivery to the PR comment that includes its job, p50/p99;
- GitHub API calls per failed job (installation token requests not counted);
- lost deliveries (accepted but never finished, or a job missing from its PR's comment).

The service runs as its own process (`cimedic serve --no-knowledge`, plus `--workers` extra `cimedic worker`
processes); the simulator and the load generator run in this process. Each PR gets `deliveries / prs` failing
matrix jobs, with the same failure, plus a green base-branch run for the baseline.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from github_sim import (  # noqa: E402
    delivery,
    free_port,
    job_payload,
    new_sim,
    service_env,
    wait_until,
)

FAIL = """\
2024-05-01T10:00:00.0000000Z ##[group]Run python -m pytest
2024-05-01T10:00:01.0000000Z ============================= FAILURES =============================
2024-05-01T10:00:01.0000000Z >       assert add(1, 2) == 4
2024-05-01T10:00:01.0000000Z E       assert 3 == 4
2024-05-01T10:00:01.0000000Z tests/test_math.py:5: AssertionError
2024-05-01T10:00:01.0000000Z FAILED tests/test_math.py::test_add - assert 3 == 4
2024-05-01T10:00:01.0000000Z ========================= 1 failed, 3 passed in 0.12s =========================
2024-05-01T10:00:02.0000000Z ##[error]Process completed with exit code 1.
"""
GREEN = "2024-05-01T09:00:00.0000000Z 4 passed in 0.10s\n"


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, round(p / 100 * (len(values) - 1)))]


BARE_APP = """
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
app = FastAPI()
@app.post("/webhooks/github")
async def hook(request: Request):
    await request.body()
    return JSONResponse({"status": "accepted"}, status_code=202)
"""


def start(cmd: list[str], env: dict[str, str], url: str) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(cmd, env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def up() -> bool:
        try:
            return httpx.get(url + "/healthz", timeout=1).status_code in (200, 404)
        except httpx.HTTPError:
            return False

    wait_until(up, timeout=60, every=0.2)
    return proc


def fire(
    url: str,
    requests: list[tuple[dict[str, str], bytes]],
    concurrency: int,
    on_sent: Callable[[int, float], None] | None = None,
) -> tuple[list[float], list[int], float]:
    latencies: list[float] = [0.0] * len(requests)
    codes: list[int] = [0] * len(requests)
    local = threading.local()

    def one(i: int) -> None:
        client = getattr(local, "client", None)
        if client is None:
            client = local.client = httpx.Client(base_url=url, timeout=30)
        headers, body = requests[i]
        t0 = time.perf_counter()
        r = client.post("/webhooks/github", headers=headers, content=body)
        latencies[i] = time.perf_counter() - t0
        codes[i] = r.status_code
        if on_sent is not None:
            on_sent(i, time.time())

    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(one, range(len(requests))))
    return latencies, codes, time.perf_counter() - started


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--deliveries", type=int, default=1000)
    ap.add_argument("--prs", type=int, default=100)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--backend", choices=["sqlite", "postgres+redis"], default="sqlite")
    ap.add_argument("--workers", type=int, default=0, help="extra `cimedic worker` processes")
    ap.add_argument("--threads", type=int, default=4, help="worker threads per process")
    ap.add_argument(
        "--workers-after",
        action="store_true",
        help="start the worker processes only after every delivery was acknowledged (the intake alone, "
        "measured like the bare endpoint)",
    )
    ap.add_argument(
        "--no-embedded",
        action="store_true",
        help="`serve --no-worker`: the intake process runs no jobs (use with --workers >= 1)",
    )
    args = ap.parse_args()

    sim = new_sim()
    repo = "octo/load"
    sim.add_repo(repo)
    per_pr = max(1, args.deliveries // args.prs)
    green = sim.add_run(repo, head_sha="0" * 40, head_branch="main", event="push", conclusion="success")
    names = [f"test ({i})" for i in range(per_pr)]
    for n in names:
        sim.add_job(green, n, log=GREEN, conclusion="success")
    requests: list[tuple[dict[str, str], bytes]] = []
    meta: list[tuple[int, str]] = []
    for pr in range(1, args.prs + 1):
        sha = f"{pr:040x}"
        sim.add_pull(repo, pr, head_sha=sha, head_ref=f"feature-{pr}")
        run = sim.add_run(repo, head_sha=sha, head_branch=f"feature-{pr}", pulls=[pr])
        for n in names:
            job = sim.add_job(run, n, log=FAIL)
            requests.append(delivery("workflow_job", job_payload(sim, job)))
            meta.append((pr, n))
    requests = requests[: args.deliveries]
    meta = meta[: args.deliveries]

    tmp = Path(tempfile.mkdtemp(prefix="cimedic-bench-"))
    backend: dict[str, str] = {}
    pg_cm: Any = None
    if args.backend == "postgres+redis":
        from test_kb_support import postgres_database

        pg_cm = postgres_database()
        backend = {"database_url": pg_cm.__enter__(), "redis_url": "redis://127.0.0.1:6379/0"}
    env = service_env(
        sim,
        tmp,
        **backend,
        CIMEDIC_WORKER_THREADS=str(args.threads),
        CIMEDIC_LEASE_SECONDS="60",
        CIMEDIC_GITHUB_TIMEOUT_SECONDS="30",
        CIMEDIC_REDELIVER_EVERY_SECONDS="0",
    )
    cli = [sys.executable, "-c", "from agent.cli import main; main()"]
    procs: list[subprocess.Popen[bytes]] = []
    try:
        # 1. the bare endpoint, same load generator
        bare_port = free_port()
        bare_file = tmp / "bare_app.py"
        bare_file.write_text(BARE_APP)
        bare_url = f"http://127.0.0.1:{bare_port}"
        bare = start(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "--app-dir",
                str(tmp),
                "bare_app:app",
                "--port",
                str(bare_port),
                "--log-level",
                "warning",
                "--no-access-log",
            ],
            {},
            bare_url,
        )
        procs.append(bare)
        bare_lat, bare_codes, bare_wall = fire(bare_url, requests, args.concurrency)
        bare.send_signal(signal.SIGTERM)
        bare.wait(10)

        # 2. the service
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        serve = [*cli, "serve", "--no-knowledge", "--port", str(port), "--log-level", "warning"]
        if args.no_embedded:
            serve.append("--no-worker")
        procs.append(start(serve, env, url))

        def start_workers() -> None:
            for _ in range(args.workers):
                procs.append(
                    subprocess.Popen(
                        [*cli, "worker", "--no-knowledge", "--log-level", "warning"],
                        env={**os.environ, **env},
                        stdout=subprocess.DEVNULL,
                    )
                )

        if not args.workers_after:
            start_workers()
        sent_at: dict[int, float] = {}

        def on_sent(i: int, t: float) -> None:
            sent_at[i] = t

        t_start = time.time()
        lat, codes, wall = fire(url, requests, args.concurrency, on_sent)
        accepted = sum(1 for c in codes if c == 202)
        print(
            f"backend={args.backend} deliveries={len(requests)} prs={args.prs} jobs/pr={per_pr} "
            f"concurrency={args.concurrency} extra_workers={args.workers} threads={args.threads} "
            f"embedded_worker={not args.no_embedded} workers_after={args.workers_after}",
            flush=True,
        )
        print(
            f"bare FastAPI 202: p50={pct(bare_lat, 50) * 1000:.1f} ms p99={pct(bare_lat, 99) * 1000:.1f} ms "
            f"rate={len(requests) / bare_wall:.0f}/s codes_ok={bare_codes.count(202)}",
            flush=True,
        )
        print(
            f"cimedic intake:   p50={pct(lat, 50) * 1000:.1f} ms p99={pct(lat, 99) * 1000:.1f} ms "
            f"rate={len(requests) / wall:.0f}/s accepted={accepted}",
            flush=True,
        )
        if args.workers_after:
            start_workers()

        from webhooks.store import Store

        store = Store.from_url(backend.get("database_url") or f"sqlite:///{tmp / 'cimedic.db'}")

        def finished() -> bool:
            c = store.counts()
            return c.get("queued", 0) == 0 and c.get("running", 0) == 0

        wait_until(finished, timeout=1800, every=1.0)
        t_done = time.time()
        counts = store.counts()

        # delivery → comment: first comment write on its PR, after it was sent, that names its job
        to_comment: list[float] = []
        lost = 0
        log = sorted(sim.comment_log)
        for i, (pr, name) in enumerate(meta):
            t0 = sent_at.get(i, t_start)
            hit = next(
                (t for t, r, n, body in log if r == repo and n == pr and t >= t0 and f"[{name}]" in body),
                None,
            )
            if hit is None:
                final = [c for c in sim.comments_on(repo, pr)]
                if not final or f"[{name}]" not in final[0]["body"]:
                    lost += 1
                continue
            to_comment.append(hit - t0)
        comments_per_pr = [len(sim.comments_on(repo, pr)) for pr in range(1, args.prs + 1)]
        calls = sim.api_calls()
        by_route: dict[str, int] = {}
        for m, p, _s in calls:
            key = (
                m
                + " "
                + "/".join("{n}" if seg.isdigit() or len(seg) == 40 else seg for seg in p.split("/")[3:])
            )
            by_route[key] = by_route.get(key, 0) + 1

        print(
            f"delivery→comment: p50={pct(to_comment, 50):.2f} s p99={pct(to_comment, 99):.2f} s "
            f"(all done {t_done - t_start:.1f} s after the first delivery)"
        )
        writes = sum(1 for m, _p, _s in calls if m in ("POST", "PATCH", "PUT", "DELETE"))
        print(
            f"GitHub API calls per failed job: {len(calls) / len(requests):.2f} "
            f"({len(calls)} calls, {writes} writes)"
        )
        for route, n in sorted(by_route.items(), key=lambda kv: -kv[1]):
            print(f"    {n:6d}  {route}")
        print(
            f"deliveries: {counts}; lost={lost}; comments per PR: max={max(comments_per_pr)} "
            f"min={min(comments_per_pr)}"
        )
        store.engine.dispose()
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                p.kill()
        sim.stop()
        if pg_cm is not None:
            pg_cm.__exit__(None, None, None)


if __name__ == "__main__":
    main()
