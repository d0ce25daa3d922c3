"""The dependency rules of the layout (README § Architecture) hold for every module.

The package is a shell of small top-level modules around seven parts. Each part may
import only the parts below it (PART_MAY_IMPORT); another part reaches it only through its
face, the names its `__init__` lists in `__all__`; the pure core does no I/O, and through
faces it reaches only pure modules. `violations()` checks a package tree, so the test can
also prove that it catches a planted upward import.
"""

from __future__ import annotations

import ast
import pathlib
import shutil

import pytest

PKG = pathlib.Path(__file__).parents[1] / "filebridge"

FOUNDATION = {"errors", "config", "log", "locking", "folders", "presets"}
SHELL = FOUNDATION | {
    "__init__",
    "__main__",
    "cli",
    "cli_text",
    "jobs",
    "watch",
    "status",
    "checks",
    "scaffold",
    "schedule",
    "progress",
    "run_record",
    "alerts",
    "health",
    "order_story",
}
PARTS = {
    "selldone",
    "journal",
    "tables",
    "outbox",
    "replay",
    "inbox",
    "demo",
    "sandbox",
    "dashboard",
}
# What each part may import of filebridge besides itself: only ever downwards.
PART_MAY_IMPORT: dict[str, set[str]] = {
    "sandbox": set(),
    "selldone": {"errors"},
    "journal": {"errors"},
    "tables": {"errors"},
    "outbox": {"selldone", "journal", "tables"} | FOUNDATION,
    "replay": {"selldone", "journal", "errors"},
    "inbox": {"tables", "replay", "selldone", "journal"} | FOUNDATION,
    "demo": PARTS - {"demo", "dashboard"} | FOUNDATION | {"jobs"},
    "dashboard": {"journal", "tables", "outbox", "inbox"}
    | FOUNDATION
    | {"status", "health", "jobs"},
}
# The dashboard sits on top: only the CLI starts it.
DASHBOARD_IMPORTERS = {"cli"}
# The foundation is imported by the parts, so it imports no part and no use case.
FOUNDATION_MAY_IMPORT = {"errors"}
PURE = {
    "errors",
    "selldone.payload_types",
    "selldone.models",
    "selldone.catalogue",
    "selldone.write_replies",
    "tables.cells",
    "tables.xlsx_cells",
    "tables.table_model",
    "tables.xlsx_guard",
    "tables.excel_safety",
    "outbox.mapping",
    "outbox.fields",
    "outbox.dialect",
    "outbox.order_rows",
    "inbox.validation",
    "inbox.inbound_mapping",
    "inbox.readiness",
    "replay.fulfilment",
}
# The adapters: each wraps one outside thing and none knows another.
ADAPTERS = {
    "config",
    "tables.readers",
    "outbox.writers",
    "selldone.client",
    "journal.store",
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


def module_name(pkg: pathlib.Path, path: pathlib.Path) -> str:
    """`selldone/models.py` → `selldone.models`; a package's `__init__` → the package."""
    parts = list(path.relative_to(pkg).with_suffix("").parts)
    if parts[-1] == "__init__" and len(parts) > 1:
        parts.pop()
    return ".".join(parts)


def imported_roots(path: pathlib.Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    roots: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


def filebridge_imports(path: pathlib.Path) -> list[tuple[str, list[str]]]:
    """(module below `filebridge`, names) for every import of filebridge, lazy ones too."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: list[tuple[str, list[str]]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            parts = node.module.split(".")
            if parts[0] == "filebridge":
                names = [a.name for a in node.names]
                if len(parts) == 1:  # `from filebridge import x`: each x is a module
                    found.extend((name, []) for name in names if name != "__version__")
                else:
                    found.append((".".join(parts[1:]), names))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == "filebridge" and len(parts) > 1:
                    found.append((".".join(parts[1:]), []))
    return found


def face_of(pkg: pathlib.Path, part: str) -> dict[str, str]:
    """A part's face: each name in its `__all__` → the module that defines it."""
    init = pkg / part / "__init__.py"
    tree = ast.parse(init.read_text(encoding="utf-8"))
    origin: dict[str, str] = {}
    listed: list[str] = []
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module:
            sub = node.module.split(".")[1:]
            for alias in node.names:
                origin[alias.name] = (
                    ".".join(sub)
                    if len(sub) > 1
                    else f"{part}.{alias.name}"  # a submodule, re-exported whole
                )
        elif isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets
        ):
            listed = [ast.literal_eval(e) for e in node.value.elts]  # type: ignore[attr-defined]
    return {name: origin.get(name, part) for name in listed}


def resolved(pkg: pathlib.Path, target: str, names: list[str]) -> set[str]:
    """The modules an import really reaches: a face name counts as its defining module."""
    part = target.split(".")[0]
    if "." in target or part not in PARTS or part == "sandbox" or not names:
        return {target}
    face = face_of(pkg, part)
    return {face.get(name, f"{target}.?{name}") for name in names}


def violations(pkg: pathlib.Path) -> list[str]:
    """Every broken layout rule in the package tree at `pkg`, as readable lines."""
    found: list[str] = []
    top = {p.stem for p in pkg.glob("*.py")}
    found += [
        f"{name}.py: a top-level module that is not the shell's"
        for name in sorted(top - SHELL)
    ]
    parts_seen = {p.name for p in pkg.iterdir() if (p / "__init__.py").exists()}
    found += [
        f"{name}/: a part the rules do not know" for name in sorted(parts_seen - PARTS)
    ]
    faces = {part: face_of(pkg, part) for part in parts_seen & PARTS - {"sandbox"}}
    for path in sorted(pkg.rglob("*.py")):
        me = module_name(pkg, path)
        my_part = me.split(".")[0] if path.parent != pkg else None
        where = str(path.relative_to(pkg))
        for target, names in filebridge_imports(path):
            root = target.split(".")[0]
            if root == "cli" and me != "__main__":
                found.append(f"{where}: imports cli (nothing but __main__ may)")
            if (
                root == "dashboard"
                and my_part != "dashboard"
                and me not in DASHBOARD_IMPORTERS
            ):
                found.append(f"{where}: imports dashboard (only cli may)")
            if my_part is not None and root != my_part:
                allowed = PART_MAY_IMPORT.get(my_part, set())
                if root not in allowed:
                    found.append(f"{where}: {my_part} may not import {root}")
            elif (
                my_part is None
                and me in FOUNDATION
                and root not in FOUNDATION_MAY_IMPORT
            ):
                found.append(f"{where}: the foundation may not import {root}")
            if root in faces and root != my_part:
                if "." in target:
                    found.append(
                        f"{where}: reaches into {target}; import it from the face `filebridge.{root}`"
                    )
                unknown = sorted(set(names) - set(faces[root]))
                if unknown:
                    found.append(
                        f"{where}: {', '.join(unknown)} not in the face (__all__) of {root}"
                    )
            if me in PURE:
                for module in resolved(pkg, target, names):
                    if module not in PURE:
                        found.append(f"{where}: a pure module imports {module}")
            if me in ADAPTERS:
                for module in resolved(pkg, target, names) & (ADAPTERS - {me}):
                    found.append(f"{where}: an adapter imports the adapter {module}")
        if me in PURE and IO_LIBS & imported_roots(path):
            found.append(
                f"{where}: a pure module imports {sorted(IO_LIBS & imported_roots(path))}"
            )
        if POSIX_ONLY & imported_roots(path):
            found.append(
                f"{where}: POSIX-only {sorted(POSIX_ONLY & imported_roots(path))}"
            )
    return found


def test_the_package_keeps_every_layout_rule() -> None:
    assert violations(PKG) == []


def test_rules_name_only_modules_that_exist() -> None:
    """A renamed module must not slip out of PURE or ADAPTERS unnoticed."""
    existing = {module_name(PKG, p) for p in PKG.rglob("*.py")}
    assert (PURE | ADAPTERS) - existing == set()


@pytest.mark.parametrize(
    ("module", "planted", "expected"),
    [
        (
            "selldone/models.py",
            "from filebridge.inbox import run_inbox",
            "selldone may not import inbox",
        ),
        ("tables/cells.py", "import filebridge.config", "tables may not import config"),
        (
            "replay/row.py",
            "from filebridge.inbox import ERROR_COLUMN",
            "replay may not import inbox",
        ),
        (
            "inbox/run.py",
            "from filebridge.replay.row import RowWork",
            "reaches into replay.row",
        ),
        ("inbox/run.py", "from filebridge.replay import _secret", "not in the face"),
        (
            "inbox/validation.py",
            "from filebridge.selldone import SelldoneClient",
            "a pure module imports selldone.client",
        ),
        ("outbox/fields.py", "import csv", "a pure module imports ['csv']"),
        ("jobs.py", "from filebridge.cli import main", "imports cli"),
        (
            "config.py",
            "from filebridge.journal import Journal",
            "the foundation may not import journal",
        ),
        (
            "sandbox/shop.py",
            "from filebridge.errors import ConfigError",
            "sandbox may not import errors",
        ),
        (
            "journal/store.py",
            "from filebridge.log import redact",
            "journal may not import log",
        ),
        ("watch.py", "import fcntl", "POSIX-only"),
        (
            "jobs.py",
            "from filebridge.dashboard import create_app",
            "imports dashboard (only cli may)",
        ),
        (
            "demo/run.py",
            "from filebridge.dashboard import create_app",
            "demo may not import dashboard",
        ),
        (
            "dashboard/data.py",
            "from filebridge.selldone import SelldoneClient",
            "dashboard may not import selldone",
        ),
        (
            "cli.py",
            "from filebridge.dashboard.data import health",
            "reaches into dashboard.data",
        ),
    ],
)
def test_a_planted_violation_is_caught(
    tmp_path: pathlib.Path, module: str, planted: str, expected: str
) -> None:
    copy = tmp_path / "filebridge"
    shutil.copytree(PKG, copy, ignore=shutil.ignore_patterns("__pycache__"))
    target = copy / module
    target.write_text(
        target.read_text(encoding="utf-8") + f"\n{planted}\n", encoding="utf-8"
    )
    found = violations(copy)
    assert any(expected in line for line in found), found


def test_a_stray_top_level_module_is_caught(tmp_path: pathlib.Path) -> None:
    copy = tmp_path / "filebridge"
    shutil.copytree(PKG, copy, ignore=shutil.ignore_patterns("__pycache__"))
    (copy / "inbox_helpers.py").write_text('"""Helpers."""\n', encoding="utf-8")
    assert "inbox_helpers.py: a top-level module that is not the shell's" in violations(
        copy
    )


def test_each_part_says_what_it_does_and_what_it_may_import() -> None:
    """A part's `__init__` docstring is its entry in the table of contents."""
    for part in sorted(PARTS):
        doc = ast.get_docstring(
            ast.parse((PKG / part / "__init__.py").read_text(encoding="utf-8"))
        )
        assert doc, part
        if part != "sandbox":
            assert "May import" in doc, part


def test_every_face_name_is_defined_where_it_says() -> None:
    for part in sorted(PARTS - {"sandbox"}):
        for name, module in face_of(PKG, part).items():
            assert (PKG / (module.replace(".", "/") + ".py")).exists() or (
                PKG / module.replace(".", "/") / "__init__.py"
            ).exists(), f"{part}.{name} → {module}"


def test_every_module_states_its_job() -> None:
    """Each module starts with a docstring (the layout reads like a table of contents)."""
    missing = [
        str(p.relative_to(PKG))
        for p in PKG.rglob("*.py")
        if not ast.get_docstring(ast.parse(p.read_text(encoding="utf-8")))
    ]
    assert missing == []
