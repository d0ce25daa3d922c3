"""Several orders in flight, each order in sequence (`limits.concurrency`).

Real HTTP against the sandbox; its call log says when each request arrived and when
its answer left, so "in flight together" is measured on the server's side. With a
per-request latency the spans are long enough for overlaps to show.
"""

from __future__ import annotations

import itertools
import logging
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from filebridge.errors import AuthError, StopRequestedError
from filebridge.inbox.run import run_inbox
from filebridge.journal.store import Journal
from filebridge.sandbox import Call
from filebridge.selldone.ratelimit import RateLimiter
from tests.conftest import wait_until
from tests.inbox_support import (
    assert_no_skip_no_repeat,
    make_client,
    make_settings,
    write_config,
    write_csv,
)

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
LATENCY_S = 0.2
HEADER = ["order_id", "state", "tracking_code"]


@pytest.fixture
def settings(tmp_path: Path, sandbox: Any) -> Any:
    return make_settings(tmp_path, sandbox, extra="concurrency = 4")


@pytest.fixture
def journal(settings: Any) -> Iterator[Journal]:
    with Journal.open(settings.journal_path) as journal:
        yield journal


@pytest.fixture
def client(settings: Any) -> Iterator[Any]:
    with make_client(settings) as client:
        yield client


def writes(calls: list[Call]) -> dict[int, list[Call]]:
    """order id → its write requests (POST/PUT), in arrival order."""
    found: dict[int, list[Call]] = defaultdict(list)
    for call in calls:
        if call.method in ("POST", "PUT"):
            found[int(call.path.split("/baskets/")[1].split("/")[0])].append(call)
    return found


def most_in_flight(calls: list[Call]) -> int:
    """The most requests whose [arrival, answer] spans overlap at one moment."""
    edges = sorted([(c.at, 1) for c in calls] + [(c.answered, -1) for c in calls])
    best = current = 0
    for _, step in edges:
        current += step
        best = max(best, current)
    return best


def test_two_steps_of_one_order_are_never_in_flight_together(
    sandbox, settings, client, journal
):
    """12 orders × 4 writes with 0.2 s per answer: several orders overlap, but each
    order's next write arrives only after the answer to its previous one left."""
    ids = [o["id"] for o in sandbox.add_orders(12)]
    write_csv(
        settings.folders.inbox / "shipped.csv",
        HEADER,
        [[i, "SentOrder", f"TRK{i}"] for i in ids],
    )
    sandbox.options.latency_seconds = LATENCY_S
    sandbox.clear_calls()
    result = run_inbox(settings, client, journal, now=NOW)
    assert result.rows_applied == 12
    calls = sandbox.calls()
    per_order = writes(calls)
    assert sorted(per_order) == sorted(ids)
    for order_id, sent in per_order.items():
        assert len(sent) == 4, order_id
        for earlier, later in itertools.pairwise(sent):
            # the answer left, then the latency's way back and the next way in
            assert later.at >= earlier.answered, (order_id, earlier, later)
    # Orders really ran in parallel, up to the configured number and no more.
    overlap = most_in_flight([c for c in calls if c.method != "GET"])
    assert 2 <= overlap <= 4
    assert_no_skip_no_repeat(sandbox, dict.fromkeys(ids, "CheckQueue"))


def test_rows_of_one_order_stay_in_file_order_beside_other_orders(
    sandbox, settings, client, journal
):
    """An order with three rows in one file, among others: its rows are replayed in
    file order (OrderConfirm, then PreparingOrder, then SentOrder with tracking)."""
    ids = [o["id"] for o in sandbox.add_orders(6)]
    target = ids[0]
    rows: list[list[object]] = [[target, "OrderConfirm", ""]]
    rows += [[i, "PreparingOrder", ""] for i in ids[1:3]]
    rows += [[target, "PreparingOrder", ""]]
    rows += [[i, "SentOrder", f"T{i}"] for i in ids[3:]]
    rows += [[target, "SentOrder", "TRK-LAST"]]
    write_csv(settings.folders.inbox / "mixed.csv", HEADER, rows)
    sandbox.options.latency_seconds = 0.05
    sandbox.clear_calls()
    result = run_inbox(settings, client, journal, now=NOW)
    assert result.rows_applied == len(rows)
    sent = writes(sandbox.calls())[target]
    steps = [
        c.body["state"] if c.method == "POST" and isinstance(c.body, dict) else c.method
        for c in sent
    ]
    # rows 1, 4 and 7 in that order; the last row's tracking goes with its SentOrder
    assert [s for s in steps if s != "PUT"] == [
        "OrderConfirm",
        "PreparingOrder",
        "SentOrder",
    ]
    assert steps.index("PUT") > steps.index("PreparingOrder")
    assert sandbox.get_order(target)["delivery_info"]["tracking_code"] == "TRK-LAST"


