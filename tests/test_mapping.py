"""Column mappings: presets, validation messages, and order → rows (pure, no fixtures)."""

from __future__ import annotations

import tomllib
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given

from filebridge.errors import MappingError
from filebridge.outbox.dialect import RowMode
from filebridge.outbox.export import check_mapping, load_mapping
from filebridge.outbox.fields import FIELDS, ColumnKind
from filebridge.outbox.mapping import MappingSpec, parse_mapping, render_filename
from filebridge.outbox.order_rows import order_to_rows
from filebridge.selldone.models import Order
from filebridge.tables.excel_safety import (
    escape_csv_text,
    is_dangerous,
    is_inert_phone,
    unescape_csv_text,
)
from tests.strategies_export import hostile_text, model_orders

ROOT = Path(__file__).parents[1]
PRESETS = ["default", "one-row-per-order", "german-excel"]
DESIGN_HEADERS = [
    "order_id",
    "order_code",
    "reserved_at",
    "status",
    "currency",
    "order_price",
    "delivery_price",
    "item_id",
    "product_id",
    "variant_id",
    "sku",
    "mpn",
    "title",
    "quantity",
    "unit_price",
    "line_total",
    "receiver_name",
    "receiver_phone",
    "receiver_address",
    "receiver_no",
    "receiver_unit",
    "receiver_city",
    "receiver_state",
    "receiver_postal",
    "receiver_country",
    "buyer_name",
    "buyer_email",
    "buyer_phone",
]


def preset(name: str) -> MappingSpec:
    return load_mapping(name, ROOT)


def mapping(columns: str, dialect: str = "") -> MappingSpec:
    return parse_mapping(f"[dialect]\n{dialect}\n{columns}", "test.toml")


def order(**overrides: Any) -> Order:
    data: dict[str, Any] = {
        "id": 15001,
        "label": None,
        "status": "Payed",
        "currency": "EUR",
        "price": "55.9",
        "delivery_price": 4.9,
        "reserved_at": "2026-11-18T19:26:11.000000Z",
        "updated_at": "2026-11-18T19:30:00.000000Z",
        "receiver_info": {
            "name": "Lea Hofer",
            "phone": "+43 1 5550234",
            "address": "Prager Straße 12",
            "no": "12",
            "unit": "3. OG",
            "city": "Dresden",
            "postal": "01067",
            "country": "DE",
        },
        "buyer": {"id": 7, "name": "Lea Hofer", "email": "lea@example.at"},
        "items": [
            {
                "id": 23990,
                "product_id": 2410,
                "variant_id": 143273,
                "count": 2,
                "price": "25.5",
                "offer_amount": "1",
                "product": {"id": 2410, "title": "Tee", "sku": "TEE", "mpn": "T-1"},
                "variant": {"id": 143273, "sku": "TEE-M", "mpn": None},
            },
            {
                "id": 23991,
                "product_id": 2411,
                "count": "1.5",
                "price": 12,
                "product": {"id": 2411, "title": "Linen", "sku": None, "mpn": None},
                "variant": None,
            },
        ],
    }
    data.update(overrides)
    return Order.model_validate(data)


@pytest.mark.parametrize("name", PRESETS)
def test_presets_parse_and_are_packaged_identically(name: str) -> None:
    """Each preset in mappings/ parses and is byte-identical to its packaged copy."""
    source = ROOT / "mappings" / f"{name}.toml"
    packaged = ROOT / "filebridge" / "presets" / f"{name}.toml"
    assert source.read_bytes() == packaged.read_bytes()
    assert parse_mapping(source.read_text(encoding="utf-8"), str(source)).columns


def test_every_export_preset_is_shipped_in_both_folders() -> None:
    """The export presets are in mappings/ and in the package (for `pip install .`)."""
    wanted = {f"{n}.toml" for n in PRESETS}
    assert wanted <= {p.name for p in (ROOT / "mappings").glob("*.toml")}
    assert wanted <= {p.name for p in (ROOT / "filebridge" / "presets").glob("*.toml")}


def test_default_preset_has_the_design_headers_per_item_with_bom() -> None:
    """The default mapping is the design §3 contract: headers, per item, `,`, utf-8-sig."""
    spec = preset("default")
    assert spec.headers == DESIGN_HEADERS
    assert spec.dialect.rows is RowMode.PER_ITEM
    assert (spec.dialect.delimiter, spec.dialect.encoding) == (",", "utf-8-sig")
    assert spec.dialect.format == "csv"


