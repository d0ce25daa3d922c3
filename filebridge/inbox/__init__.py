"""The drop folder → validated rows → replay: scan and readiness, claims and moves,
validation against the inbound mapping, result and failed-row reports, the dry run.

May import: `tables`, `replay`, `selldone`, `journal` and the shell's foundation
(`errors`, `config`, `folders`, `presets`).
"""

from filebridge.inbox.file import FileReport, load_inbound_mapping
from filebridge.inbox.moves import PROCESSING_DIR, RESULT_SUFFIX
from filebridge.inbox.readiness import ScanMemory
from filebridge.inbox.report import ERROR_COLUMN
from filebridge.inbox.run import InboxResult, run_inbox

__all__ = [
    "ERROR_COLUMN",
    "PROCESSING_DIR",
    "RESULT_SUFFIX",
    "FileReport",
    "InboxResult",
    "ScanMemory",
    "load_inbound_mapping",
    "run_inbox",
]
