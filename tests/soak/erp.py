"""The simulated ERP: reads the outbox as an ERP would and drops status/tracking files.

It is the soak's record of what was *asked*. Every file and row it writes is in its
ledger together with what a correct bridge must make of it, computed from the ERP's own
model of each order: the state and tracking the shop had when the order was created (the
harness's snapshot), then every row the ERP asked for since. An order never has rows in
two unfinished files at once (a file is finished once it is in `archive/` or `failed/`),
so whatever order filebridge takes files in, the expected result is fixed when the file
is written.

How it writes, like the ERPs and people in field-notes do:

* formats: Excel's "CSV UTF-8" (comma, BOM), German Excel CSV (`;`, cp1252, ERP words
  such as `shipped`), and XLSX with ids typed in as numbers;
* modes: in one go; slowly in chunks (pauses well below `settle_seconds`); as `*.tmp`
  renamed into place; and some files twice (the same bytes under a second name);
* mistakes: ids that are text, in scientific notation or unknown to the shop, states
  nobody knows, broken tracking URLs, `Returned` for an order that was not sent, a row
  for a cancelled order, and now and then a file without an order id column;
* during an inbox outage (the folder is gone) it waits and retries, as a share client
  would; it never creates the inbox folder itself.
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

STATES = ("CheckQueue", "OrderConfirm", "PreparingOrder", "SentOrder", "ToCustomer")
SENT = STATES.index("SentOrder")
DELIVERED = STATES.index("ToCustomer")
RETURNED = "Returned"
PREPARING = "PreparingOrder"

OUTBOX_HEADER_START = ("order_id", "order_code")
"""The first columns of the default export mapping the soak configures."""

# (header, encoding, delimiter, state words) per file format.
_CSV_UTF8 = (
    ("order_id", "state", "tracking_code", "tracking_url", "erp_ref"),
    "utf-8-sig",
    ",",
)
_CSV_GERMAN = (
    ("Order ID", "Status", "Tracking Number", "Tracking Link", "ERP-Referenz"),
    "cp1252",
    ";",
)
_XLSX_HEADER = ("Order", "Delivery State", "Tracking", "Tracking URL", "Ref")
_UNREADABLE_HEADER = ("Bestellung", "Status", "Ref")
_GERMAN_WORDS = {
    "OrderConfirm": "confirmed",
    "PreparingOrder": "packed",
    "SentOrder": "shipped",
    "ToCustomer": "delivered",
    RETURNED: "returned",
}
FORMATS = ("csv-utf8", "csv-cp1252", "xlsx")
MODES = ("direct", "slow", "tmp-rename")
MISTAKES = (
    "id-text",
    "id-scientific",
    "id-unknown",
    "state-unknown",
    "url-bad",
    "returned-not-sent",
    "order-cancelled",
)
UNKNOWN_ID_BASE = 9_990_000


@dataclass(frozen=True)
class ErpSettings:
    """How busy and how sloppy the ERP is."""

    file_gap: tuple[float, float] = (0.3, 0.9)
    orders_per_file: tuple[int, int] = (1, 5)
    mistake_rate: float = 0.12
    copy_rate: float = 0.1
    unreadable_rate: float = 0.02
    chunk_pause: tuple[float, float] = (0.03, 0.15)
    """Pauses of a slow write; they stay far below filebridge's settle_seconds."""
    max_in_flight: int = 40
    """Files written but not yet finished that the ERP allows itself at once."""


@dataclass
class ErpRow:
    """One row as asked: what it names, what it wants, what must come of it."""

    ref: str
    order_id: int | None
    state: str | None  # an API state, "Returned", or None (tracking only)
    tracking: tuple[str, str] | None
    mistake: str | None  # None: a valid row
    expect: str  # applied | already-done | rejected
    cells: list[object] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        return self.mistake is None


