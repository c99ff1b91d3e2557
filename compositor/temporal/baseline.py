"""The reference the pass must beat: the plain motion-compensated recursive blend.

``out_t = (p_t + w·m·warp(out_{t-1})) / (1 + w·m)``, ``m`` the non-occlusion mask of the guide's flow (the
forward-backward, motion-boundary and in-frame checks of ``MotionAnalyser``, DIS by default): the simplest thing
a user could do, one-sided in time. The benchmarks and tests compare the pass with it on both axes (E_warp and
PSNR against the processed frames).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from compositor.spec.models import DEFAULT_FLOW
from compositor.temporal.checks import _zipped
from compositor.temporal.flow import MotionAnalyser, warp


def plain_blend(
    processed: Iterable[np.ndarray],
    guide: Iterable[np.ndarray],
    weight: float = 1.0,
    flow: str = DEFAULT_FLOW,
    flow_scale: float = 0.0,
) -> list[np.ndarray]:
    """The plain blend of ``processed`` along ``guide``'s flow (premultiplied float32 RGBA ``(H, W, 4)``
    streams of one size and count); returns the output frames."""
    analyser: MotionAnalyser | None = None
    prev = None
    out: list[np.ndarray] = []
    for p, g in _zipped((processed, guide), ("the processed frames", "the guide")):
        if analyser is None:
            analyser = MotionAnalyser(p.shape[1], p.shape[0], flow, flow_scale)
        here = analyser.prepare(g)
        if prev is None:
            out.append(p.copy())
        else:
            motion = analyser(prev, here)
            m = motion.valid.astype(np.float32)[:, :, None] * np.float32(weight)
            out.append((p + m * warp(out[-1], motion.sample_at)) / (1 + m))
        prev = here
    return out
