"""Use case: new paid orders → one outbox file, each order exactly once, also across crashes.

One run:

1. **Recover** (skipped by a dry run): a batch left `pending` by a crashed run is
   finished (its temp file is complete by construction: the row is written only after
   the fsync, so it is renamed into place and marked published) or, if its file is
   gone, rolled back (its orders are not in the ledger and the cursor did not move, so
   they are fetched again). Temp files that no pending batch owns (a crash while
   writing) are deleted.
2. **Fetch** `updated_at >= cursor - lookback` through the client (all pages, oldest
   first), keep orders with a configured status that are PHYSICAL and not rejected,
   skip those already in the ledger, and **stream** their rows into a temp file
   (`.~filebridge-….partial`, a name no ERP pattern matches).
3. **Publish**: fsync → record the batch as pending (with its orders) → `os.replace` to
   the final name (never over an existing file) → optional `.done` marker → ledger +
   cursor + `published` in one transaction.

The cursor is the newest `updated_at` seen (server time, Unix seconds), capped at the
run's start (`now`), so an order that changes while we page is fetched again next time;
the look-back re-reads the boundary (orders sharing a second, late commits, clock skew)
and the ledger drops what was already exported. It moves only with a published file, or,
when a run exported nothing, directly: then every order up to it was either already in
the ledger or not exportable, and no batch is pending (recovery ran first), so nothing
can be skipped. A not-exportable order (Reserved, say) comes back on its next change,
because paying it updates `updated_at`.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from filebridge.config import Settings
from filebridge.errors import ConfigError, StorageError
from filebridge.folders import ensure_folder
from filebridge.journal import Journal
from filebridge.journal import exports as ledger
from filebridge.outbox.csv_stream import csv_cell_renderers
from filebridge.outbox.mapping import MappingSpec, parse_mapping, render_filename
from filebridge.outbox.order_rows import order_to_rows
from filebridge.outbox.since import iso_moment, log_changed_since, remember_first_since
from filebridge.outbox.table_writer import TableWriter, remove_file
from filebridge.outbox.writers import (
    is_temp_name,
    open_table_writer,
    publish_file,
    temp_path,
    unique_path,
    write_done_marker,
)
from filebridge.presets import EXPORT, read_mapping_text
from filebridge.selldone import PAGE_OVERLAP, Order

__all__ = [
    "ORDER_TYPE",
    "WITH_RELATIONS",
    "ExportResult",
    "OrderSource",
    "check_mapping",
    "is_exportable",
    "load_mapping",
    "preview_rows",
    "recover_pending",
    "run_export",
]

log = logging.getLogger(__name__)

ORDER_TYPE = "PHYSICAL"
WITH_RELATIONS: tuple[str, ...] = ("items", "buyer", "products")
SECONDS_PER_MINUTE = 60


class OrderSource(Protocol):
    """What the export needs from `SelldoneClient` (passed in, never imported)."""

    def iter_orders(
        self,
        *,
        statuses: Sequence[str] = ...,
        updated_since: int | None = ...,
        page_size: int = ...,
        with_: Sequence[str] = ...,
        overlap: int = ...,
    ) -> Iterator[Order]: ...

    def get_order(self, order_id: int) -> Order: ...

    def list_orders(
        self, *, offset: int, limit: int = ..., statuses: Sequence[str] = ...
    ) -> object: ...

    def shop_now(self) -> datetime | None: ...


@dataclass(frozen=True)
class ExportResult:
    """What a run exported (or, for a dry run, would export).

    `file` is the published file (for a dry run: the name it would get), None when no
    order was exported. `recovered` describes pending batches finished or rolled back.
    """

    orders: int
    rows: int
    file: Path | None
    skipped_already_exported: int
    dry_run: bool
    batch_id: int | None
    order_ids: tuple[int, ...] = ()
    cursor: int | None = None
    reexport: bool = False
    recovered: tuple[str, ...] = ()


# --- mappings ---------------------------------------------------------------------------


def load_mapping(name_or_path: str, base_dir: Path) -> MappingSpec:
    """A preset by name (`default`), or a mapping file (a path, relative to `base_dir`)."""
    return parse_mapping(*read_mapping_text(name_or_path, base_dir, EXPORT))


def check_mapping(name_or_path: str, base_dir: Path) -> MappingSpec:
    """`filebridge mapping check`: load and validate; raises MappingError listing all."""
    return load_mapping(name_or_path, base_dir)


def preview_rows(
    spec: MappingSpec, orders: Iterable[Order], limit: int
) -> list[list[str]]:
    """Headers plus the first `limit` rows, as the text the CSV writer would put out."""
    renderers = csv_cell_renderers(spec)
    table: list[list[str]] = [list(spec.headers)]
    for order in orders:
        for row in order_to_rows(order, spec):
            if len(table) > limit:
                return table
            table.append([render(v) for render, v in zip(renderers, row, strict=True)])
    return table


def _settings_mapping(settings: Settings) -> MappingSpec:
    base = settings.source.parent if settings.source is not None else Path.cwd()
    return load_mapping(settings.export.mapping, base).with_format(
        settings.export.format
    )


# --- helpers ----------------------------------------------------------------------------


def _epoch(moment: datetime) -> int:
    return int(moment.timestamp())


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def _shop_now(
    client: OrderSource, statuses: Sequence[str], fallback: datetime
) -> datetime:
    """The shop's clock for `since = "now"`: the `Date` header of its answer (one cheap
    call if none came yet), never this machine's clock, which may be an hour off."""
    moment = client.shop_now()
    if moment is None:
        client.list_orders(offset=0, limit=1, statuses=statuses)
        moment = client.shop_now()
    if moment is None:
        log.warning("the shop sent no Date header; `since = now` uses this clock")
        return fallback
    return moment


