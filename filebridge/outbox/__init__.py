"""Orders → files: the export use case, column mappings, order rows and the
CSV/XLSX writers.

May import: `selldone`, `journal`, `tables` and the shell's foundation
(`errors`, `config`, `folders`, `presets`).
"""

from filebridge.outbox.export import (
    ExportResult,
    check_mapping,
    load_mapping,
    preview_rows,
    run_export,
)

__all__ = [
    "ExportResult",
    "check_mapping",
    "load_mapping",
    "preview_rows",
    "run_export",
]
