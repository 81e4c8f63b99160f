"""Prometheus metrics of the service (one set per process, on the default registry)."""

from __future__ import annotations

import contextlib

from prometheus_client import Counter, Gauge, Histogram

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
QUEUE_DEPTH = Gauge("cimedic_queue_depth", "Deliveries accepted and not yet finished", ["status"])
QUEUE_AGE = Gauge("cimedic_queue_oldest_age_seconds", "Age of the oldest queued delivery")
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
GITHUB_REMAINING = Gauge("cimedic_github_ratelimit_remaining", "x-ratelimit-remaining of the last response")
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
