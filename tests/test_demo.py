"""`filebridge demo` end to end: real sandbox, real export and inbox, real files."""

from __future__ import annotations

import csv
import tomllib
from pathlib import Path

import pytest

from filebridge.demo.report import DemoReport
from filebridge.demo.run import MARKER_NAME, run_demo
from filebridge.demo.sample_files import (
    MISTAKES_CSV,
    SAMPLE_NAMES,
    SAMPLE_ORDER_COUNT,
    SAMPLE_SEED,
    UNKNOWN_ORDER_ID,
    SampleCast,
    pick_cast,
)
from filebridge.errors import StorageError
from filebridge.sandbox import start_sandbox
from tests.inbox_support import result_csv_rows

DEMO_BUDGET_S = 60


def csv_rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def seeded_orders():
    with start_sandbox(seed=SAMPLE_SEED, orders=SAMPLE_ORDER_COUNT) as box:
        return box.orders()


@pytest.fixture(scope="module")
def cast(seeded_orders) -> SampleCast:
    return pick_cast(seeded_orders)


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> tuple[DemoReport, list[str]]:
    """One demo run shared by the read-only tests of this module."""
    lines: list[str] = []
    report = run_demo(tmp_path_factory.mktemp("first") / "demo", out=lines.append)
    return report, lines


def test_demo_exports_every_payed_order_exactly_once(demo, seeded_orders):
    """The outbox holds one file with every Payed, not rejected order of the seed once."""
    report, _ = demo
    expected = {
        o["id"] for o in seeded_orders if o["status"] == "Payed" and not o["reject"]
    }
    (outbox_file,) = report.outbox_files
    assert sorted(p.name for p in outbox_file.parent.iterdir()) == [outbox_file.name]
    rows = csv_rows(outbox_file)
    exported = [int(r["order_id"]) for r in rows]
    assert set(exported) == expected
    assert sorted(report.exported_orders) == sorted(expected)
    assert len(report.exported_orders) == len(set(report.exported_orders))
    assert report.exported_rows == len(rows)


def test_demo_archives_each_sample_file_with_a_result_file(demo):
    """Every sample file was taken in one pass and archived beside its result file."""
    report, _ = demo
    assert [f.name for f in report.inbox_files] == list(SAMPLE_NAMES)
    assert [f.outcome for f in report.inbox_files] == ["done"] * len(SAMPLE_NAMES)
    (day,) = list(report.archive_dir.iterdir())
    names = sorted(p.name for p in day.iterdir())
    assert names == sorted(
        [*SAMPLE_NAMES, *(f"{name}.result.csv" for name in SAMPLE_NAMES)]
    )
    inbox = report.directory / "inbox"
    assert [p for p in inbox.iterdir() if p.is_file()] == []
    assert report.rows_pending == 0


def test_demo_moves_the_orders_the_samples_ask_for(demo, cast):
    """Final shop states: gap-filled steps, a return, a partial confirm, tracking set."""
    report, _ = demo
    moved = {m.order_id: (m.before, m.after, m.returned) for m in report.moves}
    assert moved == {
        cast.shipped: ("CheckQueue", "ToCustomer", False),
        cast.returned: ("CheckQueue", "PreparingOrder", True),
        cast.delivered: ("CheckQueue", "ToCustomer", False),
        cast.no_url: ("CheckQueue", "SentOrder", False),
        cast.partial: ("CheckQueue", "SentOrder", False),
        cast.packed: ("CheckQueue", "SentOrder", False),
        cast.confirm_ok: ("CheckQueue", "OrderConfirm", False),
    }
    tracking = {m.order_id: m.tracking_code for m in report.moves}
    assert tracking[cast.shipped] == "00340434161094042557"
    assert tracking[cast.confirm_ok] is None
    # The mistakes were caught: those orders were not touched.
    assert not {cast.misspelt, cast.bad_url, cast.never_sent} & set(moved)


def test_demo_failed_file_names_each_mistake_in_an_error_column(demo, cast):
    """failed/ holds exactly the mistakes file's rejected rows, each with its reason."""
    report, _ = demo
    (failed,) = list(report.failed_dir.iterdir())
    assert failed.name.startswith(Path(MISTAKES_CSV).stem)
    rows = csv_rows(failed)
    assert [r["order_id"] for r in rows] == [
        "1.50E+04",
        str(UNKNOWN_ORDER_ID),
        str(cast.misspelt),
        str(cast.bad_url),
        str(cast.never_sent),
    ]
    errors = [r["error"] for r in rows]
    assert "scientific notation" in errors[0]
    assert "not found" in errors[1]
    assert "unknown state" in errors[2]
    assert "tracking URL" in errors[3]
    assert "Returned" in errors[4]
    assert report.rows_rejected == len(rows) == len(report.rejected)
    assert [r.error for r in report.rejected] == errors
    mistakes = next(f for f in report.inbox_files if f.name == MISTAKES_CSV)
    assert (mistakes.applied, mistakes.already_done, mistakes.rejected) == (1, 1, 5)


def test_demo_report_text_explains_every_rejection_and_where_to_look(demo):
    """The printed report names each rejected reason, the outbox file and the folders."""
    report, lines = demo
    text = "\n".join(lines)
    for reason in (
        "scientific notation",
        f"Order {UNKNOWN_ORDER_ID} was not found",
        "unknown state",
        "'Shiped'",
        "tracking URL is not a web address",
        "Returned fits only an order that was sent",
    ):
        assert reason in text
    assert report.outbox_files[0].name in text
    for folder in ("outbox/", "archive/", "failed/", "state/filebridge.log"):
        assert folder in text
    assert f"API calls: {report.api_calls} " in text
    assert "sandbox stopped" in text


