"""The header-trickling script's smoke mode: what trickling sockets do within the request-head deadline
(OPTADVISOR_REQUEST_HEAD_TIMEOUT, 10 s, longer than this run; tests/hardening/test_connections.py covers what
happens at the deadline)."""

from pathlib import Path

from benchmarks.hardening.slowloris import measure


def test_trickled_headers_hold_connections_until_limit_concurrency_refuses_others(tmp_path: Path) -> None:
    # Four sockets trickle header lines; the server allows two concurrent connections.
    figures = measure(sockets=4, seconds=3.0, interval=0.5, limit_concurrency=2, log_dir=tmp_path)

    # Within the head deadline every socket is still open.
    assert figures["slow_sockets_still_open_at_end"] == 4
    # They count against limit_concurrency, so the probes are refused while they last ...
    assert set(figures["healthz_outcomes_during"]) == {"503"}
    # ... and the server recovers as soon as they go.
    assert figures["healthy_after_sockets_closed"] is True