def drop_in_order(inbox: Path, files: list[list[list[object]]]) -> list[str]:
    """One CSV per entry, arriving one second apart (mtimes) in list order; the names."""
    base = time.time() - 100
    names = []
    for number, rows in enumerate(files):
        name = f"ship-{99 - number:02d}.csv"  # names against arrival order
        path = write_csv(inbox / name, HEADER, rows)
        os.utime(path, (base + number, base + number))
        names.append(name)
    return names


def test_a_file_per_order_replays_the_orders_side_by_side(
    sandbox, settings, client, journal
):
    """An ERP that writes one file per shipment: 12 one-row files, 0.2 s per answer.
    The orders of the files overlap (the budget is not left idle), each order's
    writes stay in sequence, and every file is archived once, in arrival order."""
    ids = [o["id"] for o in sandbox.add_orders(12)]
    names = drop_in_order(
        settings.folders.inbox, [[[i, "SentOrder", f"TRK{i}"]] for i in ids]
    )
    sandbox.options.latency_seconds = LATENCY_S
    sandbox.clear_calls()
    result = run_inbox(settings, client, journal, now=NOW)
    assert [f.name for f in result.files] == names
    assert [f.outcome for f in result.files] == ["done"] * 12
    assert result.rows_applied == 12
    calls = sandbox.calls()
    for order_id, sent in writes(calls).items():
        assert len(sent) == 4, order_id
        for earlier, later in itertools.pairwise(sent):
            assert later.at >= earlier.answered, (order_id, earlier, later)
    overlap = most_in_flight([c for c in calls if c.method != "GET"])
    assert 2 <= overlap <= 4
    # The calls of each file's rows count for that file; the bulk read for the first.
    assert sum(f.calls for f in result.files) == result.calls == len(calls)
    assert_no_skip_no_repeat(sandbox, dict.fromkeys(ids, "CheckQueue"))


def test_an_order_across_small_files_keeps_their_order(
    sandbox, settings, client, journal, caplog
):
    """One order shipped in three steps over three small files, with other orders in
    each: replayed together, its rows still go in arrival order (its last tracking
    code wins), and none is refused as out of sequence."""
    ids = [o["id"] for o in sandbox.add_orders(7)]
    target, others = ids[0], ids[1:]
    files: list[list[list[object]]] = [
        [[others[0], "SentOrder", "A"], [target, "OrderConfirm", "FIRST"]],
        [[others[1], "PreparingOrder", ""], [target, "PreparingOrder", "SECOND"]],
        [[target, "SentOrder", "LAST"], *([i, "SentOrder", f"T{i}"] for i in others)],
    ]
    drop_in_order(settings.folders.inbox, files)
    sandbox.options.latency_seconds = 0.05
    sandbox.clear_calls()
    with caplog.at_level(logging.INFO, logger="filebridge.replay"):
        result = run_inbox(settings, client, journal, now=NOW)
    assert [f.outcome for f in result.files] == ["done"] * 3
    # The rows of the three files interleave in the log: each line names its file.
    assert any(f"order {target} (ship-99.csv row 3)" in m for m in caplog.messages)
    assert any(f"order {target} (ship-97.csv row 2)" in m for m in caplog.messages)
    assert result.rows_applied == sum(len(rows) for rows in files)
    sent = writes(sandbox.calls())[target]
    steps = [
        c.body["state"] if c.method == "POST" and isinstance(c.body, dict) else c.body
        for c in sent
    ]
    assert [s for s in steps if isinstance(s, str)] == [
        "OrderConfirm",
        "PreparingOrder",
        "SentOrder",
    ]
    codes = [s.get("tracking_code") for s in steps if isinstance(s, dict)]
    assert codes == ["FIRST", "SECOND", "LAST"]
    assert sandbox.get_order(target)["delivery_info"]["tracking_code"] == "LAST"
    assert_no_skip_no_repeat(sandbox, dict.fromkeys(ids, "CheckQueue"))


