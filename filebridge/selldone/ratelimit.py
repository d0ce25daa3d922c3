"""Client-side request budget: at most N request starts in any sliding window.

One `RateLimiter` is shared by everything that uses the same token (export and replay),
because Selldone's 80 requests/minute budget is per credentials (selldone-api.md §8).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager

from filebridge.errors import StopRequestedError

__all__ = ["DEFAULT_MARGIN_S", "DEFAULT_WINDOW_S", "MIN_WAIT_S", "RateLimiter"]

log = logging.getLogger("filebridge.selldone.client")

LOGGED_WAIT_S = 1.0  # waits at least this long are logged (the log is the record)

MIN_WAIT_S = 0.001
HALT_POLL_S = 0.05  # a wait that two events can end looks at the second this often
DEFAULT_WINDOW_S = 60.0
DEFAULT_MARGIN_S = 1.0
"""Extra spacing added to the window, so that jitter between a start here and its
arrival there (a request that started later arriving sooner: network latency, and with
several senders the journal commit of `sent` and thread scheduling between the start
and the bytes leaving) cannot squeeze N+1 requests into one of the server's windows.
0.1 s was measured too little with four senders (481 arrivals in one 60 s window
against a budget of 480 in the soak); 1 s costs 1.6 % of the budget."""


class RateLimiter:
    """A sliding-window log limiter: `acquire()` blocks until a request may start.

    Guarantee: in any interval shorter than `window_seconds + margin_seconds` at most
    `per_window` calls of `acquire()` return. It keeps the start times of the last
    `per_window` requests, so it never bursts beyond the budget (unlike a token bucket
    that starts full after a quiet period *and* refills within the same minute).

    `pause_until(t)` stops every user of the limiter until the clock reaches `t`; the
    client calls it on 429 with the server's `Retry-After`.

    Across processes: `preload()` counts starts an earlier process made (a new run must
    not begin with a full budget), and `on_start`, if set, is called after every start
    is recorded and before the request is sent, so the start can be made durable.

    Thread-safe: the lock is held only for bookkeeping, never while sleeping, so a
    `pause_until` from one thread takes effect for threads already waiting.
    `clock` and `sleep` are injectable for tests (a fake clock advanced by a fake sleep).

    Stopping: when `stop` (an Event) is set, `acquire()` raises `StopRequestedError`
    instead of starting a request, also in the middle of a wait (the wait is
    `stop.wait`, so the signal ends it at once).
    """

    def __init__(
        self,
        per_window: int,
        *,
        window_seconds: float = DEFAULT_WINDOW_S,
        margin_seconds: float = DEFAULT_MARGIN_S,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if per_window < 1:
            raise ValueError("per_window must be at least 1")
        if window_seconds <= 0 or margin_seconds < 0:
            raise ValueError("window_seconds must be > 0 and margin_seconds >= 0")
        self.per_window = per_window
        self.window_seconds = window_seconds
        self.margin_seconds = margin_seconds
        self._span = window_seconds + margin_seconds
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._starts: deque[float] = deque()
        self._paused_until = float("-inf")
        self.on_start: Callable[[], None] | None = None
        self.stop: threading.Event | None = None
        self._local = threading.local()  # `halted_by`: a stop of one thread's own

    def __repr__(self) -> str:
        return (
            f"RateLimiter(per_window={self.per_window}, "
            f"window_seconds={self.window_seconds})"
        )

    def acquire(self, *, not_before: float | None = None) -> float:
        """Block until one more request may start, record its start; return seconds waited.

        `not_before` (this limiter's clock) is a wait of the caller's own, e.g. a retry
        backoff: it is waited here so that a stop ends it too. Raises
        `StopRequestedError` when `stop` is set before the start.
        """
        waited = 0.0
        while True:
            self._check_stop()
            delay = self._try_start(not_before)
            if delay <= 0:
                if self.on_start is not None:
                    self.on_start()
                return waited
            if delay >= LOGGED_WAIT_S and waited == 0.0:
                log.info("waiting %.1f s for the API budget or a pause", delay)
            self._wait(delay)
            waited += delay

    @contextmanager
    def halted_by(self, halt: threading.Event) -> Iterator[None]:
        """In this thread, `halt` stops `acquire` as `stop` does.

        Replay's senders share one limiter; when one of them finds the API down or the
        token refused, the others must not start another request, while the process
        goes on (the watcher keeps watching).
        """
        previous = getattr(self._local, "halt", None)
        self._local.halt = halt
        try:
            yield
        finally:
            self._local.halt = previous

    def _stops(self) -> list[threading.Event]:
        halt: threading.Event | None = getattr(self._local, "halt", None)
        return [event for event in (self.stop, halt) if event is not None]

    def _check_stop(self) -> None:
        if any(event.is_set() for event in self._stops()):
            raise StopRequestedError(
                "Stopped before the next API request (Ctrl-C or SIGTERM); nothing "
                "was sent for it.",
                hint="Nothing is lost: the next run resumes the rest.",
            )

    def _wait(self, delay: float) -> None:
        """Sleep `delay`, ended early by `stop` or a halt (then `acquire` raises)."""
        stops = self._stops()
        if not stops:
            self._sleep(delay)
            return
        if len(stops) == 1:
            stops[0].wait(delay)
            return
        end = time.monotonic() + delay
        while not any(event.is_set() for event in stops):
            left = end - time.monotonic()
            if left <= 0:
                return
            stops[0].wait(min(left, HALT_POLL_S))

    def _try_start(self, not_before: float | None = None) -> float:
        """Record a start and return 0, or return how long to wait before trying again."""
        with self._lock:
            now = self._clock()
            until = max(self._paused_until, not_before or float("-inf"))
            if now < until:
                return max(until - now, MIN_WAIT_S)
            horizon = now - self._span
            while self._starts and self._starts[0] <= horizon:
                self._starts.popleft()
            if len(self._starts) < self.per_window:
                self._starts.append(now)
                return 0.0
            # Never ask for less than MIN_WAIT_S: a wait below the clock's float resolution
            # would leave `now` unchanged and spin forever; waiting longer is always safe.
            return max(self._starts[0] - horizon, MIN_WAIT_S)

    def preload(self, starts: Iterable[float]) -> None:
        """Count request starts made before this limiter existed (times on its clock)."""
        with self._lock:
            now = self._clock()
            horizon = now - self._span
            # A start "in the future" is clamped to now: no wait exceeds one window.
            merged = sorted(
                [*self._starts, *(min(t, now) for t in starts if t > horizon)]
            )
            self._starts = deque(merged[-self.per_window :])

    def pause_until(self, until: float) -> None:
        """No request starts before `until` (on this limiter's clock); never shortens."""
        with self._lock:
            self._paused_until = max(self._paused_until, until)

    def pause_for(self, seconds: float) -> None:
        """`pause_until(clock() + seconds)`."""
        self.pause_until(self._clock() + seconds)

    def pause_remaining(self) -> float:
        """Seconds until a pause set by `pause_until` ends (0 when not paused)."""
        with self._lock:
            return max(0.0, self._paused_until - self._clock())
