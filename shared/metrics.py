"""Prometheus metrics shared by all services (each process exposes its own at /metrics)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

HTTP_REQUESTS = Counter(
    "linli_http_requests_total", "HTTP requests served", ["service", "method", "endpoint", "status"]
)
HTTP_LATENCY = Histogram(
    "linli_http_request_seconds", "HTTP request latency", ["service", "method", "endpoint"]
)
OUTBOX_PUBLISHED = Counter("linli_outbox_published_total", "Events published from the outbox", ["service"])
OUTBOX_RELAY_ERRORS = Counter("linli_outbox_relay_errors_total", "Failed relay rounds", ["service"])
EVENTS_CONSUMED = Counter(
    "linli_events_consumed_total", "Events handled by consumers", ["queue", "event_type", "outcome"]
)
TIMERS_FIRED = Counter("linli_timers_fired_total", "Time-driven items fired by the clock", ["service", "kind"])
# Grows while the broker is unreachable: the one number to alert on for stuck delivery.
OUTBOX_UNSENT = Gauge("linli_outbox_unsent", "Committed events not yet confirmed by the broker", ["service"],
                      multiprocess_mode="max")
# Publishes the broker returned: no queue and no alternate exchange took them (an exchange not yet migrated).
EVENTS_UNROUTABLE = Counter("linli_events_unroutable_total", "Publishes no queue took", ["exchange"])
# Events kept in linli.unrouted because no queue was bound for them when they were published.
UNROUTED_EVENTS = Gauge("linli_unrouted_events", "Events waiting in the unrouted queue", ["queue"],
                        multiprocess_mode="max")
