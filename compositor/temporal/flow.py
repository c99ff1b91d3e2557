"""Optical flow and motion analysis of the guide: dense flow, Lai et al.'s non-occlusion mask, the soft trust
for the blend, and the backward warp."""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field

import cv2
import numpy as np

from compositor.errors import SpecError
from compositor.spec.models import DEFAULT_FLOW, FLOW_METHODS, TemporalSettings
from compositor.temporal.kernels import HAVE_NUMBA, _np_checks

if HAVE_NUMBA:
    from compositor.temporal.kernels import _checks_kernel

_DIS_PRESETS = {
    "dis_ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST,
    "dis_fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
    "dis_medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM,
}


AUTO_FLOW_HEIGHT = 360
"""With ``flow_scale = 0`` the guide is halved while its shorter side stays at least this many pixels."""


def flow_scale_for(width: int, height: int, flow_scale: float = 0.0) -> float:
    """The factor the guide is resized by for the flow: ``flow_scale``, or the automatic choice for 0."""
    if flow_scale > 0:
        return flow_scale
    scale = 1.0
    while min(width, height) * scale / 2 >= AUTO_FLOW_HEIGHT:
        scale /= 2
    return scale


DIS_MIN_SIDE = 32
"""The shortest side OpenCV's DIS is given: a smaller image is padded to it (``FlowEstimator``)."""


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
            h, w = a.shape
            if min(h, w) >= DIS_MIN_SIDE:
                return self._dis.calc(a, b, None)
            # OpenCV's DIS refuses an image under 12 px and reads out of bounds (a segmentation fault) on a
            # thin one (a side under 32 px, the other several times longer): the edges repeated out to
            # DIS_MIN_SIDE, the flow of the image's own pixels kept.
            pad = (0, max(0, DIS_MIN_SIDE - h), 0, max(0, DIS_MIN_SIDE - w))
            a, b = (cv2.copyMakeBorder(x, *pad, cv2.BORDER_REPLICATE) for x in (a, b))
            return np.ascontiguousarray(self._dis.calc(a, b, None)[:h, :w])
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
_RELATIVE_MAP: int | None = getattr(cv2, "WARP_RELATIVE_MAP", None)
"""OpenCV's remap flag for a map of offsets (OpenCV 4.10 on); without it every warp builds the absolute map."""


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


