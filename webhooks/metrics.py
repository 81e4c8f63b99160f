"""Prometheus metrics of the service, on the default registry.

Each process counts its own. When `PROMETHEUS_MULTIPROC_DIR` is set (by `cimedic serve` for the worker
processes it starts, or by an operator for processes sharing a host), every process writes its values there
and `exposition()` adds them up, so the intake's /metrics also shows the work done in worker processes
(prometheus_client's multiprocess mode: prometheus.github.io/client_python/multiprocess/). The variable must
be set before this module is imported. A `cimedic worker` elsewhere serves its own with `--metrics-port`.
"""

from __future__ import annotations

import contextlib
import os

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest, multiprocess
from prometheus_client.exposition import start_http_server

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

# Label values come from this fixed set only: the event header of an unauthenticated request is anyone's
# text, and every new label value is a new series held in memory for the life of the process.
KNOWN_EVENTS = frozenset(
    {
        "workflow_job",
        "workflow_run",
        "installation",
        "installation_repositories",
        "issue_comment",
        "ping",
        "github_app_authorization",
    }
)


def event_label(name: str | None) -> str:
    """The `event` label of a delivery: its `X-GitHub-Event` if we know it, else `other` (or `missing`)."""
    if not name:
        return "missing"
    return name if name in KNOWN_EVENTS else "other"


DELIVERIES = Counter(
    "cimedic_webhook_deliveries_total",
    "Webhook deliveries by event and outcome (accepted, duplicate, redelivered, ignored, rejected...)",
    ["event", "outcome"],
)
ACK_SECONDS = Histogram(
    "cimedic_webhook_ack_seconds",
    "Time from request to answer at the intake",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0),
)
# Gauges: the value last set by any process (multiprocess mode would otherwise report one series per pid).
QUEUE_DEPTH = Gauge(
    "cimedic_queue_depth",
    "Deliveries accepted and not yet finished",
    ["status"],
    multiprocess_mode="mostrecent",
)
QUEUE_AGE = Gauge(
    "cimedic_queue_oldest_age_seconds", "Age of the oldest queued delivery", multiprocess_mode="mostrecent"
)
JOBS = Counter(
    "cimedic_jobs_total", "Deliveries processed by the worker, by kind and outcome", ["kind", "outcome"]
)
ANALYSIS_SECONDS = Histogram(
    "cimedic_analysis_seconds",
    "Engine time per failed job",
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
DELIVERY_TO_OUTPUT = Histogram(
    "cimedic_delivery_to_comment_seconds",
    "Time from accepting a delivery to its comment being current",
    buckets=(0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120),
)
GITHUB_CALLS = Counter("cimedic_github_api_calls_total", "GitHub REST calls", ["route", "status"])
GITHUB_REMAINING = Gauge(
    "cimedic_github_ratelimit_remaining",
    "x-ratelimit-remaining of the last response",
    multiprocess_mode="mostrecent",
)
LLM_TOKENS = Counter("cimedic_llm_tokens_total", "LLM tokens used", ["kind"])
LLM_COST = Counter("cimedic_llm_cost_usd_total", "LLM cost in US dollars")
VERDICTS = Counter("cimedic_verdicts_total", "Verdicts given", ["kind"])
WRITES = Counter(
    "cimedic_github_writes_total", "Outbound writes by action and outcome", ["action", "outcome"]
)


def record_github_call(method: str, route: str, status: int, headers: object) -> None:
    GITHUB_CALLS.labels(route=f"{method} {route}", status=str(status)).inc()
    remaining = getattr(headers, "get", lambda _k: None)("x-ratelimit-remaining")
    if remaining is not None:
        with contextlib.suppress(ValueError):
            GITHUB_REMAINING.set(float(remaining))


def _registry() -> CollectorRegistry | None:
    if not os.environ.get(MULTIPROC_ENV):
        return None
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return registry


def exposition() -> bytes:
    """The text format of every metric: this process's, or all processes' in multiprocess mode."""
    registry = _registry()
    return generate_latest(registry) if registry is not None else generate_latest()


def serve_http(port: int, host: str = "127.0.0.1") -> None:
    """Serve /metrics from a background thread (for `cimedic worker --metrics-port`)."""
    registry = _registry()
    if registry is not None:
        start_http_server(port, addr=host, registry=registry)
    else:
        start_http_server(port, addr=host)