def _initial_since(since: str, now: datetime) -> int:
    """`export.since`: `now`, or an ISO date/datetime (naive means UTC)."""
    if since.strip().lower() == "now":
        return _epoch(now)
    try:
        return _epoch(iso_moment(since))
    except ValueError as exc:
        raise ConfigError(
            f"export.since: {since!r} is neither 'now' nor an ISO date.",
            hint='Write e.g. since = "2026-01-31" or since = "now".',
        ) from exc


def is_exportable(order: Order, statuses: Sequence[str]) -> bool:
    """Configured status, PHYSICAL, not rejected: the API filter, checked again."""
    if order.status not in statuses:
        return False
    if order.type not in (None, "", ORDER_TYPE):
        return False
    return order.reject is None or not order.reject.strip()


def _shown(path: Path) -> str:
    return f"{path.parent.name}/{path.name}"


# --- recovery ---------------------------------------------------------------------------


def recover_pending(
    outbox: Path, journal: Journal, *, done_marker: bool, now: datetime
) -> list[str]:
    """Finish or roll back batches a crashed run left pending; delete orphan temp files.

    Returns one line per action, for the log and the run summary.
    """
    actions: list[str] = []
    owned: set[str] = set()
    for batch in ledger.pending_batches(journal):
        temp = outbox / batch.temp_name
        final = outbox / batch.file_name
        owned.add(batch.temp_name)
        if temp.exists():
            if final.exists():  # the temp is still there, so this file is not ours
                final = unique_path(outbox, batch.file_name)
                ledger.rename_batch_file(journal, batch.id, final.name)
            publish_file(temp, final)
        elif not final.exists():
            ledger.mark_rolled_back(journal, batch.id)
            message = (
                f"rolled back batch {batch.id}: its file is gone; its "
                f"{batch.order_count} order(s) will be exported again"
            )
            log.warning(message)
            actions.append(message)
            continue
        if done_marker and not final.with_name(final.name + ".done").exists():
            write_done_marker(final)
        ledger.mark_published(
            journal,
            replace(batch, file_name=final.name),
            published_at=_iso(now),
        )
        message = f"finished batch {batch.id} → {_shown(final)}"
        log.info(message)
        actions.append(message)
    if outbox.is_dir():
        for leftover in sorted(outbox.iterdir()):
            if is_temp_name(leftover.name) and leftover.name not in owned:
                remove_file(leftover)
                message = f"deleted unfinished temp file {_shown(leftover)}"
                log.info(message)
                actions.append(message)
    return actions


