"""Load on the GitLab intake: Job Hook deliveries at a fixed rate against `cimedic serve` with GitLab alone,
backed by the GitLab simulator. The sibling of bench/webhook_load.py (its open-loop sender, its latency from
the moment a delivery was due, its medians over interleaved repetitions):

    .venv/bin/python bench/gitlab_load.py [--deliveries 1000] [--prs 100] [--rates 200]
                                          [--modes bare,intake,processes] [--reps 3] [--finish processes]

- `bare`: a FastAPI endpoint at /webhooks/gitlab that only reads the body and answers 202 (the floor);
- `intake`: `cimedic serve --no-worker` (authenticate, parse, persist, 202);
- `processes`: the default `cimedic serve` (one child worker process analysing as the deliveries arrive).

Every delivery is a distinct failed job (GitLab's own id makes a repeated job a duplicate, answered without
persisting), headers as GitLab sends them with `X-Gitlab-Token`; each trace carries runner timestamps
(FF_TIMESTAMPS) of its own. The `--finish` mode's last run waits until every delivery is processed and reports
GitLab API calls per failed job and lost deliveries (a job missing from its MR's note). `--deliveries 2
--prs 1 --rates 2 --modes processes --reps 1` is the two-job pipeline of the issue's API-call budget.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from statistics import median
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import webhook_load as wl
from gitlab_sim import WEBHOOK_TOKEN, GitLabSim, delivery, job_hook

BARE_APP = wl.BARE_APP.replace("/webhooks/github", "/webhooks/gitlab")
PROJECT = "acme/load"

FAIL = [
    "Running with gitlab-runner 18.7.1 (d2f5a6b1)",
    "section_start:{unix}:step_script\r\x1b[0K\x1b[0K\x1b[36;1m"
    'Executing "step_script" stage of the job script\x1b[0;m',
    "\x1b[32;1m$ python -m pytest -q\x1b[0;m",
    "=================================== FAILURES ===================================",
    ">       assert add(1, 2) == 4",
    "E       assert 3 == 4",
    "tests/test_math.py:5: AssertionError",
    "FAILED tests/test_math.py::test_add - assert 3 == 4",
    "1 failed, 3 passed in 0.{ms}s",
    "section_end:{unix}:step_script\r\x1b[0K",
    "\x1b[31;1mERROR: Job failed: exit code 1\x1b[0;m",
]
GREEN = ["Running with gitlab-runner 18.7.1 (d2f5a6b1)", "$ python -m pytest -q", "4 passed in 0.10s"]


def trace(lines: list[str], i: int) -> str:
    """The lines with runner timestamp headers, unique to job `i`."""
    start = datetime(2026, 12, 5, 10, 0, tzinfo=UTC) + timedelta(seconds=7 * i, microseconds=31 * i)
    unix = int(start.timestamp())
    out = []
    for k, line in enumerate(lines):
        when = (start + timedelta(microseconds=2_113 * k)).strftime("%Y-%m-%dT%H:%M:%S.%f")
        out.append(f"{when}Z 01O {line.format(unix=unix, ms=10 + i % 89)}")
    return "\n".join(out) + "\n"


def raw_request(headers: dict[str, str], body: bytes) -> bytes:
    head = "POST /webhooks/gitlab HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    head += f"Content-Length: {len(body)}\r\n\r\n"
    return head.encode() + body


class World:
    """A fresh simulator: `prs` merge requests, each with a pipeline of failing jobs, a green target branch,
    and cancelled jobs for warm-up deliveries (persisted like the others, needing no analysis)."""

    def __init__(self, deliveries: int, prs: int) -> None:
        self.sim = GitLabSim().start()
        project = self.sim.add_project(PROJECT)
        self.pid = project["id"]
        per_pr = max(1, deliveries // prs)
        self.names = [f"pytest {i}" for i in range(per_pr)]
        self.green = self.sim.add_pipeline(self.pid, ref="main", sha="0" * 40, status="success")
        for n in self.names:
            self.sim.add_job(self.green, n, status="success", trace=trace(GREEN, 0))
        self.requests: list[bytes] = []
        self.meta: list[tuple[int, str]] = []
        for pr in range(1, prs + 1):
            sha = f"{pr:040x}"
            self.sim.add_mr(self.pid, pr, source_branch=f"feature-{pr}", sha=sha)
            pipeline = self.sim.add_pipeline(self.pid, ref=f"refs/merge-requests/{pr}/head", sha=sha)
            for n in self.names:
                job = self.sim.add_job(pipeline, n, status="failed", trace=trace(FAIL, len(self.requests)))
                self.requests.append(raw_request(*delivery("Job Hook", job_hook(self.sim, job))))
                self.meta.append((pr, n))
        self.requests, self.meta = self.requests[:deliveries], self.meta[:deliveries]

    def warm_requests(self, n: int) -> list[bytes]:
        out = []
        for _ in range(n):
            job = self.sim.add_job(self.green, "cancelled", status="canceled", trace="")
            out.append(raw_request(*delivery("Job Hook", job_hook(self.sim, job))))
        return out


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.scratch = Path(tempfile.mkdtemp(prefix="cimedic-glbench-"))
        self.cli = [sys.executable, "-c", "from agent.cli import main; main()"]

    def launch(self, mode: str, world: World) -> tuple[Any, int, dict[str, str]]:
        port = wl.free_port()
        url = f"http://127.0.0.1:{port}"
        if mode == "bare":
            app_dir = self.scratch / "bare"
            app_dir.mkdir(exist_ok=True)
            (app_dir / "bare_app.py").write_text(BARE_APP)
            cmd = [sys.executable, "-m", "uvicorn", "--app-dir", str(app_dir), "bare_app:app"]
            cmd += ["--port", str(port), "--log-level", "warning", "--no-access-log"]
            return wl.start(cmd, {}, url, self.scratch / "bare.log"), port, {}
        home = Path(tempfile.mkdtemp(prefix="home-", dir=self.scratch))
        env = {  # GitLab alone: no CIMEDIC_GITHUB_* (the bench's own environment must not carry any)
            "CIMEDIC_HOME": str(home),
            "CIMEDIC_GITLAB_URL": world.sim.url,
            "CIMEDIC_GITLAB_TOKEN": world.sim.token,
            "CIMEDIC_GITLAB_WEBHOOK_TOKEN": WEBHOOK_TOKEN,
            "CIMEDIC_WORKER_THREADS": str(self.args.threads),
            "CIMEDIC_QUEUE_NAME": f"gl{uuid.uuid4().hex[:8]}",
        }
        mode_args = {"intake": ["serve", "--no-worker"], "processes": ["serve", "--worker-processes", "1"]}[
            mode
        ]
        cmd = [*self.cli, *mode_args, "--no-knowledge", "--port", str(port), "--log-level", "warning"]
        return wl.start(cmd, env, url, home / "serve.log"), port, env

    def finish(self, env: dict[str, str], world: World) -> None:
        from webhooks.store import Store

        store = Store.from_url(f"sqlite:///{Path(env['CIMEDIC_HOME']) / 'cimedic.db'}")

        def settled() -> bool:
            c = store.counts()
            return c.get("queued", 0) == 0 and c.get("running", 0) == 0

        wl.wait_until(settled, timeout=3600, every=1.0)
        time.sleep(2.0)  # a publish request armed by the last job runs after its delay
        wl.wait_until(settled, timeout=600, every=1.0)
        counts = store.counts()
        store.engine.dispose()
        lost = 0
        for pr, name in world.meta:
            notes = world.sim.notes_on(world.pid, pr)
            if not notes or name not in notes[0]["body"]:
                lost += 1
        calls = world.sim.api_calls()
        by_route: dict[str, int] = {}
        for m, p, _s in calls:
            segs = ("{n}" if seg.isdigit() or len(seg) == 40 else seg for seg in p.split("/")[3:])
            key = m + " " + "/".join(segs)
            by_route[key] = by_route.get(key, 0) + 1
        writes = sum(1 for m, _p, _s in calls if m in ("POST", "PUT", "DELETE"))
        print(
            f"GitLab API calls per failed job: {len(calls) / len(world.meta):.2f} "
            f"({len(calls)} calls, {writes} writes, {len(world.meta)} failed jobs)"
        )
        for route, n in sorted(by_route.items(), key=lambda kv: -kv[1]):
            print(f"    {n:6d}  {route}")
        notes_per_mr = [len(world.sim.notes_on(world.pid, pr)) for pr in sorted({pr for pr, _ in world.meta})]
        print(
            f"deliveries: {counts}; lost={lost}; "
            f"notes per MR: max={max(notes_per_mr)} min={min(notes_per_mr)}"
        )

    def measure(self, mode: str, world: World, rate: float, finish: bool) -> dict[str, float]:
        proc, port, env = self.launch(mode, world)
        try:
            # First requests pay for imports, connections and statement compiling: not measured.
            wl.fire(port, world.warm_requests(50), 100.0, self.scratch)
            result = wl.fire(port, world.requests, rate, self.scratch)
            lat, svc = result["latency"], result["service"]
            ok = wl.keeps_up(result, rate)
            print(
                f"{mode:>9} @ {rate:6.0f}/s: p50 {wl.pct(lat, 50) * 1000:6.1f} ms "
                f"p99 {wl.pct(lat, 99) * 1000:7.1f} ms max {max(lat) * 1000:7.1f} ms "
                f"(service time p50 {wl.pct(svc, 50) * 1000:.1f} p99 {wl.pct(svc, 99) * 1000:.1f}) "
                f"achieved {len(lat) / result['elapsed']:.0f}/s {'keeps up' if ok else 'falls behind'} "
                f"codes={sorted(set(result['codes']))}",
                flush=True,
            )
            if finish:
                self.finish(env, world)
        finally:
            wl.stop(proc)
        return {"p50": wl.pct(lat, 50) * 1000, "p99": wl.pct(lat, 99) * 1000, "kept_up": float(ok)}

    def run(self) -> None:
        args = self.args
        modes = args.modes.split(",")
        rates = [float(r) for r in args.rates.split(",")]
        print(f"deliveries={args.deliveries} prs={args.prs} modes={modes} rates={rates}", flush=True)
        runs: dict[tuple[float, str], list[dict[str, float]]] = {}
        for rate in rates:
            for rep in range(args.reps):
                for mode in modes:
                    last = rate == rates[-1] and rep == args.reps - 1 and mode == args.finish
                    # a fresh GitLab per run: its jobs not yet delivered, its calls and notes countable
                    world = World(args.deliveries, args.prs)
                    try:
                        runs.setdefault((rate, mode), []).append(self.measure(mode, world, rate, last))
                    finally:
                        world.sim.stop()
        print("\nmedians over the repetitions (ratio: to the bare endpoint's median at the same rate)")
        for rate in rates:
            bare = runs.get((rate, "bare"))
            for mode in modes:
                rs = runs[(rate, mode)]
                p50, p99 = median([r["p50"] for r in rs]), median([r["p99"] for r in rs])
                ratio = (
                    f" = {p50 / median([r['p50'] for r in bare]):.1f}x / "
                    f"{p99 / median([r['p99'] for r in bare]):.1f}x bare"
                    if bare and mode != "bare"
                    else ""
                )
                print(
                    f"{mode:>9} @ {rate:6.0f}/s: p50 {p50:7.1f} ms p99 {p99:7.1f} ms{ratio}; "
                    f"p99 per run {[round(r['p99'], 1) for r in rs]}; "
                    f"kept up in {sum(int(r['kept_up']) for r in rs)}/{len(rs)}",
                    flush=True,
                )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--deliveries", type=int, default=1000)
    ap.add_argument("--prs", type=int, default=100, help="merge requests (the jobs are spread over them)")
    ap.add_argument("--rates", default="200", help="deliveries per second, e.g. 200,400")
    ap.add_argument("--modes", default="bare,intake,processes")
    ap.add_argument("--finish", default="processes", help="mode whose last run is processed to the end")
    ap.add_argument("--threads", type=int, default=4, help="worker threads per process")
    ap.add_argument("--reps", type=int, default=3, help="runs of each mode at each rate, interleaved")
    Bench(ap.parse_args()).run()


if __name__ == "__main__":
    main()
