"""Pydantic models of Selldone's answers to the order writes (state, tracking); pure."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from filebridge.selldone.models import DeliveryInfo, FulfilmentState
from filebridge.selldone.payload_types import Payload, Text, Timestamp, known_member

__all__ = ["StateChange", "TrackingResult"]


class StateChange(Payload):
    """Answer to POST .../state and .../delivery-returned.

    `delivery_state` stays a str (the state after delivery-returned is not documented);
    `changed` is False when the shop already was in that state. `raw` is the whole body.
    """

    delivery_state: str = ""
    changed: bool = False
    delivery_at: Timestamp = None
    updated: int | None = None
    items: list[dict[str, Any]] = Field(default_factory=list)
    raw: dict[str, Any] = Field(default_factory=dict, exclude=True)

    @property
    def fulfilment_state(self) -> FulfilmentState | None:
        """`delivery_state` as a known step, or None."""
        return known_member(FulfilmentState, self.delivery_state)


class TrackingResult(Payload):
    """Answer to PUT .../tracking; `delivery_info` is the order's new delivery_info."""

    tracking_code: Text = None
    tracking_url: Text = None
    delivery_info: DeliveryInfo | None = None
    success: bool | None = None
    raw: dict[str, Any] = Field(default_factory=dict, exclude=True)
