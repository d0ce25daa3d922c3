"""`filebridge check`: verify folders, token, API reachability and mappings; pass/fail per item."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from filebridge.config import Settings
from filebridge.errors import AuthError, FilebridgeError
from filebridge.inbox import load_inbound_mapping
from filebridge.journal import Journal, integrity_problems
from filebridge.outbox import is_exportable, load_mapping, since_note
from filebridge.selldone import Order, SelldoneClient

COUNT_PAGE = 250  # one call counts up to this many orders the way the export does


@dataclass(frozen=True)
class CheckResult:
    """One line of the check list."""

    name: str
    ok: bool
    detail: str
    note: bool = False  # information, neither passed nor failed

    def line(self) -> str:
        mark = "NOTE" if self.note else "PASS" if self.ok else "FAIL"
        return f"[{mark}] {self.name}: {self.detail}"


def check_folder(name: str, folder: Path) -> CheckResult:
    """Exists, writable, and temp-then-rename works there (the share supports os.replace)."""
    if not folder.is_dir():
        return CheckResult(
            f"folder {name}",
            False,
            f"{folder} does not exist: fix folders.{name} if it is mistyped, or "
            "create it with `filebridge check --create`",
        )
    probe = folder / f".filebridge-check-{uuid.uuid4().hex}.tmp"
    target = probe.with_suffix(".renamed")
    try:
        with probe.open("wb") as handle:
            handle.write(b"filebridge check\n")
            handle.flush()
            os.fsync(handle.fileno())
        probe.replace(target)  # os.replace: atomic, overwrites on Windows too
        target.unlink()
    except OSError as exc:
        for leftover in (probe, target):
            leftover.unlink(missing_ok=True)
        return CheckResult(
            f"folder {name}",
            False,
            f"{folder}: cannot write and rename a file there ({exc.strerror}); "
            "grant this account modify rights on the folder",
        )
    return CheckResult(f"folder {name}", True, f"{folder} is writable")


def check_mappings(settings: Settings) -> list[CheckResult]:
    base = settings.source.parent if settings.source else Path.cwd()
    results: list[CheckResult] = []
    loaders: list[tuple[str, str, Callable[[str, Path], object]]] = [
        ("export mapping", settings.export.mapping, load_mapping),
        ("inbox mapping", settings.inbox.mapping, load_inbound_mapping),
    ]
    for label, name, loader in loaders:
        try:
            loader(name, base)
        except FilebridgeError as exc:
            results.append(CheckResult(label, False, str(exc)))
        else:
            results.append(CheckResult(label, True, f"{name} loads"))
    return results


def _auth_detail(settings: Settings, exc: AuthError) -> str:
    """Tell a wrong token (401) from a wrong shop id or scope (403), as far as the API does.

    A 403 is the same answer for a shop id the token does not belong to and for a token
    without the read scope (selldone-api.md §7), so both are named; the token itself
    was accepted, which a 401 would have said otherwise.
    """
    shop = settings.selldone.shop_id
    if exc.status == 403:
        return (
            f"the token was accepted, but shop {shop} refused it (403): either "
            f"[selldone] shop_id = {shop} is wrong (the token belongs to another shop; "
            "the right id is shown next to the token), or the token lacks the "
            "backoffice:order:read scope (create one with `filebridge auth-url`). "
            "The API answers both the same way."
        )
    return (
        f"the token itself was refused ({exc.status}): it is wrong, expired or revoked; "
        "the shop id was not checked. Create a new one with `filebridge auth-url` and "
        "set SELLDONE_TOKEN."
    )


def check_api(settings: Settings, client: SelldoneClient) -> CheckResult:
    """One cheap call: the first order of the shop (limit=1)."""
    if not settings.selldone.token.get_secret_value():
        return CheckResult(
            "API and token",
            False,
            "no token: set SELLDONE_TOKEN or [selldone] token "
            "(`filebridge auth-url` prints the link that creates one)",
        )
    try:
        page = client.list_orders(
            offset=0, limit=COUNT_PAGE, statuses=settings.export.statuses, with_=()
        )
    except AuthError as exc:
        return CheckResult("API and token", False, _auth_detail(settings, exc))
    except FilebridgeError as exc:
        detail = str(exc) + (f" — {exc.hint}" if exc.hint else "")
        return CheckResult("API and token", False, detail)
    return CheckResult(
        "API and token",
        True,
        f"{settings.selldone.api_url} answered; shop {settings.selldone.shop_id} has "
        + _order_count(
            page.orders,
            len(page.orders) if page.total is None else page.total,
            settings.export.statuses,
        ),
    )


def _order_count(orders: Sequence[Order], total: int, statuses: Sequence[str]) -> str:
    """Count as the export does: rejected orders (and other types) are not exported."""
    status = ", ".join(statuses)
    skipped = sum(1 for order in orders if not is_exportable(order, statuses))
    if total <= len(orders):
        text = f"{total - skipped} exportable order(s) with status {status}"
        if skipped:
            text += f" ({skipped} more are rejected in the shop: export skips them)"
        return text
    return (
        f"{total} order(s) with status {status}; of the first {len(orders)}, "
        f"{skipped} are rejected in the shop and skipped by the export"
    )


def check_since(settings: Settings) -> list[CheckResult]:
    """A note when `export.since` differs from what the first export used."""
    if not settings.journal_path.is_file():
        return []
    with Journal.open(settings.journal_path) as journal:
        note = since_note(settings.export.since, journal)
    return [] if note is None else [CheckResult("export.since", True, note, note=True)]


def check_journal(settings: Settings) -> CheckResult:
    """`PRAGMA integrity_check` on the journal (read-only); absent is fine before a run."""
    path = settings.journal_path
    if not path.exists():
        return CheckResult(
            "journal", True, f"{path} not created yet (the first run does)"
        )
    problems = integrity_problems(path)
    if problems:
        return CheckResult(
            "journal",
            False,
            "; ".join(problems[:3])
            + " — run `filebridge journal restore -c CONFIG` to put the newest backup back",
        )
    return CheckResult("journal", True, f"{path} passed the integrity check")


CLOCK_SKEW_LIMIT_S = 60.0


def check_clock(client: SelldoneClient) -> CheckResult:
    """This machine's clock against the shop's (the `Date` header of the API's answer).

    filebridge never relies on the local clock for what it exports or when it retries,
    but logs, archive folders and a person reading them do: a skew over a minute fails.
    """
    skew = client.clock_skew
    if skew is None:
        return CheckResult("clock", False, "the shop sent no Date header to compare")
    if abs(skew) > CLOCK_SKEW_LIMIT_S:
        where = "behind" if skew > 0 else "ahead of"
        return CheckResult(
            "clock",
            False,
            f"this machine's clock is {abs(skew):.0f} s {where} the shop's; turn on "
            "Windows time sync (Settings > Time & language > Sync now)",
        )
    return CheckResult("clock", True, f"within {abs(skew):.0f} s of the shop's")


def run_checks(settings: Settings, client: SelldoneClient) -> list[CheckResult]:
    folders = settings.folders
    results = [
        check_folder(name, getattr(folders, name))
        for name in ("outbox", "inbox", "archive", "failed", "state")
    ]
    results.append(check_journal(settings))
    results.extend(check_mappings(settings))
    results.append(check_api(settings, client))
    if results[-1].ok:
        results.append(check_clock(client))
    results.extend(check_since(settings))
    return results
