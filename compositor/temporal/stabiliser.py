"""The pass: ``deflicker``, which streams frames and guide through the two-sided pass a window at a time."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np

from compositor.spec.models import TemporalSettings
from compositor.temporal.bidirectional import _run_windows
from compositor.temporal.metrics import _Tally
from compositor.temporal.prefetch import _Prefetch

DEFAULT_SETTINGS = TemporalSettings()


def deflicker(
    frames: Iterable[np.ndarray],
    guide: Iterable[np.ndarray],
    settings: TemporalSettings = DEFAULT_SETTINGS,
    qc: dict | None = None,
) -> Iterator[np.ndarray]:
    """Make a flickering sequence temporally consistent, using the guide's motion.

    ``frames`` and ``guide``: premultiplied float32 RGBA ``(H, W, 4)`` of the same size and count (any
    iterables, consumed lazily: a window of frames and its context at a time, so memory does not grow with the
    cut). Yields one output frame per input frame, of the same shape, a window at a time. ``qc``: a dict that, once the last frame is out, holds ``measure``'s figures
    for this run (E_warp of input and output, PSNR, frames) from the same flow - no second pass. Raises
    ``SpecError`` (one line) for different sizes or counts. The pass keeps the frames of its window as its
    reference: do not modify a frame in place after passing it in or receiving it.
    """
    tally = _Tally() if qc is not None else None
    yield from _run(frames, guide, settings, tally)
    if qc is not None and tally is not None:
        qc.update(tally.result())


def _run(
    frames: Iterable[np.ndarray],
    guide: Iterable[np.ndarray],
    settings: TemporalSettings,
    tally: _Tally | None,
    input_name: str = "the input",
    guide_name: str = "the guide",
    start: int = 0,
    offset: int = 0,
    stop: int | None = None,
    total: int | None = None,
) -> Iterator[np.ndarray]:
    """The pass over whole streams, a window at a time (``compositor.temporal.bidirectional``); the guide is
    read on a thread beside it. ``frames`` and ``guide`` begin at cut frame ``offset``; the outputs are cut
    frames ``start`` (a window's first: ``window_reads`` says which ``offset`` it needs) to ``stop`` (None: to
    the streams' end; else the streams end at ``window_reads``'s end, before the cut's ``total`` frames)."""
    guides = _Prefetch(iter(guide), depth=2)
    try:
        yield from _run_windows(
            frames, guides, settings, tally, (input_name, guide_name), None, start, stop, offset, total
        )
    finally:
        guides.close()
