"""Answers to declared-only recommendation requests, kept by their exact body bytes.

The engine is deterministic and the rule set is fixed for the life of the process, so the same body
always gets the same answer; pipelines tend to send the same declared profile again and again. The cache
is bounded by the bytes it holds (keys and answers), least recently used first out.
"""

from collections import OrderedDict
from collections.abc import Sized
from typing import Generic, TypeVar

Answer = TypeVar("Answer", bound=Sized)


class AnswerCache(Generic[Answer]):
    """A least-recently-used map from request body to its answer (whose `len` is the bytes it holds), at
    most `max_bytes` in all. It keeps computed advice only: never a study or its id."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.held_bytes = 0
        self._answers: OrderedDict[bytes, Answer] = OrderedDict()

    def get(self, body: bytes) -> Answer | None:
        answer = self._answers.get(body)
        if answer is not None:
            self._answers.move_to_end(body)
        return answer

    def put(self, body: bytes, answer: Answer) -> None:
        size = len(body) + len(answer)
        if size > self.max_bytes or body in self._answers:
            return
        self._answers[body] = answer
        self.held_bytes += size
        while self.held_bytes > self.max_bytes:
            evicted_body, evicted_answer = self._answers.popitem(last=False)
            self.held_bytes -= len(evicted_body) + len(evicted_answer)

    def clear(self) -> None:
        """Forget every answer (the cross-study evidence they quote has changed)."""
        self._answers.clear()
        self.held_bytes = 0

    def __len__(self) -> int:
        return len(self._answers)
