"""Load on the GitHub App: signed deliveries at a fixed rate against `cimedic serve`, backed by the simulator.

    .venv/bin/python bench/webhook_load.py [--deliveries 1000] [--prs 100] [--rates auto | 200,400]
                                           [--modes bare,intake,embedded,processes] [--finish processes]
                                           [--reps 3] [--backend sqlite|postgres+redis]

The sender is open-loop: delivery i is due at `t0 + i / rate`, whatever happened to the ones before (GitHub
does not wait for our answer to an earlier delivery before sending the next). Latency is counted from the
moment a delivery was due, so a sender or a server that falls behind shows up in the figures instead of
slowing the offered load (a closed loop of N senders can only measure what N allows: by Little's law
N / throughput is forced into the mean). The sender is its own process, speaking HTTP/1.1 over a pool of
keep-alive connections with requests prepared in advance, so its own cost stays small and out of the
server's process.

`--rates auto` first finds the highest rate the intake keeps up with: a ladder of rates, each step at least
3 s of deliveries against one `serve --no-worker`; the intake keeps up at a rate when it completes at least
97% of the offered rate and the median latency of the last quarter of the step is at most twice that of the
first quarter plus 5 ms (more means a queue that grows; less, the noise of a shared machine). Then, at that
rate and at half of it, each mode gets the same deliveries in turn, `--reps` times interleaved, each run on a
fresh process; the summary gives the medians over the repetitions (one stall of a shared machine can set the
p99 of a single run) and their ratio to the bare endpoint's:
- `bare`: a FastAPI endpoint that only reads the body and answers 202 (the floor);
- `intake`: `cimedic serve --no-worker` (verify, cap, persist, enqueue, 202; nothing else runs);
- `embedded`: `cimedic serve --worker-processes 0` (worker threads analysing in the intake's process);
- `processes`: `cimedic serve --worker-processes 1` (analysis in a child process).

The `--finish` mode's last run then waits until every delivery is processed and reports the time from a
delivery to the PR comment that names its job (p50/p99), GitHub API calls per failed job (installation token
requests not counted), and lost deliveries (accepted but never finished, or a job missing from its PR's
comment). Each PR gets `deliveries / prs` failing matrix jobs with the same failure, plus a green
base-branch run for the baselines.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from statistics import median
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from github_sim import (  # noqa: E402
    GitHubSim,
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
REPO = "octo/load"
CONNECTIONS = 64  # open before the clock starts; more are opened only if all are busy

BARE_APP = """
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
app = FastAPI()
@app.post("/webhooks/github")
async def hook(request: Request):
    await request.body()
    return JSONResponse({"status": "accepted"}, status_code=202)
@app.get("/healthz")
async def healthz():
    return {"status": "ok"}
