"""Repeats by meaning: identical bytes are a copy only while nothing happened since.

Real HTTP to the sandbox, real CSV files, the real inbox pass: an ERP that only sends
statuses ships an order, returns it, then ships it again with a file byte-identical to
the first one.
"""

from __future__ import annotations

from datetime import UTC, datetime

from filebridge.cli_text import inbox_summary
from filebridge.inbox.run import run_inbox
from filebridge.journal.store import Journal
from filebridge.status import read_status
from tests.inbox_support import make_client, make_settings, write_csv

HEADER = ["order_id", "state"]


def test_repeats_reshipment_after_return_is_applied_a_plain_copy_is_skipped(
    tmp_path, sandbox
):
    """ship → return → ship again (same bytes as the first file) is applied; the same
    bytes once more right after are an accidental copy: skipped, shown in the summary
    and in status."""
    settings = make_settings(tmp_path, sandbox)
    order = sandbox.add_order(delivery_state="PreparingOrder")["id"]
    inbox = tmp_path / "inbox"

    def drain() -> str:
        with (
            Journal.open(settings.journal_path) as journal,
            make_client(settings) as client,
        ):
            result = run_inbox(settings, client, journal, now=datetime.now(UTC))
        return inbox_summary(result)

    ship = write_csv(inbox / "ship.csv", HEADER, [[order, "SentOrder"]])
    first = ship.read_bytes()
    drain()
    assert sandbox.get_order(order)["delivery_state"] == "SentOrder"
    write_csv(inbox / "return.csv", HEADER, [[order, "Returned"]])
    drain()
    assert sandbox.get_order(order)["delivery_state"] == "PreparingOrder"

    again = write_csv(inbox / "ship-again.csv", HEADER, [[order, "SentOrder"]])
    assert again.read_bytes() == first
    summary = drain()
    assert "1 rows applied" in summary, summary
    assert sandbox.get_order(order)["delivery_state"] == "SentOrder"

    write_csv(inbox / "ship-again-copy.csv", HEADER, [[order, "SentOrder"]])
    calls = len(sandbox.calls())
    summary = drain()
    assert "1 duplicates skipped" in summary, summary
    assert "ship-again-copy.csv" in summary
    assert len(sandbox.calls()) == calls  # a copy sends nothing
    with Journal.open(settings.journal_path) as journal:
        lines = "\n".join(read_status(journal, now=datetime.now(UTC)).lines())
    assert "duplicate files skipped:     1 (last: ship-again-copy.csv" in lines
