"""Progress of long work: a log line at least every 10 s, and a live line on a terminal.

Under Task Scheduler nobody sees a terminal, so the log file is where a person finds out
that a 20,000-row file is still being worked on. A background ticker writes the latest
state to the log every `LOG_EVERY_S`, also while one API call hangs (a row that waits
for retries produces no new state, but the log still says the run is alive). On a
terminal the same state is drawn as one `\\r` line on stderr; off a terminal the console
stays plain (no control characters in a redirected file).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import TextIO

__all__ = ["LOG_EVERY_S", "Progress"]

log = logging.getLogger(__name__)

LOG_EVERY_S = 10.0
DRAW_EVERY_S = 0.2  # a terminal line redrawn faster than this only flickers


class Progress:
    """Collects the latest state of long work; use as a context manager around it.

    `stream` is the terminal to draw on (None: log only). `update` is cheap enough to
    be called once per row or order.
    """

    def __init__(
        self,
        *,
        stream: TextIO | None = None,
        log_every: float = LOG_EVERY_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._stream = stream
        self._log_every = log_every
        self._clock = clock
        self._text: str | None = None
        self._started = clock()
        self._drawn_at = 0.0
        self._drawn_width = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None

    def update(self, text: str) -> None:
        """The work's state now (`exporting… 1200 orders`)."""
        with self._lock:
            self._text = text
        now = self._clock()
        if self._stream is not None and now - self._drawn_at >= DRAW_EVERY_S:
            self._drawn_at = now
            self._draw(text)

    def idle(self) -> None:
        """The work is done for now: the ticker logs nothing until the next update."""
        with self._lock:
            self._text = None
        self._started = self._clock()

    def exporting(self, orders: int) -> None:
        """The export's callback: orders written so far."""
        self.update(f"exporting… {orders} orders")

    def _draw(self, text: str) -> None:
        if self._stream is None:
            return
        padding = " " * max(0, self._drawn_width - len(text))
        self._stream.write(f"\r{text}{padding}")
        self._stream.flush()
        self._drawn_width = len(text)

    def _tick(self) -> None:
        while not self._stop.wait(self._log_every):
            with self._lock:
                text = self._text
            if text is not None:
                elapsed = self._clock() - self._started
                log.info("progress after %.0f s: %s", elapsed, text)

    def __enter__(self) -> Progress:
        self._started = self._clock()
        self._ticker = threading.Thread(
            target=self._tick, name="filebridge-progress", daemon=True
        )
        self._ticker.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join(timeout=self._log_every)
        if self._stream is not None and self._drawn_width:
            if self._text is not None:
                self._draw(self._text)  # the final count, not a throttled older one
            self._stream.write("\n")
            self._stream.flush()
