"""Pure fulfilment planner: one inbox row + what we know of an order → the ordered API steps.

Rules (design §5, selldone-api.md §2.3–2.5 and §5):

* A target state becomes every missing step of `CheckQueue → OrderConfirm →
  PreparingOrder → SentOrder → ToCustomer`, one POST each, because the API wants them
  one at a time. Steps the order has already reached are not sent; a target the order
  has reached or passed is `already-done` (a backwards move is reported, never sent).
* `items` is the OrderConfirm `list` (None: all items). It is only sent with an
  OrderConfirm step this row actually needs: re-confirming an order that is already
  confirmed would rewrite its item checks (and so the refund), so it is not done
  silently; the plan carries a note instead.
* `delivery_info` changes (weight, volume, carrier…) are merged into the order's
  *existing* delivery_info for the PreparingOrder step, because the API stores the dict
  it receives (the dashboard sends a full copy with a few keys overwritten). No changes
  → `None` ("no change"). The caller must pass the existing dict when there are changes.
* Tracking is one PUT, with or without a state. When the plan also moves the order to
  SentOrder, the PUT goes right *before* that step, so the buyer's "on delivery" view and
  notification already carry the tracking number; otherwise it follows the state steps.
  A tracking PUT whose values the order already has is not sent.
* `Returned` is the delivery-returned POST and fits only an order in SentOrder (the
  dashboard offers it only there). Any other state rejects the row. After a return the
  order is back in PreparingOrder (selldone-api.md §2.4, inferred); a second `Returned`
  row for the same parcel is therefore rejected as "not sent", while re-running the
  *same* row is recognised by the executor's idempotency key and sends nothing.
* An order state the API invents (not in `FulfilmentState`) rejects the row: guessing
  where an unknown state sits in the sequence could skip or repeat a step.

Nothing here does I/O; `apply()` is the planner's model of what a step does, so that
planning again after applying a plan yields nothing (tested as a property).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Any, Protocol

from filebridge.selldone import FULFILMENT_SEQUENCE, FulfilmentState

__all__ = [
    "RETURNED_STATE",
    "Action",
    "ActionKind",
    "FulfilmentRequest",
    "Plan",
    "RowRequest",
    "apply",
    "merge_delivery_info",
    "parse_state",
    "plan_actions",
    "without_returned",
]

RETURNED_STATE = FulfilmentState.PREPARING_ORDER
"""Where delivery-returned leaves an order (selldone-api.md §2.4 [I]); the API's answer wins."""


class ActionKind(StrEnum):
    """The three write endpoints replay uses."""

    STATE = "state"
    RETURNED = "delivery-returned"
    TRACKING = "tracking"


@dataclass(frozen=True)
class Action:
    """One API write. `name` is unique within one row's plan (it is part of the step key)."""

    kind: ActionKind
    state: FulfilmentState | None = None
    items: tuple[int, ...] | None = None
    delivery_info: Mapping[str, Any] | None = None
    tracking_code: str | None = None
    tracking_url: str | None = None

    @property
    def name(self) -> str:
        if self.kind is ActionKind.STATE and self.state is not None:
            return self.state.value
        return self.kind.value

    @property
    def method(self) -> str:
        return "PUT" if self.kind is ActionKind.TRACKING else "POST"

    def describe(self) -> str:
        """A one-line, human description for logs, dry runs and result files."""
        if self.kind is ActionKind.TRACKING:
            parts = [f"code {self.tracking_code}"] if self.tracking_code else []
            parts += [f"url {self.tracking_url}"] if self.tracking_url else []
            return "PUT tracking (" + ", ".join(parts) + ")"
        if self.kind is ActionKind.RETURNED:
            return "POST delivery-returned"
        text = f"POST state {self.name}"
        if self.items is not None:
            text += " (items " + ", ".join(str(i) for i in self.items) + ")"
        if self.delivery_info is not None:
            text += " (with delivery_info)"
        return text

    def payload(self) -> dict[str, Any]:
        """The step's parameters as JSON-safe data (for the journal)."""
        data: dict[str, Any] = {"kind": self.kind.value, "name": self.name}
        if self.items is not None:
            data["items"] = list(self.items)
        if self.delivery_info is not None:
            data["delivery_info"] = _json_safe(self.delivery_info)
        if self.tracking_code is not None:
            data["tracking_code"] = self.tracking_code
        if self.tracking_url is not None:
            data["tracking_url"] = self.tracking_url
        return data


