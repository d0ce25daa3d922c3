"""`python -m tests.soak.clock_child OFFSET ARGS...`: the filebridge CLI with its wall
clock moved by OFFSET seconds, for the soak's clock jumps between starts.

The clock is injected by importing `tests.fake_clock` (it shifts `time.time` and
`datetime.now` from `sys.argv[1]` before filebridge is imported; the monotonic clock
stays, as in a real jump). Unlike `fake_clock`'s own `__main__` it leaves stamina's
retries as in production, so the soak's watcher retries and backs off as usual.
"""

from __future__ import annotations

import sys

import tests.fake_clock  # noqa: F401 - shifts the wall clock on import
from filebridge.cli import main

if __name__ == "__main__":
    main(sys.argv[2:])
