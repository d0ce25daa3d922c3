"""The order list query: Laravel-style validation, filters, sorting and paging."""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .replies import JsonObject, validation_error
from .timestamps import parse_timestamp

ORDER_TYPES = frozenset(
    {"PHYSICAL", "VIRTUAL", "FILE", "SERVICE", "SUBSCRIPTION", "DROPSHIPPING", "POS",
     "AVOCADO", "HYPER"}
)  # fmt: skip
STATUSES = ("Open", "Reserved", "Payed", "Canceled", "COD")
DEFAULT_STATUSES = frozenset({"Payed", "COD"})
SORT_COLUMNS = ("id", "reserved_at", "updated_at", "created_at")
MAX_LIMIT = 250
DEFAULT_LIMIT = 10  # undocumented; the ERP guide's example URL uses limit=10
MILLISECONDS_ABOVE = 10**12  # larger `updated_at` values are taken as milliseconds
_INTEGER = re.compile(r"[+-]?\d+")
_BOOLEANS = {"true": True, "1": True, "false": False, "0": False}


@dataclass(frozen=True)
class ListQuery:
    order_type: str
    offset: int
    limit: int
    sort_by: str
    sort_desc: bool
    statuses: frozenset[str]
    relations: frozenset[str]
    updated_since: float | None  # epoch seconds
    product_id: int | None
    customer_id: int | None
    affiliate_id: int | None


def parse_list_query(order_type: str, query: Mapping[str, list[str]]) -> ListQuery:
    """Validate like the Laravel controller would; raises a 422 ApiProblemError."""
    errors: dict[str, list[str]] = {}

    def scalar(name: str) -> str | None:
        values = query.get(name)
        if not values or values[-1] == "":  # PHP keeps the last; "" becomes null
            return None
        return values[-1]

    def integer(name: str, label: str, minimum: int | None = None) -> int | None:
        text = scalar(name)
        if text is None:
            return None
        if not _INTEGER.fullmatch(text.strip()):
            errors[name] = [f"The {label} field must be an integer."]
            return None
        value = int(text)
        if minimum is not None and value < minimum:
            errors[name] = [f"The {label} field must be at least {minimum}."]
        return value

    offset = integer("offset", "offset", 0)
    limit = integer("limit", "limit", 1)
    if limit is not None and limit > MAX_LIMIT and "limit" not in errors:
        errors["limit"] = [f"The limit field must not be greater than {MAX_LIMIT}."]
    sort_by = scalar("sortBy") or "id"
    if sort_by not in SORT_COLUMNS:
        errors["sortBy"] = ["The selected sort by is invalid."]
    sort_desc_text = scalar("sortDesc")
    sort_desc = True
    if sort_desc_text is not None:
        if sort_desc_text.lower() not in _BOOLEANS:
            errors["sortDesc"] = ["The sort desc field must be true or false."]
        else:
            sort_desc = _BOOLEANS[sort_desc_text.lower()]
    statuses = _array(query, "statuses", errors)
    for n, status in enumerate(statuses or ()):
        if status not in STATUSES:
            errors[f"statuses.{n}"] = [f"The selected statuses.{n} is invalid."]
    relations = _array(query, "with", errors)
    updated_at = integer("updated_at", "updated at")
    product_id = integer("product_id", "product id")
    customer_id = integer("customer_id", "customer id")
    affiliate_id = integer("affiliate_id", "affiliate id")
    if errors:
        raise validation_error(errors)
    since = None
    if updated_at is not None:
        since = (
            updated_at / 1000 if updated_at > MILLISECONDS_ABOVE else float(updated_at)
        )
    return ListQuery(
        order_type=order_type,
        offset=offset or 0,
        limit=DEFAULT_LIMIT if limit is None else limit,
        sort_by=sort_by,
        sort_desc=sort_desc,
        statuses=frozenset(statuses) if statuses else DEFAULT_STATUSES,
        relations=frozenset(relations or ()),
        updated_since=since,
        product_id=product_id,
        customer_id=customer_id,
        affiliate_id=affiliate_id,
    )