class RowRequest(Protocol):
    """What one inbox row asks for (`validation.InboxRow` satisfies it)."""

    @property
    def state(self) -> FulfilmentState | None: ...
    @property
    def returned(self) -> bool: ...
    @property
    def items(self) -> tuple[int, ...] | None: ...
    @property
    def tracking_code(self) -> str | None: ...
    @property
    def tracking_url(self) -> str | None: ...
    @property
    def delivery_info(self) -> Mapping[str, Any]: ...


@dataclass(frozen=True)
class FulfilmentRequest:
    """A plain `RowRequest`, for callers and tests that have no inbox row."""

    state: FulfilmentState | None = None
    returned: bool = False
    items: tuple[int, ...] | None = None
    tracking_code: str | None = None
    tracking_url: str | None = None
    delivery_info: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Plan:
    """The steps for one row, or why there are none.

    `rejection` set → the row is rejected (nothing is sent). No actions and no
    rejection → `already-done`. `notes` explain parts of the row that were not sent.
    """

    actions: tuple[Action, ...] = ()
    rejection: str | None = None
    notes: tuple[str, ...] = ()

    @property
    def outcome(self) -> str:
        if self.rejection is not None:
            return "rejected"
        return "act" if self.actions else "already-done"

    @property
    def message(self) -> str:
        if self.rejection is not None:
            return self.rejection
        return "; ".join(self.notes)


def parse_state(value: FulfilmentState | str) -> FulfilmentState | None:
    """A known fulfilment state, or None for a value the API invented."""
    if isinstance(value, FulfilmentState):
        return value
    try:
        return FulfilmentState(value)
    except ValueError:
        return None


def plan_actions(
    current: FulfilmentState | str,
    request: RowRequest,
    *,
    delivery_info: Mapping[str, Any] | None = None,
    tracking: tuple[str | None, str | None] | None = None,
) -> Plan:
    """Plan one row against the order's current state (module docstring has the rules).

    Args:
        current: the order's `delivery_state` as known (a str the API invented is allowed
            and rejects the row).
        request: what the row asks for.
        delivery_info: the order's existing delivery_info; needed only when the row
            carries delivery_info changes and the plan includes PreparingOrder.
        tracking: the order's known (tracking_code, tracking_url), or None if unknown.
    """
    state = parse_state(current)
    if state is None:
        return Plan(
            rejection=f"Selldone reports the order's state as {current!r}, which "
            "filebridge does not know; nothing was sent. Check the order in the "
            "Selldone dashboard and update it there, or update filebridge."
        )
    has_tracking = bool(request.tracking_code or request.tracking_url)
    if request.returned and request.state is not None:
        return Plan(
            rejection="A row cannot ask for Returned and a state at once; "
            "put them on two rows (Returned first)."
        )
    if not request.returned and request.state is None and not has_tracking:
        return Plan(
            rejection="The row asks for nothing: the state is empty and there is no "
            "tracking code or URL."
        )
    actions: list[Action] = []
    notes: list[str] = []
    if request.returned:
        if state is not FulfilmentState.SENT_ORDER:
            return Plan(
                rejection=f"Returned fits only an order that was sent (SentOrder); "
                f"this order is {state.value}. Nothing was sent."
            )
        actions.append(Action(ActionKind.RETURNED))
    elif request.state is not None:
        steps = _missing_steps(state, request.state)
        if not steps:
            notes.append(_already_there(state, request.state))
        for step in steps:
            actions.append(_state_action(step, request, delivery_info))
        _note_unused_details(request, steps, notes)

    if has_tracking:
        tracking_action = Action(
            ActionKind.TRACKING,
            tracking_code=request.tracking_code or None,
            tracking_url=request.tracking_url or None,
        )
        if _tracking_is_known(tracking_action, tracking):
            notes.append("tracking already set to these values; not sent again")
        else:
            _insert_tracking(actions, tracking_action)
    return Plan(actions=tuple(actions), notes=tuple(notes))


