"""Per-token sliding-window rate limit, answered the way Laravel's throttle does."""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Verdict:
    """The limiter's answer for one request; `retry_after` is 0 when allowed."""

    allowed: bool
    limit: int
    remaining: int
    retry_after: int


class RateLimiter:
    """At most `limit` requests per token in any `window_seconds` span.

    Refused requests are not counted, so a client that honours `Retry-After` gets in.
    `limit=None` switches the limit off. The clock is injectable: tests need no sleeps.
    """

    def __init__(
        self,
        limit: int | None,
        window_seconds: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._lock = threading.Lock()
        self._clock = clock
        self._hits: dict[str, deque[float]] = {}
        self.limit: int | None = None
        self.window_seconds = window_seconds
        self.configure(limit, window_seconds)

    def configure(self, limit: int | None, window_seconds: float = 60.0) -> None:
        if limit is not None and (isinstance(limit, bool) or limit < 1):
            raise ValueError(
                f"the rate limit must be None or at least 1, not {limit!r}"
            )
        if window_seconds <= 0:
            raise ValueError(f"the window must be positive, not {window_seconds!r}")
        with self._lock:
            self.limit = limit
            self.window_seconds = window_seconds

    def clear(self) -> None:
        with self._lock:
            self._hits.clear()

    def hit(self, key: str) -> Verdict | None:
        """Count one request for `key`; None when no limit is configured."""
        with self._lock:
            if self.limit is None:
                return None
            now = self._clock()
            hits = self._hits.setdefault(key, deque())
            while hits and hits[0] <= now - self.window_seconds:
                hits.popleft()
            if len(hits) >= self.limit:
                wait = hits[0] + self.window_seconds - now
                return Verdict(False, self.limit, 0, max(1, math.ceil(wait)))
            hits.append(now)
            return Verdict(True, self.limit, self.limit - len(hits), 0)
