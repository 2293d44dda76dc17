"""Prometheus metrics: requests by route and status, latencies, decisions by effect,
ingest rows accepted and rejected, the outbox backlog (read when scraped).

Each app has its own registry, so two apps in one process (tests) do not collide."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

#: label sets kept resolved at most (routes are templates, so a server has a few hundred)
MAX_CHILDREN = 10_000


class Metrics:
    def __init__(self, backlog: Callable[[], float]) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("socialcredit_http_requests_total", "HTTP requests",
                                ["method", "route", "status"], registry=self.registry)
        self.latency = Histogram("socialcredit_http_request_seconds", "request latency",
                                 ["method", "route"], registry=self.registry,
                                 buckets=(0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1,
                                          0.25, 0.5, 1.0, 2.5, 10.0))
        self.decisions = Counter("socialcredit_decisions_total", "decisions by effect",
                                 ["effect"], registry=self.registry)
        self.ingest = Counter("socialcredit_ingest_rows_total", "submitted rows",
                              ["outcome"], registry=self.registry)
        backlog_gauge = Gauge("socialcredit_outbox_backlog", "notices waiting for delivery",
                              registry=self.registry)
        backlog_gauge.set_function(backlog)
        # `labels(...)` takes a lock and builds a key on every call; a request resolves
        # its label set once and keeps the children (what it returns is the same object)
        self._requests: dict[tuple[str, str, int], tuple[Any, Any]] = {}
        self._decisions: dict[str, Any] = {}

    def request(self, method: str, route: str, status: int) -> tuple[Any, Any]:
        """The request counter's and the latency histogram's children for one request."""
        key = (method, route, status)
        got = self._requests.get(key)
        if got is None:
            got = (self.requests.labels(method, route, str(status)),
                   self.latency.labels(method, route))
            if len(self._requests) >= MAX_CHILDREN:
                self._requests.clear()
            self._requests[key] = got
        return got

    def decision(self, effect: str) -> Any:
        """The decisions counter's child for `effect`."""
        got = self._decisions.get(effect)
        if got is None:
            got = self._decisions[effect] = self.decisions.labels(effect)
        return got
