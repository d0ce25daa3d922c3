"""A Selldone back-office API sandbox: a real loopback HTTP server for tests and demos.

Written from shared/selldone-api.md alone and importing nothing else from filebridge,
so a wrong field name cannot be wrong on both sides of the wire.

    with start_sandbox(orders=40, seed=1) as box:
        requests.get(f"{box.url}/shops/{box.shop_id}/process-center/baskets-PHYSICAL",
                     headers={"Authorization": f"Bearer {box.token}"})
"""

from __future__ import annotations

import secrets
import sys
import threading
import time
from collections.abc import Callable, Set
from datetime import datetime
from types import TracebackType
from typing import Any, TextIO

from .calls import Call, CallLog
from .catalog import HOSTILE_STRINGS, SEED_EPOCH
from .faults import Faults
from .options import Options, SkipPolicy
from .ratelimit import RateLimiter
from .routes import Backend
from .seed import SHARED_SECOND
from .server import SandboxServer
from .shop import Shop
from .timestamps import utc_now

__all__ = [
    "HOSTILE_STRINGS",
    "SEED_EPOCH",
    "SHARED_SECOND",
    "Call",
    "Faults",
    "Options",
    "Sandbox",
    "serve_forever_cli",
    "start_sandbox",
]

DEFAULT_SHOP_ID = 12345
_POLL_INTERVAL_S = 0.05  # how quickly stop() is noticed by serve_forever
RESET_WAIT_S = 10.0  # reset() waits at most this long for requests still handled


