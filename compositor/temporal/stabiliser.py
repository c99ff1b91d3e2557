"""The pass: the per-frame stabiliser, and ``deflicker``, which streams frames and guide through it."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import cv2
import numpy as np

from compositor.spec.models import TemporalSettings
from compositor.temporal.checks import _check_frames, _check_size, _count_mismatch
from compositor.temporal.flow import Motion, MotionAnalyser, warp
from compositor.temporal.kernels import HAVE_NUMBA, _np_blend, _np_correction_sums, _pair_stats
from compositor.temporal.metrics import _Tally
from compositor.temporal.prefetch import _Prefetch

if HAVE_NUMBA:
    from compositor.temporal.kernels import _blend_kernel, _correction_sums

DEFAULT_SETTINGS = TemporalSettings()


class _Stabiliser:
    """The per-frame step of the pass; holds only the previous input and output (streaming)."""

    def __init__(self, settings: TemporalSettings, width: int, height: int):
        self.s = settings
        self.prev_in: np.ndarray | None = None
        self.prev_out: np.ndarray | None = None
        self.index = 0
        self.factor = max(1, int(settings.lowpass // 3))
        f = self.factor
        self.small = (-(-height // f), -(-width // f))
        # Pixels per low-pass cell (the last row and column of cells may be partial).
        counts = np.zeros((self.small[0] * f, self.small[1] * f), np.float32)
        counts[:height, :width] = 1
        self.counts = counts.reshape(self.small[0], f, self.small[1], f).sum(axis=(1, 3))
        self.sigma = settings.lowpass / f
        self.zeros: np.ndarray | None = None

    def step(self, cur: np.ndarray, motion: Motion | None, tally: _Tally | None) -> np.ndarray:
        s = self.s
        keyframe = self.prev_out is None or (
            s.keyframe_interval > 0 and self.index % s.keyframe_interval == 0
        )
        measure = tally is not None and motion is not None and self.prev_in is not None
        warped_in = warp(self.prev_in, motion.sample_at) if measure else None
        if keyframe or s.strength == 0:
            out = cur.copy()
            if measure:
                tally.frame(cur, out, warped_in, warp(self.prev_out, motion.sample_at), motion.valid)
            elif tally is not None:
                tally.fidelity(out, cur)
        else:
            assert motion is not None
            out, stats = self._blend(cur, warp(self.prev_out, motion.sample_at), motion, warped_in)
            if tally is not None and stats is not None:
                tally.add_stats(out, *stats)
        self.prev_in, self.prev_out = cur, out
        self.index += 1
        return out

    def _low(self, cur: np.ndarray, warped: np.ndarray, trust: np.ndarray) -> np.ndarray:
        """The trust-weighted low-pass of ``warped - cur`` (normalised convolution), at full resolution.

        Where under ~5% of the neighbourhood is trusted the correction fades to 0: nothing is invented.
        """
        sums = np.zeros(self.small + (5,), np.float32)
        if HAVE_NUMBA:
            _correction_sums(cur, warped, trust, self.factor, sums)
        else:
            _np_correction_sums(cur, warped, trust, self.factor, sums)

        def blur(a: np.ndarray) -> np.ndarray:
            return cv2.GaussianBlur(
                np.ascontiguousarray(a), (0, 0), self.sigma, borderType=cv2.BORDER_REPLICATE
            )

        values, weights = blur(sums[:, :, :4]), blur(sums[:, :, 4])
        floor = blur(self.counts) * np.float32(0.05)
        low = values / np.maximum(weights, floor)[:, :, None]
        h, w = cur.shape[:2]
        return cv2.resize(low, (w, h), interpolation=cv2.INTER_LINEAR)

    def _blend(
        self, cur: np.ndarray, warped: np.ndarray, motion: Motion, warped_in: np.ndarray | None
    ) -> tuple[np.ndarray, tuple[float, float, float, int] | None]:
        """The output frame, and (when ``warped_in`` is given) the measurements of ``_pair_stats`` with it."""
        s = self.s
        strength = np.float32(s.strength)
        if s.occlusion:
            low = self._low(cur, warped, motion.trust)
            k = np.float32(s.strength * s.detail)
        else:  # the naive baseline: (1 - s)·cur + s·warped everywhere
            if self.zeros is None:
                self.zeros = np.zeros_like(cur)
            low, k = self.zeros, strength
        out = np.empty_like(cur)
        measure = warped_in is not None
        if HAVE_NUMBA:
            stats = _blend_kernel(
                cur, warped, low, motion.trust, strength, k, out,
                warped_in if measure else cur, motion.valid, measure,
            )  # fmt: skip
            return out, stats if measure else None
        _np_blend(cur, warped, low, motion.trust, strength, k, out)
        return out, _pair_stats(cur, out, warped_in, warped, motion.valid) if measure else None


def deflicker(
    frames: Iterable[np.ndarray],
    guide: Iterable[np.ndarray],
    settings: TemporalSettings = DEFAULT_SETTINGS,
    qc: dict | None = None,
) -> Iterator[np.ndarray]:
    """Make a flickering sequence temporally consistent, using the guide's motion.

    ``frames`` and ``guide``: premultiplied float32 RGBA ``(H, W, 4)`` of the same size and count (any
    iterables, consumed lazily: the input a frame at a time, the guide up to three frames ahead on a worker
    thread that works out its motion). Yields one output frame per input frame, of the same shape, as soon as
    it is made. ``qc``: a dict that, once the last frame is out, holds ``measure``'s figures
    for this run (E_warp of input and output, PSNR, frames) from the same flow - no second pass. Raises
    ``SpecError`` (one line) for different sizes or counts. The pass keeps the previous input and output frame
    as its reference: do not modify a frame in place after passing it in or receiving it.
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
) -> Iterator[np.ndarray]:
    names = (input_name, guide_name)
    frame_iter, guide_iter = iter(frames), iter(guide)
    first, first_guide = next(frame_iter, None), next(guide_iter, None)
    if first is None or first_guide is None:
        if first is not None or first_guide is not None:
            raise _count_mismatch(names, 0, first is None, first_guide is None)
        return
    _check_frames((first, first_guide), names)
    h, w = first.shape[:2]
    analyser = MotionAnalyser(w, h, settings.flow, settings.flow_scale, settings.occlusion)
    stabiliser = _Stabiliser(settings, w, h)
    # The guide's motion is worked out on a thread, a frame or two ahead (OpenCV releases the GIL): on two
    # cores the flow of the next frame runs beside the blend of this one.
    motions = _Prefetch(_motions(analyser, first_guide, guide_iter, names), depth=2)
    try:
        motion_iter = iter(motions)
        cur: np.ndarray | None = first
        n = 0
        while cur is not None:
            motion = next(motion_iter, _END)
            if motion is _END:
                raise _count_mismatch(names, n, False, True)
            if n:
                _check_size(cur, first, input_name, n)
            yield stabiliser.step(np.ascontiguousarray(cur, dtype=np.float32), motion, tally)
            n += 1
            cur = next(frame_iter, None)
        if next(motion_iter, _END) is not _END:
            raise _count_mismatch(names, n, True, False)
    finally:
        motions.close()


_END = object()


def _motions(
    analyser: MotionAnalyser, first: np.ndarray, rest: Iterator[np.ndarray], names: tuple[str, str]
) -> Iterator[Motion | None]:
    """The motion of each guide frame from the one before (None for the first)."""
    prev = analyser.prepare(np.ascontiguousarray(first, dtype=np.float32))
    yield None
    for n, g in enumerate(rest, start=1):
        _check_size(g, first, names[1], n)
        here = analyser.prepare(np.ascontiguousarray(g, dtype=np.float32))
        yield analyser(prev, here)
        prev = here
