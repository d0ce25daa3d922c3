"""What one Selldone request came to: its JSON body, or the filebridge error to raise.

This is the client's one response classifier (`classify_response`); it also words the
error for a request that got no answer (`unavailable_error`) and for an answer of the
wrong shape (`parse_body`, the one place pydantic errors become `ApiError`). Every
message says what happened, on which method and path, and what to do next (`hint`).
The token is never part of a message: only method, path, status and the API's text.

It reads `requests` types, so it is part of the client adapter (`selldone`), not pure.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from email.utils import parsedate_to_datetime
from typing import Any, Final, TypeVar
from urllib.parse import urlsplit

import requests
import urllib3.exceptions
from pydantic import BaseModel, ValidationError

from filebridge.errors import (
    ApiError,
    ApiRejectedError,
    ApiUnavailableError,
    AuthError,
    RequestFate,
    TransitionRejectedError,
)

__all__ = [
    "classify_response",
    "is_provably_unsent",
    "parse_body",
    "retry_after_seconds",
    "unavailable_error",
]

_TOKEN_HINT = (
    "Create a new token with the ERP token link (`filebridge auth-url`), "
    "set SELLDONE_TOKEN (or [selldone] token) and run again."
)
_SCOPE_HINT = (
    "First check [selldone] shop_id: {shop_id} may be the wrong shop id (a token "
    "answers 403 for every shop but its own; the id is shown next to the token). If "
    "it is right, create a token for shop {shop_id} with the backoffice:order:read and "
    "backoffice:order:write scopes (`filebridge auth-url`), check that the account's "
    "e-mail is verified, set SELLDONE_TOKEN and run again."
)
_LATER_HINT = "Try again later; nothing was lost."
_WRITE_UNSURE_HINT = (
    "Try again later; nothing was lost: the next run re-reads the order's state "
    "before sending this step again."
)

# 503 is answered before the shop processes anything (maintenance, overload); a
# gateway's 502/504 may hide a request still running behind it. Any other 5xx comes
# from the shop itself once it is done with the request.
_SERVER_ERROR_FATES: Final = {
    503: RequestFate.NOT_PROCESSED,
    502: RequestFate.MAY_BE_RUNNING,
    504: RequestFate.MAY_BE_RUNNING,
}

_M = TypeVar("_M", bound=BaseModel)


def classify_response(
    response: requests.Response,
    method: str,
    path: str,
    *,
    shop_id: int,
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
            + f" Either shop id {shop_id} is wrong or the token lacks a scope or "
            "access to that shop.",
            hint=_SCOPE_HINT.format(shop_id=shop_id),
            **common,
        )
    if status == 429:
        raise ApiUnavailableError(
            f"Selldone's rate limit was hit (429 on {where}).",
            hint="Lower [limits] requests_per_minute if other tools use the same "
            "token. " + _LATER_HINT,
            fate=RequestFate.NOT_PROCESSED,
            **common,
        )
    if status >= 500:
        raise ApiUnavailableError(
            _sentence(f"Selldone answered {status} on {where}{detail}"),
            hint=_WRITE_UNSURE_HINT if is_write else _LATER_HINT,
            fate=_SERVER_ERROR_FATES.get(status, RequestFate.ENDED),
            **common,
        )
    if 300 <= status < 400:
        target = response.headers.get("Location", "?")
        raise ApiUnavailableError(
            f"Selldone answered a {status} redirect to {_no_query(target)} on {where}.",
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
            hint=f"Check the order id and that it belongs to shop {shop_id}.",
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
            _sentence(f"Selldone rejected the request ({status} on {where}){detail}"),
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
            _sentence(f"Selldone refused the request ({status} on {where}){detail}"),
            hint="This request will not succeed as sent; see the API's message.",
            **common,
        )
    return body


def unavailable_error(
    exc: requests.RequestException,
    method: str,
    path: str,
    attempts: int,
    timeout: float,
) -> ApiUnavailableError:
    """Translate a `requests` failure (after retries) into ApiUnavailableError."""
    where = f"{method} {path}"
    fate = RequestFate.MAY_BE_RUNNING  # unless the request provably never left
    if isinstance(exc, requests.ConnectTimeout) or is_provably_unsent(exc):
        fate = RequestFate.NOT_PROCESSED
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
        f"{what} on {where}{tries}.", method=method, path=path, hint=hint, fate=fate
    )


def parse_body(model: type[_M], body: Mapping[str, Any], method: str, path: str) -> _M:
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


def retry_after_seconds(header: str | None, date: str | None = None) -> float | None:
    """Retry-After as seconds: delta-seconds or an HTTP date; None if absent/garbled.

    An HTTP date is measured from the answer's own `Date` header when it has one (the
    shop's clock), not from this machine's clock, which may be hours off.
    """
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
    now = datetime.now(UTC)
    if date:
        with contextlib.suppress(TypeError, ValueError):
            now = parsedate_to_datetime(date)
        if now.tzinfo is None:
            now = now.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


def is_provably_unsent(exc: Exception) -> bool:
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


def _sentence(text: str) -> str:
    """End a message with exactly one full stop (API messages bring their own)."""
    return text if text.endswith((".", "!", "?")) else text + "."


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


def _no_query(url: str) -> str:
    parts = urlsplit(url)
    return (
        f"{parts.scheme}://{parts.netloc}{parts.path}" if parts.netloc else parts.path
    )