def test_a_429_pauses_every_sender(sandbox, settings, client, journal):
    """One write answered 429 with Retry-After 2: no sender starts a request until the
    pause has passed (requests already on their way may still arrive)."""
    ids = [o["id"] for o in sandbox.add_orders(8)]
    write_csv(
        settings.folders.inbox / "s.csv",
        HEADER,
        [[i, "SentOrder", ""] for i in ids],
    )
    sandbox.options.latency_seconds = 0.05
    sandbox.faults.fail_next(
        429, method="POST", path_contains=f"/{ids[2]}/state", retry_after=2
    )
    sandbox.clear_calls()
    result = run_inbox(settings, client, journal, now=NOW)
    assert result.rows_applied == 8
    calls = sandbox.calls()
    refused = next(c for c in calls if c.status == 429)
    in_pause = [
        c for c in calls if refused.answered + 0.2 < c.at < refused.answered + 1.9
    ]
    assert in_pause == []
    assert any(c.at >= refused.answered + 1.9 for c in calls)
    assert_no_skip_no_repeat(sandbox, dict.fromkeys(ids, "CheckQueue"))


def test_a_refused_token_stops_every_sender_and_leaves_nothing_in_doubt(
    sandbox, settings, client, journal
):
    """The token is revoked while four orders are in flight: the run ends with the
    AuthError, every step is `confirmed` or `planned` (none `sent`), no request starts
    afterwards, and with the token back the rerun finishes each step exactly once."""
    ids = [o["id"] for o in sandbox.add_orders(16)]
    write_csv(
        settings.folders.inbox / "s.csv",
        HEADER,
        [[i, "SentOrder", f"T{i}"] for i in ids],
    )
    sandbox.options.latency_seconds = LATENCY_S
    threading.Timer(1.0, sandbox.faults.revoke_token).start()
    with pytest.raises(AuthError):
        run_inbox(settings, client, journal, now=NOW)
    ended = time.time()
    states = dict(journal.query("SELECT state, count(*) FROM steps GROUP BY state"))
    assert "sent" not in states
    assert states.get("confirmed", 0) > 0
    refused = [c for c in sandbox.calls() if c.status == 401]
    assert 1 <= len(refused) <= 4  # one per sender in flight, then nobody sends
    assert all(c.at <= ended for c in sandbox.calls())
    sandbox.faults.restore_token()
    sandbox.options.latency_seconds = 0.0
    again = run_inbox(settings, client, journal, now=NOW)
    assert again.rows_applied == 16
    assert_no_skip_no_repeat(sandbox, dict.fromkeys(ids, "CheckQueue"))


