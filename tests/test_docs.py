"""The README cannot drift from the code: commands, options, config keys, exit codes,
mapping files and the "Try it" commands are all checked against the real thing.

When a test here fails, fix the README (or the code) so that both say the same.
"""

from __future__ import annotations

import ast
import re
import shlex
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner
from pydantic import BaseModel, SecretStr

from filebridge import errors
from filebridge.cli import cli
from filebridge.config import TOKEN_ENV, Settings
from filebridge.dashboard import PASSWORD_ENV
from filebridge.errors import FilebridgeError
from filebridge.inbox.file import load_inbound_mapping
from filebridge.outbox.export import load_mapping

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text(encoding="utf-8")
MAPPINGS = REPO / "mappings"
PRESETS = REPO / "filebridge" / "presets"


# --- reading the README ---------------------------------------------------------------


def section(title: str) -> str:
    """The text of one `## title` section, up to the next `## ` heading."""
    match = re.search(rf"(?ms)^## {re.escape(title)}\n(.*?)(?=^## |\Z)", README)
    assert match, f"the README has no '## {title}' section"
    return match.group(1)


def table(title: str) -> list[list[str]]:
    """The rows (cells stripped, header and separator left out) of a section's table."""
    lines = [ln for ln in section(title).splitlines() if ln.startswith("|")]
    assert len(lines) > 2, f"no table in '## {title}'"
    return [[c.strip() for c in ln.strip().strip("|").split("|")] for ln in lines[2:]]


def code(cell: str) -> str:
    """The text of a cell that is exactly one `code span`."""
    assert cell.startswith("`"), cell
    assert cell.endswith("`"), cell
    return cell[1:-1]


def mentions(text: str, flag: str) -> bool:
    """`flag` occurs in `text` as a whole word (`--dry-run`, not `--dry-run-x`)."""
    return re.search(rf"(?<![\w-]){re.escape(flag)}(?![\w-])", text) is not None


# --- walking the CLI -------------------------------------------------------------------


def walk(
    group: click.Group, prefix: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], click.Command]]:
    for name, command in sorted(group.commands.items()):
        path = (*prefix, name)
        yield path, command
        if isinstance(command, click.Group):
            yield from walk(command, path)


COMMANDS = list(walk(cli))
LEAVES = [(p, c) for p, c in COMMANDS if not isinstance(c, click.Group)]


def command_rows() -> dict[tuple[str, ...], str]:
    """Commands-table rows by command path: `filebridge mapping check X` → (mapping, check)."""
    rows: dict[tuple[str, ...], str] = {}
    for cells in table("Commands"):
        usage = code(cells[0])
        words = usage.split()
        assert words[0] == "filebridge", usage
        path: list[str] = []
        for word in words[1:]:  # up to the first argument, option or [optional part]
            if re.fullmatch(r"[a-z][a-z-]*", word) is None:
                break
            path.append(word)
        assert tuple(path) not in rows, f"two rows for `filebridge {' '.join(path)}`"
        rows[tuple(path)] = usage
    return rows


ROWS = command_rows()


def ids(items: list[tuple[tuple[str, ...], click.Command]]) -> list[str]:
    return [" ".join(p) for p, _ in items]


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=ids(COMMANDS))
def test_every_command_is_in_the_readme_and_has_help(
    path: tuple[str, ...], command: click.Command
) -> None:
    """Each command and subcommand is named in the README and `--help` explains it."""
    assert f"filebridge {' '.join(path)}" in README
    assert (command.help or "").strip(), f"`filebridge {' '.join(path)}` has no help"
    shown = CliRunner().invoke(cli, [*path, "--help"], prog_name="filebridge")
    assert shown.exit_code == 0, shown.output
    assert f"Usage: filebridge {' '.join(path)} " in shown.output
    first_paragraph = command.help.strip().split("\n\n")[0]
    assert " ".join(first_paragraph.split()) in " ".join(shown.output.split())


