"""Files → cells: the CSV/XLSX readers with their guard, the cell parsers, the
table model, and the formula-escaping rules shared by every spreadsheet we write.

May import: `errors`. No part, no config: a table knows nothing of orders or the API.
"""

from filebridge.tables.cells import (
    CellProblem,
    ParsedColumn,
    column_letter,
    normalise_key,
    parse_decimal,
    parse_item_id_lists,
    parse_order_ids,
    parse_tracking_codes,
    parse_tracking_urls,
)
from filebridge.tables.excel_safety import DANGEROUS_LEADING, ESCAPE, escape_csv_text
from filebridge.tables.readers import (
    REFUSED_SUFFIXES,
    SUPPORTED_SUFFIXES,
    read_table,
)
from filebridge.tables.table_model import RawRow, Table, TableFormat, building_rows

__all__ = [
    "DANGEROUS_LEADING",
    "ESCAPE",
    "REFUSED_SUFFIXES",
    "SUPPORTED_SUFFIXES",
    "CellProblem",
    "ParsedColumn",
    "RawRow",
    "Table",
    "TableFormat",
    "building_rows",
    "column_letter",
    "escape_csv_text",
    "normalise_key",
    "parse_decimal",
    "parse_item_id_lists",
    "parse_order_ids",
    "parse_tracking_codes",
    "parse_tracking_urls",
    "read_table",
]
