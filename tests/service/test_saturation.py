"""A saturated compute pool answers 503 with Retry-After at once, while probes and declared-only
recommendations keep answering; a job past its deadline is cut off with 503; the pool's budgets hold."""

import threading
import time
from collections.abc import Iterator

import anyio
import httpx
import pytest
from live_server import LiveServer, live_server

from optadvisor.client import OptadvisorClient
from optadvisor.client.errors import ServerBusyError
from optadvisor.profiler.limits import charge_work, check_deadline, reserve_memory
from optadvisor.service.compute import ComputePool
from optadvisor.service.metrics import Metrics
from optadvisor.service.problems import ProblemError

MIB = 1024 * 1024
# A replay of 4,096 steps of 18 runs: about ten seconds of one worker (a tiny COO body), cut off by the
# server's 2 s compute deadline.
SLOW_REPLAY = {
    "gradients": {"g": {"format": "coo", "shape": [4096, 64], "step": [0], "index": [0], "values": [0.1]}},
    "runs": [{"method": "adam"}] * 18,
}


@pytest.fixture(scope="module")
def one_slot_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    settings = {
        "compute_workers": "1",
        "compute_queue": "0",
        "compute_timeout": "2",
        "retry_after_seconds": "3",
    }
    with live_server(tmp_path_factory.mktemp("one-slot"), **settings) as running:
        yield running


class HeldSlot:
    """A slow replay holding the only worker, in a thread; `answer` is its response once it ends."""

    def __init__(self, url: str) -> None:
        self.answer: httpx.Response | None = None
        self._thread = threading.Thread(target=self._send, args=(url,))
        self._thread.start()
        deadline = time.monotonic() + 30
        while "optadvisor_compute_running 1.0" not in httpx.get(f"{url}/metrics").text:
            assert time.monotonic() < deadline, "the slow replay never started"
            time.sleep(0.02)

    def _send(self, url: str) -> None:
        self.answer = httpx.post(f"{url}/v1/replays", json=SLOW_REPLAY, timeout=60)

    def join(self) -> httpx.Response:
        self._thread.join()
        assert self.answer is not None
        return self.answer


def test_saturated_server_answers_503_with_retry_after(one_slot_server: LiveServer) -> None:
    url = one_slot_server.url
    held = HeldSlot(url)
    refused = httpx.post(f"{url}/v1/profiles", json={})
    assert refused.status_code == 503
    assert refused.headers["retry-after"] == "3"
    assert refused.headers["content-type"] == "application/problem+json"
    assert httpx.get(f"{url}/healthz").status_code == 200
    # A declared-only recommendation needs no compute place: it is answered on the event loop.
    declared = httpx.post(f"{url}/v1/recommendations", json={"profile": {"tuning_budget": 1}})
    assert declared.status_code == 200
    assert len(declared.json()["tuning_plan"]) == 1
    assert "optadvisor_compute_rejected_total 1.0" in httpx.get(f"{url}/metrics").text
    # The slow job itself is cut off by the compute deadline with a 503 problem.
    answer = held.join()
    assert answer.status_code == 503
    assert "2 s of compute time" in answer.json()["detail"]
    # The worker is free again: the next profile request is admitted (and refused only for its content).
    assert httpx.post(f"{url}/v1/profiles", json={}).status_code == 422


def test_the_client_waits_out_a_saturated_server(one_slot_server: LiveServer) -> None:
    gradients = {"g": {"format": "dense", "values": [[0.1, -0.2], [0.3, 0.05], [-0.1, 0.2]]}}
    held = HeldSlot(one_slot_server.url)
    with (
        OptadvisorClient(one_slot_server.url, retries=0) as impatient,
        pytest.raises(ServerBusyError) as busy,
    ):
        impatient.profile(gradients)
    assert busy.value.retry_after == 3.0
    # The held job is cut off after 2 s; the client's retry comes after the 3 s the server asked for.
    started = time.monotonic()
    with OptadvisorClient(one_slot_server.url, retries=1) as patient:
        assert patient.profile(gradients)["overall"]["steps"] == 3
    assert time.monotonic() - started >= 3.0
    held.join()


def _pool(
    *,
    workers: int = 1,
    queue_timeout: float = 0.5,
    memory_bytes: int = 100 * MIB,
    compute_timeout: float = 60.0,
) -> ComputePool:
    return ComputePool(
        workers=workers,
        queue=1,
        queue_timeout=queue_timeout,
        memory_bytes=memory_bytes,
        max_work=1000,
        compute_timeout=compute_timeout,
        retry_after_seconds=7,
        metrics=Metrics(),
    )


