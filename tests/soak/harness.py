"""The chaos soak harness: run `filebridge watch` through kills, faults and outages.

    figures = run_soak(SoakConfig(seconds=75, orders=150, seed=1), workdir)
    print(figures.table())

One run:

1. A sandbox shop in this process (`start_sandbox`, rate limit well above filebridge's
   own budget, so every 429 the bridge sees is an armed fault and the checker can hold
   filebridge to its configured budget). Its seeded orders, plus `orders` more arriving
   over the chaos phase: mostly Payed, some COD, Reserved (most paid later) and
   Canceled; some orders are edited meanwhile (their `updated_at` moves).
2. `python -m filebridge watch -c CONFIG` as a subprocess (token in `SELLDONE_TOKEN`).
3. The simulated ERP (`erp.py`) imports the outbox and drops status/tracking files.
4. The chaos loop, for `seconds`: SIGKILL at random moments (restarted as Task
   Scheduler would), sandbox faults (5xx bursts, 429 storms with Retry-After, latency
   below and beyond the client timeout, connections dropped before and *after* the
   shop processed a write), the token revoked then restored (filebridge exits 4; it is
   restarted once the token works again), and the inbox folder renamed away and back
   (a share outage).
   Scripted episodes among them (`Episodes`): a SIGKILL while the watcher waits for
   its API budget (it is restarted with a budget the journal already shows spent) and
   one during a `Retry-After` pause (a 429 armed, the kill once the log says it
   pauses); restarts with the clock an hour back, then an hour ahead, then right
   (`clock_child`, the injection of `tests/fake_clock.py`); and the journal zeroed
   once while filebridge is stopped: the next start must refuse with exit 10, then
   `filebridge journal restore` puts the backup back and the soak goes on.
5. Drain: the ERP stops writing; the watcher gets SIGTERM in whatever state the chaos
   left it (it must exit 0); once no request is in flight the faults are cleared and a
   fresh watcher runs until every ERP file is finished and every paid order is
   exported (or a deadline); then SIGTERM again (exit 0).
6. `checker.check` judges the end state from the shop, its call log and the folders.

Any problem the checker finds is a finding about filebridge, never smoothed over here.
"""

from __future__ import annotations

import json
import math
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from filebridge.sandbox import Sandbox, start_sandbox

from .checker import (
    FILTERS,
    WRITE_FILTERS,
    ArmedDelay,
    CheckReport,
    DropLog,
    Evidence,
    call_filter,
    check,
)
from .erp import ErpSettings, ErpSimulator

REPO = Path(__file__).resolve().parents[2]
AUTH_EXIT = 4
STARTUP_S = 4.0
"""A SIGTERM before this many seconds could arrive before the watcher's handler is set."""
MAX_EXTRA_DELAY_S = 2.0
"""The longest armed delay exceeds the client timeout by at most this much."""
JOURNAL_MISSING_EXIT = 10
HOUR = 3600.0
RETRY_AFTER_EPISODE_S = 8
"""The Retry-After of the 429 armed for the kill during a pause."""
LOG_WAIT_S = 12.0
"""How long an episode waits for the log line that says the watcher waits."""


@dataclass(frozen=True)
class SoakConfig:
    """One soak's size, pace and chaos. Seconds are wall-clock seconds."""

    seconds: float = 75.0
    """Length of the chaos phase (orders arrive, the ERP writes, things break)."""
    orders: int = 150
    seed: int = 1
    seeded_orders: int = 30
    requests_per_minute: int = 480
    """filebridge's `[limits] requests_per_minute`: the budget the checker enforces."""
    sandbox_rate_per_minute: int = 6000
    export_cod: bool = False
    polling: bool = False
    settle_seconds: float = 1.0
    poll_seconds: float = 0.5
    interval_minutes: float = 0.05
    lookback_minutes: float = 1.0
    timeout_seconds: float = 4.0
    kill_gap: tuple[float, float] = (5.0, 14.0)
    fault_gap: tuple[float, float] = (2.5, 6.0)
    outage_gap: tuple[float, float] = (15.0, 30.0)
    outage_length: tuple[float, float] = (1.5, 5.0)
    revoke_gap: tuple[float, float] = (20.0, 40.0)
    revoke_length: tuple[float, float] = (1.0, 4.0)
    drain_seconds: float = 90.0
    erp: ErpSettings = field(default_factory=ErpSettings)
    concurrency: int | None = None
    """`[limits] concurrency` in the config when set (None: the key is not written)."""
    episodes: bool = True
    """The scripted episodes: kills during waits, clock jumps, the journal zeroed."""
    clock_ahead: bool = True
    """Include the forward jumps (an hour ahead, then from there back to the right
    time, which from the hour-back start is also an hour ahead). False: the clock
    stays an hour back after its jump. Forward jumps fail on the code of this commit:
    `inbox.readiness.is_stable` counts a file's age from its mtime, which looks an
    hour old to a clock an hour ahead, so a file still being written is taken at once
    (half read: rows lost); and the API calls journalled before the jump look an hour
    old, so the budget carried over is spent a second time (calls above the budget)."""
    journal_stale_seconds: float = 0.0
    """How long the watcher works after the backup the journal is restored from
    (0: zeroed right after a clean stop, so the backup is current)."""

    @property
    def statuses(self) -> tuple[str, ...]:
        return ("Payed", "COD") if self.export_cod else ("Payed",)