@pytest.mark.parametrize(("path", "command"), LEAVES, ids=ids(LEAVES))
def test_every_command_has_a_row_with_its_arguments_and_options(
    path: tuple[str, ...], command: click.Command
) -> None:
    """The Commands table shows each command with every argument and option it takes."""
    assert path in ROWS, f"no Commands-table row for `filebridge {' '.join(path)}`"
    usage = ROWS[path]
    for param in command.params:
        if isinstance(param, click.Argument):
            assert mentions(usage, param.human_readable_name), (param.name, usage)
        elif isinstance(param, click.Option) and not param.hidden:
            flags = [*param.opts, *param.secondary_opts]
            assert any(mentions(usage, f) for f in flags), (flags, usage)


def test_every_commands_table_row_is_a_real_command() -> None:
    """No row documents a command that does not exist (or was renamed)."""
    leaves = {p for p, _ in LEAVES}
    assert set(ROWS) <= leaves, sorted(set(ROWS) - leaves)


def every_option() -> list[tuple[str, click.Option]]:
    found = [("filebridge", p) for p in cli.params if isinstance(p, click.Option)]
    for path, command in COMMANDS:
        found += [
            (f"filebridge {' '.join(path)}", p)
            for p in command.params
            if isinstance(p, click.Option)
        ]
    return found


OPTIONS = every_option()


@pytest.mark.parametrize(
    ("where", "option"), OPTIONS, ids=[f"{w} {o.opts[-1]}" for w, o in OPTIONS]
)
def test_every_option_is_in_the_readme_and_has_help(
    where: str, option: click.Option
) -> None:
    """Each long flag (`--dry-run`, `--reexport`, `--every`…) is in the README, with help."""
    for flag in [*option.opts, *option.secondary_opts]:
        if flag.startswith("--"):
            assert mentions(README, flag), f"{where} {flag} is not in the README"
    assert (option.help or "").strip(), f"{where} {option.opts[-1]} has no help text"


def test_the_readme_states_the_default_config_path() -> None:
    """`-c CONFIG` defaults to the path the README says."""
    check = cli.commands["check"]
    option = next(p for p in check.params if p.name == "config_path")
    assert f"`./{option.default}`" in section("Commands")


# --- configuration ---------------------------------------------------------------------


def config_fields() -> dict[str, Any]:
    """`section.key` → pydantic FieldInfo, for every key of every Settings section."""
    fields: dict[str, Any] = {}
    for name, info in Settings.model_fields.items():
        model = info.annotation
        if name == "source":
            continue
        assert isinstance(model, type), name
        assert issubclass(model, BaseModel), name
        for key, field in model.model_fields.items():
            fields[f"{name}.{key}"] = field
    return fields


CONFIG_FIELDS = config_fields()
CONFIG_ROWS = {code(cells[0]): cells[1] for cells in table("Configuration")}


def test_config_table_lists_exactly_the_settings_keys() -> None:
    """Every Settings key has a row in the Configuration table, and every row is a key."""
    assert sorted(CONFIG_ROWS) == sorted(CONFIG_FIELDS)


def matches_default(documented: str, field: Any) -> bool:
    """Whether the table's default cell says what the model's default is."""
    if documented == "(required)":
        return bool(field.is_required())
    if field.is_required():
        return False
    default = field.default
    if documented == "empty":
        if isinstance(default, SecretStr):
            default = default.get_secret_value()
        return default == ""
    if not documented.startswith("`"):
        return default is None  # "auto", "first", "from the mapping": decided later
    literal = code(documented)
    if isinstance(default, bool):
        return literal == str(default).lower()
    if isinstance(default, int | float):
        return float(literal) == default
    if isinstance(default, Path):
        return literal == default.as_posix()
    if isinstance(default, tuple | list):
        return tomllib.loads(f"v = {literal}")["v"] == list(default)
    return literal == default


