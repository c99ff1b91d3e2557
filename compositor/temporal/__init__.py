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
from compositor.temporal.kernels import _np_blend as _np_blend
from compositor.temporal.kernels import _np_checks as _np_checks
from compositor.temporal.kernels import _np_correction_sums as _np_correction_sums
from compositor.temporal.kernels import _pair_stats as _pair_stats
from compositor.temporal.kernels import _sse_rgb as _sse_rgb
from compositor.temporal.metrics import PSNR_CAP as PSNR_CAP
from compositor.temporal.metrics import measure, warp_error
from compositor.temporal.prefetch import _Prefetch as _Prefetch
from compositor.temporal.stabiliser import DEFAULT_SETTINGS as DEFAULT_SETTINGS
from compositor.temporal.stabiliser import deflicker

if HAVE_NUMBA:  # the compiled kernels exist only where numba is installed
    from compositor.temporal.kernels import _blend_kernel as _blend_kernel
    from compositor.temporal.kernels import _checks_kernel as _checks_kernel
    from compositor.temporal.kernels import _correction_sums as _correction_sums
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
    "deflicker",
    "deflicker_files",
    "flow_grey",
    "flow_scale_for",
    "measure",
    "qc_files",
    "warp",
    "warp_error",
]
