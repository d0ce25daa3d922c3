"""Build the one-folder frozen filebridge with PyInstaller, on Windows, macOS or Linux.

    pip install -e ".[dashboard]" pyinstaller   # the dashboard too
    python frozen/build_frozen.py            # → dist/frozen/filebridge/

The result is a folder `filebridge/` holding `filebridge.exe` (Windows) or `filebridge`
and its `_internal/` files; copy the whole folder anywhere (a path with spaces or
non-ASCII characters is fine) and run the program inside it. The build checks that the
folder holds what a plain install has: the presets and the distribution's metadata.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SPEC = HERE / "filebridge.spec"


def build(dist: Path, work: Path) -> Path:
    """Run PyInstaller on the spec; return the built folder after checking its contents."""
    subprocess.run(  # noqa: S603 (a fixed argument list: this Python, PyInstaller, the spec)
        [
            sys.executable,
            "-m",
            "PyInstaller",
            "--noconfirm",
            "--clean",
            "--log-level",
            "WARN",
            "--distpath",
            str(dist),
            "--workpath",
            str(work),
            str(SPEC),
        ],
        check=True,
        cwd=ROOT,
    )
    folder = dist / "filebridge"
    program = folder / ("filebridge.exe" if sys.platform == "win32" else "filebridge")
    internal = folder / "_internal"
    wanted = sorted(p.name for p in (ROOT / "filebridge" / "presets").glob("*.toml"))
    shipped = sorted(
        p.name for p in (internal / "filebridge" / "presets").glob("*.toml")
    )
    problems = []
    if not program.is_file():
        problems.append(f"no {program.name}")
    if shipped != wanted:
        problems.append(f"presets {shipped} instead of {wanted}")
    if not any(internal.glob("selldone_filebridge*")):
        problems.append("no selldone_filebridge metadata (--version would fail)")
    if problems:
        raise SystemExit(
            f"frozen build in {folder} is incomplete: {'; '.join(problems)}"
        )
    return folder


def main() -> None:
    """Parse the folders, build, and say where the result is."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dist", type=Path, default=ROOT / "dist" / "frozen")
    parser.add_argument("--work", type=Path, default=ROOT / "build" / "frozen")
    args = parser.parse_args()
    folder = build(args.dist.absolute(), args.work.absolute())
    size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
    sys.stdout.write(f"built {folder} ({size / 1e6:.0f} MB)\n")


if __name__ == "__main__":
    main()
