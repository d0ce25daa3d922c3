"""Tolerant pydantic field types that every Selldone payload model is built from; pure.

The API is only partly documented, so the types bend where it may vary:

* money and quantities (`Money`) are `Decimal` built from the number's decimal text
  (52.4 → "52.4"), never from a binary float;
* timestamps (`Timestamp`) are timezone-aware (naive ones are taken as UTC);
* identifier-like text (`Text`: SKU, postal code, phone, label) accepts JSON numbers;
* `Payload`, the base of every model, keeps unknown keys (`extra="allow"`);
* `known_member` reads an enum-like field that stays a plain `str` in the models.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Annotated, TypeVar

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict

__all__ = ["Money", "Payload", "Text", "Timestamp", "known_member"]

_E = TypeVar("_E", bound=StrEnum)


def _to_decimal(value: object) -> object:
    """Build a Decimal from the number's text: 52.4 becomes Decimal("52.4") exactly."""
    if value is None or isinstance(value, Decimal | bool):
        return value
    if isinstance(value, int | float):
        return Decimal(str(value))
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        try:
            return Decimal(text)
        except InvalidOperation:
            return value  # let pydantic report it with the field name
    return value


def _to_text(value: object) -> object:
    """Accept JSON numbers where the API documents text (SKUs, postcodes, phones)."""
    if isinstance(value, bool):
        return value  # a bool here is a real contract breach: let pydantic report it
    if isinstance(value, int | Decimal):
        return str(value)
    if isinstance(value, float):
        return str(Decimal(str(value)))
    return value


def _blank_to_none(value: object) -> object:
    return None if isinstance(value, str) and not value.strip() else value


def _as_utc(value: datetime | None) -> datetime | None:
    """Naive timestamps are taken as UTC: the API documents ISO-8601 UTC strings."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


Money = Annotated[Decimal | None, BeforeValidator(_to_decimal)]
"""An amount or quantity: exact Decimal or None."""

Text = Annotated[str | None, BeforeValidator(_to_text)]
"""Text that the API may also send as a JSON number."""

Timestamp = Annotated[
    datetime | None, BeforeValidator(_blank_to_none), AfterValidator(_as_utc)
]
"""A timezone-aware instant; naive input is UTC, an empty string is None."""


class Payload(BaseModel):
    """Base of every API payload model: unknown keys are kept and readable."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)


def known_member(enum: type[_E], value: str | None) -> _E | None:
    """`value` as a member of `enum`; None if it is missing or a value the API invented."""
    if value is None:
        return None
    try:
        return enum(value)
    except ValueError:
        return None
