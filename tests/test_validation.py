"""Validation (pure): text rows + inbound mapping → InboxRows and every RowIssue."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from filebridge.errors import MappingError, RowIssue
from filebridge.inbox.inbound_mapping import (
    InboundMapping,
    default_inbound_mapping,
    parse_inbound_mapping,
)
from filebridge.inbox.validation import NOTHING_TO_DO, InboxRow, validate_table
from filebridge.selldone.models import FulfilmentState
from filebridge.tables.table_model import RawRow, Table, TableFormat
from tests.strategies_inbox import CANONICAL, any_tables, cell_text, excel_rendered_ids

ROOT = Path(__file__).parents[1]
DEFAULT = parse_inbound_mapping(
    (ROOT / "mappings" / "inbox-default.toml").read_text(encoding="utf-8"), "default"
)
GERMAN = parse_inbound_mapping(
    (ROOT / "mappings" / "inbox-example-erp.toml").read_text(encoding="utf-8"),
    "example-erp",
)


def table(
    headers: list[str], *rows: list[str], kind: str = "csv", first_column: int = 0
) -> Table:
    """A table as the reader builds it: rows numbered from 2, every header a key."""
    return Table(
        headers=headers,
        rows=[
            RawRow(number, dict(zip(headers, values, strict=True)))
            for number, values in enumerate(rows, start=2)
        ],
        format=TableFormat(kind=kind, first_column=first_column),  # type: ignore[arg-type]
    )


def issues_of(
    result_rejected: list[tuple[RawRow, list[RowIssue]]],
) -> list[tuple[int, str, str, str]]:
    return [
        (issue.row, issue.column, issue.value, issue.message)
        for _, issues in result_rejected
        for issue in issues
    ]


def test_valid_rows_become_inbox_rows_with_typed_values() -> None:
    """State, items, tracking and delivery info come out typed, in file order."""
    result = validate_table(
        rows := table(
            CANONICAL,
            ["23990", "OrderConfirm", "11;12", "", "", "", "", "", "", ""],
            ["23990", "PreparingOrder", "", "", "", "1,5", "10", "20.5", "3", "Post"],
            [
                "23991",
                "SentOrder",
                "",
                "JJD1",
                "https://t.example/1",
                "",
                "",
                "",
                "",
                "",
            ],
            ["23992", "", "", "JJD2", "", "", "", "", "", ""],
            ["23993", "Returned", "", "", "", "", "", "", "", ""],
        ),
        DEFAULT,
    )
    assert result.rejected == []
    assert result.file_issues == []
    first, second, third, fourth, fifth = result.valid
    assert (first.row, first.order_id, first.state, first.items) == (
        2,
        23990,
        FulfilmentState.ORDER_CONFIRM,
        (11, 12),
    )
    assert second.delivery_info == {
        "weight": Decimal("1.5"),
        "volume": {
            "width": Decimal(10),
            "length": Decimal("20.5"),
            "height": Decimal(3),
        },
        "type": "Post",
    }
    assert (third.state, third.tracking_code, third.tracking_url) == (
        FulfilmentState.SENT_ORDER,
        "JJD1",
        "https://t.example/1",
    )
    assert (fourth.state, fourth.returned, fourth.tracking_code) == (
        None,
        False,
        "JJD2",
    )
    assert (fifth.state, fifth.returned) == (None, True)
    # The original cells stay in the table, not in each InboxRow.
    assert rows.rows_numbered({fifth.row})[6] == RawRow(
        6,
        dict(
            zip(
                CANONICAL,
                ["23993", "Returned", "", "", "", "", "", "", "", ""],
                strict=True,
            )
        ),
    )


@pytest.mark.parametrize(
    ("word", "state"),
    [
        ("SentOrder", FulfilmentState.SENT_ORDER),
        ("sentorder", FulfilmentState.SENT_ORDER),
        ("Sent Order", FulfilmentState.SENT_ORDER),
        ("TO_CUSTOMER", FulfilmentState.TO_CUSTOMER),
        ("shipped", FulfilmentState.SENT_ORDER),
        ("Delivered", FulfilmentState.TO_CUSTOMER),
    ],
)
def test_state_accepts_api_names_any_spelling_and_value_map_words(
    word: str, state: FulfilmentState
) -> None:
    """API names match ignoring case/spaces/underscores; ERP words via the value map."""
    result = validate_table(table(["order_id", "state"], ["1", word]), DEFAULT)
    assert [row.state for row in result.valid] == [state]


def test_german_mapping_reads_erp_headers_words_and_numbers() -> None:
    """Aliases, `versendet`, `23.990` ids and decimal commas per the ERP mapping."""
    result = validate_table(
        table(
            ["Bestellnummer", "Status", "Sendungsnummer", "Gewicht", "Versandart"],
            ["23.990", "versendet", "JJD1", "1,25", "DHL"],
            ["23.991", "Retoure", "", "", ""],
        ),
        GERMAN,
    )
    assert result.rejected == []
    first, second = result.valid
    assert (first.order_id, first.state, first.delivery_info) == (
        23990,
        FulfilmentState.SENT_ORDER,
        {"weight": Decimal("1.25"), "type": "Post"},
    )
    assert (second.order_id, second.returned) == (23991, True)


def test_every_problem_of_every_row_is_collected_in_column_order() -> None:
    """A row with many problems lists all of them; other rows still validate."""
    result = validate_table(
        table(
            [
                "order_id",
                "Status",
                "items",
                "tracking_code",
                "tracking_url",
                "weight",
                "carrier",
            ],
            [
                "1.23457E+11",
                "Versandt",
                "x",
                "1E+20",
                "mailto:a@b",
                "schwer",
                "Zeppelin",
            ],
            ["23990", "SentOrder", "", "", "", "", ""],
            ["-3", "SentOrder", "", "", "", "", ""],
        ),
        DEFAULT,
    )
    assert [row.order_id for row in result.valid] == [23990]
    assert issues_of(result.rejected) == [
        (
            2,
            "order_id",
            "1.23457E+11",
            "order id is shown in scientific notation, so digits may be lost",
        ),
        (2, "Status", "Versandt", "unknown state"),
        (2, "items", "x", "item id 'x' is not a number"),
        (
            2,
            "tracking_code",
            "1E+20",
            "tracking code is shown in scientific notation, so digits may be lost",
        ),
        (2, "tracking_url", "mailto:a@b", "tracking URL is not a web address"),
        (2, "weight", "schwer", "not a number"),
        (2, "carrier", "Zeppelin", "unknown carrier type"),
        (4, "order_id", "-3", "order id must be a positive whole number"),
    ]


def test_xlsx_issues_name_the_column_letter() -> None:
    """For XLSX the column is the header plus its letter, counting leading empty columns."""
    result = validate_table(
        table(["order_id", "Status"], ["5", "Shiped"], kind="xlsx", first_column=1),
        DEFAULT,
    )
    ((_, [issue]),) = result.rejected
    assert issue == RowIssue(
        2,
        "Status (C)",
        "Shiped",
        "unknown state (did you mean shipped?)",
        "use OrderConfirm, PreparingOrder, SentOrder, ToCustomer or Returned; the "
        "mapping also knows confirmed, delivered, packed, preparing, sent, shipped, or "
        "add the word under [values.state] in the inbound mapping",
    )
    assert issue.describe().startswith("row 2, column 'Status (C)': unknown state")


def test_check_queue_is_not_a_target() -> None:
    """A file cannot move an order back to CheckQueue; the message says so."""
    result = validate_table(table(["order_id", "state"], ["5", "CheckQueue"]), DEFAULT)
    assert issues_of(result.rejected) == [
        (
            2,
            "state",
            "CheckQueue",
            "CheckQueue is where new orders start; a file cannot send an order back",
        ),
    ]


def test_row_without_state_or_tracking_has_nothing_to_do() -> None:
    """Empty state and no tracking is a rejected row; tracking alone is fine."""
    result = validate_table(
        table(
            ["order_id", "state", "tracking_code", "weight"],
            ["1", "", "", "2"],
            ["2", "", "JJD", ""],
        ),
        DEFAULT,
    )
    assert [row.order_id for row in result.valid] == [2]
    assert issues_of(result.rejected) == [(2, "", "", NOTHING_TO_DO)]


def test_duplicate_rows_for_one_order_stay_in_file_order() -> None:
    """Several rows for the same order are all valid, in the order of the file."""
    result = validate_table(
        table(
            ["order_id", "state"],
            ["7", "OrderConfirm"],
            ["7", "SentOrder"],
            ["7", "ToCustomer"],
        ),
        DEFAULT,
    )
    assert [(r.row, r.state) for r in result.valid] == [
        (2, FulfilmentState.ORDER_CONFIRM),
        (3, FulfilmentState.SENT_ORDER),
        (4, FulfilmentState.TO_CUSTOMER),
    ]


def test_each_row_gets_its_own_delivery_info() -> None:
    """Rows with equal measures do not share dicts a consumer might change."""
    result = validate_table(
        table(
            ["order_id", "state", "weight", "width"],
            ["1", "PreparingOrder", "2", "3"],
            ["2", "PreparingOrder", "2", "3"],
        ),
        DEFAULT,
    )
    first, second = result.valid
    first.delivery_info["volume"]["width"] = Decimal(99)
    assert second.delivery_info == {
        "weight": Decimal(2),
        "volume": {"width": Decimal(3)},
    }


@pytest.mark.parametrize(
    "header", ["Order ID", "order-id", " ORDER_ID ", "Order Number"]
)
def test_header_aliases_ignore_case_spaces_underscores_hyphens(header: str) -> None:
    """Any spelling of an accepted header finds the order_id column."""
    result = validate_table(
        table([header, "state", "Notes"], ["3", "SentOrder", "x"]), DEFAULT
    )
    assert [row.order_id for row in result.valid] == [3]


def test_missing_order_id_column_is_a_file_issue_listing_what_was_found() -> None:
    """No order_id column: the whole file is refused, naming expected and found headers."""
    result = validate_table(
        table(["Kunde", "Status"], ["Müller", "SentOrder"]), DEFAULT
    )
    assert (result.valid, result.rejected) == ([], [])
    assert result.file_issues == [
        "no order_id column: expected one of 'order_id', 'order', 'order number', "
        "'order no', 'order nr', 'basket_id'; found 'Kunde', 'Status'. The first "
        "non-empty row must hold the column headers; add the alias to the inbound "
        "mapping (default) if your ERP names it differently"
    ]


def test_two_columns_meaning_the_same_thing_is_a_file_issue() -> None:
    """`Status` and `state` both mean state: ambiguous, so the file is refused."""
    result = validate_table(
        Table(
            headers=["order_id", "Status", "state"],
            rows=[
                RawRow(
                    2, {"order_id": "1", "Status": "SentOrder", "state": "ToCustomer"}
                )
            ],
            format=TableFormat(kind="xlsx"),
        ),
        DEFAULT,
    )
    assert result.file_issues == [
        "columns 'Status (B)' and 'state (C)' both mean state: delete or rename all but one"
    ]


def test_original_header_texts_are_matched_not_the_unique_keys() -> None:
    """Repeated headers (`Status`, `Status (2)` as keys) are still both seen as state."""
    result = validate_table(
        Table(
            headers=["order_id", "Status", "Status (2)"],
            rows=[
                RawRow(2, {"order_id": "1", "Status": "SentOrder", "Status (2)": "x"})
            ],
            format=TableFormat(kind="csv"),
            header_texts=["order_id", "Status", "Status"],
        ),
        DEFAULT,
    )
    assert result.file_issues == [
        "columns 'Status' and 'Status' both mean state: delete or rename all but one"
    ]


def test_file_without_state_or_tracking_columns_is_refused() -> None:
    """A file that could never ask for anything is a file issue, not N row issues."""
    result = validate_table(
        table(["order_id", "Notiz"], ["1", "x"]), default_inbound_mapping()
    )
    assert result.file_issues == [
        "nothing to do: the file has no state, tracking_code or tracking_url column "
        "(expected one of 'state', 'tracking_code', 'tracking_url')"
    ]


@given(any_tables())
def test_validate_table_never_raises_and_accounts_for_every_row(
    any_table: Table,
) -> None:
    """For any strings, every row is valid or rejected with issues naming its row."""
    result = validate_table(any_table, DEFAULT)
    if result.file_issues:
        assert (result.valid, result.rejected) == ([], [])
        return
    assert len(result.valid) + len(result.rejected) == len(any_table.rows)
    for raw, issues in result.rejected:
        assert issues
        assert all(issue.row == raw.row and issue.message for issue in issues)
    for row in result.valid:
        assert isinstance(row, InboxRow)
        assert row.order_id > 0
        assert (
            row.state is not None
            or row.returned
            or row.tracking_code
            or row.tracking_url
        )


@st.composite
def tables_with_repeats(draw: st.DrawFn) -> Table:
    """A table whose cells come from a small pool, so values repeat across rows."""
    base = draw(any_tables())
    pool = draw(st.lists(cell_text, min_size=1, max_size=4))
    rows = [
        RawRow(
            raw.row,
            {
                key: draw(st.sampled_from(pool) | cell_text)
                for key in base.headers
                if draw(st.booleans()) or key in raw.cells
            },
        )
        for raw in base.rows
    ]
    return Table(base.headers, rows, base.format)


@settings(max_examples=200)
@given(tables_with_repeats(), st.sampled_from([DEFAULT, GERMAN]))
def test_each_row_validates_in_its_table_as_it_does_alone(
    any_table: Table, mapping: InboundMapping
) -> None:
    """Sharing work across a column (each distinct text parsed once) changes nothing:
    every row comes out valid, or rejected with the same issues, as on its own."""

    def with_rows(rows: list[RawRow]) -> Table:
        return Table(any_table.headers, rows, any_table.format, any_table.header_texts)

    result = validate_table(any_table, mapping)
    alone = [validate_table(with_rows([raw]), mapping) for raw in any_table.rows]
    assert result.file_issues == validate_table(with_rows([]), mapping).file_issues
    assert result.valid == [row for one in alone for row in one.valid]
    assert result.rejected == [row for one in alone for row in one.rejected]


@given(excel_rendered_ids())
def test_excel_rendered_ids_validate_to_the_id(
    case: tuple[int, str, str | None],
) -> None:
    """Through the whole validation, each Excel rendering of an id gives the id."""
    number, text, thousands = case
    mapping = InboundMapping(id_thousands_separator=thousands)  # type: ignore[arg-type]
    result = validate_table(table(["order_id", "state"], [text, "SentOrder"]), mapping)
    assert [row.order_id for row in result.valid] == [number]


def test_inbound_mapping_problems_are_all_reported_with_lines() -> None:
    """A bad mapping lists every problem with its line and the nearest valid name."""
    text = (
        'foo = 1\ndecimal_separator = ";"\n[columns]\nsttate = ["x"]\n'
        '[values.state]\nx = "Sent"\n[values.items]\na = "b"\n'
    )
    with pytest.raises(MappingError) as caught:
        parse_inbound_mapping(text, "bad.toml")
    assert caught.value.message == (
        "Inbound mapping bad.toml has 5 problem(s):\n"
        "  - line 1, foo: unknown key\n"
        "  - line 4, columns.sttate: unknown inbox column; did you mean state?\n"
        "  - line 6, values.state.x: 'Sent' is not a valid state; use one of "
        "OrderConfirm, PreparingOrder, SentOrder, ToCustomer, Returned; did you mean "
        "SentOrder?\n"
        "  - line 7, values.items: value maps exist only for state and carrier\n"
        '  - line 2, decimal_separator: must be ".", "," or "" (got \';\')'
    )


def test_inbound_mapping_refuses_a_header_for_two_columns() -> None:
    """One header spelling cannot mean two columns."""
    with pytest.raises(
        MappingError, match="header 'nummer' is already used for order_id"
    ):
        parse_inbound_mapping(
            '[columns]\norder_id = ["Nummer"]\ntracking_code = ["nummer"]\n', "x.toml"
        )


def test_shipped_mappings_are_identical_to_the_packaged_preset() -> None:
    """mappings/inbox-default.toml and the package preset are the same file."""
    packaged = ROOT / "filebridge" / "presets" / "inbox-default.toml"
    assert (
        packaged.read_bytes() == (ROOT / "mappings" / "inbox-default.toml").read_bytes()
    )