def moved(image: np.ndarray, motion: Motion | LazyMotion) -> np.ndarray:
    """``warp(image, motion.sample_at)`` (by ``LazyMotion.warp`` where it can: the same bits, faster)."""
    return motion.warp(image) if isinstance(motion, LazyMotion) else warp(image, motion.sample_at)


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
    trust: ``(H, W)`` float32 soft confidence in [0, 1] for the blend (``valid`` eroded by ``margin``, times
        the photometric check on the guide when one is set); all ones when occlusion handling is off.
    """

    sample_at: np.ndarray | None
    valid: np.ndarray
    trust: np.ndarray

    @property
    def still(self) -> bool:
        """Nothing moved (the identity)."""
        return self.sample_at is None


class LazyMotion:
    """A ``Motion`` kept at flow resolution (flow, mask, eroded mask): ``sample_at``, ``valid`` and ``trust``
    are made at full resolution on each access, the same arrays ``MotionAnalyser`` would give (without the
    photometric check)."""

    still = False

    def __init__(self, analyser: MotionAnalyser, flow: np.ndarray, valid: np.ndarray, trust: np.ndarray):
        self._analyser = analyser
        self._flow, self._valid, self._trust = flow, valid, trust

    @property
    def small_valid(self) -> np.ndarray:
        """``valid`` at flow resolution."""
        return self._valid

    @property
    def small_at(self) -> np.ndarray:
        """``sample_at`` at flow resolution (in flow pixels)."""
        return cv2.add(self._analyser._grid_small, self._flow)

    @property
    def small_trust(self) -> np.ndarray:
        """``trust`` at flow resolution."""
        return self._trust.astype(np.float32)

    @property
    def sample_at(self) -> np.ndarray:
        return self._analyser._full(self._flow)

    def warp_small(self, image: np.ndarray) -> np.ndarray:
        """``warp(image, self.small_at)`` for an image at flow resolution, bit for bit: by OpenCV's relative map
        where it has one (the flow itself: the map of absolute positions is not built, nor its memory taken)."""
        if _RELATIVE_MAP is None:
            return warp(image, self.small_at)
        flags = cv2.INTER_LINEAR | _RELATIVE_MAP
        return cv2.remap(image, self._flow, None, flags, borderMode=cv2.BORDER_REPLICATE)

    def warp(self, image: np.ndarray) -> np.ndarray:
        """``warp(image, self.sample_at)``, bit for bit; where the flow's resolution is the frame's over a power
        of two (the automatic choice), from the flow upsampled alone (OpenCV's relative map: no full-resolution
        map of absolute positions is built, a third of a warp's time)."""
        relative = self._analyser._relative(self._flow)
        if relative is None:
            return warp(image, self.sample_at)
        flags = cv2.INTER_LINEAR | (_RELATIVE_MAP or 0)
        return cv2.remap(image, relative, None, flags, borderMode=cv2.BORDER_REPLICATE)

    @property
    def valid(self) -> np.ndarray:
        a = self._analyser
        if a._small == (a.width, a.height):
            return self._valid
        return cv2.resize(self._valid, (a.width, a.height), interpolation=cv2.INTER_NEAREST)

    @property
    def trust(self) -> np.ndarray:
        a = self._analyser
        trust = self._trust.astype(np.float32)
        if a._small == (a.width, a.height):
            return trust
        return cv2.resize(trust, (a.width, a.height), interpolation=cv2.INTER_LINEAR)


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
    photometric: tuple[float, float] | None = None
    """Guide luminance difference (0-1) below which the flow is fully trusted, and above which not at all;
    None (the default): no photometric check. On real footage it distrusted too much (motion blur, lighting: on
    DAVIS dance-twirl it left E_warp at 0.72 of the input's where the occlusion test alone gives 0.41)."""
    margin: int = TemporalSettings.model_fields["margin"].default
    """Flow pixels ``trust`` is eroded by (``temporal.margin``; ``for_settings`` passes it); 0: trust is
    ``valid``."""
    _flow: FlowEstimator = field(init=False)

    @classmethod
    def for_settings(cls, width: int, height: int, settings: TemporalSettings) -> MotionAnalyser:
        """The analyser a pass with ``settings`` uses (flow, its scale, occlusion handling, margin): the one place
        those settings reach the motion, so the pass, its motion thread, keyframes and the farm's joins agree."""
        return cls(
            width, height, settings.flow, settings.flow_scale, settings.occlusion, margin=settings.margin
        )

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
        # The last full-resolution maps made, per thread: the pass's thread and its measurement's each use a
        # map more than once in a row, and must not throw out each other's.
        self._kept = threading.local()

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
        return self._motion(backward, forward, prev, cur)

    def pair(self, prev: GuideFrame, cur: GuideFrame) -> tuple[Motion, Motion]:
        """Both ways from one pair of flows: ``cur`` from ``prev`` (what ``__call__`` gives) and ``prev`` from
        ``cur`` (where each pixel of ``prev`` is in ``cur``), for a pass that runs backward in time too."""
        if np.array_equal(prev.small, cur.small) and np.array_equal(prev.full, cur.full):
            return self.still(), self.still()
        backward = self._flow(cur.small, prev.small)
        forward = self._flow(prev.small, cur.small)
        # Kept at flow resolution (a window of the pass holds many): full resolution on each use. (The
        # photometric check, which needs full resolution, is ``__call__``'s only.)
        return self._lazy(backward, forward), self._lazy(forward, backward)

    def _lazy(self, backward: np.ndarray, forward: np.ndarray) -> LazyMotion:
        pos = cv2.add(self._grid_small, backward)
        valid_small = self._checks(backward, forward, pos)
        if not self.occlusion:
            return LazyMotion(self, backward, valid_small, np.ones_like(valid_small))
        if self.margin <= 0:
            return LazyMotion(self, backward, valid_small, valid_small)
        return LazyMotion(self, backward, valid_small, cv2.erode(valid_small, _CROSS, iterations=self.margin))

    def _full(self, flow_small: np.ndarray) -> np.ndarray:
        """Absolute sample positions at full resolution from a flow at flow resolution (the last one a thread
        made is kept for it: a sweep, and the measurement, each warp twice in a row with one map)."""
        last = getattr(self._kept, "full", None)
        if last is not None and last[0] is flow_small:
            return last[1]
        full = self._make_full(flow_small)
        self._kept.full = (flow_small, full)
        return full

    def _relative(self, flow_small: np.ndarray) -> np.ndarray | None:
        """The flow at full resolution in full-resolution pixels, for OpenCV's relative remap, where that
        gives the absolute map's warp bit for bit: the ratio of resolutions a power of two, the same both
        ways (scaling by it is exact, so scaling before the linear upsampling is scaling after); else None.
        The last one made is kept, as ``_full``'s."""
        rx, ry = self._ratio
        if _RELATIVE_MAP is None or rx != ry or rx < 1 or math.frexp(rx)[0] != 0.5:
            return None
        if self._small == (self.width, self.height):
            return flow_small
        last = getattr(self._kept, "relative", None)
        if last is not None and last[0] is flow_small:
            return last[1]
        size = (self.width, self.height)
        relative = cv2.resize(flow_small * np.float32(rx), size, interpolation=cv2.INTER_LINEAR)
        self._kept.relative = (flow_small, relative)
        return relative

    def _make_full(self, flow_small: np.ndarray) -> np.ndarray:
        size = (self.width, self.height)
        if self._small == size:
            return cv2.add(flow_small, self._grid_full)
        flow_full = cv2.resize(flow_small, size, interpolation=cv2.INTER_LINEAR)
        rx, ry = self._ratio
        if abs(rx - ry) < 1e-9:
            return cv2.scaleAdd(flow_full, rx, self._grid_full)
        return cv2.add(cv2.multiply(flow_full, (rx, ry, 0.0, 0.0)), self._grid_full)

    def _motion(self, backward: np.ndarray, forward: np.ndarray, prev: GuideFrame, cur: GuideFrame) -> Motion:
        """The motion of ``cur`` from ``prev`` given the flow ``backward`` (cur → prev) and ``forward``."""
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
        # Occlusions may be found a little too small (flow is smooth across their edges): erode by ``margin``.
        eroded = cv2.erode(valid_small, _CROSS, iterations=self.margin) if self.margin > 0 else valid_small
        trust = eroded.astype(np.float32)
        if self._small != size:
            trust = cv2.resize(trust, size, interpolation=cv2.INTER_LINEAR)
        if self.photometric is None:
            return Motion(sample_at, valid, trust)
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
