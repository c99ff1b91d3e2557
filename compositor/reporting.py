"""How the commands report what they do, for people: progress while it happens, a record of each run after.

- On a terminal of its own, a progress bar per task with frames/s and the time left.
- Elsewhere (make's log, a CI log) or on a terminal that ``make -j`` shares between several commands, whole
  lines: one when a task starts, one every few seconds, one when it ends. A line is written at once, so two
  commands side by side interleave lines, never characters.
- Each ``compositor render`` records what it did in ``render/<cut>/<cut>.run.json`` (and the screening cut in
  ``render/<edit>.run.json``); ``compositor cut``, the last step of ``make``, prints them as one table.

Timings live in these records and the logs only: keys, manifests and QC records hold what decides pixels.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

if TYPE_CHECKING:
    from compositor.spec import Shot
    from compositor.steps.composite import CutResult

LINE_INTERVAL = 5.0
"""Seconds between two progress lines of one task in a log."""

MAKE_STARTED = "MAKE_STARTED"
"""The environment variable the Makefile sets to the time ``make`` started (seconds since the epoch)."""


def under_parallel_make(environ: dict[str, str] | None = None) -> bool:
    """True under ``make -jN`` (N > 1): make runs other commands beside this one, on the same terminal."""
    flags = (environ if environ is not None else os.environ).get("MAKEFLAGS", "")
    words = flags.split()
    if any(w.startswith("--jobserver") for w in words):
        return True
    # MAKEFLAGS starts with the single-letter flags run together ("j" or "rj"), then -jN in some makes.
    return any(w.startswith("-j") or (not w.startswith("-") and "=" not in w and "j" in w) for w in words)


def describe_rate(done: int, total: int, rate: float) -> str:
    """``"24/48 (50%), 12.3/s, 0:02 left"``: a progress line's figures, ``rate`` items a second."""
    percent = 100 * done // total if total else 100
    text = f"{done}/{total} ({percent}%)"
    if rate > 0:
        left = (total - done) / rate
        text += f", {rate:.1f}/s, {int(left) // 60}:{int(left) % 60:02d} left"
    return text


class _RateColumn(ProgressColumn):
    """Items a second, as a progress bar column."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text("" if speed is None else f"{speed:.1f}/s", style="progress.data.speed")


class LineProgress:
    """Progress as whole lines on ``out``: a task's name and size when it starts, its figures every
    ``interval`` seconds while it runs, and once when it is done."""

    def __init__(
        self, out: TextIO, interval: float = LINE_INTERVAL, clock: Callable[[], float] = time.monotonic
    ):
        self.out = out
        self.interval = interval
        self.clock = clock
        self.started: dict[str, tuple[float, int]] = {}
        self.last: dict[str, float] = {}
        self.finished: set[str] = set()

    def _line(self, text: str) -> None:
        self.out.write(text + "\n")
        self.out.flush()

    def __call__(self, description: str, done: int, total: int) -> None:
        now = self.clock()
        if description not in self.started:
            self.started[description] = (now, done)
            self.last[description] = now
            self._line(f"{description} ({total})")
        if description in self.finished:
            return
        if done >= total:
            self.finished.add(description)
        elif now - self.last[description] < self.interval:
            return
        self.last[description] = now
        since, first = self.started[description]
        rate = (done - first) / (now - since) if now > since else 0.0
        self._line(f"{description}: {describe_rate(done, total, rate)}")


@contextmanager
def progress_reporter(console: Console, announce: bool = True) -> Iterator[Callable[[str, int, int], None]]:
    """``update(description, done, total)``: a rich bar per task on ``console`` when it is a terminal of this
    command's own, whole lines on stdout otherwise (with ``announce``; without it, nothing: stdout carries data)."""
    if not console.is_terminal or under_parallel_make():
        lines = LineProgress(sys.stdout)
        yield lines if announce else (lambda description, done, total: None)
        return
    tasks: dict[str, int] = {}
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        _RateColumn(),
        TimeElapsedColumn(),
        TextColumn("left"),
        TimeRemainingColumn(),
        console=console,
        transient=False,
    ) as bar:

        def update(description: str, done: int, total: int) -> None:
            if description not in tasks:
                tasks[description] = bar.add_task(description, total=total)
            bar.update(tasks[description], completed=done, total=total)

        yield update


@dataclass
class RunRecord:
    """What one run of a command did to a cut (or to the screening cut) and how long it took."""

    name: str
    finished: float
    """When it ended, seconds since the epoch."""
    seconds: float
    composited: int = 0
    frames: int = 0
    segments: int = 0
    outputs: list[str] = field(default_factory=list)

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), indent=2).encode()

    @classmethod
    def read(cls, path: Path) -> RunRecord | None:
        """The record at ``path``; None when there is none or it is not a record (a record only informs)."""
        try:
            data = json.loads(path.read_bytes())
            return cls(**data)
        except (OSError, ValueError, TypeError):
            return None


def summary_table(cuts: list[RunRecord], edit: RunRecord | None, fresh: int) -> Table:
    """The table ``make`` ends with: each cut made in this run (frames composited of the cut's, movie
    segments encoded, seconds), the screening cut, totals, and how many cuts were already up to date."""
    table = Table(title="made in this run", title_justify="left", show_footer=True)
    table.add_column("cut", footer="total")
    table.add_column("frames composited", justify="right", footer=f"{sum(r.composited for r in cuts)}")
    table.add_column("of", justify="right", footer=f"{sum(r.frames for r in cuts)}")
    table.add_column("segments", justify="right", footer=f"{sum(r.segments for r in cuts)}")
    seconds = sum(r.seconds for r in cuts) + (edit.seconds if edit else 0.0)
    table.add_column("seconds", justify="right", footer=f"{seconds:.1f}")
    for r in cuts:
        table.add_row(r.name, f"{r.composited}", f"{r.frames}", f"{r.segments}", f"{r.seconds:.1f}")
    if edit is not None:
        table.add_row(f"{edit.name} (screening cut)", "", "", "", f"{edit.seconds:.1f}")
    if fresh:
        table.caption = f"{fresh} cut{'s' if fresh != 1 else ''} already up to date"
        table.caption_justify = "left"
    return table


def record_run(path: Path, record: RunRecord) -> None:
    """Write a run's record (``render/<cut>/<cut>.run.json``), replacing the last one."""
    from compositor.core.io import ensure_folder, write_bytes_atomic  # noqa: PLC0415

    ensure_folder(path.parent)
    write_bytes_atomic(path, record.to_json())


def cut_record(shot: Shot, result: CutResult, seconds: float) -> RunRecord | None:
    """The record of a render of ``shot`` that made ``result`` in ``seconds``; None when it made nothing (a
    check that found the cut fresh is not a run worth a line in the table)."""
    if not result.composited and not result.segments:
        return None
    outputs = [shot.production.rel(m) for m in result.movies]
    return RunRecord(shot.name, time.time(), seconds, len(result.composited), shot.frames, result.segments, outputs)


def made_since(records: dict[str, RunRecord | None], since: float) -> tuple[list[RunRecord], int]:
    """The records of runs that ended at or after ``since``, in the given order, and how many cuts had none."""
    made = [r for r in records.values() if r is not None and r.finished >= since]
    return made, len(records) - len(made)


def run_started() -> float | None:
    """When the ``make`` this command runs under started (None outside make)."""
    value = os.environ.get(MAKE_STARTED, "")
    try:
        return float(value)
    except ValueError:
        return None
