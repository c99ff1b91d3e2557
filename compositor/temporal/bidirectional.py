"""The pass in both directions of time, a window at a time: steady from the first frame, faithful, farm-ready.

Every output frame is a weighted average of the frames around it carried to it along the guide's flow, each
frame ``k`` steps away weighing ``strength^k`` times the flow's confidence along the way (the product of the
occlusion tests of the links it crossed). Two recursive sweeps give it without storing the neighbours: forward,
``D_t = 1 + a·m_t·warp(D_{t-1})`` and ``F_t = (p_t + a·m_t·warp(D_{t-1})·warp(F_{t-1})) / D_t`` (the running
weighted average of everything before, ``a`` the strength, ``m_t`` the trust of the link ``t-1 → t``); the same
backward in time (``B_t``, ``E_t``) with the forward flow; then ``out_t = (D_t·F_t + E_t·B_t - p_t) /
(D_t + E_t - 1)`` counts the frame itself once. That is a two-sided (zero-phase) exponential filter along the
motion paths:

- no lag: a causal filter is late on every slow change of the processed frames (a colour drifting with the
  content), and that lateness is PSNR lost without any steadiness gained. At equal E_warp the two-sided filter
  stays nearer the processed frames than the plain one-sided blend (bench/temporal_bench.py);
- no settling at the head of a cut: frame 1 leans on frames 2, 3, ... as frame 40 leans on 39 and 41;
- weights, not a fixed mix: where an object uncovers the background the weight starts again from 1 (only the
  frame itself), then grows as the flow follows it, so nothing ghosts in and nothing stays unsteady for long.

``detail < 1`` keeps that share of the processed frame's own fine texture (its difference from the average,
high-passed at ``lowpass`` pixels): fine texture costs fidelity most and steadiness least.

Windows: the cut is cut into windows of ``window`` frames; each is computed from its own frames plus ``context``
frames either side (where ``strength^context`` is negligible), so a window does not depend on any other's
result. A local run and a Dask cluster (``compositor.temporal.farm``) compute the same window with the same
pixels, and a join between windows is as steady as the inside of one.

Keyframe stylisation (``paint_every``): only every Nth frame (counted from the last painted), the last, and frames
where the flow says the scene changed are painted; every other frame is the paint of its two neighbouring keyframes carried along the flow,
each side weighted by its occlusion confidence and by nearness in time (the EbSynth / Rerender way): what one
keyframe cannot see (an object uncovered it) comes from the other.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from compositor.errors import SpecError
from compositor.spec.models import TemporalSettings
from compositor.temporal import kernels
from compositor.temporal.checks import _check_frames, _check_size, _count_mismatch
from compositor.temporal.flow import GuideFrame, LazyMotion, Motion, MotionAnalyser, moved, warp
from compositor.temporal.measure_behind import MeasureBehind
from compositor.temporal.metrics import _Tally
from compositor.temporal.motion_ahead import Analysed, MotionAhead

FLOOR = 1e-3
"""Weight a link keeps where its flow is not trusted, in paint mode: where neither keyframe sees a pixel, the
warped paint of both still fills it (instead of nothing)."""

NEGLIGIBLE = 5e-3
"""A frame weighing less than this (``strength^context``) is left out of a window's context."""

SCENE_CHANGE = 0.3
"""A link whose flow passes the occlusion test on fewer than this share of the pixels is a change of scene: the
pass does not cross it (and in paint mode the frame after it is painted)."""


def context_for(settings: TemporalSettings) -> int:
    """Frames of context either side of a window: ``settings.context``, or enough that a frame that far away
    weighs under ``NEGLIGIBLE`` (0 at strength 0); in paint mode at least ``paint_every``."""
    if settings.context > 0:
        n = settings.context
    elif settings.strength <= 0:
        n = 0
    else:
        n = math.ceil(math.log(NEGLIGIBLE) / math.log(settings.strength))
    return max(n, settings.paint_every)


def windows(total: int, settings: TemporalSettings) -> list[range]:
    """The cut's windows (0-based core frame ranges) for ``total`` frames, in order."""
    step = max(1, settings.window)
    return [range(s, min(s + step, total)) for s in range(0, total, step)]


