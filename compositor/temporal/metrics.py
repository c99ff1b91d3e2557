"""Measurements: E_warp (Lai et al. 2018) of input and output and PSNR of output against input, with the
guide's flow and mask; the tally sums them as the pass runs, so that the pass measures itself on the way."""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from compositor.spec.models import DEFAULT_FLOW
from compositor.temporal.checks import _zipped
from compositor.temporal.flow import GuideFrame, MotionAnalyser, warp
from compositor.temporal.kernels import _pair_stats, _sse_rgb

PSNR_CAP = 100.0
"""PSNR reported for identical sequences (instead of infinity, which JSON cannot hold)."""


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