def test_german_preset_uses_semicolon_decimal_comma_and_german_dates() -> None:
    """German Excel: `;`, decimal comma, dd.mm.yyyy dates, German headers."""
    spec = preset("german-excel")
    rows = order_to_rows(order(), spec)
    by_header = dict(zip(spec.headers, rows[0], strict=True))
    assert spec.dialect.delimiter == ";"
    assert spec.dialect.decimal_separator == ","
    assert by_header["Bestelldatum"] == date(2026, 11, 18)
    assert spec.dialect.date_format == "%d.%m.%Y"
    assert by_header["Artikelnummer"] == "TEE-M"
    assert "PLZ" in spec.headers


def test_one_row_per_order_joins_skus_and_sums_items() -> None:
    """One row per order: SKUs joined, item count and quantity totals."""
    spec = preset("one-row-per-order")
    rows = order_to_rows(order(), spec)
    assert len(rows) == 1
    by_header = dict(zip(spec.headers, rows[0], strict=True))
    assert by_header["skus"] == "TEE-M"  # the second item has no SKU at all
    assert by_header["item_count"] == 2
    assert by_header["quantity_total"] == Decimal("3.5")
    assert by_header["receiver_street"] == "Prager Straße 12, 3. OG"
    assert by_header["amount_due"] == Decimal("55.90")


def test_preset_names_resolve_and_unknown_preset_names_the_choices() -> None:
    """An unknown preset name fails with the list of presets."""
    with pytest.raises(MappingError, match="no mapping preset 'defualt'") as info:
        check_mapping("defualt", ROOT)
    assert "default" in (info.value.hint or "")


def test_mapping_paths_resolve_against_the_config_folder(tmp_path: Path) -> None:
    """A path-like mapping name is read relative to the base folder."""
    (tmp_path / "maps").mkdir()
    (tmp_path / "maps" / "erp.toml").write_text(
        '[[columns]]\nheader = "id"\nsource = "order.id"\n', encoding="utf-8"
    )
    assert check_mapping("maps/erp.toml", tmp_path).headers == ["id"]
    with pytest.raises(MappingError, match="does not exist"):
        check_mapping("maps/missing.toml", tmp_path)


def test_unknown_field_names_file_line_column_and_nearest_names() -> None:
    """An unknown source names the file, the line, the column and close valid names."""
    text = (
        '[dialect]\ndelimiter = ";"\n\n[[columns]]\nheader = "id"\nsource = "order.id"\n'
        '\n[[columns]]\nheader = "SKU"\nsource = "item.skuu"\n'
    )
    with pytest.raises(MappingError) as info:
        parse_mapping(text, "mappings/erp.toml")
    message = str(info.value)
    assert "mappings/erp.toml" in message
    assert "line 10, column 'SKU': unknown source 'item.skuu'" in message
    assert "did you mean item.sku" in message


def test_every_problem_is_reported_at_once() -> None:
    """Dialect and column problems are collected into one error."""
    text = (
        '[dialect]\nformt = "csv"\ndate_format = "dd.mm.yyyy"\n'
        '[[columns]]\nheader = "a"\nsource = "order.id"\nvalue = "x"\n'
        '[[columns]]\nheader = "b"\nsource = "order.price"\nkind = "date"\n'
    )
    with pytest.raises(MappingError) as info:
        parse_mapping(text, "x.toml")
    message = str(info.value)
    assert "4 problem(s)" in message
    assert "line 2, [dialect] formt: unknown key; did you mean format" in message
    assert "strftime" in message
    assert "exactly one of `source`" in message
    assert "cannot be written as date" in message


