"""The temporal-consistency pass: steadies a background that was generated or stylised frame by frame.

This is *blind video temporal consistency* (Bonneel et al. 2015; Lai et al. 2018): the flickering result ``P``
is made consistent using the motion of a guide video ``G`` whose motion can be trusted (the filmed plate, the
layout animation, the un-stylised source), never the motion of ``P`` itself.

For every frame ``t`` the guide gives

- dense optical flow (OpenCV DIS or Farneback) backward ``b_t`` (t → t-1) and forward ``f_{t-1}`` (t-1 → t),
  computed on the guide's luminance at reduced resolution (by default 360 to 720 px tall) and upscaled;
- Lai et al.'s non-occlusion mask ``M_t``: the forward–backward check (Sundaram et al. 2010, Ruder et al.
  2016) ``|b + f(x + b)|² ≤ 0.01 (|b|² + |f(x + b)|²) + 0.5``, no motion boundary
  (``|∇u|² + |∇v|² ≤ 0.01 |b|² + 0.002``) and the sample inside the frame;
- for the blend only, a soft *trust*: ``M_t`` eroded by a pixel, times a per-pixel photometric check on the
  guide (does ``G_{t-1}``, warped, look like ``G_t`` here?).

The output is a recursive filter along the motion paths::

    d    = warp(O_{t-1}, b_t) - P_t                             the previous output's say, minus this frame
    low  = trust-weighted low-pass of d (normalised convolution)  the colour / exposure / blotch difference
    O_t  = P_t + s·low + s·detail·trust·(d - low)

In trusted pixels with ``detail = 1`` this is the running average ``(1-s)·P_t + s·warp(O_{t-1})``; where the
flow is not trusted (occlusions, disocclusions, motion boundaries, guide mismatch) only the smooth colour
correction learnt from the trusted surroundings is applied, so that the frame keeps its own detail there and
nothing is dragged in from the wrong place (no ghosts), while its colour still matches its neighbours.
A strength ``s < 1`` makes the filter forget geometrically (a frame k frames back weighs ``s^k``), which
bounds drift whatever the cut's length; keyframes (every ``keyframe_interval`` frames) pass the input through
unchanged and restart the recursion, so that a long cut can also be rendered in chunks that start on
keyframes, with the same pixels.

Quality is measured as Lai et al. define it: the warping error
``E_warp = 1/(T-1) Σ_t Σ_x M_t(x) ‖V_t(x) - warp(V_{t-1}, b_t)(x)‖² / (3 Σ_x M_t(x))`` on RGB in [0, 1],
with the guide's flow and mask (computed once per frame pair, shared by the pass and both measurements);
fidelity is the PSNR of the output against the input over all frames.

All frames are premultiplied float32 RGBA ``(H, W, 4)``; everything streams (memory does not grow with the
number of frames). The per-pixel work is done by fused kernels, compiled with numba where it is installed and
plain numpy otherwise (the same arithmetic; the tests hold the two within 1e-6).
"""

from __future__ import annotations

import math
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from compositor.errors import CompositorError, RenderError, SpecError
from compositor.core.io import FrameSource, write_image

try:  # numba is an accelerator, not a requirement: the numpy versions below compute the same
    import numba

    HAVE_NUMBA = True
except ImportError:  # pragma: no cover - exercised where numba is not installed
    numba = None
    HAVE_NUMBA = False

FLOW_METHODS = ("dis_ultrafast", "dis_fast", "dis_medium", "farneback")
"""Flow estimators on offer; ``bench/flow_presets.py`` measures their end-point error and speed."""

DEFAULT_FLOW = "dis_fast"
"""The pass's and the measurements' flow: at half resolution (720p) as accurate as ``dis_medium`` at a
quarter, for a fifth of ``dis_medium``'s time at half (bench/flow_presets.py, bench/temporal_bench.py)."""

_DIS_PRESETS = {
    "dis_ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST,
    "dis_fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
    "dis_medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM,
}

AUTO_FLOW_HEIGHT = 360
"""With ``flow_scale = 0`` the guide is halved while its shorter side stays at least this many pixels."""

PSNR_CAP = 100.0
"""PSNR reported for identical sequences (instead of infinity, which JSON cannot hold)."""

OPAQUE = 1.0 - 1e-5
"""Alpha at or above this counts as 1 (resampling a constant 1 can give 0.99999994)."""