@dataclass
class ErpFile:
    """One file the ERP dropped (and maybe dropped again as `copy_name`)."""

    name: str
    fmt: str
    mode: str
    rows: list[ErpRow]
    orders: list[int]
    unreadable: bool = False
    copy_name: str | None = None
    copy_after_done: bool = False
    written: bool = False
    copy_written: bool = False
    done: bool = False
    content: bytes = b""
    written_at: float | None = None
    """Wall time (time.time()) the first copy was whole in the inbox under its name."""
    finished_at: float | None = None
    """Wall time the ERP first saw `name` in archive/ or failed/ (looks every 0.3 s)."""

    def names(self) -> list[str]:
        return [self.name] + ([self.copy_name] if self.copy_name else [])


@dataclass
class OrderModel:
    """The ERP's view of one order, advanced by every row it asks for."""

    order_id: int
    state: str
    tracking: tuple[str | None, str | None]
    posts: Counter[str] = field(default_factory=Counter)
    returns: int = 0
    puts: int = 0
    busy: int = 0
    rows: int = 0


@dataclass
class ErpLedger:
    """Everything the ERP did and saw; read by the checker after the run."""

    files: list[ErpFile] = field(default_factory=list)
    models: dict[int, OrderModel] = field(default_factory=dict)
    cancelled_touched: set[int] = field(default_factory=set)
    outbox_read: dict[str, list[int]] = field(default_factory=dict)
    partial_sightings: list[str] = field(default_factory=list)
    write_retries: int = 0

    def valid_rows(self) -> list[ErpRow]:
        return [r for f in self.files for r in f.rows if r.valid and not f.unreadable]

    def invalid_rows(self) -> list[ErpRow]:
        return [r for f in self.files for r in f.rows if not r.valid or f.unreadable]


InitialLookup = Callable[[int], tuple[str, tuple[str | None, str | None]] | None]


