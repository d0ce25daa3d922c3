"""`filebridge demo`: export and inbox against the embedded sandbox, in a local demo folder.

No config and no network: the demo starts the sandbox on loopback (seeded, so every run
shows the same orders), writes a `filebridge.toml` for it, exports the paid orders with
the default mapping, drops the sample files (`sample_files`) into the inbox one after
another, replays them, and tells a person what happened and where the files are
(`demo.report`).

The real pieces run as `filebridge run` runs them (lock, journal, client, `run_pass`),
with two differences that keep the demo to a few seconds: `settle_seconds = 0` (the
files are complete when dropped) and a budget of 100,000 requests per minute on both
sides instead of Selldone's 80 (the sandbox is local).

Starting fresh is safe: the demo folder gets a marker file, and a rerun removes only the
folders and files the demo creates, and only where that marker is. A folder without the
marker is never touched unless it is empty.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final

from filebridge.config import TOKEN_ENV, load_settings
from filebridge.demo.report import DemoReport, build_report, report_lines
from filebridge.demo.sample_files import (
    SAMPLE_ORDER_COUNT,
    SAMPLE_SEED,
    write_sample_files,
)
from filebridge.errors import StorageError
from filebridge.jobs import open_client, run_pass
from filebridge.journal import Journal
from filebridge.locking import single_instance
from filebridge.log import FILE_FORMAT, RedactingFilter
from filebridge.sandbox import Sandbox, start_sandbox

__all__ = [
    "DEFAULT_DEMO_DIR",
    "DEMO_FOLDERS",
    "DEMO_RATE_PER_MINUTE",
    "MARKER_NAME",
    "run_demo",
]

DEFAULT_DEMO_DIR: Final = Path("filebridge-demo")
DEMO_FOLDERS: Final = ("outbox", "inbox", "archive", "failed", "state")
CONFIG_NAME: Final = "filebridge.toml"
MARKER_NAME: Final = ".filebridge-demo"
DEMO_RATE_PER_MINUTE: Final = 100_000
"""Both the sandbox's limit and filebridge's own: the real API allows about 80/min."""
DEMO_SINCE: Final = "2020-01-01"  # before every seeded order (all ≤ 2026-11-20T08:00Z)
DROP_AGE_S: Final = 60.0  # the dropped files look this old, one second apart
_MARKER_TEXT: Final = (
    "This folder was made by `filebridge demo`. Running the demo again deletes and\n"
    "recreates outbox/, inbox/, archive/, failed/, state/ and filebridge.toml here;\n"
    "nothing else in this folder is touched.\n"
)


def run_demo(directory: Path, *, out: Callable[[str], None]) -> DemoReport:
    """Run the whole demo in `directory` and print a short report line by line to `out`.

    Raises `StorageError` (touching nothing) when `directory` holds files that a
    previous demo did not make.
    """
    started = time.monotonic()
    directory = directory.expanduser().absolute()
    _prepare_folder(directory)
    with start_sandbox(
        port=0,
        seed=SAMPLE_SEED,
        orders=SAMPLE_ORDER_COUNT,
        rate_per_minute=DEMO_RATE_PER_MINUTE,
    ) as box:
        out(
            f"Started a local Selldone sandbox at {box.url} (shop {box.shop_id}, "
            f"{SAMPLE_ORDER_COUNT} seeded orders)."
        )
        config_path = _write_config(directory, box)
        # The token is handed over in memory only: no file of the demo holds it.
        settings = load_settings(config_path, environ={TOKEN_ENV: box.token})
        with (
            _file_log(settings.log_path, box.token),
            single_instance(settings.lock_path),
            Journal.open(settings.journal_path) as journal,
            open_client(settings, journal=journal) as client,
        ):
            exported = run_pass(settings, journal, client, do_inbox=False).export
            export_calls = len(box.calls())
            before = {int(o["id"]): o for o in box.orders()}
            dropped = _drop_samples(settings.folders.inbox, list(before.values()))
            drained = run_pass(settings, journal, client, do_export=False).inbox
            after = {int(o["id"]): o for o in box.orders()}
            calls = box.calls()
    if exported is None or drained is None:  # run_pass returns both halves when asked
        raise RuntimeError("run_pass skipped a half the demo asked for")
    report = build_report(
        settings,
        config_path,
        box.url,
        exported,
        dropped,
        drained,
        before,
        after,
        calls,
        export_calls,
        time.monotonic() - started,
    )
    for line in report_lines(report):
        out(line)
    return report


# --- the folder ---------------------------------------------------------------------------


def _prepare_folder(directory: Path) -> None:
    """An empty or previous-demo folder becomes a fresh demo folder; others are refused."""
    if directory.exists() and not directory.is_dir():
        raise StorageError(
            f"{directory} is a file, not a folder; the demo did not touch it.",
            hint="Choose another demo folder with --dir.",
        )
    if (
        directory.is_dir()
        and not (directory / MARKER_NAME).is_file()
        and any(directory.iterdir())
    ):
        raise StorageError(
            f"{directory} already exists and was not made by `filebridge demo`; "
            "the demo changed nothing in it.",
            hint="Choose another folder with --dir, or an empty one.",
        )
    try:
        directory.mkdir(parents=True, exist_ok=True)
        (directory / MARKER_NAME).write_text(_MARKER_TEXT, encoding="utf-8")
        for name in DEMO_FOLDERS:
            _remove(directory / name)
        _remove(directory / CONFIG_NAME)
        for name in DEMO_FOLDERS:
            (directory / name).mkdir()
    except OSError as exc:
        raise StorageError(
            f"Cannot prepare the demo folder {directory}: {exc}.",
            hint="Close programs that have files open in it (Excel, Explorer "
            "previews), or choose another folder with --dir.",
        ) from exc


def _remove(path: Path) -> None:
    """Delete a file, a link (never what it points to) or a folder tree."""
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.is_dir():
        shutil.rmtree(path)


def _write_config(directory: Path, box: Sandbox) -> Path:
    path = directory / CONFIG_NAME
    folders = "\n".join(f'{name} = "{name}"' for name in DEMO_FOLDERS)
    path.write_text(
        f"""\
