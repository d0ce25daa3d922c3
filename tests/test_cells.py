"""Cell parsing (pure): Excel-mangled ids, numbers, dates, URLs and item lists."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from filebridge.tables.cells import (
    MAX_ID,
    SCIENTIFIC_HINT,
    CellProblem,
    column_letter,
    normalise_key,
    parse_date,
    parse_decimal,
    parse_item_id_lists,
    parse_item_ids,
    parse_order_id,
    parse_order_ids,
    parse_tracking_code,
    parse_tracking_codes,
    parse_tracking_url,
    parse_tracking_urls,
)
from tests.strategies_inbox import (
    cell_text,
    excel_rendered_ids,
    long_ids,
    order_ids,
    scientific_renderings,
)


@pytest.mark.parametrize(
    ("text", "thousands", "expected"),
    [
        ("23990", None, 23990),
        ("23990.0", None, 23990),
        ("23990,00", None, 23990),
        ("23 990", None, 23990),
        ("23\u00a0990", None, 23990),
        ("23\u202f990,0", None, 23990),
        ("23'990", None, 23990),
        ("23.990", ".", 23990),
        ("1.234.567", ".", 1234567),
        ("23.990,00", ".", 23990),
        ("23990.0", ".", 23990),
        ("23,990", ",", 23990),
        ('="23990"', None, 23990),
        ("'23990", None, 23990),
        ("00023990", None, 23990),
        ("۲۳۹۹۰", None, 23990),
        (" 23990 ", None, 23990),
    ],
)
def test_parse_order_id_repairs_excel_damage(
    text: str, thousands: str | None, expected: int
) -> None:
    """Forms Excel, ERPs and locales produce parse to the id a person meant."""
    assert parse_order_id(text, thousands_separator=thousands) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "1.23457E+11",
            "order id is shown in scientific notation, so digits may be lost",
        ),
        (
            "1,23457E+11",
            "order id is shown in scientific notation, so digits may be lost",
        ),
        ("2.399E+4", "order id is shown in scientific notation, so digits may be lost"),
        (
            "23.990",
            "order id is ambiguous: '.' may be a thousands separator or a decimal point",
        ),
        (
            "1,000",
            "order id is ambiguous: ',' may be a thousands separator or a decimal point",
        ),
        ("1.000.000", "order id has separators that are not thousands groups"),
        ("23 99", "order id has separators that are not thousands groups"),
        ("23990.5", "order id is not a whole number"),
        ("-5", "order id must be a positive whole number"),
        ("0", "order id must be a positive whole number"),
        ("", "order id is empty"),
        ("ABC-1", "order id is not a number"),
        ("+23990", "order id is not a number"),
        ("9" * 19, "order id is too large to be a Selldone id"),
        ("9" * 41, "order id is not a number"),
    ],
)
def test_parse_order_id_refuses_what_it_cannot_know(text: str, message: str) -> None:
    """Scientific, ambiguous, negative or non-numeric ids are problems, never ids."""
    problem = parse_order_id(text)
    assert isinstance(problem, CellProblem)
    assert problem.message == message


def test_scientific_id_hint_says_format_as_text() -> None:
    """The scientific-notation problem tells the person how to fix it in Excel."""
    problem = parse_order_id("1.23457E+11")
    assert isinstance(problem, CellProblem)
    assert problem.hint == SCIENTIFIC_HINT
    assert "format the column as Text" in problem.hint


@given(excel_rendered_ids())
def test_parse_order_id_reads_back_every_rendering(
    case: tuple[int, str, str | None],
) -> None:
    """Plain, `{id}.0`, `{id},00`, grouped and `="…"` forms all parse to the id."""
    number, text, thousands = case
    assert parse_order_id(text, thousands_separator=thousands) == number  # type: ignore[arg-type]


@given(scientific_renderings(), st.sampled_from([None, ".", ","]))
def test_parse_order_id_never_guesses_scientific(
    text: str, thousands: str | None
) -> None:
    """An id in scientific notation is always a problem, whatever the locale."""
    problem = parse_order_id(text, thousands_separator=thousands)  # type: ignore[arg-type]
    assert isinstance(problem, CellProblem)
    assert "scientific notation" in problem.message


@given(long_ids)
def test_ids_beyond_excel_precision_in_scientific_form_are_refused(number: int) -> None:
    """A 16+ digit id as Excel shows it (15 significant digits) is never turned into a number."""
    text = f"{float(number):.15G}"
    assert "E+" in text
    assert isinstance(parse_order_id(text), CellProblem)


@given(cell_text, st.sampled_from([None, ".", ","]))
def test_parse_order_id_returns_id_or_problem_for_any_text(
    text: str, thousands: str | None
) -> None:
    """Any cell text gives a positive id or a problem with a message; nothing raises."""
    result = parse_order_id(text, thousands_separator=thousands)  # type: ignore[arg-type]
    if isinstance(result, CellProblem):
        assert result.message
    else:
        assert 0 < result <= 2**63 - 1


@given(st.lists(order_ids.map(str), min_size=1, max_size=20))
def test_parse_order_ids_column_matches_cell_by_cell(texts: list[str]) -> None:
    """The whole-column fast path gives exactly what parsing each cell gives."""
    assert parse_order_ids(texts).cells() == [parse_order_id(t) for t in texts]


@given(st.lists(cell_text, max_size=10))
def test_parse_order_ids_column_matches_for_any_text(texts: list[str]) -> None:
    """Also for hostile columns, the column parser agrees with the cell parser."""
    assert parse_order_ids(texts).cells() == [parse_order_id(t) for t in texts]


# Cells at the edges of the whole-column fast paths: lengths and values around
# MAX_ID (19 digits) and MAX_ID_TEXT (40 characters), zero padding, empty cells.
EDGE_IDS = [
    "",
    "0",
    "00",
    "007",
    str(MAX_ID),
    str(MAX_ID + 1),
    "9" * 18,
    "9" * 19,
    "0" * 21 + "1",
    "0" * 22 + "1",
    "0" * 39 + "1",
    "0" * 40 + "1",
    "0" * 21 + str(MAX_ID),
    "0" * 22 + "1" * 19,  # 41 characters: too long for an id, although it fits
    "9" * 5000,
]


@given(st.lists(st.sampled_from(EDGE_IDS) | order_ids.map(str), max_size=6))
def test_parse_order_ids_column_matches_at_the_edges(texts: list[str]) -> None:
    """Zero-padded, 19-digit and over-long ids: the column path agrees with cells."""
    assert parse_order_ids(texts).cells() == [parse_order_id(t) for t in texts]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", None),
        ("11", (11,)),
        ("11;12", (11, 12)),
        ("11, 12 13", (11, 12, 13)),
        ("4521.0", (4521,)),
        ("4521,00", (4521,)),
        ("3;3;1", (3, 1)),
    ],
)
def test_parse_item_ids_reads_lists(
    text: str, expected: tuple[int, ...] | None
) -> None:
    """Item ids separated by `;`, `,` or spaces; one mangled id stays one id."""
    assert parse_item_ids(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("11;x", "item id 'x' is not a number"),
        ("0", "item id '0' must be a positive whole number"),
        (
            "1,000",
            "item id is ambiguous: ',' may be a thousands separator or a decimal point",
        ),
        (
            "1.5E+4",
            "item id '1.5E+4' is shown in scientific notation, so digits may be lost",
        ),
    ],
)
def test_parse_item_ids_refuses_bad_lists(text: str, message: str) -> None:
    """A bad item id names itself in the problem."""
    problem = parse_item_ids(text)
    assert isinstance(problem, CellProblem)
    assert problem.message == message


@given(
    st.lists(
        cell_text | st.sampled_from(["1;2", "3,4", "", "5;;6", "7;0"]), max_size=12
    )
)
def test_parse_item_id_lists_matches_cell_by_cell(texts: list[str]) -> None:
    """The column parser for items agrees with parsing each cell."""
    assert parse_item_id_lists(texts).cells() == [parse_item_ids(t) for t in texts]


@given(
    st.lists(
        st.sampled_from(
            [
                *EDGE_IDS,
                "1;2",
                "1,2;3",
                "4521,0",
                "12,0001",
                "0" * 21 + "1;2",
                "1;" * 7000 + "1",
                "1000000000000000000;" * 1100 + "1",
            ]
        ),
        max_size=6,
    )
)
def test_parse_item_id_lists_matches_at_the_edges(texts: list[str]) -> None:
    """Long, zero-padded and over-long item lists: the column path agrees with cells."""
    assert parse_item_id_lists(texts).cells() == [parse_item_ids(t) for t in texts]


@pytest.mark.parametrize(
    ("text", "separator", "expected"),
    [
        ("12.5", None, Decimal("12.5")),
        ("12,5", None, Decimal("12.5")),
        ("1.234,5", None, Decimal("1234.5")),
        ("1,234.5", None, Decimal("1234.5")),
        ("1 234,5", None, Decimal("1234.5")),
        ("12,5", ",", Decimal("12.5")),
        ("1.250,5", ",", Decimal("1250.5")),
        ("1,250", ".", Decimal("1250")),
        (".5", None, Decimal("0.5")),
        ("-3", None, Decimal("-3")),
    ],
)
def test_parse_decimal_reads_both_separators(
    text: str, separator: str | None, expected: Decimal
) -> None:
    """Decimal comma and point, with thousands groups, give exact Decimals."""
    assert parse_decimal(text, decimal_separator=separator) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "separator", "message"),
    [
        (
            "1,250",
            None,
            "number is ambiguous: ',' may be a thousands separator or a decimal comma",
        ),
        ("12.5", ",", "not a number: '.' is not the decimal separator here"),
        ("12 kg", None, "not a number"),
        ("NaN", None, "not a number"),
        ("1e400", None, "not a number"),
    ],
)
def test_parse_decimal_refuses_ambiguous_or_text(
    text: str, separator: str | None, message: str
) -> None:
    """An ambiguous or non-numeric measurement is a problem, never a guess."""
    problem = parse_decimal(text, decimal_separator=separator)  # type: ignore[arg-type]
    assert isinstance(problem, CellProblem)
    assert problem.message == message


@pytest.mark.parametrize(
    ("text", "formats", "expected"),
    [
        ("2024-03-05", [], date(2024, 3, 5)),
        ("2024-03-05 14:30:00", [], date(2024, 3, 5)),
        ("05.03.2024", ["%d.%m.%Y"], date(2024, 3, 5)),
        ("31/12/2024", ["%d/%m/%Y", "%m/%d/%Y"], date(2024, 12, 31)),
    ],
)
def test_parse_date_reads_iso_and_configured_formats(
    text: str, formats: list[str], expected: date
) -> None:
    """ISO dates always work; other formats only as the mapping lists them."""
    assert parse_date(text, formats) == expected


def test_parse_date_refuses_swappable_day_and_month() -> None:
    """05/03/2024 under both D/M and M/D is ambiguous, not guessed."""
    problem = parse_date("05/03/2024", ["%d/%m/%Y", "%m/%d/%Y"])
    assert problem == CellProblem(
        "date is ambiguous (day and month could be swapped)",
        "write dates as YYYY-MM-DD",
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("JJD0001", "JJD0001"),
        ("1Z999AA10123456784", "1Z999AA10123456784"),
        ("123456789012.0", "123456789012"),
        ('="00340434"', "00340434"),
        ("", None),
    ],
)
def test_parse_tracking_code_keeps_text(text: str, expected: str | None) -> None:
    """Tracking codes stay text; only Excel's `.0` and `="…"` are undone."""
    assert parse_tracking_code(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "3,40434E+17",
            "tracking code is shown in scientific notation, so digits may be lost",
        ),
        ("1E5", "tracking code is shown in scientific notation, so digits may be lost"),
        ("AB\tCD", "tracking code contains control characters (tab, line break …)"),
        ("X" * 256, "tracking code is longer than 255 characters"),
    ],
)
def test_parse_tracking_code_refuses_damaged_codes(text: str, message: str) -> None:
    """Codes that lost digits or hold control characters are problems."""
    problem = parse_tracking_code(text)
    assert isinstance(problem, CellProblem)
    assert problem.message == message


