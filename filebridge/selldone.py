"""HTTP client for the Selldone back-office order endpoints (selldone-api.md §2).

Everything foreign stops here: `requests` errors are translated in `_send`, every HTTP
answer is judged by `_classify`, and `pydantic` errors on a response are translated in
`_parse`. Callers only ever see the classes of `filebridge.errors`.

Retry policy (one place: `_send`, through `stamina`):

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
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from email.utils import parsedate_to_datetime
from functools import partial
from types import TracebackType
from typing import Any, Self, TypeVar
from urllib.parse import urlencode, urlsplit

import requests
import stamina
import urllib3.exceptions
from pydantic import BaseModel, SecretStr, ValidationError

from filebridge import __version__
from filebridge.errors import (
    ApiError,
    ApiRejectedError,
    ApiUnavailableError,
    AuthError,
    TransitionRejectedError,
)
from filebridge.models import (
    FulfilmentState,
    Order,
    OrdersPage,
    StateChange,
    TrackingResult,
)
from filebridge.ratelimit import RateLimiter

__all__ = [
    "DEFAULT_PAGE_SIZE",
    "DEFAULT_TIMEOUT_S",
    "MAX_PAGE_SIZE",
    "PAGE_OVERLAP",
    "CallRecord",
    "SelldoneClient",
]

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT_S = 30.0
DEFAULT_REQUESTS_PER_MINUTE = 80  # selldone-api.md §8
DEFAULT_MAX_ATTEMPTS = 5
DEFAULT_RETRY_TIMEOUT_S = 120.0
DEFAULT_RETRY_AFTER_S = 5.0  # a 429 without a usable Retry-After header
MAX_PAGE_SIZE = 250  # the API's maximum `limit`
DEFAULT_PAGE_SIZE = MAX_PAGE_SIZE
PAGE_OVERLAP = 5  # records re-read at each page start, see `iter_orders`
ORDER_TYPE = "PHYSICAL"
DEFAULT_STATUSES: tuple[str, ...] = ("Payed",)
DEFAULT_WITH: tuple[str, ...] = ("items", "buyer", "products")
TRANSIENT_STATUSES = frozenset({429, 500, 502, 503, 504})

_TOKEN_HINT = (
    "Create a new token with the ERP token link (`filebridge auth-url`), "
    "set SELLDONE_TOKEN (or [selldone] token) and run again."
)
_SCOPE_HINT = (
    "Create a token for shop {shop_id} with the backoffice:order:read and "
    "backoffice:order:write scopes (`filebridge auth-url`), check that the account's "
    "e-mail is verified, set SELLDONE_TOKEN and run again."
)
_LATER_HINT = "Try again later; nothing was lost."
_WRITE_UNSURE_HINT = (
    "Try again later; nothing was lost: the next run re-reads the order's state "
    "before sending this step again."
)

_M = TypeVar("_M", bound=BaseModel)


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


class SelldoneClient:
    """The order endpoints of one shop, rate-limited and retried (see module docstring).

    `on_call` receives a `CallRecord` for every HTTP attempt, retries included.
    One client per thread (a `requests.Session` is not thread-safe); threads that work
    for the same token share one `limiter` instead. The token is kept as a SecretStr
    and only ever written into the Authorization header.
    """

    def __init__(
        self,
        base_url: str,
        shop_id: int,
        token: str | SecretStr,
        *,
        timeout: float = DEFAULT_TIMEOUT_S,
        limiter: RateLimiter | None = None,
        requests_per_minute: int = DEFAULT_REQUESTS_PER_MINUTE,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        retry_timeout: float = DEFAULT_RETRY_TIMEOUT_S,
        on_call: Callable[[CallRecord], None] | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.shop_id = shop_id
        self._token = token if isinstance(token, SecretStr) else SecretStr(token)
        self.timeout = timeout
        self.limiter = (
            limiter
            if limiter is not None
            else RateLimiter(requests_per_minute, window_seconds=60.0)
        )
        self.max_attempts = max_attempts
        self.retry_timeout = retry_timeout
        self._on_call = on_call
        self._session = requests.Session()
        self._session.auth = _BearerAuth(self._token)
        self._session.headers.update(
            {"Accept": "application/json", "User-Agent": USER_AGENT}
        )

    def __repr__(self) -> str:
        return f"SelldoneClient(base_url={self.base_url!r}, shop_id={self.shop_id})"

    def close(self) -> None:
        """Close the pooled connections."""
        self._session.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # --- endpoints ----------------------------------------------------------------------

    def list_orders(
        self,
        *,
        offset: int,
        limit: int = DEFAULT_PAGE_SIZE,
        statuses: Sequence[str] = DEFAULT_STATUSES,
        updated_since: int | None = None,
        with_: Sequence[str] = DEFAULT_WITH,
        sort_by: str = "reserved_at",
        sort_desc: bool = False,
    ) -> OrdersPage:
        """One page of PHYSICAL orders; `updated_since` is a Unix time in *seconds*.

        The API documents `updated_at` only as "integer timestamp" (selldone-api.md §9.1);
        seconds is the Laravel convention (`Carbon::createFromTimestamp`).
        """
        if not 1 <= limit <= MAX_PAGE_SIZE:
            raise ValueError(f"limit must be 1..{MAX_PAGE_SIZE}, not {limit}")
        if offset < 0:
            raise ValueError(f"offset must be >= 0, not {offset}")
        params: list[tuple[str, str | int]] = [
            ("offset", offset),
            ("limit", limit),
            ("sortBy", sort_by),
            ("sortDesc", "true" if sort_desc else "false"),
        ]
        params += [("statuses[]", status) for status in statuses]
        params += [("with[]", relation) for relation in with_]
        if updated_since is not None:
            params.append(("updated_at", int(updated_since)))
        path = self._path(f"baskets-{ORDER_TYPE}")
        body = self._send("GET", path, params=params)
        return self._parse(OrdersPage, body, "GET", path)

    def iter_orders(
        self,
        *,
        statuses: Sequence[str] = DEFAULT_STATUSES,
        updated_since: int | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
        with_: Sequence[str] = DEFAULT_WITH,
        overlap: int = PAGE_OVERLAP,
    ) -> Iterator[Order]:
        """Every matching order once, oldest first, also while the shop changes.

        Offset paging over a list that changes under us can skip or repeat records, so:

        * pages are sorted oldest-first (`sortBy=reserved_at&sortDesc=false`), so new
          orders land at the end instead of shifting earlier pages;
        * each next page starts `overlap` records before the previous page's end, so a
          shift of up to `overlap` records (an order inserted earlier) loses nothing;
        * orders are de-duplicated by id within the iteration (first sighting wins);
        * if the `total` of the last page differs from the first page's, the set changed
          while we paged (orders added, or removed so that later ones shifted back past
          the overlap): one more de-duplicated pass from offset 0 picks up whatever was
          skipped. That costs a second full pass in a busy shop; a third is not made;
        * a pass stops on an empty page or when it reaches `total`. The offset always
          advances (by at least one record), so a pass cannot loop on one page; if a
          page has no `total`, a page that adds no new id also ends the pass (a server
          that ignores `offset` would otherwise be paged forever). A page without new
          ids is *not* a stop signal otherwise: in the second pass, and after records
          moved back by more than a page, the unseen orders are further on.

        Orders that change *after* they were yielded are not re-yielded; the export's
        `updated_at` cursor with its look-back picks them up on the next run.
        """
        if not 0 <= overlap < page_size:
            raise ValueError("overlap must be >= 0 and smaller than page_size")
        seen: set[int] = set()
        fetch = partial(
            self.list_orders,
            limit=page_size,
            statuses=statuses,
            updated_since=updated_since,
            with_=with_,
            sort_by="reserved_at",
            sort_desc=False,
        )
        first_total: int | None = None
        last_total: int | None = None
        for pass_number in (1, 2):
            offset = 0
            while True:
                page = fetch(offset=offset)
                if first_total is None:
                    first_total = page.total
                last_total = page.total
                fresh = [order for order in page.orders if order.id not in seen]
                for order in fresh:
                    seen.add(order.id)
                    yield order
                if not page.orders:
                    break
                end = offset + len(page.orders)
                if page.total is not None and end >= page.total:
                    break
                if page.total is None and not fresh:
                    break  # no total to stop at, and the server may ignore `offset`
                offset = end - overlap if end - overlap > offset else end
            if pass_number == 1 and first_total == last_total:
                return
            if pass_number == 1:
                log.debug(
                    "order total changed while paging (%s → %s); paging once more",
                    first_total,
                    last_total,
                )

    def get_order(self, order_id: int) -> Order:
        """One order with its items; accepts `{"basket": …}`, `{"order": …}` or bare."""
        path = self._path(f"baskets/{order_id}")
        body = self._send("GET", path)
        for key in ("basket", "order"):
            if isinstance(body.get(key), Mapping):
                return self._parse(Order, body[key], "GET", path)
        return self._parse(Order, body, "GET", path)

    def post_state(
        self,
        order_id: int,
        state: FulfilmentState,
        *,
        items: Sequence[int] | None = None,
        delivery_info: Mapping[str, Any] | None = None,
    ) -> StateChange:
        """Move one order to `state` (one step; the caller plans the sequence).

        `items` are the confirmed item ids for OrderConfirm (None: all). `delivery_info`
        is the complete dict to store (start from `Order.delivery_info_raw()`). Keys that
        are None are left out of the body, as the ERP demo does (selldone-api.md §2.3).
        A refusal by the shop raises `TransitionRejectedError`.
        """
        body: dict[str, Any] = {"state": FulfilmentState(state).value}
        if items is not None:
            body["list"] = list(items)
        if delivery_info is not None:
            body["delivery_info"] = dict(delivery_info)
        path = self._path(f"baskets/{order_id}/state")
        answer = self._send("POST", path, body=body, transition=True)
        return self._state_change(answer, path)

    def post_delivery_returned(self, order_id: int) -> StateChange:
        """Report a failed delivery (the parcel came back); only valid for SentOrder."""
        path = self._path(f"baskets/{order_id}/delivery-returned")
        answer = self._send("POST", path, body={}, transition=True)
        return self._state_change(answer, path)

    def put_tracking(
        self,
        order_id: int,
        *,
        tracking_code: str | None = None,
        tracking_url: str | None = None,
    ) -> TrackingResult:
        """Store tracking in the order's delivery_info; None fields are left out."""
        body = {
            key: value
            for key, value in (
                ("tracking_code", tracking_code),
                ("tracking_url", tracking_url),
            )
            if value is not None
        }
        if not body:
            raise ValueError("put_tracking needs a tracking_code or a tracking_url")
        path = self._path(f"baskets/{order_id}/tracking")
        answer = self._send("PUT", path, body=body)
        result = self._parse(TrackingResult, answer, "PUT", path)
        result.raw = answer
        return result

    # --- transport ----------------------------------------------------------------------

    def _path(self, suffix: str) -> str:
        return f"/shops/{self.shop_id}/process-center/{suffix}"

    def _state_change(self, answer: dict[str, Any], path: str) -> StateChange:
        change = self._parse(StateChange, answer, "POST", path)
        change.raw = answer
        return change

    def _send(
        self,
        method: str,
        path: str,
        *,
        params: Sequence[tuple[str, str | int]] = (),
        body: Mapping[str, Any] | None = None,
        transition: bool = False,
    ) -> dict[str, Any]:
        """Send one request with retries (module docstring) and return its JSON object.

        This is the one place where `requests` errors become filebridge errors.
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
                    return self._classify(response, method, path, transition=transition)
        except requests.RequestException as exc:
            raise _unavailable(exc, method, path, attempts, self.timeout) from exc
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
        seconds = _retry_after_seconds(response.headers.get("Retry-After"))
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
                return not is_write or exc.status == 503
            return False
        if isinstance(exc, requests.exceptions.SSLError):
            return False  # a certificate problem does not heal by waiting
        if is_write:
            return _provably_not_sent(exc)
        return isinstance(
            exc,
            requests.Timeout
            | requests.ConnectionError
            | requests.exceptions.ChunkedEncodingError,
        )

    def _classify(
        self,
        response: requests.Response,
        method: str,
        path: str,
        *,
        transition: bool = False,
    ) -> dict[str, Any]:
        """Judge one HTTP answer: return its JSON object or raise the matching error.

        `transition` marks a state change: the shop refusing it (an app-level error
        body on 2xx, 400, 409 or 422) becomes `TransitionRejectedError`.
        """
        status = response.status_code
        where = f"{method} {path}"
        body = _json_object(response)
        api_message = _api_message(body)
        detail = f": {api_message}" if api_message else ""
        common: dict[str, Any] = {
            "method": method,
            "path": path,
            "status": status,
            "api_message": api_message,
        }
        is_write = method != "GET"
        if status == 401:
            raise AuthError(
                _sentence(f"Selldone rejected the API token (401 on {where}){detail}"),
                hint=_TOKEN_HINT,
                **common,
            )
        if status == 403:
            raise AuthError(
                _sentence(f"Selldone refused access (403 on {where}){detail}")
                + f" The token lacks a scope or access to shop {self.shop_id}.",
                hint=_SCOPE_HINT.format(shop_id=self.shop_id),
                **common,
            )
        if status == 429:
            raise ApiUnavailableError(
                f"Selldone's rate limit was hit (429 on {where}).",
                hint="Lower [limits] requests_per_minute if other tools use the same "
                "token. " + _LATER_HINT,
                **common,
            )
        if status >= 500:
            raise ApiUnavailableError(
                _sentence(f"Selldone answered {status} on {where}{detail}"),
                hint=_WRITE_UNSURE_HINT if is_write else _LATER_HINT,
                **common,
            )
        if 300 <= status < 400:
            target = response.headers.get("Location", "?")
            raise ApiUnavailableError(
                f"Selldone answered a {status} redirect to {_no_query(target)} on "
                f"{where}.",
                hint="Check [selldone] api_url (https://api.selldone.com).",
                **common,
            )
        app_error = body is not None and _is_app_error(body)
        if transition and app_error and status in (200, 201, 202, 400, 409, 422):
            raise TransitionRejectedError(
                _sentence(
                    f"Selldone refused the state change ({status} on {where}){detail}"
                ),
                hint="Check the order's current state in the Selldone back office; "
                "fix the row and drop it into the inbox again.",
                **common,
            )
        if status == 404:
            raise ApiRejectedError(
                _sentence(f"Order or shop not found (404 on {where}){detail}"),
                hint=f"Check the order id and that it belongs to shop {self.shop_id}.",
                **common,
            )
        if status == 422:
            field_errors = _field_errors(body)
            fields = "; ".join(
                f"{name}: {' '.join(msgs)}" for name, msgs in field_errors.items()
            )
            raise ApiRejectedError(
                _sentence(
                    f"Selldone rejected the request as invalid (422 on {where}): "
                    f"{fields or api_message or 'no details given'}"
                ),
                hint="Fix the listed fields and send the row again.",
                field_errors=field_errors,
                **common,
            )
        if status == 409:
            raise ApiRejectedError(
                _sentence(f"Selldone reported a conflict (409 on {where}){detail}"),
                hint="The order changed meanwhile; run again to re-read it.",
                **common,
            )
        if status >= 400:
            raise ApiRejectedError(
                _sentence(
                    f"Selldone rejected the request ({status} on {where}){detail}"
                ),
                hint="This request will not succeed as sent; check the row's values.",
                **common,
            )
        if body is None:
            raise ApiUnavailableError(
                f"Selldone answered {status} on {where} with something that is not "
                "JSON (a proxy, captive portal or maintenance page?).",
                hint="Check [selldone] api_url and the network. " + _LATER_HINT,
                **common,
            )
        if app_error:
            raise ApiRejectedError(
                _sentence(
                    f"Selldone refused the request ({status} on {where}){detail}"
                ),
                hint="This request will not succeed as sent; see the API's message.",
                **common,
            )
        return body

    def _parse(
        self, model: type[_M], body: Mapping[str, Any], method: str, path: str
    ) -> _M:
        """Validate a response body; the one place pydantic errors become ApiError."""
        try:
            return model.model_validate(body)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}"
                for err in exc.errors()[:5]
            )
            raise ApiError(
                f"Selldone's answer to {method} {path} has an unexpected shape "
                f"({exc.error_count()} problem(s): {problems}).",
                method=method,
                path=path,
                status=200,
                hint="The API may have changed; report this with the log file.",
            ) from exc


# --- helpers (pure) ---------------------------------------------------------------------


def _sentence(text: str) -> str:
    """End a message with exactly one full stop (API messages bring their own)."""
    return text if text.endswith((".", "!", "?")) else text + "."


def _json_default(value: object) -> object:
    """JSON for the values our models hold: Decimal as a number, datetimes as ISO text."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _json_object(response: requests.Response) -> dict[str, Any] | None:
    """The body as a JSON object (floats as Decimal), or None if it is not one."""
    if not response.content:
        return None
    try:
        value = json.loads(response.content, parse_float=Decimal)
    except ValueError:  # JSONDecodeError and UnicodeDecodeError
        return None
    return value if isinstance(value, dict) else None


