"""The pure fulfilment planner: gap filling, already-done, Returned, tracking, merging."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from filebridge.replay.fulfilment import (
    Action,
    ActionKind,
    FulfilmentRequest,
    apply,
    merge_delivery_info,
    plan_actions,
)
from filebridge.selldone.models import FULFILMENT_SEQUENCE, FulfilmentState

S = FulfilmentState
states = st.sampled_from(FULFILMENT_SEQUENCE)


def names(plan):
    return [a.name for a in plan.actions]


@given(current=states, target=states)
def test_plan_actions_is_contiguous_run_ending_at_target(current, target):
    """For any (current, target) the plan is the contiguous run of steps up to target."""
    plan = plan_actions(current, FulfilmentRequest(state=target))
    steps = [a.state for a in plan.actions]
    here, there = FULFILMENT_SEQUENCE.index(current), FULFILMENT_SEQUENCE.index(target)
    assert steps == list(FULFILMENT_SEQUENCE[here + 1 : there + 1])
    assert all(a.kind is ActionKind.STATE for a in plan.actions)
    if steps:
        assert steps[-1] is target
    else:
        assert plan.outcome == "already-done"


@given(
    current=states,
    target=states,
    code=st.one_of(st.none(), st.text(min_size=1, max_size=8)),
)
def test_plan_actions_replanning_after_apply_is_empty(current, target, code):
    """Planning again after applying a plan (tracking included) yields nothing to send."""
    request = FulfilmentRequest(state=target, tracking_code=code)
    plan = plan_actions(current, request)
    state, tracking = current, None
    for action in plan.actions:
        state = apply(state, action)
        if action.kind is ActionKind.TRACKING:
            tracking = (action.tracking_code, action.tracking_url)
    again = plan_actions(state, request, tracking=tracking)
    assert again.actions == ()
    assert again.outcome == "already-done"


def test_plan_actions_checkqueue_to_sent_with_tracking_puts_tracking_before_sent():
    """Tracking goes right before SentOrder so the buyer's 'sent' view already has it."""
    plan = plan_actions(
        S.CHECK_QUEUE, FulfilmentRequest(state=S.SENT_ORDER, tracking_code="0034")
    )
    assert names(plan) == ["OrderConfirm", "PreparingOrder", "tracking", "SentOrder"]
    assert plan.actions[2].tracking_code == "0034"


def test_plan_actions_tracking_after_state_steps_without_sentorder():
    """Without a SentOrder step, tracking follows the state steps."""
    plan = plan_actions(
        S.CHECK_QUEUE,
        FulfilmentRequest(state=S.PREPARING_ORDER, tracking_url="https://t.example/1"),
    )
    assert names(plan) == ["OrderConfirm", "PreparingOrder", "tracking"]


def test_plan_actions_tracking_only_row_is_one_put():
    """An empty state with a tracking code is a tracking-only row: one PUT."""
    plan = plan_actions(S.SENT_ORDER, FulfilmentRequest(tracking_code="X1"))
    assert plan.actions == (Action(ActionKind.TRACKING, tracking_code="X1"),)
    assert plan.actions[0].method == "PUT"


def test_plan_actions_known_tracking_not_sent_again():
    """A tracking PUT whose values the order already has is not sent."""
    plan = plan_actions(
        S.SENT_ORDER,
        FulfilmentRequest(tracking_code="X1"),
        tracking=("X1", "https://old.example"),
    )
    assert plan.outcome == "already-done"
    assert "tracking already set" in plan.message


def test_plan_actions_backwards_is_already_done_with_message():
    """A state the order is already past is reported already-done, nothing sent."""
    plan = plan_actions(S.SENT_ORDER, FulfilmentRequest(state=S.ORDER_CONFIRM))
    assert plan.actions == ()
    assert plan.outcome == "already-done"
    assert plan.message == (
        "order is already SentOrder, past OrderConfirm; nothing sent "
        "(filebridge never moves an order backwards)"
    )


def test_plan_actions_items_go_into_orderconfirm_list():
    """`items` becomes the OrderConfirm list; other steps carry no list."""
    plan = plan_actions(
        S.CHECK_QUEUE, FulfilmentRequest(state=S.PREPARING_ORDER, items=(23990,))
    )
    assert plan.actions[0] == Action(
        ActionKind.STATE, state=S.ORDER_CONFIRM, items=(23990,)
    )
    assert plan.actions[1].items is None


