"""The pass's own measurement on a thread behind it: the pass's thread hands each output frame on and goes back
to its sweeps.

Measuring a frame (two warps along the guide's flow and the sums of ``_pair_stats``: about a quarter of the
pass's own work at 720p) needs only arrays the pass no longer changes (the input frame, the output frame, the
frame before each, the motion between them), so it runs beside the next frame's sweeps. One thread sums the
frames in their order, with the same calls: the figures are the same, bit for bit.
"""

from __future__ import annotations

import queue
import threading

import numpy as np

from compositor.temporal.flow import LazyMotion, Motion, moved
from compositor.temporal.metrics import _Tally

_END = object()


class MeasureBehind:
    """Feeds ``tally`` on a thread, at most ``depth`` frames behind; ``close`` waits for the last (and raises
    what measuring raised), ``abandon`` stops without it."""

    def __init__(self, tally: _Tally, depth: int = 2):
        self._tally = tally
        self._queue: queue.Queue = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._work, daemon=True, name="measure")
        self._thread.start()

    def frame(
        self,
        cur: np.ndarray,
        out: np.ndarray,
        prev: tuple[np.ndarray, np.ndarray, Motion | LazyMotion] | None,
    ) -> None:
        """Measure output ``out`` of input ``cur``; ``prev``: the input and output before and the motion from
        them to this frame (None for a frame with none before: its fidelity alone)."""
        self._raise()
        self._queue.put((cur, out, prev))

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            if item is _END:
                return
            if self._error is not None:
                continue
            cur, out, prev = item
            try:
                if prev is None:
                    self._tally.fidelity(out, cur)
                else:
                    prev_in, prev_out, back = prev
                    self._tally.frame(cur, out, moved(prev_in, back), moved(prev_out, back), back.valid)
            except BaseException as e:  # noqa: BLE001 - raised in the pass's thread by frame() or close()
                self._error = e

    def _raise(self) -> None:
        if self._error is not None:
            raise self._error

    def close(self) -> None:
        """Every frame handed on measured (the tally complete); raises what measuring raised."""
        self._queue.put(_END)
        self._thread.join()
        self._raise()

    def abandon(self) -> None:
        """Stop after the frames already handed on, quiet (the pass stopped early or failed)."""
        if self._thread.is_alive():
            self._queue.put(_END)
            self._thread.join()
