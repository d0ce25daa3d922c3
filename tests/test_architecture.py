"""The dependency rules of the layout (README § Architecture) hold for every module."""

from __future__ import annotations

import ast
import pathlib

import pytest

PKG = pathlib.Path(__file__).parents[1] / "filebridge"
PURE = {
    "errors",
    "payload_types",
    "models",
    "catalogue",
    "write_replies",
    "cells",
    "xlsx_cells",
    "mapping",
    "fields",
    "dialect",
    "order_rows",
    "validation",
    "fulfilment",
    "excel_safety",
    "inbound_mapping",
    "table_model",
    "xlsx_guard",
    "inbox_readiness",
}
# ratelimit is not an adapter of its own: it is the client's part, owned by selldone.py.
# Nor are api_transport and api_responses: the client's sending and its response classifier.
# Nor are table_writer, csv_stream and xlsx_stream: writers.py's base class and formats.
ADAPTERS = {
    "config",
    "readers",
    "writers",
    "selldone",
    "journal",
    "locking",
    "log",
}
IO_LIBS = {
    "requests",
    "sqlite3",
    "openpyxl",
    "pandas",
    "watchdog",
    "click",
    "filelock",
    "stamina",
    "xlsxwriter",
    "python_calamine",
    "csv",
    "socket",
    "subprocess",
}
POSIX_ONLY = {"fcntl", "pwd", "grp", "termios", "resource", "posix"}


def imported_roots(path: pathlib.Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    roots: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


def imported_filebridge_modules(path: pathlib.Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            parts = node.module.split(".")
            if parts[0] == "filebridge" and len(parts) > 1:
                found.add(parts[1])
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == "filebridge" and len(parts) > 1:
                    found.add(parts[1])
    return found


def existing(names: set[str]) -> list[str]:
    return sorted(n for n in names if (PKG / f"{n}.py").exists())


@pytest.mark.parametrize("module", existing(PURE))
def test_pure_modules_do_no_io(module: str) -> None:
    """Pure modules import no I/O library."""
    assert not IO_LIBS & imported_roots(PKG / f"{module}.py")


@pytest.mark.parametrize("module", existing(PURE))
def test_pure_modules_import_only_pure_modules(module: str) -> None:
    """The pure core never reaches up into adapters or use cases."""
    assert imported_filebridge_modules(PKG / f"{module}.py") <= PURE


@pytest.mark.parametrize("module", existing(ADAPTERS))
def test_adapters_do_not_import_each_other(module: str) -> None:
    """The client does not know the journal, the journal does not know the readers..."""
    others = ADAPTERS - {module}
    assert not others & imported_filebridge_modules(PKG / f"{module}.py")


@pytest.mark.parametrize(
    "path", sorted(PKG.rglob("*.py")), ids=lambda p: str(p.relative_to(PKG))
)
def test_no_posix_only_imports(path: pathlib.Path) -> None:
    """The package runs on Windows: no POSIX-only stdlib modules."""
    assert not POSIX_ONLY & imported_roots(path)


@pytest.mark.parametrize(
    "path",
    sorted((PKG / "sandbox").rglob("*.py")),
    ids=lambda p: str(p.relative_to(PKG)),
)
def test_sandbox_imports_nothing_from_filebridge(path: pathlib.Path) -> None:
    """The sandbox is written from the API notes alone, so a wrong field name can't hide."""
    assert imported_filebridge_modules(path) <= {"sandbox"}


def test_every_module_states_its_job() -> None:
    """Each module starts with a docstring (the layout reads like a table of contents)."""
    missing = [
        str(p.relative_to(PKG))
        for p in PKG.rglob("*.py")
        if not ast.get_docstring(ast.parse(p.read_text(encoding="utf-8")))
    ]
    assert missing == []
