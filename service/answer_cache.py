"""Answers to declared-only recommendation requests, kept by their exact body bytes.

The engine is deterministic and the rule set is fixed for the life of the process, so the same body
always gets the same answer; pipelines tend to send the same declared profile again and again. The cache
is bounded by the bytes it holds (keys and answers), least recently used first out.
"""

from collections import OrderedDict


class AnswerCache:
    """A least-recently-used map from request body to response body, at most `max_bytes` in all."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.held_bytes = 0
        self._answers: OrderedDict[bytes, bytes] = OrderedDict()

    def get(self, body: bytes) -> bytes | None:
        answer = self._answers.get(body)
        if answer is not None:
            self._answers.move_to_end(body)
        return answer

    def put(self, body: bytes, answer: bytes) -> None:
        size = len(body) + len(answer)
        if size > self.max_bytes or body in self._answers:
            return
        self._answers[body] = answer
        self.held_bytes += size
        while self.held_bytes > self.max_bytes:
            evicted_body, evicted_answer = self._answers.popitem(last=False)
            self.held_bytes -= len(evicted_body) + len(evicted_answer)

    def __len__(self) -> int:
        return len(self._answers)
