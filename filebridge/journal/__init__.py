"""The SQLite record every part reads and writes: the store (schema, migrations,
transactions), the export ledger, the inbox ledger and the record of runs
and alert incidents. Replay and status read the
ledgers too, which is why they live here and not in their halves.

May import: `errors`. Nothing of the other parts.
"""

from filebridge.journal import exports, inbox, runs
from filebridge.journal.backup import integrity_problems, list_backups, restore_journal
from filebridge.journal.exports import CURSOR_KEY, earliest_export_update
from filebridge.journal.store import Journal, utc_now_iso

__all__ = [
    "CURSOR_KEY",
    "Journal",
    "earliest_export_update",
    "exports",
    "inbox",
    "integrity_problems",
    "list_backups",
    "restore_journal",
    "runs",
    "utc_now_iso",
]
