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
  test mode, which only zeroes stamina's own backoff.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import partial
from typing import Any
from urllib.parse import urlencode

import requests
import stamina
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

__all__ = ["USER_AGENT", "ApiTransport", "CallRecord"]

# The client's logger: its log lines name the client, whichever of its modules writes.
log = logging.getLogger("filebridge.selldone.client")

DEFAULT_RETRY_AFTER_S = 5.0  # a 429 without a usable Retry-After header
TRANSIENT_STATUSES = frozenset({429, 500, 502, 503, 504})

USER_AGENT = f"filebridge/{__version__}"


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
    ) -> dict[str, Any]:
        """Send one request with retries (module docstring); return its JSON object.

        This is the one place where `requests` errors become filebridge errors (the
        wording is `selldone.responses.unavailable_error`).
        """
        url = self.base_url + path
        if params:
            url += "?" + urlencode(params, safe="[]")
        data = None if body is None else json.dumps(body, default=_json_default)
        attempts = 0
        try:
            for attempt in stamina.retry_context(
                on=partial(self._is_retryable, method),
                attempts=self.max_attempts,
                timeout=self.retry_timeout,
            ):
                with attempt:
                    attempts += 1
                    response = self._attempt(method, url, path, data)
                    return classify_response(
                        response,
                        method,
                        path,
                        shop_id=self.shop_id,
                        transition=transition,
                    )
        except requests.RequestException as exc:
            raise unavailable_error(exc, method, path, attempts, self.timeout) from exc
        raise AssertionError("stamina ended without a result")  # pragma: no cover

    def _attempt(
        self, method: str, url: str, path: str, data: str | None
    ) -> requests.Response:
        """One HTTP exchange through the limiter; reports it to `on_call` and the log."""
        self.limiter.acquire()
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
        if response.status_code in (429, 503):
            self._honour_retry_after(response)
        self._record(CallRecord(method, path, response.status_code, at))
        return response

    def _record(self, call: CallRecord) -> None:
        if self._on_call is not None:
            self._on_call(call)

    def _honour_retry_after(self, response: requests.Response) -> None:
        """Pause the shared limiter for Retry-After (429 always; 503 only if given)."""
        seconds = retry_after_seconds(response.headers.get("Retry-After"))
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


def _json_default(value: object) -> object:
    """JSON for the values our models hold: Decimal as a number, datetimes as ISO text."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")