class ErpSimulator:
    """A thread that reads the outbox and writes inbox files until halted.

    `initial(order_id)` gives the state and tracking the order had when the shop made it;
    `cancelled()` lists cancelled order ids (targets for the "wrong order" mistake).
    """

    def __init__(
        self,
        *,
        inbox: Path,
        outbox: Path,
        archive: Path,
        failed: Path,
        rng: random.Random,
        initial: InitialLookup,
        cancelled: Callable[[], Sequence[int]],
        settings: ErpSettings | None = None,
    ) -> None:
        self.inbox = inbox
        self.outbox = outbox
        self.archive = archive
        self.failed = failed
        self.rng = rng
        self.initial = initial
        self.cancelled = cancelled
        self.settings = settings or ErpSettings()
        self.ledger = ErpLedger()
        self._lock = threading.Lock()
        self._generating = threading.Event()
        self._halt = threading.Event()
        self._writers: list[threading.Thread] = []
        self._thread = threading.Thread(target=self._loop, name="soak-erp", daemon=True)
        self._counter = 0
        self._tracking_counter = 0
        self._row_counter = 0
        self.errors: list[str] = []

    # --- control -------------------------------------------------------------------

    def start(self) -> None:
        self._generating.set()
        self._thread.start()

    def stop_generating(self) -> None:
        self._generating.clear()

    def halt(self, timeout: float = 30.0) -> None:
        self._generating.clear()
        self._halt.set()
        self._thread.join(timeout)
        for writer in list(self._writers):
            writer.join(timeout)

    def all_done(self) -> bool:
        """Every file written and finished (in archive/ or failed/), no writer busy."""
        with self._lock:
            if any(w.is_alive() for w in self._writers):
                return False
            return all(f.done for f in self.ledger.files)

    def unfinished(self) -> list[str]:
        with self._lock:
            return [f.name for f in self.ledger.files if not f.done]

    def exported_ids(self) -> set[int]:
        with self._lock:
            return {i for ids in self.ledger.outbox_read.values() for i in ids}

    # --- the loop ------------------------------------------------------------------

    def _loop(self) -> None:
        next_file = time.monotonic()
        next_look = next_file
        try:
            while not self._halt.is_set():
                now = time.monotonic()
                if now >= next_look:
                    next_look = now + 0.3
                    self._read_outbox()
                    self._collect_finished()
                if self._generating.is_set() and now >= next_file:
                    self._new_file()
                    next_file = now + self.rng.uniform(*self.settings.file_gap)
                self._halt.wait(0.05)
            self._read_outbox()
            self._collect_finished()
        except Exception as exc:
            self.errors.append(f"ERP thread crashed: {type(exc).__name__}: {exc}")
            raise

    def _read_outbox(self) -> None:
        """Import every new `*.csv` as an ERP does; note any file that is not whole."""
        try:
            entries = sorted(e.name for e in os.scandir(self.outbox) if e.is_file())
        except FileNotFoundError:
            return
        for name in entries:
            if not name.lower().endswith(".csv") or name in self.ledger.outbox_read:
                continue
            data = (self.outbox / name).read_bytes()
            ids, problem = parse_outbox_csv(data)
            with self._lock:
                self.ledger.outbox_read[name] = ids
                if problem is not None:
                    self.ledger.partial_sightings.append(f"{name}: {problem}")
                for order_id in ids:
                    if order_id in self.ledger.models:
                        continue
                    known = self.initial(order_id)
                    if known is None:
                        self.errors.append(f"outbox order {order_id} unknown to shop")
                        continue
                    state, tracking = known
                    self.ledger.models[order_id] = OrderModel(order_id, state, tracking)

    def _collect_finished(self) -> None:
        names = finished_names(self.archive, self.failed)
        with self._lock:
            for f in self.ledger.files:
                if f.done or not f.written:
                    continue
                if f.finished_at is None and f.name in names:
                    f.finished_at = time.time()
                if f.copy_name and not f.copy_written:
                    if f.copy_after_done and f.name in names:
                        self._start_writer(f, copy=True)
                    continue
                if all(n in names for n in f.names()):
                    f.done = True
                    for order_id in f.orders:
                        model = self.ledger.models.get(order_id)
                        if model is not None:
                            model.busy -= 1

    # --- composing a file ------------------------------------------------------------

    def _new_file(self) -> None:
        with self._lock:
            in_flight = sum(1 for f in self.ledger.files if not f.done)
            if in_flight >= self.settings.max_in_flight:
                return
            free = [m for m in self.ledger.models.values() if m.busy == 0]
            if not free:
                return
            self._counter += 1
            number = self._counter
            rng = self.rng
            unreadable = rng.random() < self.settings.unreadable_rate
            fmt = rng.choices(FORMATS, weights=(45, 30, 25))[0]
            mode = rng.choices(MODES, weights=(50, 30, 20))[0]
            groups: list[list[ErpRow]] = []
            named: list[int] = []
            count = rng.randint(*self.settings.orders_per_file)
            for model in rng.sample(free, min(count, len(free))):
                if unreadable:
                    rows = [self._unreadable_row(model)]
                else:
                    rows = self._rows_for(model)
                groups.append(rows)
                named.append(model.order_id)
            if not unreadable:
                while rng.random() < self.settings.mistake_rate * 3:
                    row, target = self._mistake_row(free, named)
                    groups.insert(rng.randrange(len(groups) + 1), [row])
                    if target is not None:
                        named.append(target)
                    if rng.random() < 0.6:
                        break
            rows = [row for group in groups for row in group]
            ext = "xlsx" if fmt == "xlsx" else "csv"
            stem = rng.choice(("status", "Versand", "tracking export", "erp_out"))
            name = f"{stem}-{number:05d}.{ext}"
            file = ErpFile(name, fmt, mode, rows, sorted(set(named)), unreadable)
            if not unreadable and rng.random() < self.settings.copy_rate:
                file.copy_name = f"{stem}-{number:05d}-again.{ext}"
                file.copy_after_done = rng.random() < 0.5
            file.content = render(file)
            for order_id in file.orders:
                named_model = self.ledger.models.get(order_id)
                if named_model is not None:
                    named_model.busy += 1
            self.ledger.files.append(file)
            self._start_writer(file, copy=False)
            if file.copy_name and not file.copy_after_done:
                self._start_writer(file, copy=True)

    def _ref(self) -> str:
        self._row_counter += 1
        return f"R{self._row_counter:06d}"

    def _new_tracking(self) -> tuple[str, str]:
        self._tracking_counter += 1
        code = f"JJD{self._tracking_counter:010d}"
        return code, f"https://track.example/{code}"

    def _rows_for(self, model: OrderModel) -> list[ErpRow]:
        """One to three rows for one order, each applied to the model in turn."""
        rng = self.rng
        rows: list[ErpRow] = []
        for _ in range(rng.choice((1, 1, 1, 1, 2, 2, 3))):
            rows.append(self._one_row(model))
        return rows

    def _one_row(self, model: OrderModel) -> ErpRow:
        rng = self.rng
        here = STATES.index(model.state)
        draw = rng.random()
        if here == SENT and draw < 0.2:
            return self._valid(model, RETURNED, None)
        if draw < 0.08:
            return self._valid(model, None, self._new_tracking())
        if draw < 0.14 and here > 0:
            back = STATES[rng.randint(1, here)]
            return self._valid(model, back, None)
        if draw < 0.19 and here != SENT:
            row = ErpRow(
                self._ref(),
                model.order_id,
                RETURNED,
                None,
                "returned-not-sent",
                "rejected",
            )
            model.rows += 1
            return row
        if here == DELIVERED:
            return self._valid(model, None, self._new_tracking())
        target = rng.choice([*list(range(here + 1, DELIVERED + 1)), here + 1])
        tracking = None
        passes_sent = here < SENT <= target
        if (passes_sent and rng.random() < 0.85) or (
            target > SENT and rng.random() < 0.2
        ):
            tracking = self._new_tracking()
        return self._valid(model, STATES[target], tracking)

    def _valid(
        self, model: OrderModel, state: str | None, tracking: tuple[str, str] | None
    ) -> ErpRow:
        expect = apply_row(model, state, tracking)
        model.rows += 1
        return ErpRow(self._ref(), model.order_id, state, tracking, None, expect)

    def _unreadable_row(self, model: OrderModel) -> ErpRow:
        return ErpRow(
            self._ref(), model.order_id, "SentOrder", None, "no-id-column", "rejected"
        )

    def _mistake_row(
        self, free: list[OrderModel], named: list[int]
    ) -> tuple[ErpRow, int | None]:
        """A row with one mistake; the order it names (if real) becomes busy too."""
        rng = self.rng
        kind = rng.choice(tuple(m for m in MISTAKES if m != "returned-not-sent"))
        ref = self._ref()
        others = [m for m in free if m.order_id not in named]
        if kind == "id-text":
            return ErpRow(ref, None, "SentOrder", None, kind, "rejected"), None
        if kind == "id-scientific":
            return ErpRow(ref, None, "SentOrder", None, kind, "rejected"), None
        if kind == "id-unknown":
            order_id = UNKNOWN_ID_BASE + rng.randrange(9999)
            return ErpRow(ref, order_id, "OrderConfirm", None, kind, "rejected"), None
        if kind == "order-cancelled":
            cancelled = list(self.cancelled())
            if cancelled:
                order_id = rng.choice(cancelled)
                self.ledger.cancelled_touched.add(order_id)
                return ErpRow(
                    ref, order_id, "OrderConfirm", None, kind, "rejected"
                ), None
            kind = "state-unknown"
        if not others:
            return ErpRow(ref, None, "SentOrder", None, "id-text", "rejected"), None
        model = rng.choice(others)
        model.rows += 1
        if kind == "state-unknown":
            return ErpRow(
                ref, model.order_id, "Shiped", None, kind, "rejected"
            ), model.order_id
        tracking = (
            "JJDBROKEN",
            rng.choice(("htp://track.example/x", "not a url", "www.track.example/1")),
        )
        return ErpRow(
            ref, model.order_id, "SentOrder", tracking, "url-bad", "rejected"
        ), model.order_id

    # --- writing -------------------------------------------------------------------

    def _start_writer(self, file: ErpFile, *, copy: bool) -> None:
        name = file.copy_name if copy and file.copy_name else file.name
        seed = self.rng.randrange(1 << 30)
        thread = threading.Thread(
            target=self._write,
            args=(file, name, copy, random.Random(seed)),
            name=f"soak-erp-write-{name}",
            daemon=True,
        )
        if copy:
            file.copy_written = True  # claimed; `written` flags follow once on disk
        self._writers = [w for w in self._writers if w.is_alive()]
        self._writers.append(thread)
        thread.start()

    def _write(self, file: ErpFile, name: str, copy: bool, rng: random.Random) -> None:
        try:
            mode = "direct" if copy else file.mode
            drop_file(
                self.inbox,
                name,
                file.content,
                mode,
                rng,
                pause=self.settings.chunk_pause,
                halt=self._halt,
                on_retry=self._count_retry,
            )
        except Exception as exc:  # noqa: BLE001 - reported, the checker then sees a lost file
            self.errors.append(f"writing {name} failed: {type(exc).__name__}: {exc}")
        with self._lock:
            if not copy:
                file.written = True
                file.written_at = time.time()

    def _count_retry(self) -> None:
        with self._lock:
            self.ledger.write_retries += 1