@given(st.lists(cell_text | st.sampled_from(["JJD1", "1E5", "12.0", ""]), max_size=12))
def test_parse_tracking_codes_matches_cell_by_cell(texts: list[str]) -> None:
    """The column parser for tracking codes agrees with parsing each cell."""
    assert parse_tracking_codes(texts).cells() == [
        parse_tracking_code(t) for t in texts
    ]


@pytest.mark.parametrize(
    "url",
    [
        "https://track.example.com/t/JJD0001",
        "http://localhost:8080/x?a=1&b=2#frag",
        "HTTPS://Track.Example.COM",
        "https://user@track.example.com/x",
        "http://[::1]:8080/x",
        "https://sendungsverfolgung.dhl.de/päckchen",
        "https://xn--bcher-kva.example/",
    ],
)
def test_parse_tracking_url_accepts_web_addresses(url: str) -> None:
    """http(s) URLs with a host are kept as written."""
    assert parse_tracking_url(url) == url


@pytest.mark.parametrize(
    "url",
    [
        "ftp://track.example.com/1",
        "www.example.com/track",
        "https://",
        "https://-bad-.example.com",
        "https://exa mple.com",
        "javascript:alert(1)",
    ],
)
def test_parse_tracking_url_refuses_other_text(url: str) -> None:
    """Anything but an http(s) URL with a host is a problem naming the fix."""
    assert parse_tracking_url(url) == CellProblem(
        "tracking URL is not a web address",
        "write a full link starting with https:// (or leave the cell empty)",
    )


