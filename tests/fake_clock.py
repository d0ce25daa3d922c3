"""Run the filebridge CLI in this process with its wall clock moved by OFFSET seconds.

    python tests/fake_clock.py OFFSET -- run -c CONFIG

The injected clock: `time.time` and `datetime.datetime.now` (the class every module
imports) are shifted before filebridge is imported; the monotonic clock is left alone,
as a real clock jump leaves it. The sandbox, in the test process, keeps the true time:
it is the shop's clock.
"""

from __future__ import annotations

import datetime as _dt
import sys
import time as _time
from pathlib import Path

OFFSET = float(sys.argv[1])
_real_time = _time.time


def _fake_time() -> float:
    return _real_time() + OFFSET


class _FakeDatetime(_dt.datetime):
    @classmethod
    def now(cls, tz=None):  # type: ignore[no-untyped-def, override]
        return cls.fromtimestamp(_fake_time(), tz)

    @classmethod
    def utcnow(cls):  # type: ignore[no-untyped-def, override]
        return cls.fromtimestamp(_fake_time(), _dt.UTC).replace(tzinfo=None)


_time.time = _fake_time
_dt.datetime = _FakeDatetime  # type: ignore[misc]

if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import stamina

    from filebridge.cli import main

    stamina.set_testing(True, attempts=4)
    args = sys.argv[2:]
    main(args[1:] if args[:1] == ["--"] else args)
