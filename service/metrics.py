"""Prometheus metrics of one app instance (own registry, so several apps can live in one process)."""

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest


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
