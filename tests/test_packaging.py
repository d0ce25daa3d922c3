"""The distribution users install: its own name, its version, and every data file shipped.

Building and installing a real wheel is slow, so CI does that once (`.ci/wheel`: build,
fresh venv with only the wheel, `filebridge demo` in an empty folder). These tests hold
the rules that make that step pass and keep passing as files are added.
"""

from __future__ import annotations

import fnmatch
import os
import re
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from click.testing import CliRunner

import filebridge
from filebridge.cli import cli

REPO = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
README = (REPO / "README.md").read_text(encoding="utf-8")
DISTRIBUTION = "selldone-filebridge"


def test_distribution_is_ours_and_keeps_the_command_and_package() -> None:
    """`filebridge` on the package index is another project: ours is selldone-filebridge."""
    project = PYPROJECT["project"]
    assert project["name"] == DISTRIBUTION
    assert project["scripts"] == {"filebridge": "filebridge.cli:main"}
    assert PYPROJECT["tool"]["setuptools"]["packages"]["find"]["include"] == [
        "filebridge*"
    ]
    assert filebridge.DISTRIBUTION == DISTRIBUTION


def test_version_is_read_from_the_installed_distribution() -> None:
    """`filebridge --version` shows the installed version, not the source-tree fallback."""
    installed = metadata.version(DISTRIBUTION)
    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == f"filebridge, version {installed}"
    assert "source" not in result.output
    assert metadata.distribution(DISTRIBUTION).entry_points.select(
        group="console_scripts", name="filebridge"
    )


def _data_files() -> list[str]:
    """Every file in the package that is not Python source, relative to filebridge/."""
    package = REPO / "filebridge"
    return sorted(
        path.relative_to(package).as_posix()
        for path in package.rglob("*")
        if path.is_file()
        and path.suffix not in {".py", ".pyc"}
        and "__pycache__" not in path.parts
    )


def test_every_data_file_in_the_package_is_in_the_wheel() -> None:
    """Each non-Python file under filebridge/ matches a package-data glob, so it ships."""
    globs = PYPROJECT["tool"]["setuptools"]["package-data"]["filebridge"]
    files = _data_files()
    assert "presets/default.toml" in files
    missing = [f for f in files if not any(fnmatch.fnmatch(f, g) for g in globs)]
    assert missing == [], f"add these to [tool.setuptools.package-data]: {missing}"


def test_readme_installs_our_distribution_never_the_unrelated_one() -> None:
    """README install lines name selldone-filebridge; `pip install filebridge` only as a warning."""
    assert "pipx install selldone-filebridge" in README
    paragraphs = README.split("\n\n")
    wrong = [
        p
        for p in paragraphs
        if re.search(r"pipx? install `?filebridge\b(?![-.])", p.replace("\n", " "))
        and "another project" not in p
        and "wrong program" not in p
    ]
    assert wrong == []


def test_frozen_build_schedules_itself_not_another_filebridge_on_the_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In a frozen build, `schedule` names the frozen program, even with a pipx one on PATH."""
    other = tmp_path / "bin" / "filebridge"
    other.parent.mkdir()
    other.write_text("#!/bin/sh\n", encoding="utf-8")
    other.chmod(0o755)
    monkeypatch.setenv("PATH", f"{other.parent}{os.pathsep}{os.environ['PATH']}")
    frozen = tmp_path / "Program Files" / "filebridge ü" / "filebridge.exe"
    monkeypatch.setattr(sys, "frozen", True, raising=False)  # what PyInstaller sets
    monkeypatch.setattr(sys, "executable", str(frozen))
    runner = CliRunner()
    made = runner.invoke(cli, ["init", str(tmp_path / "cfg"), "--shop-id", "1"])
    assert made.exit_code == 0, made.output
    result = runner.invoke(
        cli, ["schedule", "-c", str(tmp_path / "cfg" / "filebridge.toml")]
    )
    assert result.exit_code == 0, result.output
    assert str(frozen) in result.output
    assert str(other) not in result.output


def test_ci_builds_the_wheel_and_the_frozen_folder_from_the_spec() -> None:
    """CI runs both install checks; the spec ships the data, the metadata, every module."""
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert "bash .ci/wheel" in ci
    assert "bash .ci/frozen" in ci
    assert ci.index("bash .ci/frozen") < ci.index("python -m pytest")
    spec = (REPO / "frozen" / "filebridge.spec").read_text(encoding="utf-8")
    for needed in (
        'collect_data_files("filebridge")',
        f'copy_metadata("{DISTRIBUTION}")',
        'collect_submodules("filebridge")',
    ):
        assert needed in spec


def test_no_requirement_names_the_unrelated_filebridge() -> None:
    """An extra that needs our own extras names selldone-filebridge: `filebridge[...]`
    would install the unrelated project from the index (and its `filebridge` package)."""
    requirements = [
        *PYPROJECT["project"]["dependencies"],
        *(
            req
            for extra in PYPROJECT["project"]["optional-dependencies"].values()
            for req in extra
        ),
    ]
    names = [
        re.split(r"[\s\[<>=!~;]", req, maxsplit=1)[0].lower() for req in requirements
    ]
    assert "filebridge" not in names
    assert all(
        req.startswith(f"{DISTRIBUTION}[")
        for req in requirements
        if "filebridge" in req
    )
