"""Prometheus metrics of one app instance (own registry, so several apps can live in one process)."""

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

# Waits for a worker: sub-second is the goal under ordinary load; tens of seconds is the queue timeout.
WAIT_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0)


class Metrics:
    """Request counts and latency by route and status, and the compute pool's load."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self._request_children: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}
        self.requests = Counter(
            "optadvisor_requests",
            "HTTP requests served, by method, route template and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "optadvisor_request_duration_seconds",
            "Time from request start to the end of the response, by method and route template.",
            ["method", "route"],
            registry=self.registry,
        )
        self.compute_running = Gauge(
            "optadvisor_compute_running", "Compute jobs running now.", registry=self.registry
        )
        self.compute_waiting = Gauge(
            "optadvisor_compute_waiting",
            "Compute jobs admitted and waiting for a worker.",
            registry=self.registry,
        )
        self.compute_memory_reserved = Gauge(
            "optadvisor_compute_memory_reserved_bytes",
            "Memory reserved by running compute jobs for what their requests expand to.",
            registry=self.registry,
        )
        self.body_bytes_held = Gauge(
            "optadvisor_body_bytes_held",
            "Bytes of request bodies held in memory now (being received, waiting or being worked on).",
            registry=self.registry,
        )
        self.compute_wait = Histogram(
            "optadvisor_compute_wait_seconds",
            "Time an admitted job waited for a compute worker.",
            buckets=WAIT_BUCKETS,
            registry=self.registry,
        )
        self.compute_rejected = Counter(
            "optadvisor_compute_rejected",
            "Requests refused because the compute queue was full or waited too long.",
            registry=self.registry,
        )

        self.declared_cache_hits = Counter(
            "optadvisor_declared_cache_hits",
            "Declared-only recommendations answered from the cache of earlier identical requests.",
            registry=self.registry,
        )

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        """Count one served request and its duration."""
        key = (method, route, status)
        children = self._request_children.get(key)
        if children is None:
            # prometheus_client's labels() validates and hashes its arguments on every call (a few µs).
            children = (self.requests.labels(method, route, str(status)), self.latency.labels(method, route))
            self._request_children[key] = children
        count, latency = children
        count.inc()
        latency.observe(seconds)

    def render(self) -> bytes:
        """The registry in Prometheus text exposition format."""
        return generate_latest(self.registry)
