"""The guide's motion computed on a thread, ahead of the sweeps: the pass's second core.

The flow (OpenCV DIS releases the GIL) and the occlusion test (a numba kernel compiled ``nogil``) of the next
frames run while the pass sweeps the current window, so a window's sweeps never wait for its flow. The motion is
the very arrays the pass would compute itself (the same ``MotionAnalyser`` calls on the same frames): the output
does not change.

Errors stay where they were: a guide frame the thread cannot analyse (not RGBA, another size) is handed on as it
is and the pass analyses it itself, raising the one-line error it always raised; an error reading the guide is
raised when the pass reaches that frame.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from compositor.spec.models import TemporalSettings
from compositor.temporal.flow import GuideFrame, Motion, MotionAnalyser
from compositor.temporal.prefetch import _Prefetch


@dataclass(frozen=True)
class _Shape:
    """Stands for a guide frame in the pass's size checks (which read its shape only): the thread drops the
    frame itself once analysed (memory)."""

    shape: tuple[int, ...]

    @property
    def ndim(self) -> int:
        return len(self.shape)


@dataclass
class Analysed:
    """One guide frame as the pass takes it: ``frame``, the frame itself where the thread did not analyse it
    (the pass does), else its ``_Shape``; ``pair``, the motion both ways to the frame before (None for the
    first, or where not analysed). Only the motion is kept (memory: the queue holds a window of these)."""

    frame: np.ndarray | _Shape
    pair: tuple[Motion, Motion] | None = None

    @property
    def done(self) -> bool:
        """The thread analysed this frame (and the frames before it)."""
        return isinstance(self.frame, _Shape)


def _analyse(guide: Iterable[np.ndarray], settings: TemporalSettings) -> Iterator[Analysed]:
    analyser: MotionAnalyser | None = None
    first: tuple[int, ...] | None = None
    prev: GuideFrame | None = None
    passing_on = False  # after a frame it could not analyse: the rest go to the pass as they are
    for g in guide:
        g = np.ascontiguousarray(g, dtype=np.float32)
        if not passing_on and first is None:
            if g.ndim != 3 or g.shape[2] != 4:
                passing_on = True
            else:
                first = g.shape
                analyser = MotionAnalyser.for_settings(g.shape[1], g.shape[0], settings)
        if passing_on or g.shape != first:
            passing_on = True
            yield Analysed(g)
            continue
        assert analyser is not None
        here = analyser.prepare(g)
        pair = analyser.pair(prev, here) if prev is not None else None
        prev = here
        yield Analysed(_Shape(g.shape), pair)


class MotionAhead:
    """``Analysed`` guide frames, computed on a thread up to ``depth`` frames ahead; ``close`` stops it."""

    def __init__(self, guide: Iterable[np.ndarray], settings: TemporalSettings, depth: int):
        self._prefetch = _Prefetch(_analyse(guide, settings), depth=max(1, depth))

    def __iter__(self) -> Iterator[Analysed]:
        return iter(self._prefetch)

    def close(self) -> None:
        self._prefetch.close()
