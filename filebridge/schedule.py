"""Windows Task Scheduler: the exact schtasks command and task XML for `filebridge run`.

Field notes §8: run whether logged on or not (so no mapped drives: use UNC paths), no quotes
in "Start in", IgnoreNew for overlapping starts, and a time limit so a hung run cannot block
the schedule for the default 72 hours.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from pathlib import PureWindowsPath
from xml.sax.saxutils import escape

from filebridge.errors import ConfigError

DEFAULT_TASK_NAME = "filebridge"
MIN_MINUTES = 1
MAX_MINUTES = 1439  # schtasks /SC MINUTE /MO accepts 1 … 1439
_EVERY = re.compile(r"^\s*(\d+)\s*([mh])\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class TaskPlan:
    """What the scheduled task runs and how often."""

    task_name: str
    executable: str  # absolute path to filebridge.exe (or python.exe)
    arguments: (
        str  # run -c "C:\\…\\filebridge.toml" (after -m filebridge for python.exe)
    )
    working_dir: str  # the config folder, written without quotes
    every: timedelta
    time_limit: timedelta


def parse_every(text: str) -> timedelta:
    """`5m`, `15m`, `1h` → a timedelta within schtasks' MINUTE schedule (1–1439 minutes)."""
    match = _EVERY.match(text)
    if not match:
        raise ConfigError(
            f"--every {text!r} is not an interval.",
            hint="Write minutes or hours, e.g. --every 5m or --every 1h.",
        )
    amount, unit = int(match.group(1)), match.group(2).lower()
    minutes = amount if unit == "m" else amount * 60
    if not MIN_MINUTES <= minutes <= MAX_MINUTES:
        raise ConfigError(
            f"--every {text.strip()} is outside {MIN_MINUTES} … {MAX_MINUTES} minutes, "
            "the range of schtasks' MINUTE schedule.",
            hint="Choose e.g. --every 5m; the longest is --every 1439m (23 h 59 min).",
        )
    return timedelta(minutes=minutes)


def default_time_limit(every: timedelta) -> timedelta:
    """Stop a run that takes longer than 6 intervals (at least 30 minutes)."""
    return max(every * 6, timedelta(minutes=30))


def _iso_duration(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    text = "P"
    if days:
        text += f"{days}D"
    if hours or minutes:
        text += (
            "T" + (f"{hours}H" if hours else "") + (f"{minutes}M" if minutes else "")
        )
    return text if text != "P" else "PT0S"


def schtasks_command(plan: TaskPlan) -> str:
    """One `schtasks /Create` line (cmd.exe quoting). /RU SYSTEM runs without a logon."""
    minutes = int(plan.every.total_seconds() // 60)
    action = (
        f'\\"{plan.executable}\\" {plan.arguments.replace(chr(34), chr(92) + chr(34))}'
    )
    return (
        f'schtasks /Create /TN "{plan.task_name}" /TR "{action}" '
        f"/SC MINUTE /MO {minutes} /RU SYSTEM /RL LIMITED /F"
    )


def task_xml(plan: TaskPlan) -> str:
    """A Task Scheduler 1.2 XML definition, for `schtasks /Create /XML file /TN name`.

    XML is needed for what the command line cannot set: IgnoreNew, the time limit,
    StartWhenAvailable and the working directory.
    """
    interval = _iso_duration(plan.every)
    limit = _iso_duration(plan.time_limit)
    return f"""<?xml version="1.0" encoding="UTF-16"?>
<Task version="1.2" xmlns="http://schemas.microsoft.com/windows/2004/02/mit/task">
  <RegistrationInfo>
    <Description>filebridge: Selldone orders to the ERP outbox, inbox statuses back to Selldone.</Description>
  </RegistrationInfo>
  <Triggers>
    <TimeTrigger>
      <Repetition>
        <Interval>{interval}</Interval>
        <StopAtDurationEnd>false</StopAtDurationEnd>
      </Repetition>
      <StartBoundary>2026-01-01T00:00:00</StartBoundary>
      <Enabled>true</Enabled>
    </TimeTrigger>
  </Triggers>
  <Principals>
    <Principal id="Author">
      <UserId>S-1-5-18</UserId>
      <RunLevel>LeastPrivilege</RunLevel>
    </Principal>
  </Principals>
  <Settings>
    <MultipleInstancesPolicy>IgnoreNew</MultipleInstancesPolicy>
    <DisallowStartIfOnBatteries>false</DisallowStartIfOnBatteries>
    <StopIfGoingOnBatteries>false</StopIfGoingOnBatteries>
    <StartWhenAvailable>true</StartWhenAvailable>
    <RunOnlyIfNetworkAvailable>false</RunOnlyIfNetworkAvailable>
    <ExecutionTimeLimit>{limit}</ExecutionTimeLimit>
    <Enabled>true</Enabled>
  </Settings>
  <Actions Context="Author">
    <Exec>
      <Command>{escape(plan.executable)}</Command>
      <Arguments>{escape(plan.arguments)}</Arguments>
      <WorkingDirectory>{escape(plan.working_dir)}</WorkingDirectory>
    </Exec>
  </Actions>
</Task>
"""


def make_plan(
    *,
    executable: str,
    config_path: str,
    every: timedelta,
    task_name: str = DEFAULT_TASK_NAME,
    as_module: bool = False,
) -> TaskPlan:
    """Build the plan; paths are written as Windows paths, the working dir without quotes.

    `as_module`: `executable` is a Python interpreter, so the task runs
    `python.exe -m filebridge run …` (the `filebridge` launcher is not on PATH).
    """
    config = str(PureWindowsPath(config_path)) if "\\" in config_path else config_path
    working_dir = str(PureWindowsPath(config).parent) if "\\" in config else ""
    if not working_dir:
        working_dir = config.rsplit("/", 1)[0] if "/" in config else "."
    return TaskPlan(
        task_name=task_name,
        executable=executable,
        arguments=("-m filebridge " if as_module else "") + f'run -c "{config}"',
        working_dir=working_dir,
        every=every,
        time_limit=default_time_limit(every),
    )
