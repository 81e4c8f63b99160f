"""`cimedic serve`, `cimedic worker`, `cimedic action`, `cimedic audit`, `cimedic github redeliver`,
`cimedic gitlab-ci`.

The composition root of the service: settings are read once here and every part is built from them.
"""

from __future__ import annotations

import json
import logging
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from agent.cli.messages import error
from agent.config import ConfigError, Settings, load_settings

github_app = typer.Typer(help="GitHub App operations.", no_args_is_help=True)

_LOG_FIELDS = ("delivery", "repo", "run", "job", "attempt")


class JsonFormatter(logging.Formatter):
    """One JSON object per line, carrying delivery, repo, run and job ids when a record has them."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in _LOG_FIELDS:
            if hasattr(record, name):
                out[name] = getattr(record, name)
        if record.exc_info:
            out["error"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str)


class _StderrHandler(logging.Handler):
    """Writes to the `sys.stderr` of the moment, not the one at set-up: a caller that swaps it (a test
    runner, an embedding program) and closes the old one must not get logging errors afterwards."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stderr.write(self.format(record) + "\n")
        except Exception:
            self.handleError(record)


def _setup_logging(level: str) -> None:
    handler = _StderrHandler()
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("httpx", "httpx2", "huey", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _settings() -> Settings:
    try:
        return load_settings()
    except ConfigError as exc:
        error(str(exc))
        raise typer.Exit(2) from None


def _build(settings: Settings, knowledge: bool) -> Any:
    from webhooks.service import build_service, knowledge_for_repo

    try:
        kb_for = knowledge_for_repo(settings) if knowledge else None
        explainer = None
        if settings.llm:
            # Only when CIMEDIC_LLM is set; its cited lines are verified against the log (agent/llm).
            from agent.llm import make_explainer

            explainer = make_explainer(settings)
        return build_service(settings, kb_for=kb_for, explainer=explainer)
    except ConfigError as exc:
        error(str(exc))
        raise typer.Exit(2) from None


def serve_command(
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to listen on")] = 8080,
    worker: Annotated[bool, typer.Option(help="also run workers, started and stopped with serve")] = True,
    worker_processes: Annotated[
        int,
        typer.Option(
            help="child `cimedic worker` processes to run; 0 runs the workers as threads of the intake "
            "process instead (the analysis then competes with the intake for the interpreter lock)"
        ),
    ] = 1,
    knowledge: Annotated[bool, typer.Option(help="look up and record failures in the knowledge base")] = True,
    log_level: Annotated[str, typer.Option(help="debug, info, warning")] = "info",
) -> None:
    """Run the webhook intake (and, by default, the workers) for GitHub, GitLab or both, as configured."""
    _setup_logging(log_level)
    settings = _settings()
    spawn = worker_processes if worker else 0
    metrics_dir = _share_metrics() if spawn > 0 else None
    try:
        _serve(
            settings,
            host,
            port,
            embedded=worker and worker_processes == 0,
            spawn=spawn,
            knowledge=knowledge,
            log_level=log_level,
        )
    finally:
        if metrics_dir is not None:
            import shutil

            os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
            shutil.rmtree(metrics_dir, ignore_errors=True)


def _share_metrics() -> str | None:
    """Put this process and its children in prometheus_client's multiprocess mode, so that /metrics here
    shows the work of the worker processes too; the mode is chosen when prometheus_client is first imported
    (by `_build`), and the children inherit the variable. None when it cannot be (already imported) or is not
    ours to set (an operator set it)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR") or "prometheus_client" in sys.modules:
        return None
    import tempfile

    _remove_orphaned_metrics(Path(tempfile.gettempdir()))
    metrics_dir = tempfile.mkdtemp(prefix=f"cimedic-metrics-{os.getpid()}-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    return metrics_dir


def _remove_orphaned_metrics(tmp: Path) -> None:
    """Delete the metrics directories of `serve` processes that are gone: one killed with SIGKILL had no
    chance to remove its own."""
    import shutil

    for path in tmp.glob("cimedic-metrics-*-*"):
        pid = path.name.split("-")[2]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(path, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    return True


def _serve(
    settings: Settings, host: str, port: int, *, embedded: bool, spawn: int, knowledge: bool, log_level: str
) -> None:
    import uvicorn

    # The knowledge base (embedding model) and LLM are the workers' business: an intake without worker
    # threads does not load them.
    service = _build(settings, knowledge and embedded)
    try:
        app = service.app(run_worker=embedded)
    except ConfigError as exc:
        error(str(exc))
        raise typer.Exit(2) from None
    if spawn > 0 or not embedded:
        # Workers in other processes (our children, or `cimedic worker`s run next to `serve --no-worker`):
        # /readyz requires one of them to have beaten recently (webhooks/heartbeat.py).
        from webhooks.app import add_readiness_check
        from webhooks.heartbeat import Heartbeats

        add_readiness_check(app, "workers", Heartbeats(service.store.engine).check)
    supervisor = None
    if spawn > 0:
        cmd = [sys.executable, "-c", "from agent.cli import main; main()", "worker", "--log-level", log_level]
        cmd += ["--parent", str(os.getpid())]
        if not knowledge:
            cmd.append("--no-knowledge")
        supervisor = Supervisor(cmd, spawn).start()
        # uvicorn re-raises the signal that stopped it once it has shut down (uvicorn/server.py,
        # `capture_signals`); under the default SIGTERM disposition that ends the process before `finally`
        # can stop the children. A handler that returns lets `uvicorn.run` return instead.
        signal.signal(signal.SIGTERM, lambda _sig, _frame: None)
    try:
        uvicorn.run(app, host=host, port=port, log_config=None, access_log=False)
    finally:
        if supervisor is not None:
            supervisor.stop()


class Supervisor:
    """Keeps `count` child worker processes running: one that exits while `serve` runs (killed with SIGKILL,
    out of memory, crashed) is started again, after a backoff that doubles while children keep dying soon
    after starting (1 s up to 60 s) and starts over once a child has lived `STABLE_S`."""

    FIRST_BACKOFF_S = 1.0
    MAX_BACKOFF_S = 60.0
    STABLE_S = 60.0

    def __init__(self, cmd: list[str], count: int, *, poll_s: float = 0.5) -> None:
        self.cmd = cmd
        self.count = count
        self.poll_s = poll_s
        self.children: list[subprocess.Popen[bytes]] = []
        self.restarts = 0
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._watch, name="cimedic-supervisor", daemon=True)

    def start(self) -> Supervisor:
        self.children = [subprocess.Popen(self.cmd) for _ in range(self.count)]
        self._thread.start()
        return self

    def _watch(self) -> None:
        log = logging.getLogger("cimedic.serve")
        started = [time.monotonic()] * self.count
        backoff = [self.FIRST_BACKOFF_S] * self.count
        due: list[float | None] = [None] * self.count
        while not self._stop.wait(self.poll_s):
            now = time.monotonic()
            for i in range(self.count):
                with self._lock:
                    if self._stop.is_set():
                        return
                    child = self.children[i]
                    code = child.poll()
                    if code is None:
                        continue
                    if due[i] is None:
                        lived = now - started[i]
                        if lived >= self.STABLE_S:
                            backoff[i] = self.FIRST_BACKOFF_S
                        due[i] = now + backoff[i]
                        log.error(
                            "worker process %s exited with %s after %.0f s; restarting in %.0f s",
                            child.pid,
                            code,
                            lived,
                            backoff[i],
                        )
                        backoff[i] = min(backoff[i] * 2, self.MAX_BACKOFF_S)
                    if now < (due[i] or 0.0):
                        continue
                    self.children[i] = subprocess.Popen(self.cmd)
                    self.restarts += 1
                    started[i], due[i] = time.monotonic(), None
                    log.warning("worker process %s started in place of %s", self.children[i].pid, child.pid)

    def stop(self) -> None:
        with self._lock:
            self._stop.set()
            for child in self.children:
                child.terminate()  # SIGTERM: the worker finishes or hands back its jobs (leases)
        for child in self.children:
            try:
                child.wait(30)
            except subprocess.TimeoutExpired:
                child.kill()
        self._thread.join(5)


def worker_command(
    threads: Annotated[int | None, typer.Option(help="jobs at once (default CIMEDIC_WORKER_THREADS)")] = None,
    knowledge: Annotated[bool, typer.Option(help="look up and record failures in the knowledge base")] = True,
    log_level: Annotated[str, typer.Option(help="debug, info, warning")] = "info",
    metrics_port: Annotated[int | None, typer.Option(help="serve Prometheus metrics on this port")] = None,
    metrics_host: Annotated[str, typer.Option(help="address the metrics port listens on")] = "127.0.0.1",
    parent: Annotated[
        int | None, typer.Option(hidden=True, help="stop when this process (serve) is gone")
    ] = None,
    heartbeat_seconds: Annotated[
        float,
        typer.Option(help="write this worker's heartbeat (read by serve's /readyz) every so many seconds"),
    ] = 5.0,
) -> None:
    """Run workers only (with CIMEDIC_REDIS_URL, on any number of hosts)."""
    _setup_logging(log_level)
    if parent is not None:
        # A child of `serve` shares the host with the intake: when the CPUs are busy, the scheduler gives
        # the intake (acknowledgements within milliseconds) precedence over analysis, which can wait.
        os.nice(10)
    settings = _settings()
    service = _build(settings, knowledge)
    if metrics_port is not None:
        from webhooks.metrics import serve_http

        serve_http(metrics_port, host=metrics_host)
    stop = threading.Event()

    def on_signal(_sig: int, _frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    service.worker.start(threads=threads or settings.worker_threads)
    from webhooks.heartbeat import Beater, Heartbeats

    beater = Beater(Heartbeats(service.store.engine), heartbeat_seconds).start()
    logging.getLogger("cimedic.worker").info("worker started (%s queue)", service.queue.backend)
    while not stop.wait(1.0):
        # A child of `serve` that was killed (no chance to stop us) is re-parented: stop with it.
        if parent is not None and os.getppid() != parent:
            break
    beater.stop()
    # In-flight jobs that do not finish in time are picked up again when their lease expires.
    service.queue.stop(timeout=10)


def _since(value: str) -> float:
    match = re.fullmatch(r"(\d+)([smhd])", value.strip())
    if not match:
        raise typer.BadParameter("use a duration like 30m, 24h or 7d")
    n, unit = int(match.group(1)), match.group(2)
    return time.time() - n * {"s": 1, "m": 60, "h": 3600, "d": 86400}[unit]


def audit_command(
    repo: Annotated[str | None, typer.Option(help="only this owner/name")] = None,
    since: Annotated[str, typer.Option(help="how far back, e.g. 24h, 7d")] = "7d",
    limit: Annotated[int, typer.Option(help="at most this many entries")] = 100,
    as_json: Annotated[bool, typer.Option("--json", help="JSON lines instead of a table")] = False,
) -> None:
    """Show the audit log: every write CI Medic made (or, in dry-run, would have made)."""
    from actions.audit import AuditLog
    from webhooks.store import make_engine

    settings = _settings()
    log = AuditLog(make_engine(settings.effective_database_url))
    entries = log.entries(repo=repo, since=_since(since), limit=limit)
    for e in entries:
        if as_json:
            typer.echo(
                json.dumps(
                    {
                        "id": e.id,
                        "at": e.at,
                        "repo": e.repo,
                        "action": e.action,
                        "target": e.target,
                        "outcome": e.outcome,
                        "remote_id": e.remote_id,
                        "delivery": e.delivery_id,
                        "detail": e.detail,
                    }
                )
            )
        else:
            when = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(e.at))
            typer.echo(
                f"{when}Z  {e.repo:<30} {e.action:<20} {e.target:<20} {e.outcome:<9} {e.remote_id or ''}"
            )
    if not entries and not as_json:
        typer.echo("no audit entries")


@github_app.command("redeliver")
def redeliver_command(
    since: Annotated[str, typer.Option(help="look at deliveries this recent, e.g. 24h")] = "24h",
    dry_run: Annotated[bool, typer.Option(help="list what would be redelivered")] = False,
) -> None:
    """Ask GitHub to redeliver the App's failed webhook deliveries (each GUID once, if none succeeded)."""
    from webhooks.redeliver import redeliver_failed
    from webhooks.service import make_api

    settings = _settings()
    try:
        api = make_api(settings)
    except ConfigError as exc:
        error(str(exc))
        raise typer.Exit(2) from None
    result = redeliver_failed(api, since=_since(since), dry_run=dry_run)
    for guid in result.redelivered:
        typer.echo(f"{'would redeliver' if dry_run else 'redelivered'} {guid}")
    typer.echo(
        f"{len(result.redelivered)} redelivered, {result.skipped} already delivered, {result.errors} errors"
    )
    if result.errors:
        raise typer.Exit(1)


def action_command(
    comment: Annotated[bool, typer.Option(help="upsert the sticky PR comment")] = True,
    summary: Annotated[bool, typer.Option(help="write the job summary")] = True,
) -> None:
    """Inside GitHub Actions: analyze the failed jobs of this run (or of the triggering run)."""
    from webhooks.github_action import run_action

    raise typer.Exit(run_action(comment=comment, summary=summary))


def gitlab_ci_command() -> None:
    """Inside GitLab CI (a job with `when: on_failure`): diagnose the failed jobs, upsert the MR note."""
    from webhooks.gitlab_ci import run_gitlab_ci

    raise typer.Exit(run_gitlab_ci())
