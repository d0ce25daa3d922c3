"""Task Scheduler output: the exact command and an XML with IgnoreNew and a time limit."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import timedelta

import pytest

from filebridge.errors import ConfigError
from filebridge.schedule import make_plan, parse_every, schtasks_command, task_xml

NS = {"t": "http://schemas.microsoft.com/windows/2004/02/mit/task"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("5m", timedelta(minutes=5)),
        ("1h", timedelta(hours=1)),
        (" 15M ", timedelta(minutes=15)),
    ],
)
def test_parse_every_accepts_minutes_and_hours(text: str, expected: timedelta) -> None:
    """Intervals are written like 5m or 1h."""
    assert parse_every(text) == expected


@pytest.mark.parametrize("text", ["0m", "5s", "every 5", "32d"])
def test_parse_every_rejects_nonsense(text: str) -> None:
    """Anything else is a config error with a hint."""
    with pytest.raises(ConfigError):
        parse_every(text)


def plan():
    return make_plan(
        executable=r"C:\Program Files\Python311\Scripts\filebridge.exe",
        config_path=r"\\erp-server\exchange\filebridge\filebridge.toml",
        every=timedelta(minutes=5),
    )


def test_schtasks_command_uses_absolute_paths_and_system_account() -> None:
    """The printed line runs `run -c CONFIG` every 5 minutes without a logged-on user."""
    assert schtasks_command(plan()) == (
        'schtasks /Create /TN "filebridge" '
        '/TR "\\"C:\\Program Files\\Python311\\Scripts\\filebridge.exe\\" '
        'run -c \\"\\\\erp-server\\exchange\\filebridge\\filebridge.toml\\"" '
        "/SC MINUTE /MO 5 /RU SYSTEM /RL LIMITED /F"
    )


def test_task_xml_prevents_overlap_and_limits_run_time() -> None:
    """IgnoreNew, a 30-minute limit and an unquoted working directory."""
    root = ET.fromstring(task_xml(plan()).replace('encoding="UTF-16"', ""))
    assert (
        root.findtext("t:Settings/t:MultipleInstancesPolicy", namespaces=NS)
        == "IgnoreNew"
    )
    assert root.findtext("t:Settings/t:ExecutionTimeLimit", namespaces=NS) == "PT30M"
    interval = root.findtext(
        "t:Triggers/t:TimeTrigger/t:Repetition/t:Interval", namespaces=NS
    )
    assert interval == "PT5M"
    workdir = root.findtext("t:Actions/t:Exec/t:WorkingDirectory", namespaces=NS)
    assert workdir == r"\\erp-server\exchange\filebridge"
    assert '"' not in workdir
    args = root.findtext("t:Actions/t:Exec/t:Arguments", namespaces=NS)
    assert args == r'run -c "\\erp-server\exchange\filebridge\filebridge.toml"'