"""

MODES: dict[str, list[str]] = {
    "intake": ["serve", "--no-worker"],
    "embedded": ["serve", "--worker-processes", "0"],
    "processes": ["serve", "--worker-processes", "1"],
}


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, round(p / 100 * (len(values) - 1)))]


# --- the sender (its own process) -------------------------------------------------------------------


def raw_request(headers: dict[str, str], body: bytes) -> bytes:
    head = "POST /webhooks/github HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    head += f"Content-Length: {len(body)}\r\n\r\n"
    return head.encode() + body


def write_requests(path: Path, requests: list[bytes]) -> None:
    with path.open("wb") as f:
        for r in requests:
            f.write(struct.pack(">I", len(r)) + r)


def read_requests(path: Path) -> list[bytes]:
    data = path.read_bytes()
    out, i = [], 0
    while i < len(data):
        (n,) = struct.unpack(">I", data[i : i + 4])
        out.append(data[i + 4 : i + 4 + n])
        i += 4 + n
    return out


async def _exchange(conn: tuple[asyncio.StreamReader, asyncio.StreamWriter], request: bytes) -> int:
    reader, writer = conn
    writer.write(request)
    status = await reader.readline()
    length = 0
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b""):
            break
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    await reader.readexactly(length)
    return int(status.split()[1])


async def _open_loop(port: int, requests: list[bytes], rate: float) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    idle = [await asyncio.open_connection("127.0.0.1", port) for _ in range(CONNECTIONS)]
    n = len(requests)
    due_lat, service, codes, done_at = [0.0] * n, [0.0] * n, [0] * n, [0.0] * n

    async def one(i: int, due: float) -> None:
        conn = idle.pop() if idle else await asyncio.open_connection("127.0.0.1", port)
        sent = loop.time()
        codes[i] = await _exchange(conn, requests[i])
        done_at[i] = loop.time()
        due_lat[i], service[i] = done_at[i] - due, done_at[i] - sent
        idle.append(conn)

    t0 = loop.time() + 0.05
    tasks = []
    for i in range(n):
        due = t0 + i / rate
        delay = due - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(i, due)))
    await asyncio.gather(*tasks)
    for _reader, writer in idle:
        writer.close()
    return {
        "latency": due_lat,
        "service": service,
        "codes": codes,
        "elapsed": max(done_at) - t0,
        "t0_wall": time.time() + (t0 - loop.time()),
        "connections": len(idle),
    }


def fire(port: int, requests: list[bytes], rate: float, scratch: Path) -> dict[str, Any]:
    """Send `requests` at `rate` per second from a separate process; its measurements."""
    req_file, out_file = scratch / "requests.bin", scratch / "result.json"
    write_requests(req_file, requests)
    cmd = [sys.executable, __file__, "--sender", str(port), str(rate), str(req_file), str(out_file)]
    subprocess.run(cmd, check=True)
    result: dict[str, Any] = json.loads(out_file.read_text())
    return result


def keeps_up(result: dict[str, Any], rate: float) -> bool:
    lat = result["latency"]
    q = max(1, len(lat) // 4)
    achieved = len(lat) / result["elapsed"]
    growing = pct(lat[-q:], 50) > 2 * pct(lat[:q], 50) + 0.005
    ok = all(c in (200, 202) for c in result["codes"])
    return ok and achieved >= 0.97 * rate and not growing


# --- the services -----------------------------------------------------------------------------------


def start(cmd: list[str], env: dict[str, str], url: str, log: Path) -> subprocess.Popen[bytes]:
    """Start a server; its output goes to `log` (a pipe nobody reads would block it once full)."""
    with log.open("ab") as out:
        proc = subprocess.Popen(cmd, env={**os.environ, **env}, stdout=out, stderr=out)

    def up() -> bool:
        try:
            return httpx.get(url + "/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    wait_until(up, timeout=120, every=0.2)
    return proc


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def world(deliveries: int, prs: int) -> tuple[GitHubSim, list[bytes], list[tuple[int, str]], bytes]:
    """A fresh simulator with `prs` PRs of failing matrix jobs, one signed delivery per job, and a warm-up
    delivery: a cancelled job, persisted like the others but needing no analysis and no GitHub call."""
    sim = new_sim()
    sim.add_repo(REPO)
    per_pr = max(1, deliveries // prs)
    green = sim.add_run(REPO, head_sha="0" * 40, head_branch="main", event="push", conclusion="success")
    names = [f"test ({i})" for i in range(per_pr)]
    for n in names:
        sim.add_job(green, n, log=GREEN, conclusion="success")
    requests: list[bytes] = []
    meta: list[tuple[int, str]] = []
    for pr in range(1, prs + 1):
        sha = f"{pr:040x}"
        sim.add_pull(REPO, pr, head_sha=sha, head_ref=f"feature-{pr}")
        run = sim.add_run(REPO, head_sha=sha, head_branch=f"feature-{pr}", pulls=[pr])
        for n in names:
            job = sim.add_job(run, n, log=FAIL)
            requests.append(raw_request(*delivery("workflow_job", job_payload(sim, job))))
            meta.append((pr, n))
    cancelled = sim.add_job(green, "cancelled", log=GREEN, conclusion="cancelled")
    warm = raw_request(*delivery("workflow_job", job_payload(sim, cancelled)))
    return sim, requests[:deliveries], meta[:deliveries], warm


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.scratch = Path(tempfile.mkdtemp(prefix="cimedic-bench-"))
        self.cli = [sys.executable, "-c", "from agent.cli import main; main()"]
        self.pg: Any = None
        self.warmup = b""

    def backend(self) -> dict[str, str]:
        if self.args.backend != "postgres+redis":
            return {}
        from test_kb_support import postgres_database

        if self.pg is not None:
            self.pg.__exit__(None, None, None)
        self.pg = postgres_database()  # a fresh database per service
        return {"database_url": self.pg.__enter__(), "redis_url": "redis://127.0.0.1:6379/0"}

    def launch(self, mode: str, sim: GitHubSim) -> tuple[subprocess.Popen[bytes], int, dict[str, str]]:
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        if mode == "bare":
            app_dir = self.scratch / "bare"
            app_dir.mkdir(exist_ok=True)
            (app_dir / "bare_app.py").write_text(BARE_APP)
            cmd = [sys.executable, "-m", "uvicorn", "--app-dir", str(app_dir), "bare_app:app"]
            cmd += ["--port", str(port), "--log-level", "warning", "--no-access-log"]
            return start(cmd, {}, url, self.scratch / "bare.log"), port, {}
        home = Path(tempfile.mkdtemp(prefix="home-", dir=self.scratch))
        env = service_env(
            sim,
            home,
            **self.backend(),
            CIMEDIC_WORKER_THREADS=str(self.args.threads),
            CIMEDIC_LEASE_SECONDS="60",
            CIMEDIC_GITHUB_TIMEOUT_SECONDS="30",
            CIMEDIC_REDELIVER_EVERY_SECONDS="0",
        )
        cmd = [*self.cli, *MODES[mode], "--no-knowledge", "--port", str(port), "--log-level", "warning"]
        return start(cmd, env, url, home / "serve.log"), port, env

    def warm(self, port: int) -> None:
        """First requests pay for imports, connections and statement compiling in the server: not measured."""
        fire(port, renamed([self.warmup], 50, f"warm-{port}"), 100.0, self.scratch)

    def find_rate(self, sim: GitHubSim, requests: list[bytes]) -> float:
        proc, port, _ = self.launch("intake", sim)
        best = 0.0
        try:
            self.warm(port)
            for rate in (50, 100, 150, 200, 300, 400, 500, 600, 800, 1000, 1200, 1500, 2000):
                # at least 3 s of deliveries: a short burst can hide in buffers and look sustained
                batch = renamed(requests, max(self.args.probe, int(3 * rate)), f"probe-{rate}")
                result = fire(port, batch, rate, self.scratch)
                ok = keeps_up(result, rate)
                lat = result["latency"]
                print(
                    f"  probe {rate:5d}/s: achieved {len(lat) / result['elapsed']:6.0f}/s "
                    f"p50 {pct(lat, 50) * 1000:7.1f} ms p99 {pct(lat, 99) * 1000:8.1f} ms "
                    f"{'keeps up' if ok else 'falls behind'}",
                    flush=True,
                )
                if not ok:
                    break
                best = float(rate)
        finally:
            stop(proc)
        return best

    def finish(
        self, env: dict[str, str], sim: GitHubSim, meta: list[tuple[int, str]], t0: float, rate: float
    ) -> None:
        from webhooks.store import Store

        home = Path(env["CIMEDIC_HOME"])
        store = Store.from_url(env.get("CIMEDIC_DATABASE_URL") or f"sqlite:///{home / 'cimedic.db'}")

        def finished() -> bool:
            c = store.counts()
            return c.get("queued", 0) == 0 and c.get("running", 0) == 0

        wait_until(finished, timeout=3600, every=1.0)
        t_done = time.time()
        counts = store.counts()
        store.engine.dispose()
        # delivery → comment: from the time a delivery was due to the first comment write on its PR, after
        # that, naming its job.
        to_comment: list[float] = []
        lost = 0
        log = sorted(sim.comment_log)
        for i, (pr, name) in enumerate(meta):
            due = t0 + i / rate
            hit = next(
                (t for t, r, n, body in log if r == REPO and n == pr and t >= due and f"[{name}]" in body),
                None,
            )
            if hit is None:
                final = sim.comments_on(REPO, pr)
                if not final or f"[{name}]" not in final[0]["body"]:
                    lost += 1
                continue
            to_comment.append(hit - due)
        prs = sorted({pr for pr, _ in meta})
        comments_per_pr = [len(sim.comments_on(REPO, pr)) for pr in prs]
        calls = sim.api_calls()
        by_route: dict[str, int] = {}
        for m, p, _s in calls:
            segs = ("{n}" if seg.isdigit() or len(seg) == 40 else seg for seg in p.split("/")[3:])
            key = m + " " + "/".join(segs)
            by_route[key] = by_route.get(key, 0) + 1
        print(
            f"delivery→comment: p50={pct(to_comment, 50):.2f} s p99={pct(to_comment, 99):.2f} s "
            f"(all done {t_done - t0:.1f} s after the first delivery was due)"
        )
        writes = sum(1 for m, _p, _s in calls if m in ("POST", "PATCH", "PUT", "DELETE"))
        print(
            f"GitHub API calls per failed job: {len(calls) / len(meta):.2f} "
            f"({len(calls)} calls, {writes} writes)"
        )
        for route, n in sorted(by_route.items(), key=lambda kv: -kv[1]):
            print(f"    {n:6d}  {route}")
        print(
            f"deliveries: {counts}; lost={lost}; comments per PR: max={max(comments_per_pr)} "
            f"min={min(comments_per_pr)}"
        )

    def measure(
        self,
        mode: str,
        sim: GitHubSim,
        requests: list[bytes],
        rate: float,
        meta: list[tuple[int, str]] | None,
    ) -> dict[str, float]:
        """One run of `requests` at `rate` against a fresh `mode` process; with `meta`, run to the end."""
        proc, port, env = self.launch(mode, sim)
        try:
            self.warm(port)
            result = fire(port, requests, rate, self.scratch)
            lat, svc = result["latency"], result["service"]
            ok = keeps_up(result, rate)
            print(
                f"{mode:>9} @ {rate:6.0f}/s: p50 {pct(lat, 50) * 1000:6.1f} ms "
                f"p99 {pct(lat, 99) * 1000:7.1f} ms max {max(lat) * 1000:7.1f} ms "
                f"(service time p50 {pct(svc, 50) * 1000:.1f} p99 {pct(svc, 99) * 1000:.1f}) "
                f"achieved {len(lat) / result['elapsed']:.0f}/s {'keeps up' if ok else 'falls behind'} "
                f"codes={sorted(set(result['codes']))}",
                flush=True,
            )
            if meta is not None:
                self.finish(env, sim, meta, result["t0_wall"], rate)
        finally:
            stop(proc)
        return {"p50": pct(lat, 50) * 1000, "p99": pct(lat, 99) * 1000, "kept_up": float(ok)}

    def run(self) -> None:
        args = self.args
        modes = args.modes.split(",")
        sim, measured, meta, self.warmup = world(args.deliveries, args.prs)
        try:
            if args.rates == "auto":
                top = self.find_rate(sim, measured)
                if top <= 0:
                    raise SystemExit("the intake kept up with no probed rate")
                rates = [top, top / 2]
                print(f"highest rate the intake keeps up with: {top:.0f}/s; measuring at {rates}", flush=True)
            else:
                rates = [float(r) for r in args.rates.split(",")]
            print(
                f"backend={args.backend} deliveries={len(measured)} prs={args.prs} threads={args.threads} "
                f"modes={modes} rates={rates}",
                flush=True,
            )
            runs: dict[tuple[float, str], list[dict[str, float]]] = {}
            for rate in rates:
                for rep in range(args.reps):
                    for mode in modes:
                        last = rate == rates[-1] and rep == args.reps - 1 and mode == args.finish
                        if last:
                            sim.stop()
                            # a clean GitHub to count calls and comments on
                            sim, measured, meta, self.warmup = world(args.deliveries, args.prs)
                        result = self.measure(mode, sim, measured, rate, meta if last else None)
                        runs.setdefault((rate, mode), []).append(result)
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
        finally:
            sim.stop()
            if self.pg is not None:
                self.pg.__exit__(None, None, None)


def renamed(requests: list[bytes], n: int, prefix: str) -> list[bytes]:
    """`n` of `requests` (cycling) under fresh X-GitHub-Delivery ids: new deliveries, not duplicates.

    The signature covers the body only, so the requests stay valid."""
    out = []
    for i in range(n):
        head, sep, body = requests[i % len(requests)].partition(b"\r\n\r\n")
        lines = [
            f"X-GitHub-Delivery: {prefix}-{i}".encode() if line.startswith(b"X-GitHub-Delivery:") else line
            for line in head.split(b"\r\n")
        ]
        out.append(b"\r\n".join(lines) + sep + body)
    return out


def main() -> None:
    if len(sys.argv) == 6 and sys.argv[1] == "--sender":
        port, rate, req_file, out_file = int(sys.argv[2]), float(sys.argv[3]), sys.argv[4], sys.argv[5]
        result = asyncio.run(_open_loop(port, read_requests(Path(req_file)), rate))
        Path(out_file).write_text(json.dumps(result))
        return
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--deliveries", type=int, default=1000)
    ap.add_argument("--prs", type=int, default=100)
    ap.add_argument("--rates", default="auto", help="'auto' (find the intake's highest rate) or e.g. 200,400")
    ap.add_argument("--probe", type=int, default=400, help="least deliveries per step of the rate search")
    ap.add_argument("--modes", default="bare,intake,embedded,processes")
    ap.add_argument("--finish", default="processes", help="mode whose last run is processed to the end")
    ap.add_argument("--backend", choices=["sqlite", "postgres+redis"], default="sqlite")
    ap.add_argument("--threads", type=int, default=4, help="worker threads per process")
    ap.add_argument("--reps", type=int, default=3, help="runs of each mode at each rate, interleaved")
    Bench(ap.parse_args()).run()


if __name__ == "__main__":
    main()
