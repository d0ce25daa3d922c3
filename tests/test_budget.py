"""The API budget survives process restarts: calls of earlier runs count against a new one."""

from __future__ import annotations

from pathlib import Path

import pytest

from filebridge.jobs import share_budget
from filebridge.journal.store import Journal
from filebridge.selldone.ratelimit import RateLimiter


class _WouldWaitError(Exception):
    pass


def limiter_recording_waits(per_minute: int) -> tuple[RateLimiter, list[float]]:
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        raise _WouldWaitError

    return RateLimiter(per_minute, sleep=sleep), waits


def test_calls_journalled_in_the_last_minute_use_up_the_new_limiters_budget(
    tmp_path: Path,
) -> None:
    """Three calls an earlier run made just now leave a 3-per-minute limiter nothing."""
    limiter, waits = limiter_recording_waits(3)
    with Journal.open(tmp_path / "j.sqlite3") as journal:
        for _ in range(3):
            journal.record_api_call(
                "GET", "/shops/1/process-center/baskets-PHYSICAL", 200
            )
        share_budget(limiter, journal)
    with pytest.raises(_WouldWaitError):
        limiter.acquire()
    assert 55.0 < waits[0] <= 61.1  # window + margin


def test_a_fresh_journal_leaves_the_whole_budget(tmp_path: Path) -> None:
    """With no recent calls the new limiter starts at once (the control case)."""
    limiter, waits = limiter_recording_waits(3)
    with Journal.open(tmp_path / "j.sqlite3") as journal:
        share_budget(limiter, journal)
        for _ in range(3):
            limiter.acquire()
    assert waits == []


def test_a_call_in_flight_when_a_process_died_still_counts(tmp_path: Path) -> None:
    """A start noted before sending, never answered, counts for the next process too."""
    first, _ = limiter_recording_waits(1)
    second, waits = limiter_recording_waits(1)
    with Journal.open(tmp_path / "j.sqlite3") as journal:
        share_budget(first, journal)
        first.acquire()  # noted as started; the process "dies" before any answer
        share_budget(second, journal)
    with pytest.raises(_WouldWaitError):
        second.acquire()
    assert waits


def test_a_clock_jumped_ahead_between_runs_still_counts_the_last_minutes_calls(
    tmp_path: Path,
) -> None:
    """Three calls a second ago, then the wall clock jumped an hour ahead: by the wall
    they are an hour old, by the monotonic clock (kept with the last start) they are
    not, so the new limiter's 3-per-minute budget is still spent."""
    import time
    from datetime import UTC, datetime, timedelta

    from filebridge.jobs import LAST_START_KEY, LAST_START_MONOTONIC_KEY

    limiter, waits = limiter_recording_waits(3)
    before_jump = datetime.now(UTC) - timedelta(hours=1)
    with Journal.open(tmp_path / "j.sqlite3") as journal:
        for _ in range(3):
            journal.record_api_call(
                "GET", "/shops/1/process-center/baskets-PHYSICAL", 200,
                before_jump.isoformat(),
            )  # fmt: skip
        journal.set_meta(LAST_START_KEY, before_jump.isoformat())
        journal.set_meta(LAST_START_MONOTONIC_KEY, repr(time.monotonic() - 1.0))
        share_budget(limiter, journal)
    with pytest.raises(_WouldWaitError):
        limiter.acquire()
    assert 55 < waits[0] <= 61


def test_starts_in_flight_at_a_kill_still_count_for_the_next_process(
    tmp_path: Path,
) -> None:
    """Three senders start requests and the process dies before any answer is
    journalled: all three starts (not only the last) count against the next
    process's 3-per-minute budget."""
    with Journal.open(tmp_path / "j.sqlite3") as journal:
        first = RateLimiter(10)
        share_budget(first, journal)
        for _ in range(3):
            first.acquire()  # three requests leave; no answer is journalled
        limiter, waits = limiter_recording_waits(3)
        share_budget(limiter, journal)
    with pytest.raises(_WouldWaitError):
        limiter.acquire()
    assert 55 < waits[0] <= 61.1