URLS = [
    "",
    "https://track.example.com/t/JJD0001",
    "https://track.example.com/t/JJD0002?x=1#y",
    "https://track.example.com",
    "https://track.example.com:8080/t/1",
    "https://track.example.com:123456/t/1",
    "https://-bad-.example.com/t/1",
    "https://track..example.com/t/1",
    "https://track.example.com/t/a b",
    "https://track.example.com/t/\x7f",
    "https://track.example.com/" + "x" * 2100,
    "https://sendungsverfolgung.dhl.de/päckchen",
    "http://[::1]:8080/x",
    "ftp://track.example.com/1",
    " https://track.example.com/t/1 ",
]


@given(
    st.lists(st.sampled_from(URLS), max_size=6)
    | st.lists(cell_text | st.sampled_from(URLS), max_size=8)
)
def test_parse_tracking_urls_matches_cell_by_cell(texts: list[str]) -> None:
    """The column parser for URLs (one check of a shared host) agrees with each cell."""
    assert parse_tracking_urls(texts).cells() == [parse_tracking_url(t) for t in texts]


@pytest.mark.parametrize(
    ("header", "key"),
    [("Order ID", "orderid"), ("order-id", "orderid"), (" ORDER_ID ", "orderid")],
)
def test_normalise_key_ignores_case_spaces_underscores_hyphens(
    header: str, key: str
) -> None:
    """Header spellings that mean the same column compare equal."""
    assert normalise_key(header) == key


@pytest.mark.parametrize(
    ("index", "letters"), [(0, "A"), (25, "Z"), (26, "AA"), (701, "ZZ"), (16383, "XFD")]
)
def test_column_letter_matches_excel(index: int, letters: str) -> None:
    """0-based column indexes become the letters Excel shows."""
    assert column_letter(index) == letters
