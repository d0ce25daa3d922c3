"""A dashboard over a journal made by a real demo run, with a live sandbox for re-exports.

`demo_site(folder)` runs `filebridge demo` into `folder`, then starts a sandbox with the
demo's seed (the demo's own stops with it) and points the demo's config at it, so a
re-export from the dashboard fetches the order over real HTTP. It also drops one
hostile inbox file (a name and cells holding markup) and runs the inbox on it for real,
and gives one order a hostile receiver name, so the pages have customer-typed markup
to escape.
"""

from __future__ import annotations

import csv
import os
import re
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from filebridge.config import TOKEN_ENV, Settings, load_settings
from filebridge.demo.report import DemoReport
from filebridge.demo.run import DEMO_RATE_PER_MINUTE, run_demo
from filebridge.demo.sample_files import SAMPLE_ORDER_COUNT, SAMPLE_SEED, pick_cast
from filebridge.jobs import run_once
from filebridge.sandbox import HOSTILE_STRINGS, Sandbox, start_sandbox

HOSTILE_NAME = "<script>window.pwned=1</script>Eve " + HOSTILE_STRINGS[0]
HOSTILE_STATE = "<img src=x onerror=window.pwned=2>"
# Windows forbids < and > in file names; `&amp;` shows whether `&` was escaped.
HOSTILE_FILE = "&amp; co.csv" if os.name == "nt" else "<i>bold<i> &amp; co.csv"


@dataclass
class DemoSite:
    """The demo folder, its settings (token in memory only) and the live sandbox."""

    report: DemoReport
    settings: Settings
    box: Sandbox
    hostile_order: int

    @property
    def journal_path(self) -> Path:
        return self.settings.journal_path

    def sql(self, query: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """Read the journal directly, as a check independent of the dashboard's code."""
        with sqlite3.connect(self.journal_path) as db:
            return [tuple(r) for r in db.execute(query, params)]

    def one(self, query: str, params: tuple[Any, ...] = ()) -> Any:
        return self.sql(query, params)[0][0]


def demo_site(folder: Path) -> DemoSite:
    report = run_demo(folder / "demo", out=lambda _: None)
    box = start_sandbox(
        seed=SAMPLE_SEED,
        orders=SAMPLE_ORDER_COUNT,
        rate_per_minute=DEMO_RATE_PER_MINUTE,
    )
    config = report.config_path
    text = config.read_text(encoding="utf-8")
    config.write_text(
        re.sub(r'api_url = "[^"]*"', f'api_url = "{box.url}"', text), encoding="utf-8"
    )
    settings = load_settings(config, environ={TOKEN_ENV: box.token})
    hostile_order = pick_cast(box.orders()).confirm_ok
    receiver = dict(box.get_order(hostile_order)["receiver_info"])
    receiver["name"] = HOSTILE_NAME
    box.update_order(hostile_order, receiver_info=receiver)
    path = settings.folders.inbox / HOSTILE_FILE
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["order_id", "state", "tracking_code", "tracking_url"])
        writer.writerow([hostile_order, HOSTILE_STATE, "", ""])
    run_once(settings, do_export=False)
    return DemoSite(report, settings, box, hostile_order)
