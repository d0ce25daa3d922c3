"""The local dashboard: health, exports, inbox, one order's story and the log in a
browser, plus three safe actions (download a failed file, re-export an order, mark a
failed file as dealt with). Flask and waitress come with the `[dashboard]` extra.

`data` gathers everything the pages show; the pages are templates over its dataclasses,
so a richer source changes that one module.

May import: `journal`, `tables`, `outbox`, `inbox`, the shell's foundation, `status`
and `jobs` (the re-export runs the CLI's pass). Only `cli` imports the dashboard.
"""

from filebridge.dashboard.app import PASSWORD_ENV, create_app
from filebridge.dashboard.server import DEFAULT_PORT, DashboardServer, password_for

__all__ = [
    "DEFAULT_PORT",
    "PASSWORD_ENV",
    "DashboardServer",
    "create_app",
    "password_for",
]