@pytest.mark.parametrize("key", sorted(CONFIG_FIELDS))
def test_config_table_default_matches_the_model(key: str) -> None:
    """The default shown in the Configuration table is the model's default."""
    if key not in CONFIG_ROWS:
        pytest.fail(f"{key} is missing from the Configuration table")
    field = CONFIG_FIELDS[key]
    assert matches_default(CONFIG_ROWS[key], field), (
        f"{key}: README says {CONFIG_ROWS[key]}, the model says "
        f"{'required' if field.is_required() else repr(field.default)}"
    )


def test_environment_variables_in_the_readme_are_the_ones_the_code_reads() -> None:
    """The README names exactly the environment variables filebridge reads."""
    named = set(re.findall(r"\b(?:SELLDONE|FILEBRIDGE)_[A-Z_]+\b", README))
    # FILEBRIDGE_SCREENSHOTS is read by tests/test_dashboard_browser.py only.
    assert named == {TOKEN_ENV, PASSWORD_ENV, "FILEBRIDGE_SCREENSHOTS"}


def test_export_presets_in_the_readme_are_the_packaged_ones() -> None:
    """The `export.mapping` row names every packaged export preset, and only those."""
    row = next(
        cells[2] for cells in table("Configuration") if cells[0] == "`export.mapping`"
    )
    named = set(re.findall(r"`([a-z-]+)`", row.split(")")[0]))
    packaged = {
        p.stem for p in PRESETS.glob("*.toml") if not p.name.startswith("inbox-")
    }
    assert named == packaged


# --- exit codes ------------------------------------------------------------------------


def error_classes() -> list[type[FilebridgeError]]:
    """Every class below FilebridgeError, recursively."""
    found: list[type[FilebridgeError]] = []
    pending = list(FilebridgeError.__subclasses__())
    while pending:
        cls = pending.pop()
        found.append(cls)
        pending.extend(cls.__subclasses__())
    return sorted(found, key=lambda c: c.__name__)


EXIT_ROWS = {int(cells[0]): cells[1] for cells in table("Exit codes")}


def literal_exit_codes() -> set[int]:
    """The numbers passed as literals to `sys.exit(…)` anywhere in the package (130)."""
    found = set()
    for path in (REPO / "filebridge").rglob("*.py"):
        source = path.read_text(encoding="utf-8")
        if "sys.exit" not in source:
            continue
        for node in ast.walk(ast.parse(source)):
            if (
                isinstance(node, ast.Call)
                and ast.unparse(node.func) == "sys.exit"
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, int)
            ):
                found.add(node.args[0].value)
    return found


def test_exit_code_table_lists_exactly_the_codes_filebridge_uses() -> None:
    """The table has the error tree's codes, clean/rejected/usage/bug, and literal exits."""
    expected = (
        {c.exit_code for c in error_classes()}
        | {
            errors.EXIT_CLEAN,
            errors.EXIT_REJECTED_ROWS,
            errors.EXIT_USAGE,
            errors.EXIT_BUG,
            errors.EXIT_INTERRUPTED,  # Ctrl-C/SIGTERM in a one-pass command
        }
        | literal_exit_codes()
    )
    assert sorted(EXIT_ROWS) == sorted(expected)


@pytest.mark.parametrize("cls", error_classes(), ids=lambda c: c.__name__)
def test_every_error_class_is_documented_with_its_code(
    cls: type[FilebridgeError],
) -> None:
    """Each error class is named in "Exit codes", in the row of its own code if in a row."""
    text = section("Exit codes")
    assert f"`{cls.__name__}`" in text, f"{cls.__name__} is not in 'Exit codes'"
    rows = [
        code for code, meaning in EXIT_ROWS.items() if f"`{cls.__name__}`" in meaning
    ]
    assert rows in ([], [cls.exit_code]), (cls.__name__, cls.exit_code, rows)
    if not rows:  # named below the table: those never stop a run, which exits 1
        assert cls.exit_code == errors.EXIT_REJECTED_ROWS
        assert "exits 1" in text


