"""Prometheus metrics: requests by route template and outcome, and issuance and
verification counts and latencies. Each app has its own registry (tests build several
apps in one process); with several worker processes set ``PROMETHEUS_MULTIPROC_DIR``
before they start and ``/metrics`` aggregates every worker's numbers."""

from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
# Which routes count as issuance or verification (route templates, as logged).
ISSUANCE_ROUTES = frozenset({("POST", "/v1/licences")})
BATCH_ROUTES = frozenset({("POST", "/v1/licences:batch"), ("POST", "/v1/licences/batch")})
VERIFICATION_ROUTES = frozenset({("POST", "/v1/verify")})


def outcome_of(status: int) -> str:
    if status < 400:
        return "ok"
    if status < 500:
        return "refused"
    return "error"


class ServiceMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter("certseal_http_requests", "HTTP requests answered",
                                ["method", "route", "status"], registry=r)
        self.request_seconds = Histogram(
            "certseal_http_request_duration_seconds", "Time to answer an HTTP request",
            ["method", "route", "outcome"], buckets=LATENCY_BUCKETS, registry=r)
        self.issuance = Counter("certseal_issuance", "Licence issuance requests by outcome "
                                "(issued, replayed, refused, error)", ["outcome"], registry=r)
        self.issuance_seconds = Histogram(
            "certseal_issuance_duration_seconds", "Time to issue one licence over HTTP",
            ["outcome"], buckets=LATENCY_BUCKETS, registry=r)
        self.verification = Counter("certseal_verification", "Verification requests by "
                                    "outcome (ok, refused, error)", ["outcome"], registry=r)
        self.verification_seconds = Histogram(
            "certseal_verification_duration_seconds", "Time to answer a verification request",
            ["outcome"], buckets=LATENCY_BUCKETS, registry=r)
        # The labelled children per (method, route, status): ``labels()`` validates and
        # locks on every call, a third of a cached OCSP answer's cost. Bounded as the
        # series themselves are (route templates, not paths).
        self._request_series: dict[tuple[str, str, int], tuple] = {}

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        key = (method, route, status)
        series = self._request_series.get(key)
        if series is None:
            outcome = outcome_of(status)
            series = self._request_series[key] = (
                self.requests.labels(method, route, str(status)),
                self.request_seconds.labels(method, route, outcome), outcome)
        count, duration, outcome = series
        count.inc()
        duration.observe(seconds)
        if (method, route) in ISSUANCE_ROUTES:
            issued = "issued" if status == 201 else "replayed" if status == 200 else outcome
            self.observe_issuance(issued, seconds)
        elif (method, route) in VERIFICATION_ROUTES:
            self.verification.labels(outcome).inc()
            self.verification_seconds.labels(outcome).observe(seconds)

    def observe_issuance(self, outcome: str, seconds: float) -> None:
        self.issuance.labels(outcome).inc()
        self.issuance_seconds.labels(outcome).observe(seconds)

    def exposition(self) -> tuple[bytes, str]:
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            from prometheus_client import multiprocess

            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
            return generate_latest(registry), CONTENT_TYPE_LATEST
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
