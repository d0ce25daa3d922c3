"""The drop folder → validated rows: scan, readiness, claims and moves, validation, result and failed reports."""