def test_errors_docstring_tree_shows_each_class_code() -> None:
    """The tree in errors.py's docstring (the table's source) gives each class's code."""
    assert errors.__doc__ is not None
    shown = dict(re.findall(r"── (\w+)\s+\(?(\d+)\)?", errors.__doc__))
    for cls in error_classes():
        if cls.__name__ in shown:
            assert int(shown[cls.__name__]) == cls.exit_code, cls.__name__
    assert (
        len(shown) >= len(error_classes()) - 1
    )  # only ApiError has no code of its own


# --- mapping files ---------------------------------------------------------------------


@pytest.mark.parametrize("path", sorted(MAPPINGS.glob("*.toml")), ids=lambda p: p.name)
def test_every_mapping_file_parses(path: Path) -> None:
    """Each mappings/*.toml loads as an export mapping, or `inbox-*` as an inbound one."""
    if path.name.startswith("inbox-"):
        inbound = load_inbound_mapping(str(path), REPO)
        assert inbound.source == str(path)
    else:
        spec = load_mapping(str(path), REPO)
        assert len(spec.columns) > 0


@pytest.mark.parametrize("path", sorted(PRESETS.glob("*.toml")), ids=lambda p: p.name)
def test_every_packaged_preset_is_the_mappings_file(path: Path) -> None:
    """A preset shipped in the package is byte-identical to mappings/<name>."""
    twin = MAPPINGS / path.name
    assert twin.is_file(), f"{path.name} is packaged but not in mappings/"
    assert path.read_bytes() == twin.read_bytes()


# --- "Try it" is what CI runs ----------------------------------------------------------


def normalised(command: str) -> tuple[str, ...]:
    """`python -m pip install -q .` and `pip install .` are the same command."""
    words = shlex.split(command)
    if words[:2] in (["python", "-m"], ["python3", "-m"]) and words[2:3] == ["pip"]:
        words = words[2:]
    return tuple(w for w in words if w != "-q")


def ci_commands() -> list[tuple[str, ...]]:
    """Every command .ci/run runs, in order (`a && b` and `(cd x && b)` split up)."""
    found = []
    for line in (REPO / ".ci" / "run").read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        for part in line.strip("()").split("&&"):
            found.append(normalised(part.strip()))
    return found


def test_try_it_commands_are_the_ones_ci_runs() -> None:
    """README "Try it" has two commands; .ci/run runs each part of both, in that order."""
    blocks = re.findall(r"(?ms)^```\n(.*?)^```", section("Try it"))
    commands = [b.strip() for b in blocks]
    assert len(commands) == 2, commands
    assert commands[0].endswith("&& filebridge demo"), commands[0]
    assert commands[1].endswith("&& python -m pytest"), commands[1]
    ran = ci_commands()
    positions = []
    for readme_command in commands:
        for part in readme_command.split("&&"):
            wanted = normalised(part.strip())
            assert wanted in ran, f"{part.strip()!r} is not run by .ci/run"
            positions.append(ran.index(wanted))
    assert positions == sorted(positions), "CI runs the README commands out of order"


def test_architecture_tree_names_every_module() -> None:
    """Each part and module of the package stands in the README's architecture tree."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("### Architecture") :]
    tree = section[
        section.index("```") : section.index("```", section.index("```") + 3)
    ]
    package = REPO / "filebridge"
    lines = {
        line.split()[0].rstrip("/"): line for line in tree.splitlines() if line.strip()
    }
    missing = []
    for path in package.glob("*.py"):
        if path.stem not in {"__init__", "__main__"} and f"{path.name}" not in tree:
            missing.append(path.name)
    for part in sorted(p for p in package.iterdir() if (p / "__init__.py").exists()):
        if part.name not in lines:
            missing.append(f"{part.name}/")
        elif part.name != "sandbox":
            listed = set(lines[part.name].replace(",", " ").split()[1:])
            missing += [
                f"{part.name}/{m.stem}"
                for m in part.glob("*.py")
                if m.stem != "__init__" and m.stem not in listed
            ]
    assert missing == []
