"""Loading filebridge.toml: relative paths, env token, every problem at once."""

from __future__ import annotations

from pathlib import Path

import pytest

from filebridge.config import load_settings
from filebridge.errors import ConfigError


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_relative_folders_resolve_against_the_config_folder(tmp_path: Path) -> None:
    """Task Scheduler starts in System32: folders must not depend on the working dir."""
    cfg = write(
        tmp_path / "filebridge.toml",
        '[selldone]\nshop_id = 7\n[folders]\ninbox = "in"\n',
    )
    settings = load_settings(cfg, environ={})
    assert settings.folders.inbox == tmp_path / "in"
    assert settings.folders.outbox == tmp_path / "outbox"
    assert settings.journal_path == tmp_path / "state" / "filebridge.sqlite3"


def test_unc_paths_are_kept_as_written(tmp_path: Path) -> None:
    """A \\\\server\\share path is not joined onto the config folder."""
    cfg = write(
        tmp_path / "f.toml",
        "[selldone]\nshop_id = 7\n[folders]\ninbox = '\\\\erp-server\\exchange\\inbox'\n",
    )
    settings = load_settings(cfg, environ={})
    assert str(settings.folders.inbox).startswith("\\\\erp-server")


def test_environment_token_wins_over_the_file(tmp_path: Path) -> None:
    """SELLDONE_TOKEN overrides [selldone] token, and the token prints as ***."""
    cfg = write(tmp_path / "f.toml", '[selldone]\nshop_id = 7\ntoken = "file-token"\n')
    settings = load_settings(cfg, environ={"SELLDONE_TOKEN": "env-token-123"})
    assert settings.selldone.token.get_secret_value() == "env-token-123"
    assert "env-token-123" not in repr(settings)
    assert settings.redacted()["selldone"]["token"] == "***"


def test_every_problem_is_reported_at_once_with_key_names(tmp_path: Path) -> None:
    """One run shows all mistakes: missing shop id, bad URL, unknown key, bad status."""
    cfg = write(
        tmp_path / "f.toml",
        '[selldone]\napi_url = "ftp://x"\n[export]\nstatuses = ["Paid"]\nfromat = "csv"\n',
    )
    with pytest.raises(ConfigError) as info:
        load_settings(cfg, environ={})
    problems = info.value.problems
    assert any(p.startswith("selldone.shop_id: missing") for p in problems)
    assert any(p.startswith("selldone.api_url:") for p in problems)
    assert any(p.startswith("export.statuses:") for p in problems)
    assert any(p.startswith("export.fromat: unknown key") for p in problems)
    assert info.value.exit_code == 3


def test_missing_file_says_how_to_create_one(tmp_path: Path) -> None:
    """A missing config names `filebridge init`."""
    with pytest.raises(ConfigError) as info:
        load_settings(tmp_path / "nope.toml", environ={})
    assert "does not exist" in str(info.value)
    assert info.value.hint is not None
    assert "filebridge init" in info.value.hint


def test_invalid_toml_is_a_config_error(tmp_path: Path) -> None:
    """A broken TOML file gives a config error with a hint about Windows paths."""
    cfg = write(tmp_path / "f.toml", "[selldone\nshop_id = 1\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(cfg, environ={})
