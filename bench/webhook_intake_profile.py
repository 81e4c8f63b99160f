"""Where the intake's time goes: each step of accepting one delivery, timed alone, in this process.

    .venv/bin/python bench/webhook_intake_profile.py [--calls 2000]

Steps, in the order the intake runs them for a `workflow_job` delivery (the real @octokit/webhooks-examples
payload, ~8 KB): the HMAC check, JSON parsing, the whole `parse_github_delivery` (HMAC, JSON, githubkit's
model, our event), the event's JSON for storage, `Store.admit` (the delivery row, SQLite, WAL) and
`Queue.enqueue` (huey on SQLite). Printed: median and p90 per call in microseconds. HTTP (uvicorn, FastAPI)
and the hop to the thread pool are not in these figures; `bench/webhook_load.py` measures the whole.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from statistics import median

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from github_sim import SECRET, delivery, job_payload, new_sim  # noqa: E402

from webhooks.github import parse_github_delivery, verify_signature  # noqa: E402
from webhooks.queue import Queue  # noqa: E402
from webhooks.store import Store  # noqa: E402


def timed(fn: Callable[[int], object], calls: int) -> str:
    xs = []
    for i in range(calls):
        t0 = time.perf_counter()
        fn(i)
        xs.append((time.perf_counter() - t0) * 1e6)
    xs.sort()
    return f"median {median(xs):7.1f} us   p90 {xs[int(calls * 0.9)]:7.1f} us"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--calls", type=int, default=2000)
    n = ap.parse_args().calls
    sim = new_sim()
    try:
        sim.add_repo("octo/app")
        sim.add_pull("octo/app", 1, head_sha="a" * 40, head_ref="feature")
        run = sim.add_run("octo/app", head_sha="a" * 40, head_branch="feature", pulls=[1])
        job = sim.add_job(run, "test", log="x\n")
        headers, body = delivery("workflow_job", job_payload(sim, job))
    finally:
        sim.stop()
    scratch = Path(tempfile.mkdtemp(prefix="cimedic-intake-"))
    store = Store.from_url(f"sqlite:///{scratch / 'cimedic.db'}")
    queue = Queue.sqlite(scratch / "queue.db")
    event = parse_github_delivery(headers, body, SECRET)
    payload = event.model_dump_json()
    signature = headers["X-Hub-Signature-256"]
    print(f"body {len(body)} bytes, {n} calls per step")
    print(f"signature        {timed(lambda _i: verify_signature(SECRET, body, signature), n)}")
    print(f"json.loads       {timed(lambda _i: json.loads(body), n)}")
    print(f"parse (all)      {timed(lambda _i: parse_github_delivery(headers, body, SECRET), n)}")
    print(f"event to JSON    {timed(lambda _i: event.model_dump_json(), n)}")
    print(f"Store.admit      {timed(lambda i: store.admit(f'd{i}', 'workflow_job', payload), n)}")
    print(f"Queue.enqueue    {timed(lambda i: queue.enqueue(f'd{i}'), n)}")
    store.engine.dispose()


if __name__ == "__main__":
    main()