class Sandbox:
    """A running sandbox (it serves from construction until `stop()`).

    `rate_per_minute` is the budget per `rate_window_seconds` (None: no limit).
    `wall_clock` stamps `updated_at`/`delivery_at` and new orders; `rate_clock`
    (monotonic seconds) drives the rate-limit window. Both are injectable for tests.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        orders: int = 40,
        seed: int = 1,
        rate_per_minute: int | None = 80,
        token: str | None = None,
        shop_id: int = DEFAULT_SHOP_ID,
        rate_window_seconds: float = 60.0,
        scopes: Set[str] = frozenset({"read", "write"}),
        skip_policy: SkipPolicy = "error",
        app_error_status: int = 200,
        updated_at_inclusive: bool = True,
        wall_clock: Callable[[], datetime] = utc_now,
        rate_clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.token: str = token or secrets.token_urlsafe(24)
        self.shop_id = shop_id
        self.options = Options(
            skip_policy, app_error_status, updated_at_inclusive, scopes
        )
        self._initial_options = Options(
            skip_policy, app_error_status, updated_at_inclusive, scopes
        )
        self._initial_rate = (rate_per_minute, rate_window_seconds)
        self.faults = Faults()
        self.rate_limiter = RateLimiter(
            rate_per_minute, rate_window_seconds, rate_clock
        )
        self._log = CallLog()
        self._shop = Shop(shop_id, orders, seed, wall_clock)
        backend = Backend(
            self._shop,
            self.faults,
            self.rate_limiter,
            self.options,
            self._log,
            self.token,
            shop_id,
        )
        self._server = SandboxServer((host, port), backend, self)
        bound_host, self.port = self._server.server_address[:2]
        self.host = str(bound_host)
        shown = f"[{self.host}]" if ":" in self.host else self.host
        self.url = f"http://{shown}:{self.port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": _POLL_INTERVAL_S},
            name=f"selldone-sandbox:{self.port}",
            daemon=True,
        )
        self._stopped = False
        self._thread.start()

    # --- lifecycle -------------------------------------------------------------

    def reset(self) -> None:
        """Back to the seeded shop: orders, faults, call log, rate limit, options.

        Requests still being handled (a delayed write its client gave up on) finish
        first, so none of them lands in the fresh shop (order ids start over).
        """
        self._log.wait_idle(RESET_WAIT_S)
        self._shop.reseed()
        self.faults.clear()
        self._log.clear()
        self.rate_limiter.configure(*self._initial_rate)
        self.rate_limiter.clear()
        self.options.restore(self._initial_options)

    def stop(self) -> None:
        """Stop serving and join the server thread; safe to call twice."""
        if self._stopped:
            return
        self._stopped = True
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    # --- orders ----------------------------------------------------------------

    def add_order(self, **overrides: Any) -> dict[str, Any]:
        """A new realistic order with the next id: Payed, CheckQueue, updated now.

        `overrides` replace top-level keys (e.g. status="COD", buyer=None, items=[...]);
        datetimes given for date fields are stored in the wire format.
        """
        return self._shop.add(overrides)

    def add_orders(self, n: int, **overrides: Any) -> list[dict[str, Any]]:
        if n < 0:
            raise ValueError(f"n must not be negative, not {n}")
        return [self._shop.add(overrides) for _ in range(n)]

    def update_order(self, order_id: int, **changes: Any) -> dict[str, Any]:
        """Top-level merge; `updated_at` becomes now unless given; KeyError."""
        return self._shop.update(order_id, changes)

    def get_order(self, order_id: int) -> dict[str, Any]:
        """A deep copy with items, product, variant and buyer; KeyError."""
        return self._shop.get(order_id)

    def orders(self) -> list[dict[str, Any]]:
        """Deep copies of all orders, every status, ascending id."""
        return self._shop.all_orders()

    # --- calls and limits ------------------------------------------------------

    def calls(self) -> list[Call]:
        """API requests received (not control requests), in arrival order."""
        return self._log.calls()

    def clear_calls(self) -> None:
        self._log.clear()

    def set_rate_limit(
        self, per_minute: int | None, window_seconds: float = 60.0
    ) -> None:
        """`per_minute` requests per `window_seconds`; None switches the limit off."""
        self.rate_limiter.configure(per_minute, window_seconds)


def start_sandbox(
    host: str = "127.0.0.1",
    port: int = 0,
    orders: int = 40,
    seed: int = 1,
    rate_per_minute: int | None = 80,
    token: str | None = None,
    shop_id: int = DEFAULT_SHOP_ID,
    **options: Any,
) -> Sandbox:
    """Start a sandbox; port 0 picks a free port, token None makes a random one.

    Further keyword options go to `Sandbox` (rate_window_seconds, scopes, skip_policy,
    app_error_status, updated_at_inclusive, wall_clock, rate_clock).
    """
    return Sandbox(
        host=host,
        port=port,
        orders=orders,
        seed=seed,
        rate_per_minute=rate_per_minute,
        token=token,
        shop_id=shop_id,
        **options,
    )


def serve_forever_cli(
    port: int,
    orders: int,
    seed: int,
    rate_per_minute: int,
    token: str | None,
    *,
    host: str = "127.0.0.1",
    shop_id: int = DEFAULT_SHOP_ID,
    out: TextIO = sys.stdout,
    stop: threading.Event | None = None,
) -> None:
    """Serve until Ctrl-C (or until `stop` is set), after printing how to connect."""
    stop = stop or threading.Event()
    with start_sandbox(
        host, port, orders, seed, rate_per_minute, token, shop_id
    ) as box:
        list_url = f"{box.url}/shops/{box.shop_id}/process-center/baskets-PHYSICAL"
        out.write(
            f"Selldone sandbox listening on {box.url}\n"
            f"  shop id: {box.shop_id}\n"
            f"  token:   {box.token}\n"
            f"  orders:  {orders} (seed {seed}), rate limit {rate_per_minute}/min\n"
            f"Try:\n"
            f"  curl -g -H 'Authorization: Bearer {box.token}' "
            f"'{list_url}?limit=5&with[]=items&with[]=buyer&with[]=products'\n"
            f"Control surface: {box.url}/__sandbox__/ (calls, reset, orders, faults)\n"
            f"Press Ctrl-C to stop.\n"
        )
        out.flush()
        try:
            while not stop.wait(0.5):  # a timed wait, so Ctrl-C is seen on Windows too
                pass
        except KeyboardInterrupt:
            out.write("Stopped.\n")
