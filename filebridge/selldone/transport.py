"""Sending one request to Selldone: auth header, shared rate limiter, retries.

Part of the client adapter (`selldone`): the endpoints call `ApiTransport.send`, which
hands every answer to `selldone.responses.classify_response`.

Retry policy (one place: `send`, through `stamina`):

* Every attempt first takes a slot from the shared `RateLimiter`.
* Reads (GET) are retried on timeouts, connection errors (including a connection the
  server dropped without answering), 5xx and 429.
* Writes (POST/PUT) are retried only when the server provably did not process them:
  the connection could not be opened (refused, connect timeout), or the answer was 429
  or 503 (rejected before processing). After a read timeout, a dropped connection or
  another 5xx, a write *may* have been applied, so it is not repeated blindly: the
  client raises `ApiUnavailableError` and the replay layer re-reads the order's state
  before deciding anything. A rejected write (4xx, app-level error) is never retried.
* 429 (and 503 with `Retry-After`) pauses the shared limiter until `Retry-After`
  passes, so export and replay both hold back. That wait is real even in stamina's
  test mode, which only zeroes the backoff.
* Every wait (budget, Retry-After, the backoff between attempts) happens inside
  `RateLimiter.acquire`, on the monotonic clock, and ends at once when the limiter's
  `stop` is set (`StopRequestedError`): stamina decides *whether* to retry, the
  backoff itself is waited here (stamina's own sleep would not hear a stop).
* `hook` (a `SendHook`), if given, is told `sending()` after all waits, immediately
  before the bytes of each attempt go out, `unsent()` when an attempt provably was not
  processed (refused connection, 429), and `maybe_processed()` on a 503, which is
  retried but may come from a gateway after the shop applied the write: replay
  journals the step `sent`, `planned` again, or answered-but-unsure there, so a kill
  during a wait leaves a step that never left the machine `planned`, not in doubt.
* Every retry is logged (which call, why, how long it waits) through this module's
  logger, at INFO: into the log file, not onto the console. stamina's own hook (a
  `stamina.retry_scheduled` warning on the console without the call) is replaced by
  `note_retry`, which keeps the cause for the "retrying" line of the next attempt.
"""

from __future__ import annotations

import email.utils
import json
import logging
import random
import time
from collections.abc import Callable, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from functools import partial
from typing import Any
from urllib.parse import urlencode

import requests
import stamina
import stamina.instrumentation
from pydantic import SecretStr

from filebridge import __version__
from filebridge.errors import ApiUnavailableError, RequestFate
from filebridge.selldone.ratelimit import RateLimiter
from filebridge.selldone.responses import (
    classify_response,
    is_provably_unsent,
    retry_after_seconds,
    unavailable_error,
)

__all__ = ["USER_AGENT", "ApiTransport", "CallRecord", "SendHook"]

# The client's logger: its log lines name the client, whichever of its modules writes.
log = logging.getLogger("filebridge.selldone.client")

DEFAULT_RETRY_AFTER_S = 5.0  # a 429 without a usable Retry-After header
BACKOFF_INITIAL_S = 0.1  # stamina's defaults: 0.1 s doubling up to 5 s, + up to 1 s
BACKOFF_MAX_S = 5.0
BACKOFF_JITTER_S = 1.0
CLOCK_SKEW_WARN_S = (
    60.0  # a skew beyond this between this machine and the shop is logged
)
TRANSIENT_STATUSES = frozenset({429, 500, 502, 503, 504})

USER_AGENT = f"filebridge/{__version__}"

# Why the request in flight is being retried (set by `note_retry`, read by `_attempt`).
_RETRY_CAUSE: ContextVar[str] = ContextVar("filebridge_retry_cause", default="")


def note_retry(details: stamina.instrumentation.RetryDetails) -> None:
    """stamina's retry hook: keep the cause; `_attempt` logs it with the call and wait."""
    cause = details.caused_by
    _RETRY_CAUSE.set(
        f"{type(cause).__name__}: {cause}"
        if isinstance(cause, ApiUnavailableError)
        else type(cause).__name__
    )


stamina.instrumentation.set_on_retry_hooks([note_retry])


@dataclass(frozen=True)
class CallRecord:
    """One HTTP attempt, for the journal's call counter (`on_call` hook).

    `status` is None when no HTTP answer came (refused, timeout, dropped connection);
    `error` then names the failure class. `path` never has the query string.
    """

    method: str
    path: str
    status: int | None
    at: datetime
    error: str | None = None


@dataclass(frozen=True)
class SendHook:
    """Told when a write's bytes are about to leave, and when an attempt of it provably
    was not processed (module docstring): replay's journal of `sent`."""

    sending: Callable[[], None]
    unsent: Callable[[], None]
    maybe_processed: Callable[[str], None]