def test_pool_queues_in_order_then_refuses_beyond_the_queue() -> None:
    async def scenario() -> None:
        pool = _pool(queue_timeout=5)
        release = threading.Event()
        finished: list[str] = []

        def job(name: str) -> str:
            if name == "first":
                release.wait(5)
            finished.append(name)
            return name

        async with anyio.create_task_group() as tasks:
            tasks.start_soon(pool.run, job, "first")
            await anyio.sleep(0.05)
            tasks.start_soon(pool.run, job, "second")  # waits: the queue has one place
            await anyio.sleep(0.05)
            with pytest.raises(ProblemError) as refused:
                await pool.run(job, "third")
            assert refused.value.status == 503
            assert refused.value.headers == {"Retry-After": "7"}
            release.set()
        assert finished == ["first", "second"]

    anyio.run(scenario)


def test_a_job_that_waits_too_long_for_a_worker_gets_503() -> None:
    async def scenario() -> None:
        pool = _pool(queue_timeout=0.2)
        release = threading.Event()
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(pool.run, release.wait, 5)
            await anyio.sleep(0.05)
            with pytest.raises(ProblemError, match=r"within 0\.2 s") as refused:
                await pool.run(sum, [1, 2])
            assert refused.value.status == 503
            release.set()

    anyio.run(scenario)


def test_job_budget_refuses_what_can_never_fit_and_what_runs_too_long() -> None:
    async def scenario() -> None:
        pool = _pool(compute_timeout=0.05)
        with pytest.raises(ProblemError, match="COMPUTE_MEMORY_BYTES") as memory:
            await pool.run(reserve_memory, 101 * MIB, "a test")
        assert memory.value.status == 413
        with pytest.raises(ProblemError, match="MAX_COMPUTE_WORK") as work:
            await pool.run(charge_work, 1001, "a test")
        assert work.value.status == 413

        def slow() -> None:
            time.sleep(0.1)
            check_deadline()

        with pytest.raises(ProblemError, match="compute time") as late:
            await pool.run(slow)
        assert late.value.status == 503
        assert pool.memory.reserved == 0

    anyio.run(scenario)


def test_memory_waits_for_a_running_job_and_never_deadlocks() -> None:
    async def scenario() -> None:
        pool = _pool(workers=2, memory_bytes=10 * MIB, queue_timeout=5)
        holding = threading.Event()
        release = threading.Event()
        order: list[str] = []

        def big() -> None:
            reserve_memory(8 * MIB, "big")
            holding.set()
            release.wait(5)
            order.append("big done")

        def small() -> None:
            holding.wait(5)
            threading.Timer(0.1, release.set).start()
            reserve_memory(4 * MIB, "small")  # waits until big ends and gives its 8 MiB back
            order.append("small reserved")

        async with anyio.create_task_group() as tasks:
            tasks.start_soon(pool.run, big)
            tasks.start_soon(pool.run, small)
        assert order == ["big done", "small reserved"]
        assert pool.memory.reserved == 0

        # When every other running job is itself waiting, nobody would give memory back: the job that would
        # complete the circle is refused at once (503), and the waiting one then proceeds.
        first_holds, second_holds = threading.Event(), threading.Event()

        def first() -> str:
            reserve_memory(6 * MIB, "first part")
            first_holds.set()
            second_holds.wait(5)
            reserve_memory(3 * MIB, "second part")  # waits for the other job
            return "first done"

        def second() -> None:
            first_holds.wait(5)
            reserve_memory(3 * MIB, "first part")
            second_holds.set()
            time.sleep(0.2)  # the first job is waiting by now
            reserve_memory(3 * MIB, "second part")

        outcomes: list[object] = []

        async def run_second() -> None:
            started = time.monotonic()
            with pytest.raises(ProblemError) as busy:
                await pool.run(second)
            outcomes.append((busy.value.status, time.monotonic() - started < 2))

        async def run_first() -> None:
            outcomes.append(await pool.run(first))

        async with anyio.create_task_group() as tasks:
            tasks.start_soon(run_first)
            tasks.start_soon(run_second)
        assert sorted(map(str, outcomes)) == ["(503, True)", "first done"]
        assert pool.memory.reserved == 0

    anyio.run(scenario)