# --- expectations -------------------------------------------------------------------


def apply_row(
    model: OrderModel, state: str | None, tracking: tuple[str, str] | None
) -> str:
    """Advance `model` by one valid row; return the outcome a correct bridge reports."""
    changed = False
    if state == RETURNED:
        if model.state != "SentOrder":
            raise AssertionError("a valid Returned row needs a sent order")
        model.state = PREPARING
        model.returns += 1
        return "applied"
    if tracking is not None and tuple(tracking) != tuple(model.tracking):
        model.tracking = tracking
        model.puts += 1
        changed = True
    if state is not None:
        here, there = STATES.index(model.state), STATES.index(state)
        for step in STATES[here + 1 : there + 1]:
            model.posts[step] += 1
            changed = True
        if there > here:
            model.state = state
    return "applied" if changed else "already-done"


# --- rendering ----------------------------------------------------------------------


def _id_cell(row: ErpRow, fmt: str, rng: random.Random) -> object:
    if row.mistake == "id-text":
        return f"ABC-{row.ref[1:]}"
    if row.mistake == "id-scientific":
        return "1.50E+04"
    if row.order_id is None:
        return ""
    if fmt == "xlsx":
        return row.order_id  # typed in: a number cell
    if rng.random() < 0.15:
        return f"{row.order_id}.0"  # what Excel makes of an id column
    return str(row.order_id)