@dataclass
class SoakFigures:
    """What one soak did and what the checker found; `problems` empty = clean."""

    seed: int
    orders: int
    paid_orders: int
    exported: int
    outbox_files: int
    erp_files: int
    erp_copies: int
    rows_valid: int
    rows_invalid: int
    kills: int
    kills_in_budget_wait: int
    kills_in_retry_after: int
    clock_jumps: int
    journal_zeroed: int
    journal_refusal_exit: int | None
    journal_restored: int
    starts: int
    auth_exits: int
    faults: dict[str, int]
    outages: int
    api_calls: int
    api_calls_min: int
    calls_by_status: dict[int, int]
    max_calls_60s: int
    budget_per_minute: int
    rows_lost: int
    rows_wrongly_rejected: int
    steps_doubled: int
    steps_missing: int
    exported_twice: int
    wrongly_exported: int
    not_exported: int
    outcome_mismatches: int
    partial_files: int
    leftover_temp_files: int
    token_leaks: int
    waited_behind_unrelated_s: float
    rows_behind_unrelated: int
    row_groups_measured: int
    max_row_wait_s: float
    dropped_after_processing: int
    exit_codes: dict[int, int]
    final_exit: int | None
    drained: bool
    duration_s: float
    workdir: Path
    problems: list[str]

    def table(self) -> str:
        faults = ", ".join(f"{k} {v}" for k, v in sorted(self.faults.items()))
        statuses = ", ".join(f"{k}: {v}" for k, v in self.calls_by_status.items())
        exits = ", ".join(f"{k}: {v}" for k, v in sorted(self.exit_codes.items()))
        lines = [
            ("orders in the shop", f"{self.orders} ({self.paid_orders} paid)"),
            ("orders exported", f"{self.exported} in {self.outbox_files} files"),
            ("ERP files dropped", f"{self.erp_files} (+{self.erp_copies} sent twice)"),
            (
                "rows sent by the ERP",
                f"{self.rows_valid} valid, {self.rows_invalid} invalid",
            ),
            (
                "kills survived (SIGKILL)",
                f"{self.kills} ({self.kills_in_budget_wait} in a budget wait, "
                f"{self.kills_in_retry_after} in a Retry-After pause)",
            ),
            ("clock jumps between starts (±1 h)", str(self.clock_jumps)),
            (
                "journal zeroed / refused with / restored",
                f"{self.journal_zeroed} / exit {self.journal_refusal_exit} / "
                f"{self.journal_restored}",
            ),
            ("filebridge starts", f"{self.starts} (exit codes {exits})"),
            (
                "token revocations (exit 4)",
                f"{self.faults.get('token revoked', 0)} ({self.auth_exits} exits 4)",
            ),
            ("inbox outages", str(self.outages)),
            ("faults injected", faults),
            ("writes dropped after processing", str(self.dropped_after_processing)),
            ("API calls made / minimum", f"{self.api_calls} / {self.api_calls_min}"),
            ("answers by status", statuses),
            (
                "most calls in a 60 s window",
                f"{self.max_calls_60s} (budget {self.budget_per_minute})",
            ),
            ("rows lost", str(self.rows_lost)),
            ("valid rows reported rejected", str(self.rows_wrongly_rejected)),
            ("steps doubled", str(self.steps_doubled)),
            ("steps missing", str(self.steps_missing)),
            ("orders exported twice", str(self.exported_twice)),
            ("orders wrongly exported", str(self.wrongly_exported)),
            ("paid orders not exported", str(self.not_exported)),
            ("row outcome mismatches", str(self.outcome_mismatches)),
            ("ERP-visible partial files", str(self.partial_files)),
            ("temp files left behind", str(self.leftover_temp_files)),
            ("token leaks", str(self.token_leaks)),
            (
                "longest wait behind an unrelated order",
                f"{self.waited_behind_unrelated_s:.1f} s ({self.rows_behind_unrelated} "
                f"of {self.row_groups_measured} row groups)",
            ),
            ("longest row wait (any cause)", f"{self.max_row_wait_s:.1f} s"),
            ("drained before the deadline", "yes" if self.drained else "NO"),
            ("clean stop (SIGTERM) exit code", str(self.final_exit)),
            ("duration", f"{self.duration_s:.0f} s (seed {self.seed})"),
        ]
        width = max(len(k) for k, _ in lines)
        out = [f"{k:<{width}}  {v}" for k, v in lines]
        if self.problems:
            out.append(f"problems ({len(self.problems)}):")
            out += [f"  - {p}" for p in self.problems[:60]]
            if len(self.problems) > 60:
                out.append(f"  … and {len(self.problems) - 60} more")
        else:
            out.append("problems: none")
        return "\n".join(out)


# --- the filebridge process ----------------------------------------------------------