@dataclass
class _ShopClock:
    """The shop's clock as its answers show it, shared by a transport and its forks
    (so the skew warning is logged once, whichever thread saw it first)."""

    date: tuple[datetime, float] | None = None  # (Date header, monotonic then)
    skew: float | None = None  # shop minus this machine, seconds


class _BearerAuth(requests.auth.AuthBase):
    """Adds the bearer token; an AuthBase also stops requests from consulting ~/.netrc."""

    def __init__(self, token: SecretStr) -> None:
        self._token = token

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self._token.get_secret_value()}"
        return request

    def __repr__(self) -> str:
        return "_BearerAuth(token='**********')"


class ApiTransport:
    """A `requests.Session` to one shop's API, rate-limited and retried (module docstring).

    `on_call` receives a `CallRecord` for every HTTP attempt, retries included. Not
    thread-safe (a `requests.Session` is not): one per client, one client per thread.
    The token is kept as a SecretStr and only ever written into the Authorization header.
    """

    def __init__(
        self,
        base_url: str,
        shop_id: int,
        token: SecretStr,
        *,
        timeout: float,
        limiter: RateLimiter,
        max_attempts: int,
        retry_timeout: float,
        on_call: Callable[[CallRecord], None] | None = None,
    ) -> None:
        self.base_url = base_url
        self.shop_id = shop_id
        self.timeout = timeout
        self.limiter = limiter
        self.max_attempts = max_attempts
        self.retry_timeout = retry_timeout
        self._on_call = on_call
        self._session = requests.Session()
        self._session.auth = _BearerAuth(token)
        self._session.headers.update(
            {"Accept": "application/json", "User-Agent": USER_AGENT}
        )
        self._token = token
        self._clock = _ShopClock()  # shared with forks: one view of the shop's clock

    def fork(self) -> ApiTransport:
        """A transport of its own (a session for another thread) on the same budget."""
        twin = ApiTransport(
            self.base_url,
            self.shop_id,
            self._token,
            timeout=self.timeout,
            limiter=self.limiter,
            max_attempts=self.max_attempts,
            retry_timeout=self.retry_timeout,
            on_call=self._on_call,
        )
        twin._clock = self._clock
        return twin

    @property
    def clock_skew(self) -> float | None:
        """Seconds the shop's clock is ahead of this machine's (None: not known yet)."""
        return self._clock.skew

    def __repr__(self) -> str:
        return f"ApiTransport(base_url={self.base_url!r}, shop_id={self.shop_id})"

    def close(self) -> None:
        """Close the pooled connections."""
        self._session.close()

    def send(
        self,
        method: str,
        path: str,
        *,
        params: Sequence[tuple[str, str | int]] = (),
        body: Mapping[str, Any] | None = None,
        transition: bool = False,
        hook: SendHook | None = None,
    ) -> dict[str, Any]:
        """Send one request with retries (module docstring); return its JSON object.

        This is the one place where `requests` errors become filebridge errors (the
        wording is `selldone.responses.unavailable_error`). `hook` hears of each
        attempt (module docstring).
        """
        url = self.base_url + path
        if params:
            url += "?" + urlencode(params, safe="[]")
        data = None if body is None else json.dumps(body, default=_json_default)
        attempts = 0
        token = _RETRY_CAUSE.set("")
        try:
            for attempt in stamina.retry_context(
                on=partial(self._is_retryable, method),
                attempts=self.max_attempts,
                timeout=self.retry_timeout,
                wait_initial=0.0,  # the backoff is waited in `_attempt` (see above)
                wait_max=0.0,
                wait_jitter=0.0,
            ):
                with attempt:
                    attempts += 1
                    try:
                        response = self._attempt(
                            method, url, path, data, _backoff(attempts), hook, attempts
                        )
                        return classify_response(
                            response,
                            method,
                            path,
                            shop_id=self.shop_id,
                            transition=transition,
                        )
                    except (ApiUnavailableError, requests.RequestException) as exc:
                        if hook is not None:
                            _tell(hook, exc)
                        raise
        except requests.RequestException as exc:
            raise unavailable_error(exc, method, path, attempts, self.timeout) from exc
        finally:
            _RETRY_CAUSE.reset(token)
        raise AssertionError("stamina ended without a result")  # pragma: no cover

    def _attempt(
        self,
        method: str,
        url: str,
        path: str,
        data: str | None,
        backoff: float,
        hook: SendHook | None,
        attempt: int = 1,
    ) -> requests.Response:
        """One HTTP exchange through the limiter; reports it to `on_call` and the log.

        `backoff` is waited first (in the limiter, so a stop ends it), then the budget
        and any Retry-After pause; `hook.sending()` runs after all of them.
        """
        if attempt > 1:
            paused = self.limiter.pause_remaining()
            log.info(
                "retrying %s %s (retry %d of %d) in %.1f s%s: %s",
                method,
                path,
                attempt - 1,
                max(self.max_attempts - 1, attempt - 1),
                backoff,
                f" (all calls paused {paused:.0f} s more for Retry-After)"
                if paused > 0
                else "",
                _RETRY_CAUSE.get() or "a transient failure",
            )
        self.limiter.acquire(
            not_before=time.monotonic() + backoff if backoff > 0 else None
        )
        if hook is not None:
            hook.sending()
        headers = {"Content-Type": "application/json"} if data is not None else None
        started = time.monotonic()
        at = datetime.now(UTC)
        try:
            response = self._session.request(
                method,
                url,
                data=data,
                headers=headers,
                timeout=self.timeout,
                allow_redirects=False,
            )
        except requests.RequestException as exc:
            log.debug("%s %s → %s", method, path, type(exc).__name__)
            self._record(CallRecord(method, path, None, at, type(exc).__name__))
            raise
        log.debug(
            "%s %s → %d (%.3f s)",
            method,
            path,
            response.status_code,
            time.monotonic() - started,
        )
        self._note_date(response.headers.get("Date"))
        if response.status_code in (429, 503):
            self._honour_retry_after(response)
        self._record(CallRecord(method, path, response.status_code, at))
        return response

    def shop_now(self) -> datetime | None:
        """The shop's clock now: its last `Date` header plus the monotonic time since
        (None before any answer had one). Never this machine's wall clock."""
        if self._clock.date is None:
            return None
        date, at = self._clock.date
        return date + timedelta(seconds=time.monotonic() - at)

    def _note_date(self, header: str | None) -> None:
        """Remember the shop's clock; log once when this machine's differs by > 1 min."""
        if not header:
            return
        try:
            date = email.utils.parsedate_to_datetime(header)
        except (TypeError, ValueError):
            return
        if date.tzinfo is None:
            date = date.replace(tzinfo=UTC)
        self._clock.date = (date, time.monotonic())
        skew = (date - datetime.now(UTC)).total_seconds()
        first = self._clock.skew is None
        self._clock.skew = skew
        if first and abs(skew) > CLOCK_SKEW_WARN_S:
            log.warning(
                "this machine's clock is %.0f s %s the shop's (HTTP Date header); "
                "filebridge uses the shop's clock, but fix the time sync",
                abs(skew),
                "behind" if skew > 0 else "ahead of",
            )

    def _record(self, call: CallRecord) -> None:
        if self._on_call is not None:
            self._on_call(call)

    def _honour_retry_after(self, response: requests.Response) -> None:
        """Pause the shared limiter for Retry-After (429 always; 503 only if given)."""
        seconds = retry_after_seconds(
            response.headers.get("Retry-After"), response.headers.get("Date")
        )
        if seconds is None and response.status_code == 429:
            seconds = DEFAULT_RETRY_AFTER_S
        if seconds is not None:
            log.info("Selldone asked to wait %.0f s; pausing all API calls", seconds)
            self.limiter.pause_for(seconds)

    def _is_retryable(self, method: str, exc: Exception) -> bool:
        """The retry predicate for stamina: transient causes only (module docstring)."""
        is_write = method != "GET"
        if isinstance(exc, ApiUnavailableError) and exc.status is not None:
            if exc.status == 429:
                # Waiting longer than the whole retry budget is pointless: give up now.
                return self.limiter.pause_remaining() <= self.retry_timeout
            if exc.status in TRANSIENT_STATUSES:
                return not is_write or exc.fate is RequestFate.NOT_PROCESSED
            return False
        if isinstance(exc, requests.exceptions.SSLError):
            return False  # a certificate problem does not heal by waiting
        if is_write:
            return is_provably_unsent(exc)
        return isinstance(
            exc,
            requests.Timeout
            | requests.ConnectionError
            | requests.exceptions.ChunkedEncodingError,
        )


def _tell(hook: SendHook, exc: Exception) -> None:
    """Tell the hook what an attempt that will be retried (or given up) means.

    No connection, or a 429: provably not processed. A 503 is retried as "not
    processed" too, but a gateway may send it after the shop applied the write, so it
    is only "maybe processed". Other failures are judged by the caller (`fate`).
    """
    if isinstance(exc, ApiUnavailableError):
        if exc.status == 503:
            hook.maybe_processed(str(exc))
        elif exc.fate is RequestFate.NOT_PROCESSED:
            hook.unsent()
    elif is_provably_unsent(exc):
        hook.unsent()


def _backoff(attempt: int) -> float:
    """Seconds to wait before `attempt` (1 = the first: none); 0 in stamina's test mode."""
    if attempt <= 1 or stamina.is_testing():
        return 0.0
    jitter = random.uniform(0, BACKOFF_JITTER_S)  # noqa: S311 - jitter, not crypto
    return float(min(BACKOFF_MAX_S, BACKOFF_INITIAL_S * 2 ** (attempt - 2)) + jitter)


def _json_default(value: object) -> object:
    """JSON for the values our models hold: Decimal as a number, datetimes as ISO text."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")