@pytest.mark.parametrize(
    ("columns", "dialect", "expected"),
    [
        (
            'header = "t"\nsource = "item.title"',
            'rows = "per_order"',
            "line-item field",
        ),
        ('header = "t"\nsource = "order.id"\nformat = "%d"', "", "date and datetime"),
        ('header = "t"\nsource = "order.price"\ndecimals = 9', "", "whole number"),
        ('header = "t"\nsource = "order.price"\ndefault = "n/a"', "", "not a number"),
        ('header = ""\nsource = "order.id"', "", "non-empty `header`"),
        ('header = "t"\nsource = "order.id"\ncolour = 1', "", "unknown key 'colour'"),
        ('header = "t"\nsource = "order.id"', 'delimiter = ";;"', "exactly one char"),
        ('header = "t"\nsource = "order.id"', 'encoding = "utf-9"', "unknown encoding"),
        (
            'header = "t"\nsource = "order.id"',
            'decimal_separator = ","',
            "equals decimal",
        ),
        ('header = "t"\nsource = "order.id"', 'filename_template = "a/{x}"', "unknown"),
        ('header = "t"\nsource = "order.id"', 'format = "xls"', "not one of"),
    ],
)
def test_invalid_mappings_are_rejected_with_the_reason(
    columns: str, dialect: str, expected: str
) -> None:
    """Each kind of mistake in a mapping is a MappingError that says what is wrong."""
    with pytest.raises(MappingError, match=expected.replace("(", r"\(")):
        mapping(f"[[columns]]\n{columns}\n", dialect)


def test_duplicate_headers_and_bad_toml_are_errors() -> None:
    """Two columns with one header, or broken TOML, are refused."""
    with pytest.raises(MappingError, match="headers must be unique"):
        mapping(
            '[[columns]]\nheader = "a"\nvalue = "1"\n[[columns]]\nheader = "a"\nvalue = "2"\n'
        )
    with pytest.raises(MappingError, match="not valid TOML"):
        parse_mapping("[[columns]\n", "broken.toml")


def test_sku_and_mpn_fall_back_from_variant_to_product() -> None:
    """item.sku/item.mpn: the variant's value when set, else the product's, else empty."""
    spec = preset("default")
    rows = order_to_rows(order(), spec)
    sku, mpn = spec.headers.index("sku"), spec.headers.index("mpn")
    assert [r[sku] for r in rows] == ["TEE-M", ""]
    assert [r[mpn] for r in rows] == ["T-1", ""]  # variant MPN null → product MPN


def test_money_is_decimal_rounded_to_the_currency_and_quantities_exact() -> None:
    """Money stays Decimal with the currency's decimals (IRR 0); counts keep fractions."""
    spec = preset("default")
    headers = spec.headers
    eur = order_to_rows(order(), spec)
    assert eur[0][headers.index("order_price")] == Decimal("55.90")
    assert str(eur[0][headers.index("line_total")]) == "50.00"  # 2 × 25.5 − 1
    assert eur[1][headers.index("quantity")] == Decimal("1.5")
    irr = order_to_rows(order(currency="IRR", price="1250000.4"), spec)
    assert str(irr[0][headers.index("order_price")]) == "1250000"


def test_guest_orders_have_empty_buyer_cells_and_codes_fall_back() -> None:
    """buyer: null gives empty buyer columns; order.code is the label or SM-{id}."""
    spec = preset("default")
    row = order_to_rows(order(buyer=None), spec)[0]
    by_header = dict(zip(spec.headers, row, strict=True))
    assert (by_header["buyer_name"], by_header["buyer_email"]) == ("", "")
    assert by_header["order_code"] == "SM-15001"
    labelled = order_to_rows(order(label="TRX42"), spec)[0]
    assert labelled[spec.headers.index("order_code")] == "TRX42"


def test_street_joins_number_and_unit_without_repeating_them() -> None:
    """receiver.street = address + no + unit, skipping parts the address holds."""
    spec = mapping('[[columns]]\nheader = "street"\nsource = "receiver.street"\n')

    def street(**receiver: Any) -> object:
        return order_to_rows(order(receiver_info=receiver), spec)[0][0]

    assert street(address="Hauptstraße", no="5", unit="Whg 3") == "Hauptstraße 5, Whg 3"
    assert street(address="Hauptstraße 5", no="5") == "Hauptstraße 5"
    assert street(address="Hauptstraße 15", no="5") == "Hauptstraße 15 5"
    assert street(address=None, no="7", unit=None) == "7"
    assert order_to_rows(order(receiver_info=None), spec)[0][0] == ""