class Bridge:
    """`filebridge watch` as a subprocess; output goes to `logs/watch-NNN.out|err`."""

    def __init__(self, config: Path, token: str, logs: Path, workdir: Path) -> None:
        self.config = config
        self.logs = logs
        self.workdir = workdir
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("SELLDONE_", "FILEBRIDGE_"))
        }
        env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
        env["SELLDONE_TOKEN"] = token
        self.env = env
        self.proc: subprocess.Popen[bytes] | None = None
        self.started_at = 0.0
        self.starts = 0
        self.exits: list[int] = []
        self._outputs: list[IO[bytes]] = []
        self.offset = 0.0
        self.last_offset = 0.0
        self.clock_jumps = 0

    def run_once(self, *args: str, timeout: float = 60.0) -> tuple[int | None, str]:
        """Run one other filebridge command to its end; (exit code, stderr)."""
        try:
            done = subprocess.run(
                [sys.executable, "-m", "filebridge", *args],
                cwd=self.workdir,
                env=self.env,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return None, "(timed out)"
        return done.returncode, done.stderr.decode("utf-8", "replace")

    def start(self, config: Path | None = None) -> None:
        """Start `watch`; with `offset` set, its wall clock is moved (`clock_child`)."""
        self.starts += 1
        out = (self.logs / f"watch-{self.starts:03d}.out").open("wb")
        err = (self.logs / f"watch-{self.starts:03d}.err").open("wb")
        self._outputs = [out, err]
        args = ["watch", "-c", str(config or self.config)]
        if self.offset:
            command = [sys.executable, "-m", "tests.soak.clock_child", str(self.offset)]
        else:
            command = [sys.executable, "-m", "filebridge"]
        if self.offset != self.last_offset:
            self.clock_jumps += 1
        self.last_offset = self.offset
        self.proc = subprocess.Popen(
            [*command, *args],
            cwd=self.workdir,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
        )
        self.started_at = time.monotonic()

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def reap(self) -> int | None:
        """The exit code if the process ended since the last look, else None."""
        if self.proc is None or self.proc.poll() is None:
            return None
        code = self.proc.returncode
        self._closed(code)
        return code

    def kill(self) -> bool:
        """SIGKILL; True if it was running."""
        if not self.running() or self.proc is None:
            return False
        self.proc.kill()
        self.proc.wait()
        self._closed(self.proc.returncode)
        return True

    def terminate(self, timeout: float) -> int | None:
        """SIGTERM and wait; None if it had to be killed after `timeout`."""
        if self.proc is None:
            return None
        proc = self.proc
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                self._closed(proc.returncode)
                return None
        code = proc.returncode
        self._closed(code)
        return code

    def stderr_tail(self, lines: int = 8) -> str:
        path = self.logs / f"watch-{self.starts:03d}.err"
        text = (
            path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""
        )
        return " | ".join(text.strip().splitlines()[-lines:])

    def _closed(self, code: int) -> None:
        self.exits.append(code)
        for handle in self._outputs:
            handle.close()
        self._outputs = []
        self.proc = None


# --- faults ------------------------------------------------------------------------------


class FaultArmer:
    """Arms sandbox faults and remembers what it armed (the checker needs the drops)."""

    def __init__(self, box: Sandbox, rng: random.Random, timeout: float) -> None:
        self.box = box
        self.rng = rng
        self.timeout = timeout
        self.kinds: Counter[str] = Counter()
        self.drops = DropLog()
        self.delays: list[ArmedDelay] = []

    def _filter(
        self, *, writes_only: bool = False, allow_any: bool = True
    ) -> tuple[str | None, str | None, str | None]:
        names = list(WRITE_FILTERS) if writes_only else list(FILTERS)
        if allow_any and self.rng.random() < 0.3:
            return None, None, None
        name = self.rng.choice(names)
        method, fragment = FILTERS[name]
        return name, method, fragment

    def arm_random(self, *, revoked: bool) -> str:
        rng = self.rng
        faults = self.box.faults
        kind = rng.choices(
            (
                "503 burst",
                "5xx burst",
                "429 storm",
                "latency",
                "latency beyond timeout",
                "drop before processing",
                "drop after processing",
            ),
            weights=(22, 10, 14, 20, 7, 12, 15),
        )[0]
        if kind == "drop after processing" and revoked:
            kind = "drop before processing"
        if kind == "503 burst":
            _, method, fragment = self._filter()
            faults.fail_next(
                503, times=rng.randint(1, 6), method=method, path_contains=fragment
            )
        elif kind == "5xx burst":
            _, method, fragment = self._filter()
            faults.fail_next(
                rng.choice((500, 502, 504)),
                times=rng.randint(1, 3),
                method=method,
                path_contains=fragment,
            )
        elif kind == "429 storm":
            faults.fail_next(
                429, times=rng.randint(1, 3), retry_after=rng.randint(1, 2)
            )
        elif kind in ("latency", "latency beyond timeout"):
            _, method, fragment = self._filter()
            if kind == "latency":
                seconds, times = rng.uniform(0.2, 2.0), rng.randint(1, 4)
            else:
                seconds = self.timeout + rng.uniform(0.5, MAX_EXTRA_DELAY_S)
                times = 1
            self.delays.append(
                ArmedDelay(time.time(), method, fragment, seconds, times)
            )
            faults.delay_next(
                seconds, times=times, method=method, path_contains=fragment
            )
        else:
            after = kind == "drop after processing"
            name, method, fragment = self._filter(writes_only=after, allow_any=False)
            times = 1 if after else rng.randint(1, 2)
            faults.drop_next(
                times=times,
                method=method,
                path_contains=fragment,
                after_processing=after,
            )
            if name is not None:
                self.drops.armed(name, times, after=after)
        self.kinds[kind] += 1
        return kind

    def outstanding_write_drops(self) -> int:
        """After-processing drops armed for writes that have not fired yet (by the log).

        Drops of one filter fire in arming order, so the unfired ones are the tail.
        """
        fired: Counter[str] = Counter()
        for call in self.box.calls():
            if call.status == 0:
                fired[call_filter(call.method, call.path) or ""] += 1
        armed = self.drops.after_processing
        return sum(sum(armed[n][fired[n] :]) for n in WRITE_FILTERS)


# --- the shop side ----------------------------------------------------------------------


class Shop:
    """Orders arriving and changing over the chaos phase; remembers initial states."""

    def __init__(
        self, box: Sandbox, rng: random.Random, orders: int, seconds: float
    ) -> None:
        self.box = box
        self.rng = rng
        self.initial: dict[int, tuple[str, tuple[str | None, str | None]]] = {}
        self.cancelled: list[int] = []
        self.reserved: dict[int, float] = {}  # order id → when paid or cancelled
        self.added = 0
        span = max(1.0, seconds * 0.85)
        self.arrivals = sorted(rng.uniform(0.0, span) for _ in range(orders))
        self.next_update = 0.0
        for order in box.orders():
            self._remember(order)
            if order.get("status") == "Canceled":
                self.cancelled.append(int(order["id"]))

    def _remember(self, order: dict[str, Any]) -> None:
        info = order.get("delivery_info")
        if not isinstance(info, dict):
            info = {}
        self.initial[int(order["id"])] = (
            str(order.get("delivery_state")),
            (info.get("tracking_code"), info.get("tracking_url")),
        )

    def tick(self, elapsed: float, now: float) -> None:
        rng = self.rng
        due = 0
        while self.arrivals and self.arrivals[0] <= elapsed:
            self.arrivals.pop(0)
            due += 1
        for _ in range(due):
            status = rng.choices(
                ("Payed", "COD", "Reserved", "Canceled"), weights=(75, 8, 10, 7)
            )[0]
            order = self.box.add_order(status=status)
            self.added += 1
            self._remember(order)
            order_id = int(order["id"])
            if status == "Canceled":
                self.cancelled.append(order_id)
            elif status == "Reserved":
                self.reserved[order_id] = now + rng.uniform(2.0, 15.0)
        for order_id, when in list(self.reserved.items()):
            if when <= now:
                self._settle_reserved(order_id)
        if now >= self.next_update and self.initial:
            self.next_update = now + rng.uniform(0.3, 1.5)
            order_id = rng.choice(list(self.initial))
            order = self.box.get_order(order_id)
            receiver = order.get("receiver_info")
            if isinstance(receiver, dict):
                receiver = dict(
                    receiver, message=f"Bitte klingeln ({rng.randrange(1000)})"
                )
                self.box.update_order(order_id, receiver_info=receiver)
            else:
                self.box.update_order(order_id, meta={"touched": rng.randrange(1000)})

    def _settle_reserved(self, order_id: int) -> None:
        del self.reserved[order_id]
        if self.rng.random() < 0.7:
            self.box.update_order(order_id, status="Payed", payment_type="Stripe")
        else:
            self.box.update_order(order_id, status="Canceled")
            self.cancelled.append(order_id)

    def finish(self) -> None:
        """Every order still to come arrives now; every reservation is settled."""
        self.tick(float("inf"), float("inf"))
        for order_id in list(self.reserved):
            self._settle_reserved(order_id)


# --- the run ---------------------------------------------------------------------------


def write_config(
    workdir: Path,
    box: Sandbox,
    config: SoakConfig,
    *,
    name: str = "filebridge.toml",
    requests_per_minute: int | None = None,
) -> Path:
    statuses = ", ".join(f'"{s}"' for s in config.statuses)
    path = workdir / name
    budget = requests_per_minute or config.requests_per_minute
    concurrency = (
        f"concurrency = {config.concurrency}\n"
        if config.concurrency is not None
        else ""
    )
    path.write_text(
        f"""# The chaos soak's filebridge config (the token comes from SELLDONE_TOKEN).
[selldone]
api_url = "{box.url}"
shop_id = {box.shop_id}
timeout_seconds = {config.timeout_seconds}
# The sandbox runs a delayed write at most MAX_EXTRA_DELAY_S past the client timeout.
write_settle_seconds = {config.timeout_seconds + MAX_EXTRA_DELAY_S + 1.0}

[folders]
outbox = "outbox"
inbox = "inbox"
archive = "archive"
failed = "failed"
state = "state"

[export]
mapping = "default"
statuses = [{statuses}]
since = "2020-01-01"
interval_minutes = {config.interval_minutes}
lookback_minutes = {config.lookback_minutes}

[inbox]
settle_seconds = {config.settle_seconds}
poll_seconds = {config.poll_seconds}
polling = {"true" if config.polling else "false"}
empty_file_grace_seconds = 30

[limits]
requests_per_minute = {budget}
{concurrency}
[log]
level = "INFO"
# One file for the whole soak: the harness reads it to see when the watcher waits.
file_max_kb = 262144
""",
        encoding="utf-8",
    )
    for name in ("outbox", "inbox", "archive", "failed", "state", "harness"):
        (workdir / name).mkdir(parents=True, exist_ok=True)
    return path


class _Run:
    """The moving parts of one soak and the chaos loop that drives them."""

    def __init__(
        self, config: SoakConfig, workdir: Path, say: Callable[[str], None]
    ) -> None:
        self.config = config
        self.workdir = workdir
        self.say = say
        self.rng = random.Random(config.seed)
        self.box = start_sandbox(
            port=0,
            orders=config.seeded_orders,
            seed=config.seed,
            rate_per_minute=config.sandbox_rate_per_minute,
        )
        self.config_path = write_config(workdir, self.box, config)
        self.inbox = workdir / "inbox"
        self.offline = workdir / "inbox.offline"
        self.events = (workdir / "harness" / "events.log").open("w", encoding="utf-8")
        self.t0 = time.monotonic()
        self.bridge = Bridge(
            self.config_path, self.box.token, workdir / "harness", workdir
        )
        self.faults = FaultArmer(
            self.box, random.Random(config.seed * 7 + 1), config.timeout_seconds
        )
        self.shop = Shop(
            self.box, random.Random(config.seed * 7 + 2), config.orders, config.seconds
        )
        self.erp = ErpSimulator(
            inbox=self.inbox,
            outbox=workdir / "outbox",
            archive=workdir / "archive",
            failed=workdir / "failed",
            rng=random.Random(config.seed * 7 + 3),
            initial=self.shop.initial.get,
            cancelled=lambda: tuple(self.shop.cancelled),
            settings=config.erp,
        )
        self.kills = 0
        self.auth_exits = 0
        self.outages = 0
        self.revokes = 0
        self.revoked = False
        self.last_restore = -math.inf
        self.outage_until: float | None = None
        self.outage_began = 0.0
        self.revoke_until: float | None = None
        self.restart_at: float | None = 0.0
        self.problems: list[str] = []
        self.kills_at: list[float] = []
        self.excused: list[tuple[float, float]] = []
        self.down_since: float | None = time.time()
        self.kills_in_budget_wait = 0
        self.kills_in_retry_after = 0
        self.journal_zeroed = 0
        self.journal_restored = 0
        self.journal_refusal_exit: int | None = None
        self.log_path = workdir / "state" / "filebridge.log"
        now = time.monotonic()
        span = config.seconds
        self.episodes: list[tuple[float, str]] = (
            [
                (now + span * f, name)
                for f, name in (
                    (0.2, "budget wait kill"),
                    (0.3, "retry-after kill"),
                    (0.4, "clock back"),
                    (0.5, "clock ahead"),
                    (0.6, "clock right"),
                    (0.68, "journal zeroed"),
                    (0.78, "budget wait kill"),
                    (0.86, "retry-after kill"),
                )
            ]
            if config.episodes
            else []
        )
        if not config.clock_ahead:  # no forward jump: the clock stays an hour back
            self.episodes = [
                e for e in self.episodes if e[1] not in ("clock ahead", "clock right")
            ]
        self.next_kill = now + self.rng.uniform(*config.kill_gap)
        self.next_fault = now + self.rng.uniform(*config.fault_gap)
        self.next_outage = now + self.rng.uniform(*config.outage_gap) * 0.6
        self.next_revoke = now + self.rng.uniform(*config.revoke_gap) * 0.7

    def log(self, text: str) -> None:
        self.events.write(f"{time.monotonic() - self.t0:8.2f} {text}\n")
        self.events.flush()

    # -- supervision --------------------------------------------------------------------

    def went_down(self) -> None:
        if self.down_since is None:
            self.down_since = time.time()

    def start_bridge(self, config: Path | None = None) -> None:
        """Start the watcher; the time it was down (and its startup) is excused."""
        self.bridge.start(config)
        if self.down_since is not None:
            self.excused.append((self.down_since, time.time() + STARTUP_S))
            self.down_since = None
        self.restart_at = None
        offset = f", clock {self.bridge.offset:+.0f} s" if self.bridge.offset else ""
        self.log(f"filebridge started (#{self.bridge.starts}{offset})")

    def sigkill(self, why: str = "") -> bool:
        if not self.bridge.kill():
            return False
        self.kills += 1
        self.kills_at.append(time.time())
        self.went_down()
        self.log("SIGKILL" + (f" {why}" if why else ""))
        return True

    def supervise(self, now: float) -> None:
        code = self.bridge.reap()
        if code is not None:
            self.went_down()
            self.log(f"filebridge exited {code}")
            if code == AUTH_EXIT:
                self.auth_exits += 1
                if not self.revoked and now - self.last_restore > 30.0:
                    self.problems.append(
                        f"filebridge exited 4 (token refused) with a valid token: {self.bridge.stderr_tail()}"
                    )
                self.restart_at = now + 0.5
            elif code == JOURNAL_MISSING_EXIT:
                self.problems.append(
                    f"filebridge exited 10 (journal missing) unexpectedly: {self.bridge.stderr_tail()}"
                )
                self.restart_at = now + 1.0
            else:
                self.problems.append(
                    f"filebridge exited {code} unexpectedly: {self.bridge.stderr_tail()}"
                )
                self.restart_at = now + 1.0
        if self.bridge.running() or self.restart_at is None or now < self.restart_at:
            return
        if self.revoked and self.bridge.exits and self.bridge.exits[-1] == AUTH_EXIT:
            return  # nothing works until the token is back; restart after the restore
        self.start_bridge()

    # -- scripted episodes -------------------------------------------------------------

    def episode(self, now: float) -> None:
        """Run the next scripted episode once the watcher is up and the token works."""
        if not self.episodes or now < self.episodes[0][0]:
            return
        if self.revoked or not self.bridge.running():
            return
        if now - self.bridge.started_at < STARTUP_S:
            return
        _, name = self.episodes.pop(0)
        began = time.time()
        self.log(f"episode: {name}")
        if name == "budget wait kill":
            self.kill_in_budget_wait()
        elif name == "retry-after kill":
            self.kill_in_retry_after()
        elif name.startswith("clock"):
            self.bridge.offset = {"back": -HOUR, "ahead": HOUR, "right": 0.0}[
                name.split()[1]
            ]
            self.sigkill(f"to restart with the clock {name.split()[1]}")
            self.start_bridge()
        else:
            self.zero_journal()
        self.excused.append((began, time.time() + STARTUP_S))

    def log_offset(self) -> int:
        return self.log_path.stat().st_size if self.log_path.exists() else 0

    def wait_for_log(self, text: str, offset: int, timeout: float) -> bool:
        """Whether `text` appears in filebridge's log after byte `offset` in time."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.bridge.running():
            if self.log_path.exists():
                with self.log_path.open("rb") as log:
                    log.seek(offset)
                    if text.encode() in log.read():
                        return True
            time.sleep(0.05)
        return False

    def kill_in_budget_wait(self) -> None:
        """Restart with a budget the journal already shows (nearly) spent: the watcher
        waits for it within a call or two; SIGKILL during that wait."""
        recent = sum(1 for c in self.box.calls() if c.at > time.time() - 60.0)
        tight = write_config(
            self.workdir,
            self.box,
            self.config,
            name="filebridge-tight.toml",
            requests_per_minute=max(
                1, min(self.config.requests_per_minute, recent + self.rng.randint(0, 2))
            ),
        )
        self.sigkill("to restart with a spent budget")
        offset = self.log_offset()
        self.start_bridge(tight)
        if self.wait_for_log("for the API budget", offset, LOG_WAIT_S):
            time.sleep(self.rng.uniform(0.2, 0.8))
            if self.sigkill("during a budget wait"):
                self.kills_in_budget_wait += 1
        else:
            self.sigkill("(no budget wait seen)")
        self.start_bridge()

    def kill_in_retry_after(self) -> None:
        """Arm a 429 with Retry-After; SIGKILL once the log says the watcher pauses."""
        offset = self.log_offset()
        self.box.faults.fail_next(429, retry_after=RETRY_AFTER_EPISODE_S)
        self.faults.kinds["429 (episode)"] += 1
        if self.wait_for_log("Selldone asked to wait", offset, LOG_WAIT_S):
            time.sleep(self.rng.uniform(0.3, 1.5))
            if self.sigkill("during a Retry-After pause"):
                self.kills_in_retry_after += 1
        self.restart_at = time.monotonic() + self.rng.uniform(0.0, 1.0)

    def zero_journal(self) -> None:
        """Stop cleanly (a backup), maybe work on, zero the journal, expect exit 10,
        restore with `filebridge journal restore`, go on."""
        self.terminate("before the journal is zeroed")
        self.went_down()
        if self.config.journal_stale_seconds > 0:
            self.start_bridge()
            time.sleep(STARTUP_S + self.config.journal_stale_seconds)
            self.sigkill("after working past the backup")
        journal = self.workdir / "state" / "filebridge.sqlite3"
        leftovers = sorted(p.name for p in journal.parent.glob("filebridge.sqlite3-*"))
        with journal.open("r+b") as handle:
            handle.truncate(0)
        self.journal_zeroed += 1
        self.log(f"journal zeroed (beside it: {leftovers or 'nothing'})")
        config = str(self.config_path)
        code, err = self.bridge.run_once("watch", "-c", config, timeout=30.0)
        self.journal_refusal_exit = code
        self.log(f"start on the zeroed journal → exit {code}")
        if code != JOURNAL_MISSING_EXIT:
            self.problems.append(
                f"a start on the zeroed journal exited {code}, not 10: {err[-400:]}"
            )
        code, err = self.bridge.run_once("journal", "restore", "-c", config)
        self.log(f"filebridge journal restore → exit {code}")
        if code == 0:
            self.journal_restored += 1
        else:
            self.problems.append(f"journal restore exited {code}: {err[-400:]}")
        self.start_bridge()

    # -- chaos ---------------------------------------------------------------------------

    def chaos(self, now: float) -> None:
        config, rng = self.config, self.rng
        if now >= self.next_kill:
            self.next_kill = now + rng.uniform(*config.kill_gap)
            if self.sigkill():
                self.restart_at = now + rng.uniform(0.0, 1.5)
        if now >= self.next_fault:
            self.next_fault = now + rng.uniform(*config.fault_gap)
            self.log(f"fault: {self.faults.arm_random(revoked=self.revoked)}")
        if self.outage_until is None and now >= self.next_outage:
            self.inbox.rename(self.offline)
            self.outage_began = time.time()
            self.outages += 1
            self.outage_until = now + rng.uniform(*config.outage_length)
            self.log("inbox outage begins")
        elif self.outage_until is not None and now >= self.outage_until:
            self.end_outage()
            self.next_outage = now + rng.uniform(*config.outage_gap)
        if self.revoke_until is None and now >= self.next_revoke:
            if self.faults.outstanding_write_drops() == 0:
                self.box.faults.revoke_token()
                self.revoked = True
                self.revokes += 1
                self.faults.kinds["token revoked"] += 1
                self.revoke_until = now + rng.uniform(*config.revoke_length)
                self.log("token revoked")
            else:
                self.next_revoke = now + 1.0
        elif self.revoke_until is not None and now >= self.revoke_until:
            self.restore_token(now)
            self.next_revoke = now + rng.uniform(*config.revoke_gap)

    def end_outage(self) -> None:
        if self.outage_until is None:
            return
        if self.inbox.exists():
            leftovers = sorted(p.name for p in self.inbox.iterdir())
            self.problems.append(
                f"the inbox folder was re-created during an outage (holding {leftovers})"
            )
            clashes = _merge_folder(self.inbox, self.offline)
            if clashes:
                self.problems.append(f"files lost in that merge: {clashes}")
            shutil.rmtree(self.inbox)
        self.offline.rename(self.inbox)
        self.excused.append((self.outage_began, time.time() + 1.0))
        self.outage_until = None
        self.log("inbox outage ends")

    def restore_token(self, now: float) -> None:
        if not self.revoked:
            return
        self.box.faults.restore_token()
        self.revoked = False
        self.revoke_until = None
        self.last_restore = now
        self.log("token restored")
        if not self.bridge.running() and self.restart_at is None:
            self.restart_at = now

    # -- phases -----------------------------------------------------------------------

    def chaos_phase(self) -> None:
        end = self.t0 + self.config.seconds
        self.erp.start()
        while (now := time.monotonic()) < end:
            self.supervise(now)
            self.shop.tick(now - self.t0, now)
            self.chaos(now)
            self.episode(time.monotonic())
            time.sleep(0.05)
        self.erp.stop_generating()
        self.shop.finish()
        self.restore_token(time.monotonic())
        self.log("chaos phase over")
        # Stop faults: the watcher must stop cleanly in whatever state chaos left it;
        # once no request is left in flight the faults are cleared, the token and the
        # inbox come back, and a fresh watcher drains what is left.
        if self.bridge.running():
            self.terminate("at the end of the chaos phase")
        self.wait_for_requests_in_flight()
        self.box.faults.clear()
        self.end_outage()
        self.restart_at = time.monotonic()

    def terminate(self, when: str) -> int | None:
        """SIGTERM (once the watcher has installed its handler); it must exit 0."""
        wait = self.bridge.started_at + STARTUP_S - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        code = self.bridge.terminate(timeout=60.0)
        self.went_down()
        self.log(f"SIGTERM {when} → exit {code}")
        if code == AUTH_EXIT and time.monotonic() - self.last_restore < 30.0:
            self.auth_exits += 1  # it saw the revoked token before the SIGTERM
        elif code != 0:
            self.problems.append(
                f"filebridge did not stop cleanly on SIGTERM {when} (exit {code}): "
                f"{self.bridge.stderr_tail()}"
            )
        return code

    def wait_for_requests_in_flight(self) -> None:
        """A request that arrived before the exit may still sleep in an armed delay (at
        most the client timeout + MAX_EXTRA_DELAY_S); it is logged once it has run."""
        time.sleep(self.config.timeout_seconds + MAX_EXTRA_DELAY_S + 1.0)

    def quiet(self) -> bool:
        if not self.erp.all_done():
            return False
        if any(p.is_file() for p in self.inbox.rglob("*")):
            return False
        exportable = {
            int(o["id"])
            for o in self.box.orders()
            if o.get("status") in self.config.statuses and not o.get("reject")
        }
        return exportable <= self.erp.exported_ids()

    def drain(self) -> bool:
        deadline = time.monotonic() + self.config.drain_seconds
        next_look = 0.0
        while (now := time.monotonic()) < deadline:
            self.supervise(now)
            if now >= next_look:
                next_look = now + 0.5
                if self.bridge.running() and self.quiet():
                    self.log("drained")
                    return True
            time.sleep(0.05)
        self.log("drain deadline passed")
        return False

    def stop(self) -> int | None:
        code = self.terminate("after the drain")
        self.wait_for_requests_in_flight()
        self.erp.halt()
        return code


def run_soak(
    config: SoakConfig, workdir: Path, *, say: Callable[[str], None] | None = None
) -> SoakFigures:
    """Run one soak in `workdir` (created; must be empty) and return its figures."""
    say = say or (lambda _text: None)
    workdir.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    run = _Run(config, workdir, say)
    final: int | None = None
    drained = False
    try:
        say(f"soak: chaos for {config.seconds:.0f} s in {workdir}")
        run.chaos_phase()
        say("soak: draining")
        drained = run.drain()
        final = run.stop()
        orders = run.box.orders()
        calls = run.box.calls()
    finally:
        if run.bridge.running():
            run.bridge.kill()
        run.erp.halt(timeout=5.0)
        run.box.stop()
        run.events.close()
    say("soak: checking")
    _dump(workdir / "harness", calls, run)
    evidence = Evidence(
        workdir=workdir,
        outbox=workdir / "outbox",
        inbox=workdir / "inbox",
        archive=workdir / "archive",
        failed=workdir / "failed",
        token=run.box.token,
        budget_per_minute=config.requests_per_minute,
        statuses=config.statuses,
        orders=orders,
        calls=calls,
        initial=run.shop.initial,
        erp=run.erp.ledger,
        drops=run.faults.drops,
        settle_seconds=config.settle_seconds,
        write_settle_seconds=config.timeout_seconds + MAX_EXTRA_DELAY_S + 1.0,
        timeout_seconds=config.timeout_seconds,
        excused=run.excused,
        kills_at=run.kills_at,
        delays=run.faults.delays,
    )
    report = check(evidence)
    problems = run.problems + run.erp.errors + report.problems
    if not drained:
        problems.insert(
            0,
            f"not drained within {config.drain_seconds:.0f} s: unfinished {run.erp.unfinished()[:10]}",
        )
    faults = dict(run.faults.kinds)
    faults["SIGKILL"] = run.kills
    faults["inbox outage"] = run.outages
    return _figures(
        config,
        run,
        report,
        faults,
        final,
        drained,
        time.monotonic() - started,
        problems,
    )


def _dump(folder: Path, calls: list[Any], run: _Run) -> None:
    """The call log and the ERP's ledger, for a person investigating a finding."""
    with (folder / "calls.jsonl").open("w", encoding="utf-8") as out:
        for call in calls:
            out.write(json.dumps(call.to_json(), default=str) + "\n")
    files = [
        {
            "name": f.name,
            "copy": f.copy_name,
            "format": f.fmt,
            "mode": f.mode,
            "unreadable": f.unreadable,
            "written_at": f.written_at,
            "finished_at": f.finished_at,
            "rows": [
                [r.ref, r.order_id, r.state, r.tracking, r.mistake, r.expect]
                for r in f.rows
            ],
        }
        for f in run.erp.ledger.files
    ]
    drops = dict(run.faults.drops.after_processing)
    waits = {"excused": run.excused, "kills_at": run.kills_at}
    (folder / "erp.json").write_text(
        json.dumps({"files": files, "drops": drops, "waits": waits}, indent=1),
        encoding="utf-8",
    )


def _figures(
    config: SoakConfig,
    run: _Run,
    report: CheckReport,
    faults: dict[str, int],
    final: int | None,
    drained: bool,
    duration: float,
    problems: list[str],
) -> SoakFigures:
    return SoakFigures(
        seed=config.seed,
        orders=report.orders,
        paid_orders=report.exportable,
        exported=report.exported,
        outbox_files=report.outbox_files,
        erp_files=report.erp_files,
        erp_copies=report.erp_copies,
        rows_valid=report.rows_valid,
        rows_invalid=report.rows_invalid,
        kills=run.kills,
        kills_in_budget_wait=run.kills_in_budget_wait,
        kills_in_retry_after=run.kills_in_retry_after,
        clock_jumps=run.bridge.clock_jumps,
        journal_zeroed=run.journal_zeroed,
        journal_refusal_exit=run.journal_refusal_exit,
        journal_restored=run.journal_restored,
        starts=run.bridge.starts,
        auth_exits=run.auth_exits,
        faults=faults,
        outages=run.outages,
        api_calls=report.api_calls,
        api_calls_min=report.api_calls_min,
        calls_by_status=report.calls_by_status,
        max_calls_60s=report.max_calls_60s,
        budget_per_minute=config.requests_per_minute,
        rows_lost=report.rows_lost,
        rows_wrongly_rejected=report.rows_wrongly_rejected,
        steps_doubled=report.steps_doubled,
        steps_missing=report.steps_missing,
        exported_twice=report.exported_twice,
        wrongly_exported=report.wrongly_exported,
        not_exported=report.not_exported,
        outcome_mismatches=report.outcome_mismatches,
        partial_files=report.partial_files,
        leftover_temp_files=report.leftover_temp_files,
        token_leaks=report.token_leaks,
        waited_behind_unrelated_s=report.waited_behind_unrelated_s,
        rows_behind_unrelated=report.rows_behind_unrelated,
        row_groups_measured=report.row_groups_measured,
        max_row_wait_s=report.max_row_wait_s,
        dropped_after_processing=report.dropped_after_processing,
        exit_codes=dict(Counter(run.bridge.exits)),
        final_exit=final,
        drained=drained,
        duration_s=duration,
        workdir=run.workdir,
        problems=problems,
    )


def _merge_folder(source: Path, target: Path) -> list[str]:
    """Move what `source` holds into `target` (sub-folders merged); the clashing names."""
    clashes: list[str] = []
    for path in source.iterdir():
        dest = target / path.name
        if path.is_dir() and dest.is_dir():
            clashes.extend(_merge_folder(path, dest))
        elif dest.exists():
            clashes.append(str(path))
        else:
            path.rename(dest)
    return clashes