@dataclass(frozen=True)
class TemporalSettings:
    """How the temporal pass runs; the defaults are what the benchmarks chose (bench/temporal_bench.py).

    strength: weight of the motion-compensated previous output, 0 (off) to below 1. The filter's memory is
        about ``1 / (1 - strength)`` frames.
    flow: one of ``FLOW_METHODS``.
    keyframe_interval: every N frames the input passes through unchanged and the recursion restarts from it
        (0: only at the first frame). Bounds drift; chunks that start on a keyframe render identically.
    flow_scale: the guide is resized by this factor for the flow, which is then upscaled; 0 chooses it from
        the frame size (halving while the shorter side stays >= ``AUTO_FLOW_HEIGHT``: 0.5 at 1280x720 and
        1920x1080, 1 at 854x480).
    detail: how much of the fine-detail difference is steadied where the flow is trusted, 0 (colour and low
        frequencies only: the frame's own texture is kept) to 1 (the full running average along the flow).
    occlusion: use the forward–backward, motion-boundary and photometric checks. False gives the naive running
        average of warped frames that trusts the flow everywhere (for comparison only).
    lowpass: size in pixels (Gaussian sigma at full resolution) of the colour correction's low-pass.
    """

    strength: float = 0.8
    flow: str = DEFAULT_FLOW
    keyframe_interval: int = 0
    flow_scale: float = 0.0
    detail: float = 0.85
    occlusion: bool = True
    lowpass: float = 24.0

    def __post_init__(self) -> None:
        if self.flow not in FLOW_METHODS:
            raise SpecError(
                f"temporal.flow: unknown flow method {self.flow!r} (have: {', '.join(FLOW_METHODS)})"
            )
        if not 0 <= self.strength < 1:
            raise SpecError(f"temporal.strength: {self.strength} must be in [0, 1)")
        if self.keyframe_interval < 0:
            raise SpecError(f"temporal.keyframe_interval: {self.keyframe_interval} must be 0 or more")
        if not 0 <= self.flow_scale <= 1:
            raise SpecError(f"temporal.flow_scale: {self.flow_scale} must be in [0, 1] (0: automatic)")
        if not 0 <= self.detail <= 1:
            raise SpecError(f"temporal.detail: {self.detail} must be in [0, 1]")
        if self.lowpass <= 0:
            raise SpecError(f"temporal.lowpass: {self.lowpass} must be positive")


def flow_scale_for(width: int, height: int, flow_scale: float = 0.0) -> float:
    """The factor the guide is resized by for the flow: ``flow_scale``, or the automatic choice for 0."""
    if flow_scale > 0:
        return flow_scale
    scale = 1.0
    while min(width, height) * scale / 2 >= AUTO_FLOW_HEIGHT:
        scale /= 2
    return scale


# ----------------------------------------------------------------------------------------------------------------
# Optical flow


