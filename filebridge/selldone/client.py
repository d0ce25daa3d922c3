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
from itertools import pairwise
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
PAGE_OVERLAP = (
    5  # records re-read at each page start of a second pass, see `iter_orders`
)
CHECK_MARGIN_S = 2  # the check call reaches this far before the first page's answer
ALL_STATUSES: tuple[str, ...] = ("Open", "Reserved", "Payed", "Canceled", "COD")
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

        * pages are sorted oldest-first (`sortBy=reserved_at&sortDesc=false`, ties
          broken the same way on every call), so new orders land at the end instead of
          shifting earlier pages; orders are de-duplicated by id (first sighting wins);
        * the first pass does not overlap its pages: each record costs its one slot, so
          n orders cost ceil(n / page_size) calls (`total` says where the end is, so no
          empty page is needed);
        * a record is missed only if the list changed behind the cursor: orders we
          yielded left it (status no longer matching: later ones shift back past a page
          boundary), or orders joined it there (paid meanwhile with an old
          `reserved_at`). After a pass of more than one page, one **check call** lists
          the orders of the *other* statuses updated since the first page was answered
          (shop clock, `CHECK_MARGIN_S` earlier; every order that left after we saw it
          is among them), newest first, so that a page that reaches back past that
          moment holds them all even if the server ignored the `updated_at` filter. Then `missed = last total - (yielded - yielded that left)`
          counts exactly the matching orders not yielded; if it is above 0 (or the
          check could not see everything), one more pass re-reads, with `overlap`
          records re-read at each page start, from the page where the earliest order
          that left was found, less the number that left (from offset 0 if none
          left); a third pass is not made.
          Without a shop clock (no `Date` header) no check is made and
          `last total - yielded > 0` alone asks for the second pass;
        * a pass stops on an empty page or when it reaches `total`. The offset always
          advances, so a pass cannot loop on one page; if a page has no `total`, a page
          that adds no new id also ends the pass (a server that ignores `offset` would
          otherwise be paged forever), and no check can be counted.

        So a quiet shop costs ceil(n / page_size) calls plus the check call (none for a
        single page): at most one over the minimum. Orders that change *after* they were
        yielded are not re-yielded; an order that joined before the second pass's start
        offset, and a late commit (an `updated_at` older than the pass), changed during
        the run, so the export's cursor (capped at the run's start) and look-back fetch
        them on the next run. A hard-deleted order would hide one miss from the count
        (Selldone cancels orders, it does not delete them).
        """
        if not 0 <= overlap < page_size:
            raise ValueError("overlap must be >= 0 and smaller than page_size")
        fetch = partial(
            self.list_orders,
            limit=page_size,
            statuses=statuses,
            updated_since=updated_since,
            with_=with_,
            sort_by="reserved_at",
            sort_desc=False,
        )
        found_at: dict[int, int] = {}  # order id → offset of the page it was first in
        paged = _Pass(fetch, found_at, overlap=0, clock=self.shop_now)
        yield from paged.run(0)
        if paged.pages <= 1 or paged.last_total is None:
            return  # one page has no boundary to skip across; no total, no count
        missed = paged.last_total - len(found_at)
        start = 0
        if paged.started is not None and missed <= 0:
            others = [s for s in ALL_STATUSES if s not in set(statuses)]
            left: list[int] = []
            if others:
                since = int(paged.started.timestamp()) - CHECK_MARGIN_S
                if updated_since is not None:
                    since = max(since, int(updated_since))
                check = self.list_orders(
                    offset=0,
                    limit=MAX_PAGE_SIZE,
                    statuses=others,
                    updated_since=since,
                    with_=(),
                    sort_by="updated_at",
                    sort_desc=True,
                )
                if not _sees_all_since(check, since):
                    missed = 1  # cannot see every order that left: page again
                left = [o.id for o in check.orders if o.id in found_at]
            missed += len(left)
            # records after the earliest one that left shifted back by at most len(left)
            start = max(0, min((found_at[i] for i in left), default=0) - len(left))
        if missed <= 0:
            return
        log.debug(
            "%d matching order(s) not yielded (the list changed while paging); "
            "paging once more from offset %d",
            missed,
            start,
        )
        yield from _Pass(fetch, found_at, overlap=overlap).run(start)

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


def _sees_all_since(page: OrdersPage, since: int) -> bool:
    """Whether one page of the check call holds every order updated since `since`:
    all matches are on it, or (a server that ignored the filter) it is newest first
    and reaches back past `since`."""
    if page.total is not None and page.total <= len(page.orders):
        return True
    stamps = [o.updated_at for o in page.orders]
    if not stamps or any(stamp is None for stamp in stamps):
        return False
    known = [stamp for stamp in stamps if stamp is not None]
    newest_first = all(a >= b for a, b in pairwise(known))
    return newest_first and known[-1].timestamp() < since


class _Pass:
    """One offset pass over the sorted list, yielding ids not found before.

    `started` is the shop's clock when the first page was answered (None without a
    `Date` header); `pages` counts the calls; the totals are those of the first and
    last page.
    """

    def __init__(
        self,
        fetch: Callable[..., OrdersPage],
        found_at: dict[int, int],
        *,
        overlap: int,
        clock: Callable[[], datetime | None] | None = None,
    ) -> None:
        self._fetch = fetch
        self._found_at = found_at
        self._overlap = overlap
        self.pages = 0
        self.started: datetime | None = None
        self.first_total: int | None = None
        self.last_total: int | None = None
        self._clock = clock

    def run(self, offset: int) -> Iterator[Order]:
        """Page from `offset` to the end; see `SelldoneClient.iter_orders`."""
        while True:
            page = self._fetch(offset=offset)
            self.pages += 1
            if self.pages == 1:
                self.first_total = page.total
                self.started = self._clock() if self._clock is not None else None
            self.last_total = page.total
            fresh = [order for order in page.orders if order.id not in self._found_at]
            for order in fresh:
                self._found_at[order.id] = offset
                yield order
            if not page.orders:
                return
            end = offset + len(page.orders)
            if page.total is not None and end >= page.total:
                return
            if page.total is None and not fresh:
                return  # no total to stop at, and the server may ignore `offset`
            offset = end - self._overlap if end - self._overlap > offset else end
