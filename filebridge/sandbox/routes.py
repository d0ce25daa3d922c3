"""The API as the sandbox answers it: faults, routing, token, rate limit, scopes."""

from __future__ import annotations

import hmac
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .listing import ORDER_TYPES, parse_list_query
from .replies import (
    NO_ACCESS_CODE,
    NO_ACCESS_MESSAGE,
    ApiProblemError,
    AppError,
    JsonObject,
    Reply,
    app_error_body,
    message_body,
)

if TYPE_CHECKING:
    from .calls import CallLog
    from .faults import Faults
    from .options import Options
    from .ratelimit import RateLimiter
    from .shop import Shop


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    target: str  # path plus "?query", as received
    query: Mapping[str, list[str]]
    body: object
    authorization: str | None


@dataclass
class Backend:
    """Everything the API routes need; owned by the Sandbox."""

    shop: Shop
    faults: Faults
    limiter: RateLimiter
    options: Options
    log: CallLog
    token: str
    shop_id: int


_Action = Callable[[Backend, "re.Match[str]", Request], JsonObject]


@dataclass(frozen=True)
class _Route:
    method: str
    pattern: re.Pattern[str]
    scope: str
    action: _Action


def _list_orders(
    backend: Backend, match: re.Match[str], request: Request
) -> JsonObject:
    query = parse_list_query(match["type"], request.query)
    inclusive = backend.options.updated_at_inclusive
    return backend.shop.list_orders(query, inclusive=inclusive)


def _get_order(backend: Backend, match: re.Match[str], request: Request) -> JsonObject:
    return backend.shop.basket(int(match["order_id"]))


def _change_state(
    backend: Backend, match: re.Match[str], request: Request
) -> JsonObject:
    policy = backend.options.skip_policy
    return backend.shop.change_state(
        int(match["order_id"]), request.body, skip_policy=policy
    )


def _delivery_returned(
    backend: Backend, match: re.Match[str], request: Request
) -> JsonObject:
    return backend.shop.return_delivery(int(match["order_id"]))


def _set_tracking(
    backend: Backend, match: re.Match[str], request: Request
) -> JsonObject:
    return backend.shop.set_tracking(int(match["order_id"]), request.body)


_CENTER = r"/shops/(?P<shop_id>\d+)/process-center"
_BASKET = _CENTER + r"/baskets/(?P<order_id>\d+)"
ROUTES = (
    _Route(
        "GET",
        re.compile(_CENTER + r"/baskets-(?P<type>[A-Za-z_]+)"),
        "read",
        _list_orders,
    ),
    _Route("GET", re.compile(_BASKET), "read", _get_order),
    _Route("POST", re.compile(_BASKET + "/state"), "write", _change_state),
    _Route(
        "POST", re.compile(_BASKET + "/delivery-returned"), "write", _delivery_returned
    ),
    _Route("PUT", re.compile(_BASKET + "/tracking"), "write", _set_tracking),
)


def answer(backend: Backend, request: Request) -> Reply:
    """The full answer to one API request, in Laravel's middleware order.

    `Options.latency_seconds` is spent half before and half after. Armed faults
    first (they play a failing proxy), then 404/405 routing, 401 token,
    429 rate limit (refused requests are not counted), 403 shop and scope, then the
    route: 422 validation, 404 basket, app errors, or 200.
    """
    latency = backend.options.latency_seconds / 2  # half on the way in, half out
    if latency:
        time.sleep(latency)
    try:
        delay = backend.faults.take_delay(request.method, request.target)
        if delay:
            time.sleep(delay)
        failure = backend.faults.take_failure(request.method, request.target)
        if failure is not None:
            if failure.process_first:
                _answer_api(backend, request)
            return failure
        return _answer_api(backend, request)
    finally:
        if latency:
            time.sleep(latency)


def _answer_api(backend: Backend, request: Request) -> Reply:
    found = _resolve(request)
    if isinstance(found, Reply):
        return found
    route, match = found
    if backend.faults.revoked or not _is_bearer(request.authorization, backend.token):
        return Reply(401, message_body("Unauthenticated."))
    verdict = backend.limiter.hit(backend.token)
    headers: dict[str, str] = {}
    if verdict is not None:
        headers["X-RateLimit-Limit"] = str(verdict.limit)
        headers["X-RateLimit-Remaining"] = str(verdict.remaining)
        if not verdict.allowed:
            headers["Retry-After"] = str(verdict.retry_after)
            headers["X-RateLimit-Reset"] = str(int(time.time()) + verdict.retry_after)
            return Reply(429, message_body("Too Many Attempts."), headers)
    if (
        int(match["shop_id"]) != backend.shop_id
        or route.scope not in backend.options.scopes
    ):
        return Reply(403, app_error_body(NO_ACCESS_MESSAGE, NO_ACCESS_CODE), headers)
    try:
        return Reply(200, route.action(backend, match, request), headers)
    except ApiProblemError as problem:
        return Reply(problem.status, problem.body, headers)
    except AppError as error:
        return Reply(
            backend.options.app_error_status, app_error_body(error.message), headers
        )


def _resolve(request: Request) -> tuple[_Route, re.Match[str]] | Reply:
    allowed = []
    for route in ROUTES:
        match = route.pattern.fullmatch(request.path)
        if match is None:
            continue
        if route.method == request.method:
            if "type" in match.groupdict() and match["type"] not in ORDER_TYPES:
                break
            return route, match
        allowed.append(route.method)
    if not allowed:
        return Reply(404, message_body("Not Found."))
    methods = [
        m
        for method in allowed
        for m in ((method, "HEAD") if method == "GET" else (method,))
    ]
    supported = ", ".join(methods)
    return Reply(
        405,
        message_body(
            f"The {request.method} method is not supported for route "
            f"{request.path.lstrip('/')}. Supported methods: {supported}."
        ),
        {"Allow": supported},
    )


def _is_bearer(header: str | None, token: str) -> bool:
    if header is None:
        return False
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(value.strip().encode(), token.encode())
