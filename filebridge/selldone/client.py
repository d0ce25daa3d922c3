"""HTTP client for the Selldone back-office order endpoints (selldone-api.md §2).

`SelldoneClient` knows the endpoints: paths, query parameters, request bodies, paging
and the models of the answers. Everything foreign stops inside the client adapter:
`selldone.transport` sends each request (rate limit, retries; the retry policy is in its
docstring) and translates `requests` errors, `selldone.responses` judges every HTTP answer
and translates `pydantic` errors on a response. Callers only ever see the classes of
`filebridge.errors`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime
from functools import partial
from types import TracebackType
from typing import Any, Self

from pydantic import SecretStr

from filebridge.selldone.models import FulfilmentState, Order, OrdersPage
from filebridge.selldone.ratelimit import RateLimiter
from filebridge.selldone.responses import parse_body
from filebridge.selldone.transport import ApiTransport, CallRecord, SendHook
from filebridge.selldone.write_replies import StateChange, TrackingResult

__all__ = [
    "DEFAULT_PAGE_SIZE",
    "DEFAULT_TIMEOUT_S",
    "MAX_PAGE_SIZE",
    "PAGE_OVERLAP",
    "CallRecord",  # owned by selldone.transport; jobs.py imports it from here
    "SelldoneClient",
    "SendHook",
]

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT_S = 30.0
DEFAULT_REQUESTS_PER_MINUTE = 80  # selldone-api.md §8
DEFAULT_MAX_ATTEMPTS = 5
DEFAULT_RETRY_TIMEOUT_S = 120.0
MAX_PAGE_SIZE = 250  # the API's maximum `limit`
DEFAULT_PAGE_SIZE = MAX_PAGE_SIZE
PAGE_OVERLAP = 5  # records re-read at each page start, see `iter_orders`
ORDER_TYPE = "PHYSICAL"
DEFAULT_STATUSES: tuple[str, ...] = ("Payed",)
DEFAULT_WITH: tuple[str, ...] = ("items", "buyer", "products")


class SelldoneClient:
    """The order endpoints of one shop, rate-limited and retried (`selldone.transport`).

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
        write_settle: float | None = None,
        limiter: RateLimiter | None = None,
        requests_per_minute: int = DEFAULT_REQUESTS_PER_MINUTE,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        retry_timeout: float = DEFAULT_RETRY_TIMEOUT_S,
        on_call: Callable[[CallRecord], None] | None = None,
        transport: ApiTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.shop_id = shop_id
        self._write_settle = write_settle
        if transport is not None:  # `fork`: the token is the transport's
            self._transport = transport
            return
        self._transport = ApiTransport(
            self.base_url,
            shop_id,
            token if isinstance(token, SecretStr) else SecretStr(token),
            timeout=timeout,
            limiter=(
                limiter
                if limiter is not None
                else RateLimiter(requests_per_minute, window_seconds=60.0)
            ),
            max_attempts=max_attempts,
            retry_timeout=retry_timeout,
            on_call=on_call,
        )

    @property
    def timeout(self) -> float:
        """Seconds one HTTP attempt may take (connect and each read)."""
        return self._transport.timeout

    @property
    def write_settle(self) -> float:
        """Seconds a write that got no answer may still be applied by the shop.

        The client gives up after `timeout`, the server does not: until this long after
        sending, "not visible in the order yet" does not mean "not applied".
        """
        return max(self.timeout, self._write_settle or 0.0)

    def shop_now(self) -> datetime | None:
        """The shop's clock (from its `Date` headers), None before the first answer."""
        return self._transport.shop_now()

    @property
    def clock_skew(self) -> float | None:
        """Seconds the shop's clock is ahead of this machine's (None: not known yet)."""
        return self._transport.clock_skew

    @property
    def limiter(self) -> RateLimiter:
        """The request budget this client draws on (shared by clients of one token)."""
        return self._transport.limiter

    def __repr__(self) -> str:
        return f"SelldoneClient(base_url={self.base_url!r}, shop_id={self.shop_id})"

    def fork(self) -> SelldoneClient:
        """A client for another thread: its own session, the same shop and budget."""
        return SelldoneClient(
            self.base_url,
            self.shop_id,
            SecretStr(""),
            write_settle=self._write_settle,
            transport=self._transport.fork(),
        )

    def close(self) -> None:
        """Close the pooled connections."""
        self._transport.close()

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
        body = self._transport.send("GET", path, params=params)
        return parse_body(OrdersPage, body, "GET", path)

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
        body = self._transport.send("GET", path)
        for key in ("basket", "order"):
            if isinstance(body.get(key), Mapping):
                return parse_body(Order, body[key], "GET", path)
        return parse_body(Order, body, "GET", path)

    def post_state(
        self,
        order_id: int,
        state: FulfilmentState,
        *,
        items: Sequence[int] | None = None,
        delivery_info: Mapping[str, Any] | None = None,
        hook: SendHook | None = None,
    ) -> StateChange:
        """Move one order to `state` (one step; the caller plans the sequence).

        `items` are the confirmed item ids for OrderConfirm (None: all). `delivery_info`
        is the complete dict to store (start from `Order.delivery_info_raw()`). Keys that
        are None are left out of the body, as the ERP demo does (selldone-api.md §2.3).
        A refusal by the shop raises `TransitionRejectedError`. `hook` hears when
        the request leaves, after every wait (`api_transport`).
        """
        body: dict[str, Any] = {"state": FulfilmentState(state).value}
        if items is not None:
            body["list"] = list(items)
        if delivery_info is not None:
            body["delivery_info"] = dict(delivery_info)
        path = self._path(f"baskets/{order_id}/state")
        answer = self._transport.send(
            "POST", path, body=body, transition=True, hook=hook
        )
        return self._state_change(answer, path)

    def post_delivery_returned(
        self, order_id: int, *, hook: SendHook | None = None
    ) -> StateChange:
        """Report a failed delivery (the parcel came back); only valid for SentOrder."""
        path = self._path(f"baskets/{order_id}/delivery-returned")
        answer = self._transport.send("POST", path, body={}, transition=True, hook=hook)
        return self._state_change(answer, path)

    def put_tracking(
        self,
        order_id: int,
        *,
        tracking_code: str | None = None,
        tracking_url: str | None = None,
        hook: SendHook | None = None,
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
        answer = self._transport.send("PUT", path, body=body, hook=hook)
        result = parse_body(TrackingResult, answer, "PUT", path)
        result.raw = answer
        return result

    # --- paths and answers ------------------------------------------------------------

    def _path(self, suffix: str) -> str:
        return f"/shops/{self.shop_id}/process-center/{suffix}"

    def _state_change(self, answer: dict[str, Any], path: str) -> StateChange:
        change = parse_body(StateChange, answer, "POST", path)
        change.raw = answer
        return change
