"""The log of API requests the sandbox received, in arrival order."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Call:
    """One API request as received; `status` 0 means the connection was dropped.

    `at` is when it arrived, `answered` when its answer left (after any latency or
    delay): together the span the request was in flight (time.time() seconds).
    """

    method: str
    path: str
    query: dict[str, list[str]]
    status: int
    body: object | None
    at: float
    answered: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "status": self.status,
            "body": self.body,
            "at": self.at,
            "answered": self.answered,
        }


class CallLog:
    """Thread-safe; a call is listed once its answer is decided, ordered by arrival."""

    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._next_seq = 0
        self._cleared_before = 0
        self._done: dict[int, Call] = {}
        self._open: set[int] = set()  # arrived, answer not decided yet

    def begin(self) -> tuple[int, float]:
        """Reserve the arrival slot of a request; returns (sequence, time.time())."""
        with self._lock:
            seq = self._next_seq
            self._next_seq += 1
            self._open.add(seq)
        return seq, time.time()

    def finish(self, seq: int, call: Call | None) -> None:
        """The request's answer is decided (None: it failed inside the sandbox)."""
        with self._lock:
            self._open.discard(seq)
            self._lock.notify_all()
            if call is not None and seq >= self._cleared_before:
                # requests in flight during clear() stay out
                self._done[seq] = call

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no request is being handled (a delay a client gave up on may
        still be running); False if some still were after `timeout` seconds."""
        with self._lock:
            return self._lock.wait_for(lambda: not self._open, timeout)

    def calls(self) -> list[Call]:
        with self._lock:
            return [self._done[seq] for seq in sorted(self._done)]

    def clear(self) -> None:
        with self._lock:
            self._done.clear()
            self._cleared_before = self._next_seq