# --- the run ----------------------------------------------------------------------------


@dataclass
class _Batch:
    """The batch being written (mutable while the run streams orders into it)."""

    id: int
    temp: Path
    spec: MappingSpec
    dry_run: bool
    writer: TableWriter | None = None
    rows: int = 0

    def __post_init__(self) -> None:
        self.orders: list[tuple[int, str | None]] = []

    def add(self, order: Order) -> None:
        rows = order_to_rows(order, self.spec)
        if not self.dry_run:
            if self.writer is None:
                self.writer = open_table_writer(self.temp, self.spec)
            self.writer.write_rows(rows)
        self.rows += len(rows)
        updated = _iso(order.updated_at) if order.updated_at else None
        self.orders.append((order.id, updated))

    def discard(self) -> None:
        if self.writer is not None:
            self.writer.discard()


def run_export(
    settings: Settings,
    client: OrderSource,
    journal: Journal,
    *,
    now: datetime,
    dry_run: bool = False,
    reexport: Sequence[int] = (),
    progress: Callable[[int], None] | None = None,
    since: int | None = None,
) -> ExportResult:
    """One export run (module docstring). `now` is the run's start, timezone-aware.

    `since` (Unix seconds, `export --since DATE`) reads from there instead of the
    cursor: orders the ledger holds are skipped as always, so history is exported once.

    `reexport` exports exactly these orders again, in their own file, whatever the
    ledger says; it changes neither the ledger nor the cursor. `dry_run` writes and
    records nothing. `progress` is called with the number of orders exported so far.
    """
    spec = _settings_mapping(settings)
    outbox = settings.folders.outbox
    recovered: list[str] = []
    if not dry_run:
        ensure_folder(
            outbox,
            what="the outbox folder",
            hint="Check [folders] outbox and that the share is reachable.",
        )
        recovered = recover_pending(
            outbox, journal, done_marker=settings.export.done_marker, now=now
        )
        log_changed_since(settings.export.since, journal)
    batch_id = ledger.next_batch_id(journal)
    batch = _Batch(
        id=batch_id,
        temp=temp_path(outbox, f"{batch_id}-{secrets.token_hex(4)}"),
        spec=spec,
        dry_run=dry_run,
    )
    try:
        if reexport:
            cursor = ledger.get_cursor(journal)
            skipped = 0
            for order_id in reexport:
                batch.add(client.get_order(order_id))
                if progress is not None:
                    progress(len(batch.orders))
        else:
            cursor, skipped = _fetch_into(
                settings, client, journal, batch, now, progress, since
            )
    except BaseException:
        batch.discard()
        raise
    final_name = render_filename(spec, batch=batch_id, moment=now)
    result = ExportResult(
        orders=len(batch.orders),
        rows=batch.rows,
        file=None,
        skipped_already_exported=skipped,
        dry_run=dry_run,
        batch_id=None,
        order_ids=tuple(order_id for order_id, _ in batch.orders),
        cursor=cursor,
        reexport=bool(reexport),
        recovered=tuple(recovered),
    )
    if dry_run:
        file = outbox / final_name if batch.orders else None
        return replace(result, file=file)
    if batch.writer is None:
        if not reexport and cursor is not None and cursor != ledger.get_cursor(journal):
            with journal.atomic():
                ledger.set_cursor(journal, cursor)
        log.info("no new orders to export (cursor %s)", cursor)
        return result
    final = _publish(settings, journal, batch, final_name, cursor, bool(reexport), now)
    for order_id, _ in batch.orders:
        log.info("exported order %d → %s", order_id, _shown(final))
    log.info(
        "%s %d order(s), %d row(s) → %s",
        "re-exported" if reexport else "exported",
        len(batch.orders),
        batch.rows,
        _shown(final),
    )
    return replace(result, file=final, batch_id=batch_id)