def test_sigterm_with_four_requests_in_flight_journals_each_for_what_it_is(
    tmp_path, sandbox
):
    """`filebridge run` is stopped while four writes are held by the shop: it exits
    130 once they are answered, each is journalled `confirmed`, and no request
    arrives after the signal."""
    config = write_config(tmp_path, sandbox, extra="concurrency = 4")
    ids = [o["id"] for o in sandbox.add_orders(8)]
    write_csv(
        tmp_path / "inbox" / "s.csv", HEADER, [[i, "OrderConfirm", ""] for i in ids]
    )
    for order_id in ids[:4]:
        sandbox.faults.delay_next(
            1.5, method="POST", path_contains=f"/{order_id}/state"
        )
    journal_path = tmp_path / "state" / "filebridge.sqlite3"

    def sent_steps() -> int:
        if not journal_path.exists():
            return 0
        try:
            db = sqlite3.connect(f"file:{journal_path}?mode=ro", uri=True, timeout=0.05)
            try:
                return db.execute(
                    "SELECT count(*) FROM steps WHERE state='sent'"
                ).fetchone()[0]
            finally:
                db.close()
        except sqlite3.Error:
            return 0

    child = subprocess.Popen(
        [sys.executable, "-m", "filebridge", "run", "-c", str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert wait_until(lambda: sent_steps() == 4, 20)
        time.sleep(0.3)  # `sent` is journalled just before the bytes leave
        signalled = time.time()
        child.send_signal(signal.SIGTERM)
        _, err = child.communicate(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
            child.communicate()
    assert child.returncode == 130, err.decode()
    with sqlite3.connect(f"file:{journal_path}?mode=ro", uri=True) as db:
        states = dict(db.execute("SELECT order_id, state FROM steps").fetchall())
    assert [states[i] for i in ids[:4]] == ["confirmed"] * 4
    assert "sent" not in states.values()
    assert [c for c in sandbox.calls() if c.at >= signalled] == []
    assert [sandbox.get_order(i)["delivery_state"] for i in ids[4:]] == [
        "CheckQueue"
    ] * 4


def test_a_resumed_file_confirms_remembered_states_with_one_list_call(
    sandbox, settings, client, journal
):
    """Stopped after a few rows, the file resumes: the orders it had only learnt from
    the first run's list (remembered CheckQueue, which OrderConfirm must not trust)
    are confirmed by one list call, not a GET each."""
    ids = [o["id"] for o in sandbox.add_orders(20)]
    write_csv(
        settings.folders.inbox / "s.csv",
        HEADER,
        [[i, "SentOrder", f"T{i}"] for i in ids],
    )
    stop = threading.Event()

    def stop_after_some_writes() -> bool:
        return sum(1 for c in sandbox.calls() if c.method != "GET") >= 10

    sandbox.options.latency_seconds = 0.05
    sandbox.clear_calls()
    watcher = threading.Thread(
        target=lambda: wait_until(stop_after_some_writes, 20) and stop.set()
    )
    watcher.start()
    first = run_inbox(settings, client, journal, now=NOW, stop=stop)
    watcher.join()
    assert first.stopped
    assert 0 < first.rows_applied < 20
    client.limiter.stop = None
    before = len(sandbox.calls())
    second = run_inbox(settings, client, journal, now=NOW)
    assert second.rows_applied == 20  # the file's rows, of both runs
    reads = [c for c in sandbox.calls()[before:] if c.method == "GET"]
    single = [c for c in reads if "/baskets/" in c.path]
    assert single == []
    assert len(reads) == 1
    assert_no_skip_no_repeat(sandbox, dict.fromkeys(ids, "CheckQueue"))


def test_a_halt_ends_another_threads_budget_wait_at_once():
    """`halted_by`: a sender waiting for the budget stops within a poll when its halt
    is set, without any request starting; another thread's wait goes on."""
    limiter = RateLimiter(1, window_seconds=60.0)
    limiter.acquire()  # the budget is spent for a minute
    halt = threading.Event()
    ended: list[float] = []
    raised: list[BaseException] = []

    def sender() -> None:
        with limiter.halted_by(halt):
            try:
                limiter.acquire()
            except StopRequestedError as exc:
                raised.append(exc)
            ended.append(time.monotonic())

    thread = threading.Thread(target=sender)
    thread.start()
    time.sleep(0.2)
    halted_at = time.monotonic()
    halt.set()
    thread.join(timeout=5)
    assert len(raised) == 1
    assert ended[0] - halted_at < 0.5
    # The halt belonged to that thread only: this one's wait is not ended by it.
    with limiter.halted_by(threading.Event()):
        limiter.stop = threading.Event()
        timer = threading.Timer(0.3, limiter.stop.set)
        timer.start()
        started = time.monotonic()
        with pytest.raises(StopRequestedError):
            limiter.acquire()
        assert time.monotonic() - started >= 0.25
