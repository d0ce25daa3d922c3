"""The export use case against the real sandbox over HTTP: exactly once, filters, files."""

from __future__ import annotations

import csv
import logging
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from filebridge.config import Settings, build_settings
from filebridge.journal import exports as ledger
from filebridge.journal.store import Journal
from filebridge.outbox.export import ExportResult, preview_rows, run_export
from filebridge.outbox.fields import FIELDS, TEXT_KINDS, ColumnKind
from filebridge.outbox.writers import temp_path
from filebridge.sandbox import HOSTILE_STRINGS
from filebridge.selldone.client import SelldoneClient
from filebridge.tables.excel_safety import escape_csv_text, is_dangerous, is_inert_phone
from tests.test_mapping import preset


def make_settings(tmp_path: Path, sandbox: Any, **export: Any) -> Settings:
    options: dict[str, Any] = {"since": "2000-01-01", **export}
    return build_settings(
        {
            "selldone": {
                "api_url": sandbox.url,
                "shop_id": sandbox.shop_id,
                "token": sandbox.token,
            },
            "export": options,
        },
        base_dir=tmp_path,
        environ={},
    )


@pytest.fixture
def client(sandbox: Any) -> Iterator[SelldoneClient]:
    with SelldoneClient(
        sandbox.url, sandbox.shop_id, sandbox.token, requests_per_minute=100_000
    ) as api:
        yield api


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[Journal]:
    with Journal.open(tmp_path / "state" / "filebridge.sqlite3") as opened:
        yield opened


def export(
    settings: Settings, client: SelldoneClient, journal: Journal, **kwargs: Any
) -> ExportResult:
    return run_export(settings, client, journal, now=datetime.now(UTC), **kwargs)


def csv_rows(path: Path, delimiter: str = ",") -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle, delimiter=delimiter))


def outbox_order_counts(outbox: Path) -> Counter[int]:
    """How many files each order id appears in (rows of one order count once)."""
    counts: Counter[int] = Counter()
    for path in sorted(outbox.glob("*.csv")):
        counts.update({int(row["order_id"]) for row in csv_rows(path)})
    return counts


def eligible(sandbox: Any, statuses: tuple[str, ...] = ("Payed",)) -> set[int]:
    """The orders the sandbox holds that an export with `statuses` must deliver."""
    return {
        o["id"]
        for o in sandbox.orders()
        if o["status"] in statuses
        and not o.get("reject")
        and o.get("type", "PHYSICAL") == "PHYSICAL"
    }


def test_first_run_exports_every_paid_order_once_and_second_run_nothing(
    tmp_path: Path, sandbox: Any, client: SelldoneClient, journal: Journal
) -> None:
    """Run 1 writes every Payed order; run 2 finds them in the ledger and writes no file."""
    settings = make_settings(tmp_path, sandbox)
    first = export(settings, client, journal)
    assert first.file is not None
    assert first.file.exists()
    assert set(first.order_ids) == eligible(sandbox)
    assert outbox_order_counts(settings.folders.outbox) == Counter(eligible(sandbox))
    second = export(settings, client, journal)
    assert (second.orders, second.file) == (0, None)
    assert len(list(settings.folders.outbox.iterdir())) == 1
    assert ledger.get_cursor(journal) == first.cursor


def test_reserved_canceled_open_and_rejected_orders_are_never_exported(
    tmp_path: Path, sandbox: Any, client: SelldoneClient, journal: Journal
) -> None:
    """Only Payed (not rejected) orders land in the file, whatever else the shop holds."""
    statuses = {o["id"]: o["status"] for o in sandbox.orders()}
    assert {"Reserved", "Canceled", "COD"} <= set(statuses.values())
    settings = make_settings(tmp_path, sandbox)
    result = export(settings, client, journal)
    assert {statuses[i] for i in result.order_ids} == {"Payed"}
    rejected = {o["id"] for o in sandbox.orders() if o.get("reject")}
    assert rejected
    assert not rejected & set(result.order_ids)