def _fetch_into(
    settings: Settings,
    client: OrderSource,
    journal: Journal,
    batch: _Batch,
    now: datetime,
    progress: Callable[[int], None] | None,
    since: int | None = None,
) -> tuple[int, int]:
    """Stream the new exportable orders into `batch`; returns (new cursor, skipped)."""
    options = settings.export
    stored = ledger.get_cursor(journal)
    if since is not None:  # history on purpose: the ledger drops what was exported
        start = since if stored is None else stored
        updated_since = since
        log.info("export --since: reading orders updated since %d", since)
    elif stored is None:
        moment = now
        if options.since.strip().lower() == "now":
            moment = _shop_now(client, options.statuses, now)
        start = _initial_since(options.since, moment)
        updated_since = start  # the first run starts exactly at `since`
        if not batch.dry_run:
            remember_first_since(journal, options.since)
    else:
        start = stored
        lookback = int(options.lookback_minutes * SECONDS_PER_MINUTE)
        updated_since = max(0, stored - lookback)
    pending = ledger.pending_order_ids(journal)  # non-empty only in a dry run
    newest: int | None = None
    seen: set[int] = set()
    skipped = 0
    for order in client.iter_orders(
        statuses=options.statuses,
        updated_since=updated_since,
        page_size=options.page_size,
        with_=WITH_RELATIONS,
        # Only a second pass (the list changed while paging) re-reads a few records
        # per page; the overlap must stay below the page size the config allows.
        overlap=min(PAGE_OVERLAP, options.page_size - 1),
    ):
        if order.updated_at is not None:
            stamp = _epoch(order.updated_at)
            newest = stamp if newest is None else max(newest, stamp)
        if order.id in seen:
            continue
        seen.add(order.id)
        if not is_exportable(order, options.statuses):
            if order.reject and order.reject.strip() and not batch.dry_run:
                log.info(
                    "order %d not exported: it is rejected in the shop (reject = %s)",
                    order.id,
                    order.reject,
                )
            continue
        if order.id in pending or ledger.is_exported(journal, order.id):
            skipped += 1
            continue
        batch.add(order)
        if progress is not None:
            progress(len(batch.orders))
    cursor = start if newest is None else max(start, min(newest, _epoch(now)))
    return cursor, skipped


def _publish(
    settings: Settings,
    journal: Journal,
    batch: _Batch,
    final_name: str,
    cursor: int | None,
    reexport: bool,
    now: datetime,
) -> Path:
    """fsync → pending → rename → marker → published (module docstring, step 3)."""
    writer = batch.writer
    if writer is None:  # callers check; kept for the type checker
        raise StorageError("No file was written for this batch.")
    try:
        writer.close()
    except BaseException:
        batch.discard()
        raise
    outbox = settings.folders.outbox
    final = unique_path(outbox, final_name)
    record = ledger.Batch(
        id=batch.id,
        file_name=final.name,
        temp_name=batch.temp.name,
        state="pending",
        order_count=len(batch.orders),
        row_count=batch.rows,
        cursor_after=None if reexport else cursor,
        reexport=reexport,
    )
    ledger.record_pending_batch(
        journal,
        batch_id=record.id,
        file_name=record.file_name,
        temp_name=record.temp_name,
        created_at=_iso(now),
        orders=batch.orders,
        row_count=record.row_count,
        cursor_after=record.cursor_after,
        reexport=reexport,
    )
    publish_file(batch.temp, final)
    if settings.export.done_marker:
        write_done_marker(final)
    ledger.mark_published(journal, record, published_at=_iso(now))
    return final
