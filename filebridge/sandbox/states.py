"""Fulfilment rules for POST .../state, POST .../delivery-returned, PUT .../tracking.

Each function validates the request body (422), checks the shop's rules (AppError) and
then mutates the order dict in place. The caller holds the shop lock and bumps
`updated_at` when the order changed.
"""

from __future__ import annotations

import copy
from typing import Any
from urllib.parse import urlsplit

from .replies import AppError, JsonObject, validation_error

STATES = ("CheckQueue", "OrderConfirm", "PreparingOrder", "SentOrder", "ToCustomer")
PROCESSABLE = ("Payed", "COD")
_CONFIRM, _PREPARING, _SENT, _DELIVERED = STATES[1:]


def change_state(
    order: JsonObject, body: object, *, skip_policy: str, now: str
) -> JsonObject:
    """Apply one POST .../state (selldone-api.md §2.3 and the table in §5.3).

    One step forward changes the state. Re-sending the current state answers
    `changed: false`; OrderConfirm may be re-sent in PreparingOrder to change which
    items are confirmed (the state stays). Skips and backward moves are app errors
    unless `skip_policy` is "accept", which applies any valid target state.
    """
    request = body if isinstance(body, dict) else {}
    target, confirmed, delivery_info = _state_request(request)
    _check_processable(order)
    current = order.get("delivery_state")
    here = STATES.index(current) if current in STATES else 0
    there = STATES.index(target)
    re_confirm = target == _CONFIRM and current in (_CONFIRM, _PREPARING)
    if there == here or re_confirm:
        return _repeat(order, target, confirmed, delivery_info)
    if there != here + 1 and skip_policy != "accept":
        if there > here:
            nxt = STATES[here + 1]
            raise AppError(
                f"Cannot change the delivery state of order {order['id']} from "
                f"{current} to {target}: states must be set one step at a time "
                f"(the next state is {nxt})."
            )
        raise AppError(
            f"Cannot change the delivery state of order {order['id']} from "
            f"{current} back to {target}."
        )
    order["delivery_state"] = target
    if target == _CONFIRM:
        _confirm(order, confirmed)
    elif here < STATES.index(_CONFIRM) < there:  # an accepted skip confirms everything
        _confirm(order, None)
    if target == _PREPARING and delivery_info is not None:
        _merge_delivery_info(order, delivery_info)
    if target == _DELIVERED:
        order["delivery_at"] = now
        return {"delivery_state": target, "delivery_at": now, "changed": True}
    if target == _CONFIRM:
        return _confirm_reply(order, target, changed=True)
    return {"delivery_state": target, "changed": True}


def return_delivery(order: JsonObject) -> JsonObject:
    """POST .../delivery-returned: the parcel came back; SentOrder → PreparingOrder."""
    _check_processable(order)
    current = order.get("delivery_state")
    if current != _SENT:
        raise AppError(
            f"Order {order['id']} is in {current}; a returned delivery can only be "
            f"reported while the order is {_SENT}."
        )
    order["delivery_state"] = _PREPARING
    return {"delivery_state": _PREPARING, "changed": True}


def set_tracking(order: JsonObject, body: object) -> JsonObject:
    """PUT .../tracking: stores the given keys inside `delivery_info`, in any state."""
    request = body if isinstance(body, dict) else {}
    errors: dict[str, list[str]] = {}
    code = _blank_to_none(request.get("tracking_code"))
    url = _blank_to_none(request.get("tracking_url"))
    if code is not None and not isinstance(code, str):
        errors["tracking_code"] = ["The tracking code field must be a string."]
    if url is not None and not _is_url(url):
        errors["tracking_url"] = ["The tracking url field must be a valid URL."]
    if errors:
        raise validation_error(errors)
    info = order.get("delivery_info")
    if not isinstance(info, dict):
        info = order["delivery_info"] = {}
    for key in ("tracking_code", "tracking_url"):
        if key in request:
            info[key] = _blank_to_none(request[key])
    return {
        "tracking_code": info.get("tracking_code"),
        "tracking_url": info.get("tracking_url"),
        "delivery_info": copy.deepcopy(info),
        "success": True,
    }


def _state_request(request: dict[str, Any]) -> tuple[str, list[int] | None, Any]:
    errors: dict[str, list[str]] = {}
    target = request.get("state")
    if target in (None, ""):
        errors["state"] = ["The state field is required."]
    elif target not in STATES:
        errors["state"] = ["The selected state is invalid."]
    confirmed = request.get("list")
    if confirmed is not None:
        if not isinstance(confirmed, list):
            errors["list"] = ["The list field must be an array."]
        else:
            for n, value in enumerate(confirmed):
                if isinstance(value, bool) or not isinstance(value, int):
                    errors[f"list.{n}"] = [f"The list.{n} field must be an integer."]
    delivery_info = request.get("delivery_info")
    if delivery_info is not None and not isinstance(delivery_info, dict):
        errors["delivery_info"] = ["The delivery info field must be an array."]
    if errors:
        raise validation_error(errors)
    return str(target), confirmed, delivery_info


def _check_processable(order: JsonObject) -> None:
    if order.get("status") not in PROCESSABLE:
        raise AppError(
            f"Order {order['id']} has status {order.get('status')}; only Payed or COD "
            "orders can be processed."
        )
    if order.get("reject"):
        raise AppError(
            f"Order {order['id']} was rejected ({order['reject']}); it can not be "
            "processed any more."
        )


def _repeat(
    order: JsonObject, target: str, confirmed: list[int] | None, delivery_info: Any
) -> JsonObject:
    current = order["delivery_state"]
    if target == _CONFIRM:
        _confirm(order, confirmed)
        return _confirm_reply(order, current, changed=False)
    if target == _PREPARING and delivery_info is not None:
        _merge_delivery_info(order, delivery_info)
    return {"delivery_state": current, "changed": False}


def _confirm(order: JsonObject, confirmed: list[int] | None) -> None:
    wanted = None if confirmed is None else set(confirmed)
    for item in order.get("items") or ():
        item["check"] = wanted is None or item.get("id") in wanted


def _confirm_reply(order: JsonObject, state: str, *, changed: bool) -> JsonObject:
    """`items` are the BasketItem rows without the product/variant relations."""
    items = [
        {k: v for k, v in item.items() if k not in ("product", "variant")}
        for item in order.get("items") or ()
    ]
    return {
        "delivery_state": state,
        "updated": sum(1 for item in items if item.get("check")),
        "changed": changed,
        "items": copy.deepcopy(items),
    }


def _merge_delivery_info(order: JsonObject, delivery_info: dict[str, Any]) -> None:
    info = order.get("delivery_info")
    merged = dict(info) if isinstance(info, dict) else {}
    merged.update(copy.deepcopy(delivery_info))
    order["delivery_info"] = merged


def _blank_to_none(value: object) -> object:
    """Laravel's ConvertEmptyStringsToNull middleware."""
    return None if value == "" else value


def _is_url(value: object) -> bool:
    if not isinstance(value, str) or any(c.isspace() for c in value):
        return False
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)
