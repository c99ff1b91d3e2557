"""The temporal-consistency pass: steadies a background that was generated or stylised frame by frame.

This is *blind video temporal consistency* (Bonneel et al. 2015; Lai et al. 2018): the flickering result ``P``
is made consistent using the motion of a guide video ``G`` whose motion can be trusted (the filmed plate, the
layout animation, the un-stylised source), never the motion of ``P`` itself.

For every pair of guide frames: dense optical flow (OpenCV DIS or Farneback) both ways, on the guide's luminance
at reduced resolution (by default 360 to 720 px tall), and Lai et al.'s non-occlusion mask: the forward–backward
check (Sundaram et al. 2010, Ruder et al. 2016) ``|b + f(x + b)|² ≤ 0.01 (|b|² + |f(x + b)|²) + 0.5``, no motion
boundary (``|∇u|² + |∇v|² ≤ 0.01 |b|² + 0.002``) and the sample inside the frame; the pass trusts that mask
(eroded by ``margin`` flow pixels, 0 by default).

The output (``bidirectional``) is a two-sided weighted average along the motion paths: a frame ``k`` away weighs
``strength^k`` times the trust along the way, computed by a forward and a backward recursive sweep and combined
so that the frame counts once; at the ends of the cut each sweep reflects the other, so the head of a cut is as
steady as its middle. It runs a window of frames at a time with context either side, so windows are
independent (``farm``: a Dask cluster runs them) and memory does not grow with the cut. ``keyframes`` paints only
some frames and carries the paint to the others from both sides (``paint_every``); ``baseline`` is the plain
one-sided blend the pass is measured against.

Quality is measured as Lai et al. define it: the warping error
``E_warp = 1/(T-1) Σ_t Σ_x M_t(x) ‖V_t(x) - warp(V_{t-1}, b_t)(x)‖² / (3 Σ_x M_t(x))`` on RGB in [0, 1],
with the guide's flow and mask (computed once per frame pair, shared by the pass and both measurements);
fidelity is the PSNR of the output against the input over all frames.

All frames are premultiplied float32 RGBA ``(H, W, 4)``. The per-pixel work is done by fused kernels, compiled
with numba where it is installed and plain numpy otherwise (the same arithmetic; the tests hold the two within
1e-6).
"""

from __future__ import annotations

from compositor.spec.models import DEFAULT_FLOW, FLOW_METHODS, TemporalSettings
from compositor.temporal.files import OPAQUE as OPAQUE
from compositor.temporal.files import _Writer as _Writer
from compositor.temporal.files import deflicker_files, qc_files
from compositor.temporal.flow import (
    AUTO_FLOW_HEIGHT,
    FlowEstimator,
    GuideFrame,
    Motion,
    MotionAnalyser,
    flow_grey,
    flow_scale_for,
    warp,
)
from compositor.temporal.kernels import HAVE_NUMBA as HAVE_NUMBA
from compositor.temporal.kernels import _np_carry as _np_carry
from compositor.temporal.kernels import _np_checks as _np_checks
from compositor.temporal.kernels import _np_combine as _np_combine
from compositor.temporal.kernels import _pair_stats as _pair_stats
from compositor.temporal.kernels import _sse_rgb as _sse_rgb
from compositor.temporal.keyframes import carry_paint, frames_to_paint
from compositor.temporal.metrics import PSNR_CAP as PSNR_CAP
from compositor.temporal.metrics import measure, warp_error
from compositor.temporal.prefetch import _Prefetch as _Prefetch
from compositor.temporal.stabiliser import DEFAULT_SETTINGS as DEFAULT_SETTINGS
from compositor.temporal.stabiliser import deflicker

if HAVE_NUMBA:  # the compiled kernels exist only where numba is installed
    from compositor.temporal.kernels import _carry_kernel as _carry_kernel
    from compositor.temporal.kernels import _checks_kernel as _checks_kernel
    from compositor.temporal.kernels import _combine_kernel as _combine_kernel
    from compositor.temporal.kernels import _pair_stats_kernel as _pair_stats_kernel
    from compositor.temporal.kernels import _sse_rgb_kernel as _sse_rgb_kernel


__all__ = [
    "AUTO_FLOW_HEIGHT",
    "DEFAULT_FLOW",
    "FLOW_METHODS",
    "FlowEstimator",
    "GuideFrame",
    "Motion",
    "MotionAnalyser",
    "TemporalSettings",
    "carry_paint",
    "deflicker",
    "deflicker_files",
    "flow_grey",
    "flow_scale_for",
    "frames_to_paint",
    "measure",
    "qc_files",
    "warp",
    "warp_error",
]
