"""What the commands print about a run: one-line summaries a person (or a log) reads."""

from __future__ import annotations

from filebridge.inbox import InboxResult
from filebridge.outbox import ExportResult

__all__ = ["export_summary", "inbox_summary", "planned_lines"]


def export_summary(result: ExportResult) -> str:
    verb = "would export" if result.dry_run else "exported"
    if not result.orders:
        skipped = result.skipped_already_exported
        return f"export: no new orders ({skipped} already exported before)"
    target = f" → {result.file}" if result.file else ""
    return f"export: {verb} {result.orders} orders ({result.rows} rows){target}"


def inbox_summary(result: InboxResult) -> str:
    if result.dry_run:
        calls = sum(1 for call in result.planned if call.is_call)
        idle = len(result.planned) - calls
        text = f"inbox (dry run): {calls} planned calls"
        if idle:
            text += f", {idle} rows or files with no call (see below)"
        return text + "; nothing sent"
    text = (
        f"inbox: {result.files_processed} files processed, "
        f"{result.rows_applied} rows applied, {result.rows_already_done} already done, "
        f"{result.rows_rejected} rejected, {result.rows_pending} pending; "
        f"{result.calls} API calls"
    )
    duplicates = [f for f in result.files if f.outcome == "duplicate"]
    if duplicates:
        text += (
            f"; {len(duplicates)} duplicates skipped (same content as an earlier "
            f"file: {', '.join(f.name for f in duplicates[:3])})"
        )
    if result.files_failed:
        text += f"; {result.files_failed} files unreadable (see failed/)"
    if result.waiting:
        text += f"; {len(result.waiting)} files still being written"
    if result.unavailable is not None:
        text += "; Selldone was unavailable, pending rows resume next run"
    for hold in result.held.values():
        text += f"\n  {hold.describe()}"
    if result.held:
        text += (
            f"\n  {len(result.held)} orders held, {result.rows_held} rows wait behind "
            "them; every other row went on"
        )
    return text


def planned_lines(result: InboxResult) -> list[str]:
    """A dry run's planned calls (and rows that make none), one line each.

    A call's description already starts with its method (`PUT tracking …`).
    """
    lines = []
    for call in result.planned:
        where = f"  {call.source}" + (f" row {call.row}" if call.row else "")
        order = f": order {call.order_id}" if call.order_id else ""
        lines.append(f"{where}{order}: {call.description}")
    return lines