def test_cod_orders_are_exported_only_when_configured(
    tmp_path: Path, sandbox: Any, client: SelldoneClient, journal: Journal
) -> None:
    """COD is opt-in: absent by default, present with statuses = [Payed, COD]."""
    cod = {
        o["id"]
        for o in sandbox.orders()
        if o["status"] == "COD" and not o.get("reject")
    }
    assert cod
    default = export(make_settings(tmp_path / "a", sandbox), client, journal)
    assert not cod & set(default.order_ids)
    with Journal.open(tmp_path / "b.sqlite3") as other:
        settings = make_settings(tmp_path / "b", sandbox, statuses=["Payed", "COD"])
        with_cod = export(settings, client, other)
    assert cod <= set(with_cod.order_ids)
    assert set(with_cod.order_ids) == eligible(sandbox, ("Payed", "COD"))


def test_file_keeps_leading_zeros_sku_fallback_and_empty_guest_buyers(
    tmp_path: Path, sandbox: Any, client: SelldoneClient, journal: Journal
) -> None:
    """Postcodes keep leading zeros, SKU/MPN fall back variant→product, guests are blank."""
    settings = make_settings(tmp_path, sandbox)
    result = export(settings, client, journal)
    assert result.file is not None
    rows = csv_rows(result.file)
    orders = {o["id"]: o for o in sandbox.orders()}
    items = {i["id"]: i for o in orders.values() for i in o.get("items") or []}
    assert any(r["receiver_postal"].startswith("0") for r in rows)
    for row in rows:
        order = orders[int(row["order_id"])]
        postal = (order.get("receiver_info") or {}).get("postal")
        assert row["receiver_postal"] == ("" if postal is None else str(postal))
        item = items[int(row["item_id"])]
        variant, product = item.get("variant") or {}, item.get("product") or {}
        for key in ("sku", "mpn"):
            expected = (variant.get(key) or "").strip() and variant[key]
            expected = expected or ((product.get(key) or "").strip() and product[key])
            assert row[key] == escape_csv_text(expected or ""), (row["item_id"], key)
        if order.get("buyer") is None:
            assert (row["buyer_name"], row["buyer_email"], row["buyer_phone"]) == (
                "",
                "",
                "",
            )
    assert any(orders[int(r["order_id"])].get("buyer") is None for r in rows)
    assert any(
        (items[int(r["item_id"])].get("variant") or {}).get("sku") in (None, "")
        and r["sku"]
        for r in rows
    )


def test_exactly_once_with_orders_added_and_updated_between_and_during_runs(
    tmp_path: Path, sandbox: Any, client: SelldoneClient, journal: Journal
) -> None:
    """Orders added/updated between and during runs, many sharing one second: each once."""
    settings = make_settings(tmp_path, sandbox, page_size=3)
    shared = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=2)
    calls = {"n": 0}

    def during(count: int) -> None:
        calls["n"] += 1
        if calls["n"] == 3:  # mid-run: new orders, some sharing a second in the past
            sandbox.add_orders(6, updated_at=shared)
            sandbox.add_orders(2)
            sandbox.update_order(
                next(iter(eligible(sandbox))), delivery_state="OrderConfirm"
            )

    export(settings, client, journal, progress=during)
    sandbox.add_orders(5, updated_at=shared)  # late commits with an older timestamp
    sandbox.add_orders(3, status="Reserved")
    reserved_later_paid = sandbox.add_order(status="Reserved")["id"]
    export(settings, client, journal)
    sandbox.update_order(reserved_later_paid, status="Payed")
    for order_id in sorted(eligible(sandbox))[:4]:
        sandbox.update_order(order_id, delivery_state="PreparingOrder")
    calls["n"] = 0
    export(settings, client, journal, progress=during)
    last = export(settings, client, journal)
    assert last.orders == 0
    counts = outbox_order_counts(settings.folders.outbox)
    assert set(counts) == eligible(sandbox)
    assert set(counts.values()) == {1}
    assert reserved_later_paid in counts