def _api_message(body: Mapping[str, Any] | None) -> str | None:
    if body is None:
        return None
    for key in ("error_msg", "message"):
        value = body.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def _is_app_error(body: Mapping[str, Any]) -> bool:
    """`{"error": true, ...}` or `{"success": false, ...}` (selldone-api.md §7)."""
    return body.get("error") is True or body.get("success") is False


def _field_errors(body: Mapping[str, Any] | None) -> dict[str, list[str]]:
    """Laravel's `{"errors": {"field": ["msg", ...]}}`, normalised to lists of text."""
    errors = body.get("errors") if body is not None else None
    if not isinstance(errors, Mapping):
        return {}
    return {
        str(name): [str(m) for m in msgs] if isinstance(msgs, list) else [str(msgs)]
        for name, msgs in errors.items()
    }


def _retry_after_seconds(header: str | None) -> float | None:
    """Retry-After as seconds: delta-seconds or an HTTP date; None if absent/garbled."""
    if header is None or not header.strip():
        return None
    text = header.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _provably_not_sent(exc: Exception) -> bool:
    """True when the request cannot have reached the server (no connection was made)."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    if not isinstance(exc, requests.ConnectionError) or isinstance(
        exc, requests.exceptions.SSLError
    ):
        return False
    reason = exc.args[0] if exc.args else None
    if isinstance(reason, urllib3.exceptions.MaxRetryError):
        reason = reason.reason
    return isinstance(reason, urllib3.exceptions.NewConnectionError)


def _no_query(url: str) -> str:
    parts = urlsplit(url)
    return (
        f"{parts.scheme}://{parts.netloc}{parts.path}" if parts.netloc else parts.path
    )


def _unavailable(
    exc: requests.RequestException,
    method: str,
    path: str,
    attempts: int,
    timeout: float,
) -> ApiUnavailableError:
    """Translate a `requests` failure (after retries) into ApiUnavailableError."""
    where = f"{method} {path}"
    if isinstance(exc, requests.ConnectTimeout) or _provably_not_sent(exc):
        what = "could not connect to Selldone"
        hint = "Check the network, proxy and [selldone] api_url. " + _LATER_HINT
    elif isinstance(exc, requests.Timeout):
        what = f"Selldone did not answer within {timeout:g} s"
        hint = _WRITE_UNSURE_HINT if method != "GET" else _LATER_HINT
    elif isinstance(exc, requests.exceptions.SSLError):
        what = "the TLS connection to Selldone failed"
        hint = "Check the system's certificates and any TLS-inspecting proxy."
    elif isinstance(
        exc, requests.ConnectionError | requests.exceptions.ChunkedEncodingError
    ):
        what = "the connection to Selldone broke before a complete answer"
        hint = _WRITE_UNSURE_HINT if method != "GET" else _LATER_HINT
    else:
        what = f"the request to Selldone failed ({type(exc).__name__})"
        hint = _LATER_HINT
    tries = f" after {attempts} attempts" if attempts > 1 else ""
    return ApiUnavailableError(
        f"{what} on {where}{tries}.", method=method, path=path, hint=hint
    )