def window_reads(core_start: int, core_stop: int, total: int, settings: TemporalSettings) -> tuple[int, int]:
    """The cut frames ``[first, stop)`` a window computed alone (on a farm) reads for the outputs of
    ``[core_start, core_stop)``: its context either side and the frame before the context, whose link into the
    context's first frame says whether the pass crosses it (a change of scene), as a run of the whole cut
    knows; that frame is not otherwise used."""
    context = context_for(settings)
    return max(0, core_start - context - 1), min(total, core_stop + context)


@dataclass
class _Item:
    """One frame of the cut as the window sweeps see it."""

    index: int
    frame: np.ndarray | None
    """The processed (or painted) frame; None for a frame not painted (paint mode)."""
    guide: GuideFrame | None
    """The guide frame as the flow needs it, until the motion to the next frame is known."""
    back: Motion | None = None
    """This frame from the one before (None for the cut's first)."""
    ahead: Motion | None = None
    """This frame from the one after (None for the cut's last)."""
    cut_before: bool = False
    """The pass does not cross the link from the frame before (a keyframe, a change of scene)."""
    keep: bool = False
    """A keyframe of ``keyframe_interval``: the frame passes through unchanged."""


class _Sweeper:
    """The per-window arithmetic: both sweeps and their combination, for one frame size."""

    def __init__(self, settings: TemporalSettings, analyser: MotionAnalyser, paint: bool):
        self.s = settings
        self.a = np.float32(1.0 if paint else settings.strength)
        self.paint = paint
        self.size = (analyser.width, analyser.height)
        self.small = analyser._small
        self.factor = max(1, int(settings.lowpass // 3))
        self.sigma = settings.lowpass / self.factor
        # The weights D are smooth: they are carried at flow resolution (a quarter of the pixels at HD).
        self.ones = np.ones((self.small[1], self.small[0]), np.float32)

    def _up(self, weight: np.ndarray) -> np.ndarray:
        """A weight at flow resolution, at full resolution."""
        if self.small == self.size:
            return weight
        return cv2.resize(weight, self.size, interpolation=cv2.INTER_LINEAR)

    def _weight(self, motion: Motion | LazyMotion, previous: np.ndarray) -> np.ndarray:
        """``a · m · warp(D_prev)`` at flow resolution: the weight the carried average has here (in paint mode
        with ``m`` at least ``FLOOR``)."""
        if isinstance(motion, LazyMotion):
            w, m = motion.warp_small(previous), motion.small_trust
        else:  # the still motion: nothing moved, everything trusted
            w, m = warp(previous, None), self.ones
        if self.paint:
            m = np.maximum(m, np.float32(FLOOR))
        cv2.multiply(w, m, dst=w, scale=float(self.a))
        return w

    def sweep(
        self,
        items: list[_Item],
        forward: bool,
        other: list[tuple[np.ndarray, np.ndarray] | None] | None = None,
        starts_at_end: bool = False,
        keep: list[bool] | None = None,
        down_to: int = 0,
    ) -> list[tuple[np.ndarray, np.ndarray] | None]:
        """``states`` as a list, the items ``keep`` says (all by default), None for the others (memory).
        ``down_to``: a backward sweep stops after that item (a state depends only on the items after it)."""
        out: list[tuple[np.ndarray, np.ndarray] | None] = [None] * len(items)
        for i, state in self.states(items, forward, other, starts_at_end, down_to):
            if keep is None or keep[i]:
                out[i] = state
        return out

    def states(
        self,
        items: list[_Item],
        forward: bool,
        other: list[tuple[np.ndarray, np.ndarray] | None] | None = None,
        starts_at_end: bool = False,
        down_to: int = 0,
    ) -> Iterator[tuple[int, tuple[np.ndarray, np.ndarray] | None]]:
        """Running weighted averages ``(S, D)`` per item, in time order (forward) or against it.

        ``other``: the other direction's sweep. Where this sweep starts at an end of the cut (its first item
        when ``starts_at_end``, or after a link it must not cross: a keyframe, a change of scene), the other
        sweep's average there stands in for the frames beyond the end, which do not exist (the reflection at
        the ends of a zero-phase filter): frames near an end get as much weight on that side as frames inside,
        and the head of a cut is as steady as its middle. Yields ``(item number, state)`` as it goes.
        """
        n = len(items)
        order = range(n) if forward else range(n - 1, down_to - 1, -1)
        prev: tuple[np.ndarray, np.ndarray] | None = None
        for i in order:
            item = items[i]
            crossing = item.cut_before if forward else (i + 1 < n and items[i + 1].cut_before)
            motion = item.back if forward else item.ahead
            own = item.frame
            at_end = crossing or (prev is None and starts_at_end)
            if other is not None and at_end and own is not None and other[i] is not None:
                prev = _mirrored(other[i])
                yield i, prev
                continue
            if prev is None or crossing or motion is None or (self.paint and own is not None):
                if own is None:  # an unpainted frame with nothing before it: no paint yet
                    prev = None
                else:
                    prev = (own, self.ones)
                yield i, prev
                continue
            carried = moved(prev[0], motion)
            w = self._weight(motion, prev[1])
            if own is None:
                # Paint mode between keyframes: the carried paint alone, its weight the confidence so far.
                prev = (carried, w)
            else:
                # own + (carried - own)·w/(1 + w): exactly the frame where what is carried equals it.
                prev = (kernels.carry(carried, self._up(w), own), w + np.float32(1.0))
            yield i, prev

    def combine(
        self,
        item: _Item,
        fwd: tuple[np.ndarray, np.ndarray] | None,
        bwd: tuple[np.ndarray, np.ndarray] | None,
        nearness: float = 0.5,
    ) -> np.ndarray:
        """The output frame from both sweeps (``nearness``: in paint mode, the share of the time weight the
        keyframe before gets)."""
        own = item.frame
        if item.keep and own is not None:
            return own.copy()
        if self.paint:
            if own is not None:
                return own.copy()
            sides = [(f, wt) for f, wt in ((fwd, nearness), (bwd, 1.0 - nearness)) if f is not None]
            num = np.zeros_like(sides[0][0][0])
            den = np.zeros_like(sides[0][0][1])
            for (s, d), wt in sides:
                dw = self._up(d) * np.float32(max(wt, 1e-6))
                num += s * dw[:, :, None]
                den += dw
            return _clip(num / np.maximum(den, np.float32(1e-30))[:, :, None])
        assert own is not None and fwd is not None and bwd is not None
        (f, df), (b, db) = fwd, bwd
        if df is self.ones and db is self.ones:
            return own.copy()  # nothing crossed from either side: the frame as it is, exactly
        # own + (D·(F - own) + E·(B - own)) / (D + E - 1): exactly the frame where both sides agree with it.
        df, db = self._up(df), self._up(db)
        if self.s.detail >= 1:
            return kernels.combine(f, df, b, db, own)
        out = kernels.combine(f, df, b, db, own, clip=False)
        residual = own - out
        out += np.float32(1 - self.s.detail) * (residual - self._low(residual))
        return _clip(out)

    def _low(self, image: np.ndarray) -> np.ndarray:
        """Gaussian low-pass of ``image`` at ``lowpass`` px, computed at 1/factor resolution."""
        w, h = self.size
        f = self.factor
        small = cv2.resize(image, (max(1, w // f), max(1, h // f)), interpolation=cv2.INTER_AREA)
        small = cv2.GaussianBlur(small, (0, 0), self.sigma, borderType=cv2.BORDER_REPLICATE)
        return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


def _mirrored(state: tuple[np.ndarray, np.ndarray] | None) -> tuple[np.ndarray, np.ndarray] | None:
    """A sweep's state at an end of the cut, as the other side's stand-in there (a new weight array: the
    combination must not take it for an unweighted frame)."""
    return None if state is None else (state[0], state[1] + np.float32(0.0))


def _clip(frame: np.ndarray) -> np.ndarray:
    """Into [0, 1], colour at most alpha (premultiplied)."""
    np.clip(frame, 0.0, 1.0, out=frame)
    np.minimum(frame[:, :, :3], frame[:, :, 3:4], out=frame[:, :, :3])
    return frame


def _is_cut(settings: TemporalSettings, index: int, motion: Motion | None) -> bool:
    """Whether the pass must not cross the link into frame ``index``."""
    if settings.keyframe_interval > 0 and index % settings.keyframe_interval == 0:
        return True
    return motion is not None and not motion.still and _valid_share(motion) < SCENE_CHANGE


def _valid_share(motion: Motion | LazyMotion) -> float:
    valid = motion.small_valid if isinstance(motion, LazyMotion) else motion.valid
    return cv2.countNonZero(valid) / valid.size


def _window_output(
    sweeper: _Sweeper, items: list[_Item], core: range, painted: list[int] | None = None, tail: bool = False
) -> Iterator[np.ndarray]:
    """The output frames of ``core`` (cut indices) from ``items`` (core plus context, consecutive; ``tail``:
    the last item is the cut's last frame), one at a time: the backward sweep is kept for the core, the
    forward sweep combined with it as it goes (memory: one direction of the window)."""
    first = items[0].index
    n = len(items)
    ends = [i == 0 or i == n - 1 for i in range(n)]
    for i in range(1, n):
        if items[i].cut_before:
            ends[i - 1] = ends[i] = True
    keep = [first + i in core or ends[i] for i in range(n)]
    reflect = painted is None  # keyframes of paint mode are ends that hold their own paint
    fwd_ends = None
    if reflect and (tail or any(item.cut_before for item in items[1:])):
        fwd_ends = sweeper.sweep(items, True, keep=ends)  # what the backward sweep reflects at the ends
    # The backward sweep stops at the first state used: the core's first, or an end the forward sweep reflects
    # (the context before the core is otherwise swept forward only).
    used = [core.start - first]
    if reflect:
        used += [i for i in range(n) if items[i].cut_before] + ([0] if first == 0 else [])
    bwd = sweeper.sweep(items, False, fwd_ends, tail and reflect, keep, down_to=max(0, min(used)))
    for i, state in sweeper.states(items, True, bwd if reflect else None, first == 0 and reflect):
        t = first + i
        if t not in core:
            continue
        nearness = 0.5
        if painted is not None:
            before = max((k for k in painted if k <= t), default=None)
            after = min((k for k in painted if k >= t), default=None)
            if before is not None and after is not None and after > before:
                nearness = (after - t) / (after - before)
        yield sweeper.combine(items[i], state, bwd[i], nearness)
        bwd[i] = None


def _run_windows(
    frames: Iterable[np.ndarray | None],
    guide: Iterable[np.ndarray],
    settings: TemporalSettings,
    tally: _Tally | None,
    names: tuple[str, str],
    painted: list[int] | None,
    start: int,
    stop: int | None,
    offset: int,
    total: int | None = None,
) -> Iterator[np.ndarray]:
    """``frames`` and ``guide`` begin at cut frame ``offset``; yields the outputs of cut frames ``start`` to
    ``stop`` (None: to the end of the streams), computing each window from ``context`` frames either side.
    ``total``: the cut's frame count, when the streams may end before the cut does (a window alone).

    The guide's motion is computed on a thread a window ahead (``MotionAhead``: the same arrays, the pass's
    second core), and ``tally`` fed on a thread behind (``MeasureBehind``): it is complete once this generator
    has ended (not at each frame it yields: read the tally after the loop that exhausts it)."""
    motions = MotionAhead(guide, settings, depth=max(1, settings.window))
    measure = MeasureBehind(tally) if tally is not None else None
    try:
        yield from _windows(frames, motions, settings, measure, names, painted, start, stop, offset, total)
        if measure is not None:
            measure.close()
    finally:
        if measure is not None:
            measure.abandon()
        motions.close()


def _windows(
    frames: Iterable[np.ndarray | None],
    guide: Iterable[Analysed],
    settings: TemporalSettings,
    measure: MeasureBehind | None,
    names: tuple[str, str],
    painted: list[int] | None,
    start: int,
    stop: int | None,
    offset: int,
    total: int | None = None,
) -> Iterator[np.ndarray]:
    """`_run_windows` with the guide frames as ``MotionAhead`` analysed them, each output handed to
    ``measure``."""
    context = context_for(settings)
    window = max(1, settings.window)
    frame_iter, guide_iter = iter(frames), iter(guide)
    buffer: list[_Item] = []
    analyser: MotionAnalyser | None = None
    sweeper: _Sweeper | None = None
    first_shape: Any = None
    ended = False
    n_read = 0
    core_start = start
    prev_out: np.ndarray | None = None
    prev_in: np.ndarray | None = None

    def read_one() -> bool:
        nonlocal analyser, sweeper, first_shape, n_read
        frame = next(frame_iter, _END)
        analysed = next(guide_iter, _END)
        if frame is _END or analysed is _END:
            if frame is not _END or analysed is not _END:
                raise _count_mismatch(names, n_read, frame is _END, analysed is _END)
            return False
        g = analysed.frame  # the frame, or its shape once the thread analysed it
        if frame is not None:
            frame = np.ascontiguousarray(frame, dtype=np.float32)
        if first_shape is None:
            _check_frames((g,) if frame is None else (frame, g), names if frame is not None else names[1:])
            first_shape = g
            h, w = g.shape[:2]
            analyser = MotionAnalyser.for_settings(w, h, settings)
            sweeper = _Sweeper(settings, analyser, painted is not None)
        else:
            if frame is not None:
                _check_size(frame, first_shape, names[0], n_read)
            _check_size(g, first_shape, names[1], n_read)
        assert analyser is not None
        item = _Item(offset + n_read, frame, None if analysed.done else analyser.prepare(g))
        interval = settings.keyframe_interval
        item.keep = item.cut_before = interval > 0 and item.index % interval == 0
        if buffer and buffer[-1].index == item.index - 1:
            prev = buffer[-1]
            if analysed.pair is not None:
                item.back, prev.ahead = analysed.pair
            else:
                assert prev.guide is not None and item.guide is not None
                item.back, prev.ahead = analyser.pair(prev.guide, item.guide)
            prev.guide = None  # its motion both ways is known: memory
            item.cut_before = item.cut_before or _is_cut(settings, item.index, item.back)
            if painted is not None and item.cut_before and item.frame is None:
                raise SpecError(
                    f"temporal.paint_every: frame {item.index + 1} follows a change of scene but was not painted "
                    "(paint the frames frames_to_paint lists)"
                )
        buffer.append(item)
        n_read += 1
        return True

    while True:
        core_stop = core_start + window if stop is None else min(core_start + window, stop)
        need = core_stop + context
        while not ended and (not buffer or buffer[-1].index < need - 1):
            if not read_one():
                ended = True
        last = buffer[-1].index if buffer else offset - 1
        core_stop = min(core_stop, last + 1)
        if core_stop <= core_start:
            return
        lo = max(offset, core_start - context)
        hi = min(last + 1, core_stop + context)
        items = [b for b in buffer if lo <= b.index < hi]
        assert sweeper is not None
        outs = _window_output(
            sweeper,
            items,
            range(core_start, core_stop),
            painted,
            ended and hi == last + 1 and total in (None, hi),
        )
        for t, out in zip(range(core_start, core_stop), outs):
            item = items[t - items[0].index]
            if measure is not None and item.frame is not None:
                linked = item.back is not None and prev_out is not None and prev_in is not None
                measure.frame(item.frame, out, (prev_in, prev_out, item.back) if linked else None)
            prev_out, prev_in = out, item.frame
            yield out
        del outs, items  # the window's states, before the next window reads its frames
        core_start = core_stop
        # Keep what the next window needs as context (and the last frame, for its link).
        keep_from = min(core_start - context, core_start - 1)
        buffer = [b for b in buffer if b.index >= keep_from]
        if stop is not None and core_start >= stop:
            return


_END = object()
