"""The SQLite record every part reads and writes: the store (schema, migrations,
transactions), the export ledger and the inbox ledger. Replay and status read the
ledgers too, which is why they live here and not in their halves.

May import: `errors`. Nothing of the other parts.
"""

from filebridge.journal import exports, inbox
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
    "utc_now_iso",
]
