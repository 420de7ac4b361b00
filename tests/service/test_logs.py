"""The background log writer: every line logged while it runs reaches stderr, formatted in its context."""

import json
import logging
import threading

import pytest

from optadvisor.service.logs import configure_logging, log_access, request_id_var


def test_every_line_from_every_thread_is_written_by_stop(capfd: pytest.CaptureFixture[str]) -> None:
    writer = configure_logging("json", "INFO")
    writer.start()
    logger = logging.getLogger("optadvisor.test")

    def log_lines(prefix: str) -> None:
        for number in range(500):
            logger.info("%s line %d", prefix, number)

    threads = [threading.Thread(target=log_lines, args=(name,)) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    writer.stop()
    logger.info("after stop")  # written directly once the writer has stopped
    messages = [json.loads(line)["message"] for line in capfd.readouterr().err.splitlines()]
    for prefix in ("a", "b"):
        mine = [message for message in messages if message.startswith(f"{prefix} line")]
        assert mine == [f"{prefix} line {number}" for number in range(500)]
    assert messages[-1] == "after stop"


def test_lines_carry_the_request_id_of_their_context(capfd: pytest.CaptureFixture[str]) -> None:
    writer = configure_logging("json", "INFO")
    writer.start()
    token = request_id_var.set("req-7")
    try:
        logging.getLogger("optadvisor.test").warning("inside a request")
    finally:
        request_id_var.reset(token)
    logging.getLogger("optadvisor.test").warning("outside")
    writer.stop()
    lines = {line["message"]: line for line in map(json.loads, capfd.readouterr().err.splitlines())}
    assert lines["inside a request"]["request_id"] == "req-7"
    assert lines["outside"]["request_id"] is None


def test_access_lines_hold_their_fields_and_follow_the_level(capfd: pytest.CaptureFixture[str]) -> None:
    writer = configure_logging("json", "INFO")
    writer.start()
    log_access("POST", "/v1/x", 201, route="/v1/x", duration_ms=1.25, request_id="r-1")
    logging.getLogger("optadvisor").setLevel("WARNING")
    try:
        log_access("GET", "/v1/y", 200, route="/v1/y", duration_ms=0.5, request_id="r-2")
    finally:
        logging.getLogger("optadvisor").setLevel("INFO")
        writer.stop()
    lines = [json.loads(line) for line in capfd.readouterr().err.splitlines()]
    assert [line["request_id"] for line in lines] == ["r-1"]
    line = lines[0]
    assert line["logger"] == "optadvisor.access"
    assert line["message"] == "POST /v1/x 201"
    assert (line["status"], line["route"], line["duration_ms"]) == (201, "/v1/x", 1.25)


def test_text_format_marks_lines_outside_requests(capfd: pytest.CaptureFixture[str]) -> None:
    writer = configure_logging("text", "INFO")
    writer.start()
    logging.getLogger("optadvisor.test").info("plain")
    writer.stop()
    (line,) = capfd.readouterr().err.splitlines()
    assert line.endswith("INFO optadvisor.test [-] plain")