def test_plan_actions_items_for_confirmed_order_are_noted_not_sent():
    """Items for an order past CheckQueue are not re-confirmed silently; a note says so."""
    plan = plan_actions(
        S.PREPARING_ORDER, FulfilmentRequest(state=S.SENT_ORDER, items=(1, 2))
    )
    assert names(plan) == ["SentOrder"]
    assert "items not sent" in plan.message


def test_plan_actions_delivery_info_merged_into_existing():
    """delivery_info changes are merged into the existing dict for PreparingOrder."""
    existing = {
        "type": "Post",
        "volume": {"width": 1, "length": 2, "height": 3},
        "x": 7,
    }
    changes = {"weight": Decimal("1.5"), "volume": {"width": 10}, "type": "PostFast"}
    plan = plan_actions(
        S.ORDER_CONFIRM,
        FulfilmentRequest(state=S.PREPARING_ORDER, delivery_info=changes),
        delivery_info=existing,
    )
    (action,) = plan.actions
    assert action.delivery_info == {
        "type": "PostFast",
        "volume": {"width": 10, "length": 2, "height": 3},
        "x": 7,
        "weight": Decimal("1.5"),
    }
    assert existing["volume"]["width"] == 1  # the caller's dict is untouched
    assert action.payload()["delivery_info"]["weight"] == 1.5


def test_plan_actions_no_delivery_changes_sends_null():
    """Without changes the PreparingOrder step sends no delivery_info (null = no change)."""
    plan = plan_actions(S.ORDER_CONFIRM, FulfilmentRequest(state=S.PREPARING_ORDER))
    assert plan.actions[0].delivery_info is None


@pytest.mark.parametrize(
    "current", [S.CHECK_QUEUE, S.ORDER_CONFIRM, S.PREPARING_ORDER, S.TO_CUSTOMER]
)
def test_plan_actions_returned_only_from_sent(current):
    """Returned is rejected unless the order is SentOrder."""
    plan = plan_actions(current, FulfilmentRequest(returned=True))
    assert plan.outcome == "rejected"
    assert plan.rejection == (
        "Returned fits only an order that was sent (SentOrder); "
        f"this order is {current.value}. Nothing was sent."
    )


def test_plan_actions_returned_from_sent_then_tracking():
    """Returned from SentOrder is one delivery-returned POST, then tracking if given."""
    plan = plan_actions(
        S.SENT_ORDER, FulfilmentRequest(returned=True, tracking_code="NEW")
    )
    assert names(plan) == ["delivery-returned", "tracking"]
    assert apply(S.SENT_ORDER, plan.actions[0]) is S.PREPARING_ORDER


def test_plan_actions_unknown_current_state_rejects_row():
    """A state the API invented rejects the row instead of guessing."""
    plan = plan_actions("Teleported", FulfilmentRequest(state=S.SENT_ORDER))
    assert plan.outcome == "rejected"
    assert "'Teleported'" in (plan.rejection or "")


def test_plan_actions_empty_request_rejected():
    """A row with no state and no tracking asks for nothing and is rejected."""
    plan = plan_actions(S.CHECK_QUEUE, FulfilmentRequest())
    assert plan.rejection is not None
    assert "asks for nothing" in plan.rejection


def test_plan_actions_state_given_as_api_string():
    """The current state may be given in the API's spelling."""
    plan = plan_actions("OrderConfirm", FulfilmentRequest(state=S.SENT_ORDER))
    assert names(plan) == ["PreparingOrder", "SentOrder"]


def test_merge_delivery_info_none_means_no_change():
    """A None in the changes keeps the existing value."""
    assert merge_delivery_info({"weight": 2}, {"weight": None, "type": "Post"}) == {
        "weight": 2,
        "type": "Post",
    }


def test_action_describe_is_readable():
    """Each action describes itself for logs and dry runs."""
    assert (
        Action(ActionKind.STATE, state=S.ORDER_CONFIRM, items=(1, 2)).describe()
        == "POST state OrderConfirm (items 1, 2)"
    )
    assert (
        Action(
            ActionKind.TRACKING, tracking_code="A", tracking_url="https://u"
        ).describe()
        == "PUT tracking (code A, url https://u)"
    )
    assert Action(ActionKind.RETURNED).describe() == "POST delivery-returned"