def without_returned(request: RowRequest) -> FulfilmentRequest | None:
    """What is left of a Returned row once Returned is applied: its tracking, if any.

    Returned moves the order back, so a row cannot be re-planned from the state it
    caused; the rest of the row still can. None when nothing is left.
    """
    if not (request.tracking_code or request.tracking_url):
        return None
    return FulfilmentRequest(
        tracking_code=request.tracking_code, tracking_url=request.tracking_url
    )


def apply(current: FulfilmentState, action: Action) -> FulfilmentState:
    """The state an order is in after `action` succeeds (the planner's model of the API)."""
    if action.kind is ActionKind.STATE and action.state is not None:
        return action.state
    if action.kind is ActionKind.RETURNED:
        return RETURNED_STATE
    return current


def merge_delivery_info(
    existing: Mapping[str, Any], changes: Mapping[str, Any]
) -> dict[str, Any]:
    """`existing` with `changes` written over it; nested dicts (volume) merge key by key.

    A None in `changes` means "no change" for that key.
    """
    merged: dict[str, Any] = copy.deepcopy(dict(existing))
    for key, value in changes.items():
        if value is None:
            continue
        old = merged.get(key)
        if isinstance(value, Mapping) and isinstance(old, Mapping):
            merged[key] = merge_delivery_info(old, value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


# --- internals ------------------------------------------------------------------------


def _missing_steps(
    current: FulfilmentState, target: FulfilmentState
) -> list[FulfilmentState]:
    here = FULFILMENT_SEQUENCE.index(current)
    there = FULFILMENT_SEQUENCE.index(target)
    return list(FULFILMENT_SEQUENCE[here + 1 : there + 1])


def _already_there(current: FulfilmentState, target: FulfilmentState) -> str:
    if current is target:
        return f"order is already {current.value}; nothing sent"
    return (
        f"order is already {current.value}, past {target.value}; nothing sent "
        "(filebridge never moves an order backwards)"
    )


def _state_action(
    step: FulfilmentState,
    request: RowRequest,
    delivery_info: Mapping[str, Any] | None,
) -> Action:
    if step is FulfilmentState.ORDER_CONFIRM:
        return Action(ActionKind.STATE, state=step, items=request.items)
    if step is FulfilmentState.PREPARING_ORDER and request.delivery_info:
        merged = merge_delivery_info(delivery_info or {}, request.delivery_info)
        return Action(ActionKind.STATE, state=step, delivery_info=merged)
    return Action(ActionKind.STATE, state=step)


def _note_unused_details(
    request: RowRequest, steps: list[FulfilmentState], notes: list[str]
) -> None:
    if request.items is not None and FulfilmentState.ORDER_CONFIRM not in steps:
        notes.append(
            "items not sent: the order is already past OrderConfirm "
            "(change the confirmed items in the Selldone dashboard)"
        )
    if request.delivery_info and FulfilmentState.PREPARING_ORDER not in steps:
        notes.append(
            "weight/size/carrier not sent: they go with the PreparingOrder step, "
            "which this order has already passed or does not reach"
        )


def _tracking_is_known(
    action: Action, known: tuple[str | None, str | None] | None
) -> bool:
    if known is None:
        return False
    code, url = known
    return (action.tracking_code is None or action.tracking_code == code) and (
        action.tracking_url is None or action.tracking_url == url
    )


def _insert_tracking(actions: list[Action], tracking: Action) -> None:
    for index, action in enumerate(actions):
        if action.state is FulfilmentState.SENT_ORDER:
            actions.insert(index, tracking)
            return
    actions.append(tracking)


def _json_safe(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value