def _array(
    query: Mapping[str, list[str]], name: str, errors: dict[str, list[str]]
) -> list[str] | None:
    """PHP arrays: `name[]=a&name[]=b` or `name[0]=a`; a bare `name=a` is not an array.

    Being strict here catches the classic client bug: `requests` encodes a list
    parameter as `name=a&name=b` unless the key itself ends in `[]`.
    """
    if name in query:
        errors[name] = [f"The {name} field must be an array."]
        return None
    pattern = re.compile(re.escape(name) + r"\[\d*\]")
    values = [v for key, vs in query.items() if pattern.fullmatch(key) for v in vs]
    return values or None


def select_orders(
    orders: Iterable[JsonObject], query: ListQuery, *, inclusive: bool
) -> tuple[list[JsonObject], int]:
    """One page of matching orders (not copied) and the count of all matches.

    `updated_at` keeps orders updated at or after the timestamp when `inclusive`
    (the default: an order that shares the cursor's second is never lost), strictly
    after otherwise. Sorting ties break on `id` in the same direction, so pages are
    stable. `created_at` is not in the documented payload; it sorts by `id`
    (creation order).
    """
    matches = [order for order in orders if _matches(order, query, inclusive=inclusive)]
    matches.sort(key=_sort_key(query.sort_by), reverse=query.sort_desc)
    return matches[query.offset : query.offset + query.limit], len(matches)


def _matches(order: JsonObject, query: ListQuery, *, inclusive: bool) -> bool:
    if (
        order.get("type") != query.order_type
        or order.get("status") not in query.statuses
    ):
        return False
    if query.customer_id is not None and order.get("customer_id") != query.customer_id:
        return False
    if (
        query.affiliate_id is not None
        and order.get("affiliate_id") != query.affiliate_id
    ):
        return False
    if query.product_id is not None and not any(
        item.get("product_id") == query.product_id for item in order.get("items") or ()
    ):
        return False
    if query.updated_since is not None:
        updated = _moment(order.get("updated_at"))
        if updated is None:
            return False
        seconds = updated.timestamp()
        return (
            seconds >= query.updated_since
            if inclusive
            else seconds > query.updated_since
        )
    return True


def _sort_key(column: str) -> Any:
    if column in ("id", "created_at"):
        return lambda order: (order["id"],)

    def key(order: JsonObject) -> tuple[bool, float, int]:
        moment = _moment(order.get(column))
        # NULLs sort first ascending, as MySQL does
        return (
            moment is not None,
            0.0 if moment is None else moment.timestamp(),
            order["id"],
        )

    return key


def _moment(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return parse_timestamp(value)
    except ValueError:
        return None


def render_order(order: JsonObject, relations: frozenset[str]) -> JsonObject:
    """A deep copy showing only the relations `with[]` asked for.

    Without `items` there is no `items` key; `products` adds `items[].product` and
    `items[].variant`; without `buyer` there is no `buyer` key. `payment` and
    `connect_orders` add those keys.
    """
    shown = copy.deepcopy(order)
    items = shown.pop("items", None)
    buyer = shown.pop("buyer", None)
    if "items" in relations:
        shown["items"] = [_item(item, "products" in relations) for item in items or ()]
    if "buyer" in relations:
        shown["buyer"] = buyer
    if "payment" in relations or "payment-compact" in relations:
        shown["payment"] = _payment(order)
    if "connect_orders" in relations:
        shown["connect_orders"] = []
    return shown


def _item(item: JsonObject, with_products: bool) -> JsonObject:
    if not with_products:
        item.pop("product", None)
        item.pop("variant", None)
    return item


def _payment(order: JsonObject) -> JsonObject | None:
    """A guess: the payment shape was not researched (selldone-api.md §9.12)."""
    if order.get("payment_id") is None:
        return None
    return {
        "id": order["payment_id"],
        "gateway": order.get("payment_type"),
        "amount": order.get("price"),
        "currency": order.get("currency"),
        "status": "Payed",
        "created_at": order.get("reserved_at"),
    }