# Written by `filebridge demo` for its embedded sandbox, which stopped when the demo
# ended: `filebridge run -c` with this file cannot connect any more. Run
# `filebridge demo` again to start over, or `filebridge init DIR` for a real shop.
# The sandbox's token was handed over in memory ({TOKEN_ENV}); it is in no file.

[selldone]
api_url = "{box.url}"
shop_id = {box.shop_id}

[folders]
{folders}

[export]
mapping = "default"
since = "{DEMO_SINCE}"  # before every seeded order

[inbox]
mapping = "default"
settle_seconds = 0  # the demo drops complete files; a real inbox waits a few seconds

[limits]
# The local sandbox allows this too; Selldone allows about 80 requests per minute.
requests_per_minute = {DEMO_RATE_PER_MINUTE}
""",
        encoding="utf-8",
    )
    return path


def _drop_samples(inbox: Path, orders: Sequence[Mapping[str, Any]]) -> list[Path]:
    """Write the sample files into the inbox with rising mtimes (their arrival order)."""
    files = write_sample_files(inbox, orders)
    oldest = time.time() - DROP_AGE_S
    for n, path in enumerate(files):
        os.utime(path, (oldest + n, oldest + n))
    return files


@contextmanager
def _file_log(path: Path, secret: str) -> Iterator[None]:
    """Log filebridge's decisions to `path` while the demo runs; restore the logger."""
    path.parent.mkdir(parents=True, exist_ok=True)
    logger = logging.getLogger("filebridge")
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter(FILE_FORMAT))
    handler.addFilter(RedactingFilter([secret]))
    level, propagate = logger.level, logger.propagate
    logger.addHandler(handler)
    if not logger.isEnabledFor(logging.INFO):
        logger.setLevel(logging.INFO)
    # The report is the demo's console; warnings go to the log file, not to stderr.
    logger.propagate = False
    try:
        yield
    finally:
        logger.removeHandler(handler)
        handler.close()
        logger.setLevel(level)
        logger.propagate = propagate
