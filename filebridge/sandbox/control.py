"""The HTTP control surface under /__sandbox__/ for subprocess tests and demos.

No token, no rate limit, not recorded in the call log, and only answered to loopback
clients. Every route mirrors a Python method of `Sandbox`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .replies import Reply, message_body

if TYPE_CHECKING:
    from . import Sandbox

PREFIX = "/__sandbox__"
_ORDER = re.compile(PREFIX + r"/orders/(?P<order_id>\d+)")
_FAULT_KINDS = ("fail", "drop", "delay", "revoke", "restore", "clear")


def is_control_path(path: str) -> bool:
    return path == PREFIX or path.startswith(PREFIX + "/")


def answer_control(box: Sandbox, method: str, path: str, body: object) -> Reply:
    """Route one control request; bad arguments answer 400 with the reason."""
    args: dict[str, Any] = dict(body) if isinstance(body, dict) else {}
    if body is not None and not isinstance(body, dict):
        return Reply(400, message_body("The body must be a JSON object."))
    try:
        return _route(box, method, path, args)
    except (TypeError, ValueError) as exc:
        return Reply(400, message_body(str(exc)))


def _route(box: Sandbox, method: str, path: str, args: dict[str, Any]) -> Reply:
    match = _ORDER.fullmatch(path)
    if match is not None:
        order_id = int(match["order_id"])
        if method not in ("GET", "PATCH"):
            return _not_allowed()
        try:
            if method == "GET":
                return Reply(200, {"order": box.get_order(order_id)})
            return Reply(200, {"order": box.update_order(order_id, **args)})
        except KeyError:
            return Reply(404, message_body(f"Unknown order {order_id}."))
    routes: dict[tuple[str, str], Callable[[], object]] = {
        ("GET", "/info"): lambda: {
            "url": box.url,
            "shop_id": box.shop_id,
            "token": box.token,
        },
        ("GET", "/calls"): lambda: {"calls": [call.to_json() for call in box.calls()]},
        ("DELETE", "/calls"): lambda: _done(box.clear_calls),
        ("POST", "/reset"): lambda: _done(box.reset),
        ("GET", "/orders"): lambda: {"orders": box.orders()},
        ("POST", "/orders"): lambda: {"orders": _add_orders(box, args)},
        ("POST", "/faults"): lambda: {"armed": _arm(box, args)},
        ("POST", "/rate-limit"): lambda: _rate_limit(box, args),
        ("GET", "/options"): lambda: _options(box),
        ("PATCH", "/options"): lambda: _options(box, args),
    }
    action = routes.get((method, path[len(PREFIX) :]))
    if action is not None:
        return Reply(200, action())
    if any(route_path == path[len(PREFIX) :] for _, route_path in routes):
        return _not_allowed()
    return Reply(404, message_body("Not Found."))


def _not_allowed() -> Reply:
    return Reply(405, message_body("Method Not Allowed."))


def _done(action: Callable[[], None]) -> dict[str, bool]:
    action()
    return {"ok": True}


def _add_orders(box: Sandbox, args: dict[str, Any]) -> list[dict[str, Any]]:
    count = args.pop("count", 1)
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise ValueError(f"count must be a positive integer, not {count!r}")
    return box.add_orders(count, **args)


def _arm(box: Sandbox, args: dict[str, Any]) -> str:
    kind = args.pop("kind", None)
    faults = box.faults
    if kind == "fail":
        faults.fail_next(**args)
    elif kind == "drop":
        faults.drop_next(**args)
    elif kind == "delay":
        faults.delay_next(**args)
    elif kind in ("revoke", "restore", "clear") and args:
        raise ValueError(f"fault kind {kind!r} takes no arguments")
    elif kind == "revoke":
        faults.revoke_token()
    elif kind == "restore":
        faults.restore_token()
    elif kind == "clear":
        faults.clear()
    else:
        raise ValueError(f"kind must be one of {_FAULT_KINDS}, not {kind!r}")
    return str(kind)


def _rate_limit(box: Sandbox, args: dict[str, Any]) -> dict[str, Any]:
    if "per_minute" not in args:
        raise ValueError("per_minute is required (null switches the limit off)")
    box.set_rate_limit(args.pop("per_minute"), **args)
    limiter = box.rate_limiter
    return {"per_minute": limiter.limit, "window_seconds": limiter.window_seconds}


def _options(box: Sandbox, changes: dict[str, Any] | None = None) -> dict[str, Any]:
    options = box.options
    for name, value in (changes or {}).items():
        if name not in (
            "skip_policy",
            "app_error_status",
            "updated_at_inclusive",
            "scopes",
        ):
            raise ValueError(f"unknown option {name!r}")
        setattr(options, name, value)
    return {
        "skip_policy": options.skip_policy,
        "app_error_status": options.app_error_status,
        "updated_at_inclusive": options.updated_at_inclusive,
        "scopes": sorted(options.scopes),
    }
