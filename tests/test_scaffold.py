"""`filebridge init` writes a config that loads, and never clobbers one."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from filebridge.config import load_settings
from filebridge.errors import ConfigError
from filebridge.scaffold import FOLDER_NAMES, init_folder


def test_init_writes_a_loadable_commented_config_and_folders(tmp_path: Path) -> None:
    """The template parses, its folders exist, and it documents every section."""
    cfg = init_folder(tmp_path / "fb", api_url="http://127.0.0.1:9", shop_id=5)
    settings = load_settings(cfg, environ={})
    assert settings.selldone.shop_id == 5
    assert settings.folders.inbox == tmp_path / "fb" / "inbox"
    for name in FOLDER_NAMES:
        assert (tmp_path / "fb" / name).is_dir()
    text = cfg.read_text(encoding="utf-8")
    for section in (
        "[selldone]",
        "[folders]",
        "[export]",
        "[inbox]",
        "[limits]",
        "[log]",
    ):
        assert section in text


def test_init_refuses_to_overwrite(tmp_path: Path) -> None:
    """An existing config is left alone unless forced."""
    cfg = init_folder(tmp_path, shop_id=1)
    cfg.write_text(cfg.read_text(encoding="utf-8") + "# mine\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="already exists"):
        init_folder(tmp_path, shop_id=1)
    assert cfg.read_text(encoding="utf-8").endswith("# mine\n")


@pytest.mark.skipif(os.name == "nt", reason="POSIX permission bits")
def test_init_config_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    """The config may hold the token, so group and others cannot read it."""
    cfg = init_folder(tmp_path, shop_id=1)
    assert stat.S_IMODE(cfg.stat().st_mode) == 0o600
