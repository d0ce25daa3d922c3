"""Replies and error bodies in the shapes the Selldone (Laravel) API uses."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

JsonObject = dict[str, Any]

APP_ERROR_CODE = 1234  # the real numeric codes are unknown (selldone-api.md §9.5)
NO_ACCESS_CODE = 201  # the PAJ heuristic for "token has no access" (selldone-api.md §7)
NO_ACCESS_MESSAGE = "This token does not have access to this section."


@dataclass(frozen=True)
class Reply:
    """One HTTP answer; `drop` means: close the connection without writing anything.

    `process_first` asks for the request to be handled before the drop or the
    failure status is sent instead of its real answer.
    """

    status: int
    body: object = None
    headers: Mapping[str, str] = field(default_factory=dict)
    drop: bool = False
    process_first: bool = False


class ApiProblemError(Exception):
    """Raised inside a route to answer with a non-200 reply (validation, 404, ...)."""

    def __init__(self, status: int, body: JsonObject) -> None:
        super().__init__(f"{status}: {body}")
        self.status = status
        self.body = body


class AppError(Exception):
    """The shop refused the action; answered as `{error, error_msg, code}`.

    The HTTP status of that answer is a sandbox option (200 by default), because the
    dashboard reads `data.error` even on 2xx (selldone-api.md §7).
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def app_error_body(message: str, code: int = APP_ERROR_CODE) -> JsonObject:
    return {"error": True, "error_msg": message, "code": code}


def message_body(message: str) -> JsonObject:
    return {"message": message}


def basket_not_found() -> ApiProblemError:
    return ApiProblemError(404, {"error": True, "error_msg": "Basket not found."})


def validation_error(errors: Mapping[str, list[str]]) -> ApiProblemError:
    """Laravel's 422: the first message plus "(and N more errors)" if there are more."""
    messages = [text for texts in errors.values() for text in texts]
    message = messages[0]
    extra = len(messages) - 1
    if extra:
        message += f" (and {extra} more error{'s' if extra > 1 else ''})"
    return ApiProblemError(422, {"message": message, "errors": dict(errors)})