def test_constants_defaults_kinds_and_formats_apply() -> None:
    """`value`, `default`, `kind` and `decimals` shape the typed cells."""
    spec = mapping(
        '[[columns]]\nheader = "src"\nvalue = "SHOP"\n'
        '[[columns]]\nheader = "note"\nsource = "receiver.message"\ndefault = "-"\n'
        '[[columns]]\nheader = "id"\nsource = "order.id"\nkind = "int"\n'
        '[[columns]]\nheader = "tax"\nsource = "order.tax"\ndefault = "0"\ndecimals = 3\n'
        '[[columns]]\nheader = "day"\nsource = "order.reserved_at"\nkind = "date"\n'
        '[[columns]]\nheader = "at"\nsource = "order.updated_at"\n',
        'rows = "per_order"',
    )
    assert order_to_rows(order(), spec) == [
        [
            "SHOP",
            "-",
            15001,
            Decimal("0.000"),
            date(2026, 11, 18),
            datetime(2026, 11, 18, 19, 30, tzinfo=UTC),
        ]
    ]


def test_orders_without_items_still_give_one_row() -> None:
    """An order with no items is still visible in the file (one row, item cells empty)."""
    spec = preset("default")
    rows = order_to_rows(order(items=[]), spec)
    assert len(rows) == 1
    assert rows[0][spec.headers.index("order_id")] == "15001"
    assert rows[0][spec.headers.index("sku")] == ""


def test_filename_template_fills_placeholders() -> None:
    """The file name comes from the template with UTC timestamp, batch and extension."""
    spec = preset("default").with_format("xlsx")
    name = render_filename(
        spec, batch=7, moment=datetime(2026, 8, 1, 10, 15, tzinfo=UTC)
    )
    assert name == "orders-20260801-101500-7.xlsx"


def test_every_field_is_documented_by_kind() -> None:
    """Every field has a kind, and line-item fields are exactly item/product/variant."""
    for name, field in FIELDS.items():
        assert isinstance(field.kind, ColumnKind)
        assert field.per_item == (name.split(".")[0] in {"item", "product", "variant"})


def test_config_toml_keys_in_presets_are_all_known() -> None:
    """Presets use only keys the parser knows (tomllib view of the files)."""
    for name in PRESETS:
        raw = tomllib.loads((ROOT / "mappings" / f"{name}.toml").read_text("utf-8"))
        assert set(raw) <= {"dialect", "columns", "description"}


@given(model_orders)
def test_any_order_maps_to_typed_rows_with_sku_fallback(any_order: Order) -> None:
    """For any order: one row per item, money as Decimal, SKU = variant SKU else product."""
    spec = preset("default")
    rows = order_to_rows(any_order, spec)
    assert len(rows) == max(1, len(any_order.items))
    sku = spec.headers.index("sku")
    for row, item in zip(rows, any_order.items, strict=False):
        assert len(row) == len(spec.columns)
        variant_sku = item.variant.sku if item.variant else None
        product_sku = item.product.sku if item.product else None
        if variant_sku and variant_sku.strip():
            assert row[sku] == variant_sku
        elif product_sku and product_sku.strip():
            assert row[sku] == product_sku
        else:
            assert row[sku] == ""
        for index in (
            spec.headers.index("unit_price"),
            spec.headers.index("line_total"),
        ):
            assert row[index] is None or isinstance(row[index], Decimal)


@given(hostile_text)
def test_csv_escape_leaves_no_dangerous_lead_and_is_reversible(value: str) -> None:
    """No escaped value starts with = + - @ TAB CR; unescaping gives the exact value."""
    escaped = escape_csv_text(value)
    assert not is_dangerous(escaped)
    assert unescape_csv_text(escaped) == value
    as_phone = escape_csv_text(value, phone=True)
    assert not is_dangerous(as_phone) or is_inert_phone(as_phone)
    assert unescape_csv_text(as_phone) == value


@given(hostile_text)
def test_inert_phones_cannot_carry_a_formula(value: str) -> None:
    """A value the phone exception lets through has no letters, quotes, ! | : or =."""
    if is_inert_phone(value):
        assert not set(value) & set("=@!|:\"'&\t\r\n")
        assert not any(ch.isalpha() for ch in value)


def test_legitimate_phone_numbers_are_kept_exact() -> None:
    """`+49 30 5550123` in a phone column stays as typed; in a name column it is escaped."""
    assert escape_csv_text("+49 30 5550123", phone=True) == "+49 30 5550123"
    assert escape_csv_text("+49 30 5550123") == "'+49 30 5550123"
    assert escape_csv_text("+1 =cmd|' /C calc'!A0", phone=True).startswith("'")
