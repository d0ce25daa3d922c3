"""filebridge: exchanges Selldone orders, statuses and tracking with legacy ERPs through files."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

DISTRIBUTION = "selldone-filebridge"
"""The name on the package index; `filebridge` there is an unrelated project."""

try:
    __version__ = version(DISTRIBUTION)
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+source"