def _state_cell(row: ErpRow, fmt: str) -> str:
    if row.state is None:
        return ""
    if fmt == "csv-cp1252":
        return _GERMAN_WORDS.get(row.state, row.state)
    return row.state


def render(file: ErpFile) -> bytes:
    """The file's bytes; the cells written are kept on each row for the checker."""
    rng = random.Random(file.name)
    if file.unreadable:
        header: tuple[str, ...] = _UNREADABLE_HEADER
        for row in file.rows:
            row.cells = [str(row.order_id), row.state or "", row.ref]
        return _csv_bytes(header, [r.cells for r in file.rows], "utf-8-sig", ",")
    for row in file.rows:
        code, url = row.tracking or ("", "")
        ref = row.ref if file.fmt != "csv-cp1252" else f"{row.ref} Müller–Lager"
        row.cells = [
            _id_cell(row, file.fmt, rng),
            _state_cell(row, file.fmt),
            code,
            url,
            ref,
        ]
    cells = [r.cells for r in file.rows]
    if file.fmt == "xlsx":
        return _xlsx_bytes(_XLSX_HEADER, cells)
    if file.fmt == "csv-cp1252":
        return _csv_bytes(_CSV_GERMAN[0], cells, "cp1252", ";")
    return _csv_bytes(_CSV_UTF8[0], cells, "utf-8-sig", ",")


