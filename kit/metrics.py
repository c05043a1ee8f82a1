"""Prometheus metrics of the process; every service in it reports with its own `service` label."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)

HTTP_LATENCY = Histogram(
    "deskline_http_request_duration_seconds",
    "HTTP request latency.",
    ["service", "method", "route", "status"],
    registry=REGISTRY,
)
EVENTS_PUBLISHED = Counter(
    "deskline_events_published_total",
    "Events confirmed by the broker (outcome=confirmed) or matching no binding (unroutable).",
    ["service", "outcome"],
    registry=REGISTRY,
)
EVENTS_CONSUMED = Counter(
    "deskline_events_consumed_total",
    "Deliveries handled (outcome=ok, duplicate, failed).",
    ["service", "handler", "outcome"],
    registry=REGISTRY,
)
EVENTS_RETRIED = Counter(
    "deskline_events_retried_total",
    "Deliveries sent to a retry tier.",
    ["service", "handler"],
    registry=REGISTRY,
)
EVENTS_DEAD_LETTERED = Counter(
    "deskline_events_dead_lettered_total",
    "Deliveries moved to the dead-letter queue.",
    ["service", "handler"],
    registry=REGISTRY,
)
CONSUMERS_RESTARTED = Counter(
    "deskline_consumers_restarted_total",
    "Consumers re-established by the watchdog after the broker cancelled them.",
    ["service", "handler"],
    registry=REGISTRY,
)
OUTBOX_PENDING = Gauge(
    "deskline_outbox_pending",
    "Outbox rows not yet confirmed by the broker.",
    ["service"],
    registry=REGISTRY,
)
OUTBOX_LAG = Gauge(
    "deskline_outbox_lag_seconds",
    "Age of the oldest unsent outbox row.",
    ["service"],
    registry=REGISTRY,
)
