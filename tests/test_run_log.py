"""The log file is the record: start and end of every run, errors with their exit code
and hint, rejected rows, retries and progress (issue 12, item 1)."""

from __future__ import annotations

import io
import logging
import re
import threading
import time
from pathlib import Path

from filebridge.progress import Progress
from tests.test_cli import filebridge, fresh_paid_orders, site  # noqa: F401 (fixture)


def log_text(config: Path) -> str:
    return (config.parent / "state" / "filebridge.log").read_text(encoding="utf-8")


def test_a_bad_token_run_leaves_the_error_and_exit_code_in_the_log(
    site: Path,  # noqa: F811
    sandbox,
) -> None:
    """A refused token: exit 4, and the log has start, the console's error and hint, end."""
    done = filebridge("run", "-c", str(site), token="wrong-token")
    assert done.returncode == 4
    text = log_text(site)
    assert re.search(r"start: filebridge run -c \S+filebridge\.toml", text)
    assert "error: Selldone rejected the API token (401 on GET " in text
    hint = done.stderr.split("Hint: ", 1)[1].strip()
    assert f"| hint: {hint} | exit 4 (Selldone token rejected)" in text
    assert re.search(
        r"end: filebridge run after \d+\.\d s: nothing \| exit 4 \(Selldone token rejected\)",
        text,
    )
    assert "wrong-token" not in text


def test_a_broken_config_still_logs_its_error_in_its_state_folder(
    site: Path,  # noqa: F811
) -> None:
    """An unknown key stops the config from loading; the log beside it still says why."""
    (site.parent / "state").mkdir(exist_ok=True)
    site.write_text(
        site.read_text(encoding="utf-8") + "\n[inbox2]\nx = 1\n", encoding="utf-8"
    )
    done = filebridge("run", "-c", str(site), token="any-token")
    assert done.returncode == 3
    text = log_text(site)
    assert "inbox2: unknown key" in text
    assert "| exit 3 (configuration problem)" in text
    assert "end: filebridge run after" in text


def test_a_run_blocked_by_the_lock_says_so_in_the_log(
    site: Path,  # noqa: F811
    sandbox,
) -> None:
    """Exit 6 under Task Scheduler is explained in the log file too."""
    from filebridge.locking import single_instance

    with single_instance(site.parent / "state" / "filebridge.lock"):
        blocked = filebridge("run", "-c", str(site), token=sandbox.token)
    assert blocked.returncode == 6
    assert "| exit 6 (already running)" in log_text(site)


def test_rejected_rows_and_retries_are_in_the_log_not_on_the_console(
    site: Path,  # noqa: F811
    sandbox,
) -> None:
    """Each rejected row (file, row, order, column, reason) and each retry is logged."""
    order = fresh_paid_orders(sandbox)[0]
    (site.parent / "inbox" / "status.csv").write_text(
        f"order_id,state\n{order['id']},OrderConfirm\n{order['id']},Shiped\n",
        encoding="utf-8",
    )
    assert filebridge("export", "-c", str(site), token=sandbox.token).returncode == 0
    sandbox.faults.fail_next(status=503, times=2, method="GET")
    done = filebridge("inbox", "-c", str(site), token=sandbox.token)
    assert done.returncode == 1, done.stderr
    text = log_text(site)
    assert (
        f"rejected status.csv row 3, order {order['id']}, column 'state': "
        "unknown state" in text
    )
    retries = re.findall(
        r"retrying GET (\S+) \(retry (\d) of \d\) in [\d.]+ s: (.*)", text
    )
    assert [n for _, n, _ in retries] == ["1", "2"], text
    assert all("503" in why for _, _, why in retries)
    assert "retry" not in done.stderr
    assert "stamina" not in done.stderr
    assert re.search(r"end: filebridge inbox after .*1 rejected.* \| exit 1 ", text)


def test_progress_is_logged_while_one_step_hangs(caplog) -> None:
    """Long work logs its state on a timer, also when no new state comes in."""
    caplog.set_level(logging.INFO, logger="filebridge.progress")
    with Progress(stream=None, log_every=0.05) as progress:
        progress.update("inbox: big.csv: 1200 of 20000 rows done")
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and len(caplog.records) < 3:
            time.sleep(0.02)
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) >= 3
    assert all(
        re.fullmatch(
            r"progress after \d+ s: inbox: big\.csv: 1200 of 20000 rows done", m
        )
        for m in lines
    )
    assert not [t for t in threading.enumerate() if t.name == "filebridge-progress"]


def test_progress_draws_a_live_line_only_on_a_terminal() -> None:
    """On a terminal the count is redrawn in place and ends with a newline."""
    terminal = io.StringIO()
    with Progress(stream=terminal, log_every=60) as progress:
        for done in range(1, 4):
            progress.exporting(done)
    assert terminal.getvalue().startswith("\rexporting… 1 orders")
    assert terminal.getvalue().endswith("\rexporting… 3 orders\n")


def test_progress_goes_quiet_when_the_work_is_done(caplog) -> None:
    """A watcher idles between passes: no progress lines about finished work."""
    caplog.set_level(logging.INFO, logger="filebridge.progress")
    with Progress(stream=None, log_every=0.05) as progress:
        progress.update("inbox: a.csv: 5 of 5 rows done")
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not caplog.records:
            time.sleep(0.02)
        progress.idle()
        time.sleep(0.06)  # let a tick already under way finish
        seen = len(caplog.records)
        time.sleep(0.3)  # six more ticks
    assert seen >= 1
    assert len(caplog.records) == seen