def _csv_bytes(
    header: Sequence[str],
    rows: Sequence[Sequence[object]],
    encoding: str,
    delimiter: str,
) -> bytes:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue().encode(encoding)


def _xlsx_bytes(header: Sequence[str], rows: Sequence[Sequence[object]]) -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append(list(header))
    for row in rows:
        sheet.append([None if cell == "" else cell for cell in row])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def ref_of(cell: object) -> str:
    """The row reference in an ERP ref cell (the German files add a note after it)."""
    return str(cell).split(" ", 1)[0].strip()


# --- the file system side -------------------------------------------------------------


def drop_file(
    inbox: Path,
    name: str,
    data: bytes,
    mode: str,
    rng: random.Random,
    *,
    pause: tuple[float, float],
    halt: threading.Event,
    on_retry: Callable[[], None],
) -> None:
    """Put `data` into `inbox/name` the way `mode` says, waiting out inbox outages."""
    target = inbox / name
    if mode == "tmp-rename":
        temp = inbox / (name + ".tmp")
        _retrying(lambda: temp.write_bytes(data), halt, on_retry)
        _retrying(lambda: temp.replace(target), halt, on_retry)
        return
    if mode == "slow":
        _retrying(lambda: _write_slowly(target, data, rng, pause), halt, on_retry)
        return
    _retrying(lambda: target.write_bytes(data), halt, on_retry)


def _write_slowly(
    target: Path, data: bytes, rng: random.Random, pause: tuple[float, float]
) -> None:
    cuts = sorted(
        rng.sample(range(1, max(2, len(data))), min(len(data) - 1, rng.randint(2, 6)))
    )
    with target.open("xb") as handle:  # exclusive: never two writers on one name
        start = 0
        for cut in [*cuts, len(data)]:
            handle.write(data[start:cut])
            handle.flush()
            start = cut
            if cut < len(data):
                time.sleep(rng.uniform(*pause))


def _retrying(
    action: Callable[[], object], halt: threading.Event, on_retry: Callable[[], None]
) -> None:
    """Run `action`; while the inbox is away (FileNotFoundError) wait and try again."""
    deadline = time.monotonic() + 600
    while True:
        try:
            action()
            return
        except FileNotFoundError:
            if halt.is_set() or time.monotonic() > deadline:
                raise
            on_retry()
            time.sleep(0.1)


def finished_names(archive: Path, failed: Path) -> set[str]:
    """Names of files in `archive/*/` and `failed/` (where finished inbox files end)."""
    names: set[str] = set()
    with contextlib.suppress(FileNotFoundError):
        for day in os.scandir(archive):
            if day.is_dir():
                with contextlib.suppress(FileNotFoundError):
                    names.update(e.name for e in os.scandir(day.path))
    with contextlib.suppress(FileNotFoundError):
        names.update(e.name for e in os.scandir(failed))
    return names


def parse_outbox_csv(data: bytes) -> tuple[list[int], str | None]:
    """Order ids of an outbox file, and what is wrong with it if it is not whole."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return [], f"not UTF-8 ({exc})"
    if not text.endswith("\r\n"):
        return [], "does not end with a complete line"
    try:
        table = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        return [], f"not valid CSV ({exc})"
    if not table or tuple(table[0][:2]) != OUTBOX_HEADER_START:
        return [], "no header"
    width = len(table[0])
    ids: list[int] = []
    for number, row in enumerate(table[1:], start=2):
        if len(row) != width:
            return ids, f"row {number} has {len(row)} cells, the header {width}"
        try:
            order_id = int(row[0])
        except ValueError:
            return ids, f"row {number} has order id {row[0]!r}"
        if not ids or ids[-1] != order_id:
            ids.append(order_id)
    if not ids:
        return ids, "no rows"
    return sorted(set(ids)), None
