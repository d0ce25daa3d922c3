"""One run at a time per state folder; a killed holder never blocks the next run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from filebridge.errors import AlreadyRunningError
from filebridge.locking import single_instance


def test_second_holder_is_refused_at_once(tmp_path: Path) -> None:
    """While one run holds the lock, another gets AlreadyRunningError immediately."""
    lock = tmp_path / "state" / "filebridge.lock"
    with (
        single_instance(lock),
        pytest.raises(AlreadyRunningError),
        single_instance(lock),
    ):
        pass
    with single_instance(lock):
        pid_file = (tmp_path / "state" / "filebridge.pid").read_text()
        assert pid_file.split()[0] == str(os.getpid())


def test_lock_left_by_a_killed_process_does_not_block(tmp_path: Path) -> None:
    """A holder killed with SIGKILL leaves the file, but the OS released the lock."""
    lock = tmp_path / "filebridge.lock"
    script = (
        "import os, sys\n"
        "from pathlib import Path\n"
        "from filebridge.locking import single_instance\n"
        f"with single_instance(Path({str(lock)!r})):\n"
        "    print('held', flush=True)\n"
        "    os.kill(os.getpid(), 9)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert "held" in proc.stdout
    assert proc.returncode != 0
    with single_instance(lock):
        pass
