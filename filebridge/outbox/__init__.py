"""Orders → files: the export use case, column mappings, order rows and the
CSV/XLSX writers.

May import: `selldone`, `journal`, `tables` and the shell's foundation
(`errors`, `config`, `folders`, `presets`).
"""

from filebridge.outbox.export import (
    ExportResult,
    check_mapping,
    is_exportable,
    load_mapping,
    preview_rows,
    run_export,
)
from filebridge.outbox.fields import FIELDS
from filebridge.outbox.since import parse_since, since_note

__all__ = [
    "FIELDS",
    "ExportResult",
    "check_mapping",
    "is_exportable",
    "load_mapping",
    "parse_since",
    "preview_rows",
    "run_export",
    "since_note",
]
