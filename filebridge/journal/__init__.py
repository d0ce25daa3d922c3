"""The SQLite record every part reads and writes: the store, the export ledger and the inbox ledger."""