def test_demo_counts_its_api_calls_and_stays_fast(demo):
    """Calls come from the sandbox's log; the whole demo takes seconds, not minutes."""
    report, _ = demo
    assert report.api_calls_export >= 1
    assert sum(report.calls_by_kind.values()) == report.api_calls_inbox
    # filebridge's own count per file agrees with what the shop received.
    assert sum(f.calls for f in report.inbox_files) == report.api_calls_inbox
    assert report.seconds < DEMO_BUDGET_S


def test_demo_config_points_at_the_sandbox_without_its_token(demo):
    """filebridge.toml is valid TOML for the sandbox and holds no token."""
    report, _ = demo
    raw = tomllib.loads(report.config_path.read_text(encoding="utf-8"))
    assert raw["selldone"]["api_url"] == report.sandbox_url
    assert "token" not in raw["selldone"]
    assert raw["inbox"]["settle_seconds"] == 0
    assert report.log_path.is_file()
    assert "exported order" in report.log_path.read_text(encoding="utf-8")


def test_demo_second_run_in_the_same_folder_starts_fresh(tmp_path):
    """A rerun replaces the demo's folders and keeps anything else a person put there."""
    directory = tmp_path / "demo"
    first = run_demo(directory, out=lambda _: None)
    (directory / "my-notes.txt").write_text("keep me", encoding="utf-8")
    (directory / "failed" / "stale.csv").write_text("old", encoding="utf-8")
    lines: list[str] = []
    second = run_demo(directory, out=lines.append)
    assert (directory / "my-notes.txt").read_text(encoding="utf-8") == "keep me"
    assert not (directory / "failed" / "stale.csv").exists()
    assert len(list((directory / "outbox").iterdir())) == 1
    assert second.exported_orders == first.exported_orders
    assert [m.order_id for m in second.moves] == [m.order_id for m in first.moves]
    assert second.rows_rejected == first.rows_rejected
    assert (directory / MARKER_NAME).is_file()


def test_demo_refuses_a_folder_it_did_not_make(tmp_path):
    """A non-empty folder without the demo's marker is left exactly as it was."""
    directory = tmp_path / "important"
    (directory / "outbox").mkdir(parents=True)
    (directory / "outbox" / "orders.csv").write_text("real data", encoding="utf-8")
    with pytest.raises(StorageError, match="was not made by `filebridge demo`"):
        run_demo(directory, out=lambda _: None)
    assert sorted(p.name for p in directory.rglob("*")) == ["orders.csv", "outbox"]


def test_demo_never_follows_a_link_when_cleaning_up(tmp_path):
    """A demo subfolder that is a link is removed as a link; its target survives."""
    directory = tmp_path / "demo"
    run_demo(directory, out=lambda _: None)
    target = tmp_path / "elsewhere"
    target.mkdir()
    (target / "precious.txt").write_text("x", encoding="utf-8")
    outbox = directory / "outbox"
    for child in outbox.iterdir():
        child.unlink()
    outbox.rmdir()
    try:
        outbox.symlink_to(target, target_is_directory=True)
    except OSError:
        pytest.skip("this system does not allow creating symlinks")
    run_demo(directory, out=lambda _: None)
    assert (target / "precious.txt").read_text(encoding="utf-8") == "x"
    assert not outbox.is_symlink()


SAMPLES_README = Path(__file__).parents[1] / "samples" / "README.md"
BLOCK_BEGIN = "<!-- failed-file:begin"


def _mistakes_section() -> str:
    text = SAMPLES_README.read_text(encoding="utf-8")
    return text[text.index(f"`{MISTAKES_CSV}`") :]


def test_samples_readme_states_the_outcomes_the_demo_produces(demo):
    """The row table for with-mistakes.csv in samples/README.md matches the result file."""
    report, _ = demo
    mistakes = next(f for f in report.inbox_files if f.name == MISTAKES_CSV)
    assert mistakes.result_path is not None
    lines = _mistakes_section().splitlines()
    for result in csv_rows(mistakes.result_path):
        (line,) = [x for x in lines if x.startswith(f"| {result['row']} | ")]
        assert f"| {result['outcome']} |" in line


def test_samples_readme_shows_the_failed_file_the_demo_writes(demo):
    """The "expected error report" in samples/README.md is the real failed/ file."""
    report, _ = demo
    (failed,) = list(report.failed_dir.iterdir())
    section = _mistakes_section()
    start = section.index("```\n", section.index(BLOCK_BEGIN)) + len("```\n")
    documented = section[start : section.index("```", start)]
    written = failed.read_text(encoding="utf-8-sig").replace("\r\n", "\n")
    assert written == documented, "run `python samples/make_samples.py`"


def test_samples_readme_final_states_match_the_demo(demo):
    """The "After all four files" table in samples/README.md is what the shop shows."""
    report, _ = demo
    text = SAMPLES_README.read_text(encoding="utf-8")
    table = text[text.index("## After all four files") :]
    for move in report.moves:
        assert f"| {move.order_id} | {move.after}" in table
        if move.tracking_code:
            row = next(
                x for x in table.splitlines() if x.startswith(f"| {move.order_id} |")
            )
            assert move.tracking_code in row


def test_demo_applies_every_row_of_the_three_good_files(demo):
    """Files 1-3 have no mistakes: every row is applied, as samples/README.md says."""
    report, _ = demo
    for file in report.inbox_files:
        if file.name == MISTAKES_CSV:
            continue
        assert file.result_path is not None
        outcomes = {r["outcome"] for r in result_csv_rows(file.result_path)}
        assert outcomes == {"applied"}, file.name
        assert file.failed_path is None