def test_xlsx_export_has_no_formula_cells_and_text_typed_identifiers(
    tmp_path: Path, sandbox: Any, client: SelldoneClient, journal: Journal
) -> None:
    """An XLSX export: no formula cell anywhere; ids, postcodes, SKUs, phones are text."""
    settings = make_settings(tmp_path, sandbox, format="xlsx")
    result = export(settings, client, journal)
    assert result.file is not None
    assert result.file.suffix == ".xlsx"
    sheet = openpyxl.load_workbook(result.file).active
    assert sheet is not None
    headers = [c.value for c in sheet[1]]
    assert headers == preset("default").headers
    text_columns = {
        "order_id",
        "item_id",
        "receiver_postal",
        "sku",
        "mpn",
        "receiver_phone",
    }
    seen: set[str] = set()
    for row in sheet.iter_rows(min_row=2):
        for header, cell in zip(headers, row, strict=True):
            assert cell.data_type != "f"
            if header in text_columns and cell.value is not None:
                assert cell.data_type == "s", header
                assert cell.number_format == "@", header
                seen.add(header)
    assert seen == text_columns
    values = {c.value for row in sheet.iter_rows(min_row=2) for c in row}
    assert set(HOSTILE_STRINGS) & values  # hostile text kept exactly, as text


def test_csv_export_of_the_hostile_seed_is_injection_safe(
    tmp_path: Path, sandbox: Any, client: SelldoneClient, journal: Journal
) -> None:
    """Every hostile string the sandbox seeds is exported, and no cell can run."""
    text_fields = [n for n, f in FIELDS.items() if f.kind in TEXT_KINDS]
    (tmp_path / "hostile.toml").write_text(
        "".join(f'[[columns]]\nheader = "{n}"\nsource = "{n}"\n' for n in text_fields),
        encoding="utf-8",
    )
    settings = make_settings(
        tmp_path, sandbox, statuses=["Payed", "COD"], mapping="hostile.toml"
    )
    settings = settings.model_copy(update={"source": tmp_path / "filebridge.toml"})
    result = export(settings, client, journal)
    assert result.file is not None
    with result.file.open(encoding="utf-8-sig", newline="") as handle:
        table = list(csv.reader(handle))
    headers, body = table[0], table[1:]
    assert headers == text_fields
    number_headers: set[str] = set()
    phone_headers = {n for n in text_fields if FIELDS[n].kind is ColumnKind.PHONE}
    cells = set()
    for row in body:
        for header, text in zip(headers, row, strict=True):
            cells.add(text)
            if header in number_headers:
                continue
            assert not is_dangerous(text) or (
                header in phone_headers and is_inert_phone(text)
            ), (header, text)
    exported_hostile = {h for h in HOSTILE_STRINGS if escape_csv_text(h) in cells}
    assert exported_hostile == set(HOSTILE_STRINGS)


def test_dry_run_writes_and_records_nothing(
    tmp_path: Path, sandbox: Any, client: SelldoneClient, journal: Journal
) -> None:
    """--dry-run returns what would be exported and leaves folders and journal alone."""
    settings = make_settings(tmp_path, sandbox)
    dry = export(settings, client, journal, dry_run=True)
    assert dry.dry_run
    assert set(dry.order_ids) == eligible(sandbox)
    assert dry.file is not None
    assert not dry.file.exists()
    assert not settings.folders.outbox.exists()
    assert ledger.get_cursor(journal) is None
    assert journal.query("SELECT * FROM export_batches") == []
    real = export(settings, client, journal)
    assert real.order_ids == dry.order_ids


def test_reexport_writes_its_own_file_and_leaves_ledger_and_cursor(
    tmp_path: Path, sandbox: Any, client: SelldoneClient, journal: Journal
) -> None:
    """--reexport ORDER_ID exports an already exported order again, on purpose."""
    settings = make_settings(tmp_path, sandbox)
    first = export(settings, client, journal)
    target = first.order_ids[0]
    cursor = ledger.get_cursor(journal)
    again = export(settings, client, journal, reexport=[target])
    assert again.reexport
    assert again.order_ids == (target,)
    assert again.file is not None
    assert again.file != first.file
    assert {int(r["order_id"]) for r in csv_rows(again.file)} == {target}
    assert ledger.get_cursor(journal) == cursor
    batch = journal.query_one(
        "SELECT reexport FROM export_batches WHERE id = ?", (again.batch_id,)
    )
    assert batch is not None
    assert batch[0] == 1
    exported_in = journal.query_one(
        "SELECT batch_id FROM exported_orders WHERE order_id = ?", (target,)
    )
    assert exported_in is not None
    assert exported_in[0] == first.batch_id