class FlowEstimator:
    """Dense optical flow between two grey ``uint8`` images ``(h, w)``.

    ``estimator(a, b)`` returns ``(h, w, 2)`` float32 ``(dx, dy)`` in pixels such that
    ``a(x) ≈ b(x + flow(x))``. Keeps one OpenCV object per instance: not for use by two threads at once.
    """

    def __init__(self, method: str = DEFAULT_FLOW):
        if method not in FLOW_METHODS:
            raise SpecError(
                f"temporal.flow: unknown flow method {method!r} (have: {', '.join(FLOW_METHODS)})"
            )
        self.method = method
        self._dis = cv2.DISOpticalFlow.create(_DIS_PRESETS[method]) if method in _DIS_PRESETS else None

    def __call__(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        if self._dis is not None:
            return self._dis.calc(a, b, None)
        levels = max(1, min(5, int(math.log2(max(8, min(a.shape))) - 3)))
        return cv2.calcOpticalFlowFarneback(a, b, None, 0.5, levels, 15, 3, 5, 1.2, 0)


def flow_grey(frame: np.ndarray, scale: float = 1.0) -> np.ndarray:
    """``uint8`` luminance of premultiplied RGBA ``(H, W, 4)`` (as over black), resized by ``scale``."""
    return _small_grey(_luminance(frame), scale)


def _luminance(frame: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(np.ascontiguousarray(frame, dtype=np.float32), cv2.COLOR_RGBA2GRAY)


def _scaled(w: int, h: int, scale: float) -> tuple[int, int]:
    return max(8, round(w * scale)), max(8, round(h * scale))


def _small_grey(grey: np.ndarray, scale: float) -> np.ndarray:
    if scale != 1.0:
        h, w = grey.shape
        grey = cv2.resize(grey, _scaled(w, h, scale), interpolation=cv2.INTER_AREA)
    return cv2.convertScaleAbs(grey, alpha=255.0)


_CROSS = cv2.getStructuringElement(cv2.MORPH_CROSS, (3, 3))


def _grid(h: int, w: int) -> np.ndarray:
    xs, ys = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    return np.dstack([xs, ys])


def warp(image: np.ndarray, sample_at: np.ndarray | None) -> np.ndarray:
    """Backward warp: ``out(x) = image(sample_at(x))``, bilinear, edges repeated.

    ``image`` is ``(h, w)`` or ``(h, w, c)``; ``sample_at`` ``(H, W, 2)`` float32 absolute coordinates
    (``grid + flow``), or None for the identity (a copy of ``image``).
    """
    if sample_at is None:
        return image.copy()
    return cv2.remap(image, sample_at, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


@dataclass(frozen=True)
class GuideFrame:
    """A guide frame as the motion analysis uses it: ``small``, ``uint8`` luminance at flow resolution
    ``(h, w)``, for the flow; ``full``, float32 luminance ``(H, W)``, for the per-pixel photometric check."""

    small: np.ndarray
    full: np.ndarray


@dataclass
class Motion:
    """How frame ``t`` relates to frame ``t-1`` of the guide, at full resolution ``(H, W)``.

    sample_at: ``(H, W, 2)`` float32 where each pixel of ``t`` was in ``t-1`` (None: nothing moved).
    valid: ``(H, W)`` ``uint8`` 1 where the flow passes the forward–backward, motion-boundary and in-frame
        checks (Lai et al.'s non-occlusion mask, used for E_warp).
    trust: ``(H, W)`` float32 soft confidence in [0, 1] for the blend (``valid`` eroded, times the photometric
        check on the guide); all ones when occlusion handling is off.
    """

    sample_at: np.ndarray | None
    valid: np.ndarray
    trust: np.ndarray


@dataclass
class MotionAnalyser:
    """Turns consecutive guide frames into ``Motion``: flow backward and forward, checks, upscaling.

    ``flow_scale`` 0 is the automatic choice (``flow_scale_for``). ``occlusion=False`` trusts the flow
    everywhere (the naive baseline); ``valid`` is Lai's mask either way.
    """

    width: int
    height: int
    flow: str = DEFAULT_FLOW
    flow_scale: float = 0.0
    occlusion: bool = True
    photometric: tuple[float, float] = (0.06, 0.16)
    """Guide luminance difference (0-1) below which the flow is fully trusted, and above which not at all."""
    _flow: FlowEstimator = field(init=False)

    def __post_init__(self) -> None:
        self._flow = FlowEstimator(self.flow)
        self.flow_scale = flow_scale_for(self.width, self.height, self.flow_scale)
        full = (self.width, self.height)
        self._small = _scaled(self.width, self.height, self.flow_scale) if self.flow_scale != 1.0 else full
        sw, sh = self._small
        self._grid_small = _grid(sh, sw)
        self._grid_full = _grid(self.height, self.width)
        self._ratio = (self.width / sw, self.height / sh)
        # Full-resolution squared pixels per squared flow pixel: the checks' thresholds are in full-res ones.
        self._px2 = float(self._ratio[0] * self._ratio[1])
        self._still: Motion | None = None

    def prepare(self, frame: np.ndarray) -> GuideFrame:
        """A guide frame (premultiplied RGBA ``(H, W, 4)``) as the analysis uses it."""
        full = _luminance(frame)
        return GuideFrame(_small_grey(full, self.flow_scale), full)

    def still(self) -> Motion:
        """The motion of a guide that did not change: identity, valid and trusted everywhere."""
        if self._still is None:
            h, w = self.height, self.width
            self._still = Motion(None, np.ones((h, w), np.uint8), np.ones((h, w), np.float32))
        return self._still

    def __call__(self, prev: GuideFrame, cur: GuideFrame) -> Motion:
        if np.array_equal(prev.small, cur.small) and np.array_equal(prev.full, cur.full):
            return self.still()
        backward = self._flow(cur.small, prev.small)
        forward = self._flow(prev.small, cur.small)
        pos = cv2.add(self._grid_small, backward)
        valid_small = self._checks(backward, forward, pos)
        size = (self.width, self.height)
        if self._small == size:
            sample_at = cv2.add(backward, self._grid_full)
            valid = valid_small
        else:
            flow_full = cv2.resize(backward, size, interpolation=cv2.INTER_LINEAR)
            rx, ry = self._ratio
            if abs(rx - ry) < 1e-9:
                sample_at = cv2.scaleAdd(flow_full, rx, self._grid_full)
            else:
                sample_at = cv2.add(cv2.multiply(flow_full, (rx, ry, 0.0, 0.0)), self._grid_full)
            valid = cv2.resize(valid_small, size, interpolation=cv2.INTER_NEAREST)
        if not self.occlusion:
            return Motion(sample_at, valid, self.still().trust)
        # Occlusions are found a little too small (flow is smooth across their edges): erode by a flow pixel.
        trust = cv2.erode(valid_small, _CROSS).astype(np.float32)
        if self._small != size:
            trust = cv2.resize(trust, size, interpolation=cv2.INTER_LINEAR)
        # The guide itself, pixel by pixel: does the previous guide frame, warped, look like this one?
        prev_at = cv2.remap(prev.full, sample_at, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        lo, hi = self.photometric
        photo = cv2.absdiff(prev_at, cur.full)
        cv2.addWeighted(photo, -1.0 / (hi - lo), photo, 0.0, hi / (hi - lo), dst=photo)
        np.clip(photo, 0.0, 1.0, out=photo)
        cv2.multiply(trust, photo, dst=trust)
        return Motion(sample_at, valid, trust)

    def _checks(self, backward: np.ndarray, forward: np.ndarray, pos: np.ndarray) -> np.ndarray:
        """Lai et al.'s non-occlusion mask at flow resolution, ``uint8`` 0/1 ``(h, w)``.

        Thresholds are in full-resolution pixels; flow gradients are scale-free.
        """
        forward_at = cv2.remap(forward, pos, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        valid = np.empty(backward.shape[:2], np.uint8)
        if HAVE_NUMBA:
            _checks_kernel(backward, forward_at, pos, np.float32(self._px2), valid)
        else:
            _np_checks(backward, forward_at, pos, np.float32(self._px2), valid)
        return valid


# ----------------------------------------------------------------------------------------------------------------
# Per-pixel kernels: numba versions (compiled where numba is installed) and their numpy equivalents


def _jit(fn: Callable) -> Callable | None:
    if HAVE_NUMBA:
        return numba.njit(cache=True, nogil=True, fastmath=False, boundscheck=False)(fn)
    return None


def _correction_sums_nb(cur, warped, trust, factor, sums):  # pragma: no cover - compiled
    h, w = cur.shape[0], cur.shape[1]
    zero = np.float32(0.0)
    for y in range(h):
        by = y // factor
        for x in range(w):
            t = trust[y, x]
            if t > zero:
                bx = x // factor
                for c in range(4):
                    sums[by, bx, c] += t * (warped[y, x, c] - cur[y, x, c])
                sums[by, bx, 4] += t


def _blend_nb(cur, warped, low, trust, s, k, out, warped_in, valid, measure):  # pragma: no cover - compiled
    zero, one = np.float32(0.0), np.float32(1.0)
    h, w = cur.shape[0], cur.shape[1]
    fidelity, before, after = 0.0, 0.0, 0.0
    count = 0
    for y in range(h):
        # Sums of a row in float32 (a row's squares add to at most 3 * width), the rows' in float64.
        row_fidelity, row_before, row_after = zero, zero, zero
        row_count = 0
        for x in range(w):
            t = k * trust[y, x]
            lo = low[y, x, 3]
            a = min(max(cur[y, x, 3] + s * lo + t * ((warped[y, x, 3] - cur[y, x, 3]) - lo), zero), one)
            out[y, x, 3] = a
            inside = valid[y, x] != 0
            m = one if inside else zero
            row_count += inside
            for c in range(3):
                i = cur[y, x, c]
                lo = low[y, x, c]
                wv = warped[y, x, c]
                o = min(min(max(i + s * lo + t * ((wv - i) - lo), zero), one), a)
                out[y, x, c] = o
                if measure:
                    d = o - i
                    row_fidelity += d * d
                    d = i - warped_in[y, x, c]
                    row_before += m * d * d
                    d = o - wv
                    row_after += m * d * d
        fidelity += row_fidelity
        before += row_before
        after += row_after
        count += row_count
    return fidelity, before, after, count


def _sse_rgb_nb(a, b, mask, use_mask):  # pragma: no cover - compiled
    h, w = a.shape[0], a.shape[1]
    total = 0.0
    count = 0
    for y in range(h):
        for x in range(w):
            if use_mask and mask[y, x] == 0:
                continue
            count += 1
            for c in range(3):
                d = np.float64(a[y, x, c]) - np.float64(b[y, x, c])
                total += d * d
    return total, count


def _checks_nb(backward, forward_at, pos, px2, out):  # pragma: no cover - compiled
    h, w = backward.shape[0], backward.shape[1]
    zero = np.float32(0.0)
    k, half, g0 = np.float32(0.01), np.float32(0.5), np.float32(0.002)
    right, bottom = np.float32(w - 1), np.float32(h - 1)
    for y in range(h):
        for x in range(w):
            bu, bv = backward[y, x, 0], backward[y, x, 1]
            fu, fv = forward_at[y, x, 0], forward_at[y, x, 1]
            lu, lv = bu + fu, bv + fv
            back2 = bu * bu + bv * bv
            consistent = (lu * lu + lv * lv) * px2 <= k * (back2 + fu * fu + fv * fv) * px2 + half
            grad = zero
            if x + 1 < w:
                du, dv = backward[y, x + 1, 0] - bu, backward[y, x + 1, 1] - bv
                grad += du * du + dv * dv
            if y + 1 < h:
                du, dv = backward[y + 1, x, 0] - bu, backward[y + 1, x, 1] - bv
                grad += du * du + dv * dv
            smooth = grad <= k * back2 * px2 + g0
            px, py = pos[y, x, 0], pos[y, x, 1]
            inside = px >= zero and px <= right and py >= zero and py <= bottom
            out[y, x] = 1 if (consistent and smooth and inside) else 0


def _pair_stats_nb(cur, out, warped_in, warped_out, valid):  # pragma: no cover - compiled
    h, w = cur.shape[0], cur.shape[1]
    fidelity, before, after = 0.0, 0.0, 0.0
    count = 0
    for y in range(h):
        for x in range(w):
            inside = valid[y, x] != 0
            if inside:
                count += 1
            for c in range(3):
                o = np.float64(out[y, x, c])
                i = np.float64(cur[y, x, c])
                d = o - i
                fidelity += d * d
                if inside:
                    d = i - np.float64(warped_in[y, x, c])
                    before += d * d
                    d = o - np.float64(warped_out[y, x, c])
                    after += d * d
    return fidelity, before, after, count


if HAVE_NUMBA:
    _correction_sums = _jit(_correction_sums_nb)
    _blend_kernel = _jit(_blend_nb)
    _sse_rgb_kernel = _jit(_sse_rgb_nb)
    _pair_stats_kernel = _jit(_pair_stats_nb)
    _checks_kernel = _jit(_checks_nb)


def _np_checks(
    backward: np.ndarray, forward_at: np.ndarray, pos: np.ndarray, px2: np.float32, out: np.ndarray
) -> None:
    k, half, g0 = np.float32(0.01), np.float32(0.5), np.float32(0.002)
    bu, bv = backward[:, :, 0], backward[:, :, 1]
    fu, fv = forward_at[:, :, 0], forward_at[:, :, 1]
    lu, lv = bu + fu, bv + fv
    back2 = bu * bu + bv * bv
    consistent = (lu * lu + lv * lv) * px2 <= k * (back2 + fu * fu + fv * fv) * px2 + half
    grad = np.zeros_like(bu)
    dx_u, dx_v = bu[:, 1:] - bu[:, :-1], bv[:, 1:] - bv[:, :-1]
    dy_u, dy_v = bu[1:] - bu[:-1], bv[1:] - bv[:-1]
    grad[:, :-1] += dx_u * dx_u + dx_v * dx_v
    grad[:-1] += dy_u * dy_u + dy_v * dy_v
    smooth = grad <= k * back2 * px2 + g0
    h, w = bu.shape
    px, py = pos[:, :, 0], pos[:, :, 1]
    inside = (px >= 0) & (px <= w - 1) & (py >= 0) & (py <= h - 1)
    out[:] = consistent & smooth & inside


def _np_correction_sums(
    cur: np.ndarray, warped: np.ndarray, trust: np.ndarray, factor: int, sums: np.ndarray
) -> None:
    h, w = cur.shape[:2]
    sh, sw = sums.shape[:2]
    weighted = np.zeros((sh * factor, sw * factor, 5), np.float32)
    np.multiply(warped - cur, trust[:, :, None], out=weighted[:h, :w, :4])
    weighted[:h, :w, 4] = trust
    sums += weighted.reshape(sh, factor, sw, factor, 5).sum(axis=(1, 3), dtype=np.float32)


def _np_blend(
    cur: np.ndarray,
    warped: np.ndarray,
    low: np.ndarray,
    trust: np.ndarray,
    s: np.float32,
    k: np.float32,
    out: np.ndarray,
) -> None:
    t = (k * trust)[:, :, None]
    np.subtract(warped, cur, out=out)
    out -= low
    out *= t
    out += cur + s * low
    np.clip(out, 0.0, 1.0, out=out)
    np.minimum(out[:, :, :3], out[:, :, 3:4], out=out[:, :, :3])


def _sse_rgb(a: np.ndarray, b: np.ndarray, mask: np.ndarray | None = None) -> tuple[float, int]:
    """Sum of squared RGB differences of two RGBA frames over the mask's pixels, and how many pixels."""
    if HAVE_NUMBA and a.flags.c_contiguous and b.flags.c_contiguous:
        use = mask is not None
        return _sse_rgb_kernel(a, b, mask if use else _NO_MASK, use)
    total = cv2.norm(a, b, cv2.NORM_L2SQR, mask)
    alpha = cv2.norm(cv2.extractChannel(a, 3), cv2.extractChannel(b, 3), cv2.NORM_L2SQR, mask)
    count = a.shape[0] * a.shape[1] if mask is None else cv2.countNonZero(mask)
    return max(0.0, total - alpha), count


_NO_MASK = np.ones((1, 1), np.uint8)


def _pair_stats(
    cur: np.ndarray, out: np.ndarray, warped_in: np.ndarray, warped_out: np.ndarray, valid: np.ndarray
) -> tuple[float, float, float, int]:
    """In one pass: SSE(out, cur) over all pixels; SSE(cur, warped_in) and SSE(out, warped_out) over
    ``valid``; and how many pixels are valid (RGB only)."""
    if HAVE_NUMBA and all(a.flags.c_contiguous for a in (cur, out, warped_in, warped_out, valid)):
        return _pair_stats_kernel(cur, out, warped_in, warped_out, valid)
    fidelity, _ = _sse_rgb(out, cur)
    before, count = _sse_rgb(cur, warped_in, valid)
    after, _ = _sse_rgb(out, warped_out, valid)
    return fidelity, before, after, count


# ----------------------------------------------------------------------------------------------------------------
# Errors a user can fix


def _check_frames(frames: tuple[np.ndarray, ...], names: tuple[str, ...]) -> None:
    first = frames[0]
    for frame, name in zip(frames, names):
        if frame.ndim != 3 or frame.shape[2] != 4:
            raise SpecError(f"{name}: frames must be premultiplied RGBA (H, W, 4), got shape {frame.shape}")
        if frame.shape[:2] != first.shape[:2]:
            raise SpecError(
                f"{names[0]} is {first.shape[1]}x{first.shape[0]} but {name} is "
                f"{frame.shape[1]}x{frame.shape[0]}: they must have the same size"
            )


def _check_size(frame: np.ndarray, first: np.ndarray, name: str, index: int) -> None:
    """A later frame of a stream must have the first frame's shape."""
    if frame.shape != first.shape:
        raise SpecError(
            f"{name}: frame {index + 1} has shape {frame.shape} but frame 1 has {first.shape}: "
            "every frame must have the same size"
        )


def _count_error(n_first: int, n_other: int, first_name: str, other_name: str) -> SpecError:
    return SpecError(
        f"{first_name} has {n_first} frames but {other_name} has {n_other}: "
        "they must have the same number of frames"
    )


def _zipped(
    streams: tuple[Iterable[np.ndarray], ...], names: tuple[str, ...]
) -> Iterator[tuple[np.ndarray, ...]]:
    """Zip frame streams lazily, refusing different sizes (at the first frame) or counts (when one ends)."""
    iterators = [iter(s) for s in streams]
    n = 0
    firsts: tuple[np.ndarray, ...] = ()
    while True:
        frames = tuple(next(it, None) for it in iterators)
        ended = [f is None for f in frames]
        if all(ended):
            return
        if any(ended):
            other = next(i for i, e in enumerate(ended) if e != ended[0])
            raise _count_mismatch((names[0], names[other]), n, ended[0], ended[other])
        if n == 0:
            _check_frames(frames, names)
            firsts = frames
        else:
            for frame, first, name in zip(frames, firsts, names):
                _check_size(frame, first, name, n)
        n += 1
        yield tuple(np.ascontiguousarray(f, dtype=np.float32) for f in frames)


# ----------------------------------------------------------------------------------------------------------------
# The pass


def _opaque(frame: np.ndarray) -> bool:
    return cv2.minMaxLoc(cv2.extractChannel(frame, 3))[0] >= OPAQUE


class _Tally:
    """Running sums for E_warp before/after and PSNR (RGB only, pixels in [0, 1])."""

    def __init__(self) -> None:
        self.frames = 0
        self.pairs = 0
        self.e_before = 0.0
        self.e_after = 0.0
        self.sse = 0.0
        self.samples = 0
        self.size = (0, 0)

    def fidelity(self, out: np.ndarray, ref: np.ndarray) -> None:
        self.size = (out.shape[1], out.shape[0])
        sse, count = _sse_rgb(out, ref)
        self.frames += 1
        self.sse += sse
        self.samples += 3 * count

    def pair(self, cur: np.ndarray, prev_warped: np.ndarray, valid: np.ndarray) -> float:
        """Lai et al.'s per-pair error: masked mean squared RGB difference (0 where nothing is valid)."""
        sse, count = _sse_rgb(cur, prev_warped, valid)
        return sse / (3 * count) if count else 0.0

    def frame(
        self,
        cur: np.ndarray,
        out: np.ndarray,
        warped_in: np.ndarray,
        warped_out: np.ndarray,
        valid: np.ndarray,
    ) -> None:
        """Fidelity of ``out`` and both pair errors of a frame after the first, in one pass."""
        self.add_stats(out, *_pair_stats(cur, out, warped_in, warped_out, valid))

    def add_stats(self, out: np.ndarray, fidelity: float, before: float, after: float, count: int) -> None:
        """Add a frame's ``_pair_stats`` (``out`` gives the size)."""
        self.size = (out.shape[1], out.shape[0])
        self.frames += 1
        self.sse += fidelity
        self.samples += 3 * out.shape[0] * out.shape[1]
        self.add_pair(before / (3 * count) if count else 0.0, after / (3 * count) if count else 0.0)

    def add_pair(self, before: float, after: float) -> None:
        self.pairs += 1
        self.e_before += before
        self.e_after += after

    def result(self) -> dict:
        mse = self.sse / self.samples if self.samples else 0.0
        psnr = PSNR_CAP if mse <= 10 ** (-PSNR_CAP / 10) else -10 * math.log10(mse)
        return {
            "e_warp_before": self.e_before / self.pairs if self.pairs else None,
            "e_warp_after": self.e_after / self.pairs if self.pairs else None,
            "psnr": psnr,
            "frames": self.frames,
        }


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
    settings: TemporalSettings = TemporalSettings(),
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


def _count_mismatch(names: tuple[str, ...], n: int, first_ended: bool, second_ended: bool) -> SpecError:
    """Different frame counts, found when one stream ended after ``n`` frames (the rest is not read)."""
    first = str(n) if first_ended else f"more than {n}"
    second = str(n) if second_ended else f"more than {n}"
    return SpecError(
        f"{names[0]} has {first} frames but {names[1]} has {second}: they must have the same number of frames"
    )


# ----------------------------------------------------------------------------------------------------------------
# Measurements


def measure(
    inputs: Iterable[np.ndarray],
    outputs: Iterable[np.ndarray],
    guide: Iterable[np.ndarray],
    flow: str = DEFAULT_FLOW,
    flow_scale: float = 0.0,
) -> dict:
    """E_warp of input and output (the guide's flow and mask, computed once) and PSNR of output vs input.

    All three: premultiplied float32 RGBA ``(H, W, 4)`` streams of one size and count, consumed lazily.
    Returns ``{"e_warp_before", "e_warp_after", "psnr", "frames"}``; E_warp is None for fewer than two frames.
    """
    return _measure(inputs, outputs, guide, flow, flow_scale, ("the input", "the guide", "the output"))


def _measure(
    inputs: Iterable[np.ndarray],
    outputs: Iterable[np.ndarray],
    guide: Iterable[np.ndarray],
    flow: str,
    flow_scale: float,
    names: tuple[str, str, str],
) -> dict:
    tally = _Tally()
    analyser: MotionAnalyser | None = None
    prev: tuple[np.ndarray, np.ndarray, GuideFrame] | None = None
    for cur, g, out in _zipped((inputs, guide, outputs), names):
        if analyser is None:
            analyser = MotionAnalyser(cur.shape[1], cur.shape[0], flow, flow_scale)
        here = analyser.prepare(g)
        if prev is not None:
            motion = analyser(prev[2], here)
            tally.frame(
                cur, out, warp(prev[0], motion.sample_at), warp(prev[1], motion.sample_at), motion.valid
            )
        else:
            tally.fidelity(out, cur)
        prev = (cur, out, here)
    return tally.result()


def warp_error(
    frames: Iterable[np.ndarray],
    guide: Iterable[np.ndarray],
    flow: str = DEFAULT_FLOW,
    flow_scale: float = 0.0,
) -> float:
    """E_warp (Lai et al. 2018) of one sequence, with flow and non-occlusion mask from the guide.

    Pass the sequence itself as the guide to measure it with its own motion. 0.0 for fewer than two frames.
    """
    return _warp_error(frames, guide, flow, flow_scale, ("the input", "the guide"))


def _warp_error(
    frames: Iterable[np.ndarray],
    guide: Iterable[np.ndarray],
    flow: str,
    flow_scale: float,
    names: tuple[str, str],
) -> float:
    tally = _Tally()
    analyser: MotionAnalyser | None = None
    prev: tuple[np.ndarray, GuideFrame] | None = None
    for cur, g in _zipped((frames, guide), names):
        if analyser is None:
            analyser = MotionAnalyser(cur.shape[1], cur.shape[0], flow, flow_scale)
        here = analyser.prepare(g)
        if prev is not None:
            motion = analyser(prev[1], here)
            tally.add_pair(tally.pair(cur, warp(prev[0], motion.sample_at), motion.valid), 0.0)
        prev = (cur, here)
    return tally.e_before / tally.pairs if tally.pairs else 0.0


# ----------------------------------------------------------------------------------------------------------------
# Files: image sequences or videos in, PNG frames out


def _open_pair(input: str, guide: str) -> tuple[FrameSource, FrameSource]:
    """Open input and guide; a still-image guide stands for a still camera, any other must match the count."""
    source = FrameSource(input)
    guide_source = FrameSource(guide)
    if guide_source.still and not source.still:
        return source, guide_source
    if len(source) != len(guide_source):
        raise _count_error(len(source), len(guide_source), f"input {input}", f"guide {guide}")
    return source, guide_source


class _Prefetch:
    """Reads a frame iterator ahead on a thread (decoding releases the GIL); ``depth`` frames bound memory."""

    _END = object()

    def __init__(self, frames: Iterator[np.ndarray], depth: int = 2):
        self._queue: queue.Queue = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._work, args=(frames,), daemon=True)
        self._thread.start()

    def _put(self, item: object) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _work(self, frames: Iterator[np.ndarray]) -> None:
        try:
            for frame in frames:
                if not self._put(frame):
                    return
            self._put(self._END)
        except Exception as e:  # noqa: BLE001 - handed to the consumer and raised there
            self._put(e)

    def __iter__(self) -> Iterator[np.ndarray]:
        while True:
            item = self._queue.get()
            if item is self._END:
                return
            if isinstance(item, BaseException):
                raise item
            yield item

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


class _Writer:
    """Writes frames on a thread, at most ``depth`` behind; ``close`` waits and re-raises any error."""

    def __init__(self, depth: int = 2, compress: bool = True):
        self._compress = compress
        self._queue: queue.Queue = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._work, daemon=True)
        self._thread.start()

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            if self._error is None:
                path, frame = item
                try:
                    write_image(path, frame, alpha=not _opaque(frame), compress=self._compress)
                except Exception as e:  # noqa: BLE001 - raised in the pass's thread by put() or close()
                    self._error = e

    def put(self, path: Path, frame: np.ndarray) -> None:
        self._raise()
        self._queue.put((path, frame))

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join()
        self._raise()

    def abandon(self) -> None:
        """Stop after the frames already queued, quiet about write errors (another error is on its way)."""
        self._queue.put(None)
        self._thread.join()

    def _raise(self) -> None:
        if isinstance(self._error, CompositorError):
            raise self._error
        if self._error is not None:
            raise RenderError(f"cannot write frames: {self._error}") from None


def _output_names(source: FrameSource, output: Path) -> list[Path]:
    files = source.files()
    if len(files) == len(source) and not source.still:
        return [output / f.name for f in files]
    stem = source.path.stem.split("%")[0].rstrip("._-") or "frame"
    return [output / f"{stem}.{i:04d}.png" for i in range(1, len(source) + 1)]


def deflicker_files(
    input: str,
    guide: str,
    output: Path,
    settings: TemporalSettings = TemporalSettings(),
    progress: Callable[[int, int], None] | None = None,
    compress: bool = True,
) -> dict:
    """Run the pass from files to files, measuring it on the way (the guide's flow serves both).

    ``compress=False`` stores the output PNGs uncompressed (faster to write and read, about twice the size).

    ``input`` and ``guide``: a printf pattern (``proc/%04d.png``), a video file, or (guide only) a still
    image, which stands for a still camera. Writes ``output/<input file name>`` for an image sequence and
    ``output/<video stem>.%04d.png`` for a video (8-bit PNG, with alpha when a frame is not opaque), each
    frame written whole under a temporary name first; reading and writing run on threads beside the pass.
    Returns ``{"e_warp_before", "e_warp_after", "psnr", "frames", "fps", "seconds", "input", "guide",
    "output", "flow", "flow_scale", "width", "height", "strength", "detail", "keyframe_interval"}`` (fps:
    frames over wall-clock seconds, reading and writing included). Raises ``SpecError`` with one line naming
    both files for different sizes or frame counts, before anything is written.
    """
    started = time.perf_counter()
    output = Path(output)
    source, guide_source = _open_pair(input, guide)
    names = _output_names(source, output)
    if names[0].resolve() in {f.resolve() for f in source.files()}:
        raise SpecError(f"{output}: the output would overwrite the input {input}; choose another folder")
    total = len(source)
    tally = _Tally()
    readers = [_Prefetch(source.frames()), _Prefetch(guide_source.frames(0, total))]
    writer: _Writer | None = None
    try:
        frames = _run(readers[0], readers[1], settings, tally, f"input {input}", f"guide {guide}")
        for i, out in enumerate(frames):
            if writer is None:  # only once the first frame passed the size check
                output.mkdir(parents=True, exist_ok=True)
                writer = _Writer(compress=compress)
            writer.put(names[i], out)
            if progress is not None:
                progress(i + 1, total)
    except BaseException:
        if writer is not None:
            writer.abandon()
        raise
    finally:
        for r in readers:
            r.close()
    if writer is not None:
        writer.close()
    seconds = time.perf_counter() - started
    result = tally.result()
    w, h = tally.size
    result.update(
        fps=result["frames"] / seconds if seconds > 0 else 0.0,
        seconds=seconds,
        input=input,
        guide=guide,
        output=str(output),
        flow=settings.flow,
        flow_scale=flow_scale_for(w, h, settings.flow_scale) if w else settings.flow_scale,
        width=w,
        height=h,
        strength=settings.strength,
        detail=settings.detail,
        keyframe_interval=settings.keyframe_interval,
    )
    return result


def qc_files(
    input: str,
    guide: str | None,
    output: str | None = None,
    flow: str = DEFAULT_FLOW,
    flow_scale: float = 0.0,
) -> dict:
    """E_warp of ``input`` (and of ``output``, with PSNR output vs input, when given), motion from ``guide``.

    Each a printf pattern or a video (the guide may be a still image). Without a guide the input's own motion
    is used (less trustworthy where the input flickers). Returns the keys of ``measure`` plus the names and
    the flow; ``e_warp_after`` and ``psnr`` are None without an output. Raises ``SpecError`` (one line) for
    different sizes or frame counts.
    """
    guide = guide or input
    source, guide_source = _open_pair(input, guide)
    total = len(source)
    names = (f"input {input}", f"guide {guide}")
    result: dict = {"input": input, "guide": guide, "output": output, "flow": flow}
    if output is None:
        frames = _Prefetch(source.frames())
        try:
            e_warp = _warp_error(frames, guide_source.frames(0, total), flow, flow_scale, names)
        finally:
            frames.close()
        result.update(e_warp_before=e_warp if total > 1 else None, e_warp_after=None, psnr=None, frames=total)
        return result
    out_source = FrameSource(output)
    if len(out_source) != total:
        raise _count_error(total, len(out_source), f"input {input}", f"output {output}")
    streams = [_Prefetch(source.frames()), _Prefetch(out_source.frames())]
    try:
        measured = _measure(
            streams[0],
            streams[1],
            guide_source.frames(0, total),
            flow,
            flow_scale,
            (*names, f"output {output}"),
        )
    finally:
        for s in streams:
            s.close()
    result.update(measured)
    return result


__all__ = [
    "AUTO_FLOW_HEIGHT",
    "DEFAULT_FLOW",
    "FLOW_METHODS",
    "FlowEstimator",
    "GuideFrame",
    "Motion",
    "MotionAnalyser",
    "TemporalSettings",
    "deflicker",
    "deflicker_files",
    "flow_grey",
    "flow_scale_for",
    "measure",
    "qc_files",
    "warp",
    "warp_error",
]
