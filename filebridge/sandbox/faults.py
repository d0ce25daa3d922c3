"""Faults armed on demand: error statuses, dropped connections, delays, revocation."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from http import HTTPStatus
from typing import Literal

from .replies import Reply

FaultKind = Literal["fail", "drop", "delay"]

# Laravel's own texts where they differ from the HTTP reason phrase.
_LARAVEL_MESSAGES = {429: "Too Many Attempts.", 500: "Server Error"}


@dataclass
class _Armed:
    kind: FaultKind
    remaining: int
    method: str | None
    path_contains: str | None
    status: int = 503
    body: object = None
    retry_after: int | None = None
    seconds: float = 0.0
    after_processing: bool = False

    def matches(self, method: str, target: str) -> bool:
        if self.method is not None and self.method.upper() != method.upper():
            return False
        return self.path_contains is None or self.path_contains in target


def _default_body(status: int) -> dict[str, str]:
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Error"
    return {"message": _LARAVEL_MESSAGES.get(status, phrase)}


class Faults:
    """Armed faults fire on the next matching API requests, then disarm themselves.

    A request matches when `method` (if given) equals its method and `path_contains`
    (if given) occurs in its request target, i.e. the path plus `?query`. Faults fire
    before routing, authentication and rate limiting, like a failing proxy in front of
    the API. One delay and one fail/drop may both fire on the same request (a slow 503).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._armed: list[_Armed] = []
        self._revoked = False

    def fail_next(
        self,
        status: int = 503,
        times: int = 1,
        method: str | None = None,
        path_contains: str | None = None,
        body: object = None,
        retry_after: int | None = None,
        *,
        after_processing: bool = False,
    ) -> None:
        """Answer `status`; a str body is sent as text/html (an HTML error page).

        With `after_processing=True` the request is handled first (a write is applied)
        and the status replaces its answer: a gateway that gave up after the shop did
        the work.
        """
        if isinstance(status, bool) or not 100 <= status <= 599:
            raise ValueError(f"status must be an HTTP status, not {status!r}")
        fault = _Armed(
            "fail", _times(times), method, path_contains, status, body, retry_after
        )
        fault.after_processing = after_processing
        self._arm(fault)

    def drop_next(
        self,
        times: int = 1,
        method: str | None = None,
        path_contains: str | None = None,
        *,
        after_processing: bool = False,
    ) -> None:
        """Close the connection without writing any response.

        By default the request is dropped before the shop sees it. With
        `after_processing=True` it is handled first (a write is applied) and only the
        response is lost: the case that makes blind retries of writes dangerous.
        """
        fault = _Armed("drop", _times(times), method, path_contains)
        fault.after_processing = after_processing
        self._arm(fault)

    def delay_next(
        self,
        seconds: float,
        times: int = 1,
        method: str | None = None,
        path_contains: str | None = None,
    ) -> None:
        """Sleep `seconds` before handling the request; it is then handled normally."""
        if seconds < 0:
            raise ValueError(f"seconds must not be negative, not {seconds!r}")
        self._arm(
            _Armed("delay", _times(times), method, path_contains, seconds=seconds)
        )

    def revoke_token(self) -> None:
        """Every API request answers 401 until `restore_token()` or `clear()`."""
        with self._lock:
            self._revoked = True

    def restore_token(self) -> None:
        with self._lock:
            self._revoked = False

    def clear(self) -> None:
        """Disarm everything, including a revoked token."""
        with self._lock:
            self._armed.clear()
            self._revoked = False

    @property
    def revoked(self) -> bool:
        with self._lock:
            return self._revoked

    def take_delay(self, method: str, target: str) -> float:
        fault = self._take(method, target, ("delay",))
        return 0.0 if fault is None else fault.seconds

    def take_failure(self, method: str, target: str) -> Reply | None:
        fault = self._take(method, target, ("fail", "drop"))
        if fault is None:
            return None
        if fault.kind == "drop":
            return Reply(0, drop=True, process_first=fault.after_processing)
        headers: dict[str, str] = {}
        if fault.retry_after is not None or fault.status == 429:
            headers["Retry-After"] = str(fault.retry_after or 1)
        body = _default_body(fault.status) if fault.body is None else fault.body
        return Reply(fault.status, body, headers, process_first=fault.after_processing)

    def _arm(self, fault: _Armed) -> None:
        with self._lock:
            self._armed.append(fault)

    def _take(
        self, method: str, target: str, kinds: tuple[FaultKind, ...]
    ) -> _Armed | None:
        with self._lock:
            for fault in self._armed:
                if fault.kind in kinds and fault.matches(method, target):
                    fault.remaining -= 1
                    if fault.remaining == 0:
                        self._armed.remove(fault)
                    return fault
        return None


def _times(times: int) -> int:
    if isinstance(times, bool) or times < 1:
        raise ValueError(f"times must be at least 1, not {times!r}")
    return times