def test_first_run_starts_now_by_default_and_exports_only_newer_orders(
    tmp_path: Path, sandbox: Any, client: SelldoneClient, journal: Journal
) -> None:
    """since = now: the shop's history is not dumped; orders paid afterwards are."""
    settings = make_settings(tmp_path, sandbox, since="now")
    start = datetime.now(UTC)
    first = run_export(settings, client, journal, now=start)
    assert (first.orders, first.file) == (0, None)
    assert ledger.get_cursor(journal) == int(start.timestamp())
    new = sandbox.add_order()["id"]
    second = export(settings, client, journal)
    assert second.order_ids == (new,)


def test_pending_batch_is_finished_or_rolled_back_on_start(
    tmp_path: Path, sandbox: Any, client: SelldoneClient, journal: Journal
) -> None:
    """A pending batch with its temp file is published; one without is rolled back."""
    settings = make_settings(tmp_path, sandbox)
    outbox = settings.folders.outbox
    outbox.mkdir(parents=True)
    ids = sorted(eligible(sandbox))
    complete = temp_path(outbox, "1-aa")
    complete.write_text("order_id\r\n", encoding="utf-8")
    for batch_id, temp, members in (
        (1, complete, ids[:2]),
        (2, temp_path(outbox, "2-bb"), ids[2:4]),
    ):
        ledger.record_pending_batch(
            journal,
            batch_id=batch_id,
            file_name=f"orders-old-{batch_id}.csv",
            temp_name=temp.name,
            created_at="2026-01-01T00:00:00+00:00",
            orders=[(i, None) for i in members],
            row_count=0,
            cursor_after=None,
            reexport=False,
        )
    orphan = temp_path(outbox, "9-zz")
    orphan.write_text("half", encoding="utf-8")
    result = export(settings, client, journal)
    assert (outbox / "orders-old-1.csv").exists()
    assert not complete.exists()
    assert not orphan.exists()
    assert len(result.recovered) == 3
    assert set(ids[:2]).isdisjoint(result.order_ids)  # finished: in the ledger
    assert set(ids[2:4]) <= set(result.order_ids)  # rolled back: exported again
    states = dict(journal.query("SELECT id, state FROM export_batches WHERE id < 3"))
    assert states == {1: "published", 2: "rolled_back"}


def test_done_marker_and_log_lines_per_order_without_token(
    tmp_path: Path,
    sandbox: Any,
    client: SelldoneClient,
    journal: Journal,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """done_marker writes `<file>.done`; each order gets an INFO line; no token logged."""
    settings = make_settings(tmp_path, sandbox, done_marker=True)
    with caplog.at_level(logging.INFO, logger="filebridge.outbox.export"):
        result = export(settings, client, journal)
    assert result.file is not None
    assert result.file.with_name(result.file.name + ".done").exists()
    shown = f"outbox/{result.file.name}"
    for order_id in result.order_ids:
        assert f"exported order {order_id} → {shown}" in caplog.messages
    assert sandbox.token not in caplog.text


def test_preview_rows_shows_headers_and_first_rows_as_text(
    tmp_path: Path, sandbox: Any, client: SelldoneClient
) -> None:
    """preview_rows gives the header row plus at most `limit` rendered rows."""
    spec = preset("german-excel")

    def orders() -> Iterator[Any]:
        return client.iter_orders(page_size=10)

    table = preview_rows(spec, orders(), 3)
    assert table[0] == spec.headers
    assert len(table) == 4
    assert all(isinstance(cell, str) for row in table for cell in row)
    assert any("," in row[spec.headers.index("Einzelpreis")] for row in table[1:])
