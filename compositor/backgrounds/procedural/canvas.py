"""The canvas every painter draws on: `_Canvas` holds the size, style, seed and time, the pixel centres in
canvas heights and the haze colour, and paints soft fields on a coarse grid resized up (`_Canvas.field`);
`_lay` lays a colour below an anti-aliased edge, copying the rows wholly below it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from compositor.backgrounds.procedural.noise import _over, _rgb
from compositor.spec.models import ProceduralStyle


@dataclass
class _Canvas:
    width: int
    height: int
    style: ProceduralStyle
    seed: int
    time: float

    def __post_init__(self) -> None:
        self.px = 1.0 / self.height  # one pixel, in canvas heights
        self.aspect = self.width / self.height
        self.u = ((np.arange(self.width) + 0.5) * self.px).astype(np.float64)
        self.v = ((np.arange(self.height) + 0.5) * self.px).astype(np.float64)
        stops = np.stack([_rgb(c) for c in self.style.sky])
        self.sky_horizon = stops[-1]
        self.haze = _rgb(self.style.haze_colour) if self.style.haze_colour else stops[-1]
        self.light = self.style.light

    def row(self, v: float) -> int:
        """The pixel row of height ``v`` (clamped to the canvas)."""
        return int(min(max(math.floor(v * self.height), 0), self.height))

    def col(self, u: float) -> int:
        return int(min(max(math.floor(u * self.height), 0), self.width))

    def field(self, fn: Any, step: int, rows: slice | None = None, cols: slice | None = None) -> np.ndarray:
        """``fn(u, v)`` on a grid ``step`` times coarser than the pixels, resized up (soft fields, colours).

        ``fn`` takes the column and row coordinates (canvas heights) and returns ``(rows, cols)`` or
        ``(rows, cols, channels)``; the result covers ``rows x cols`` of the canvas at full resolution.
        """
        r0, r1 = (rows.start, rows.stop) if rows is not None else (0, self.height)
        c0, c1 = (cols.start, cols.stop) if cols is not None else (0, self.width)
        h, w = r1 - r0, c1 - c0
        if step <= 1 or h < 4 * step or w < 4 * step:
            return np.asarray(fn(self.u[c0:c1], self.v[r0:r1]), dtype=np.float32)
        sw, sh = -(-w // step), -(-h // step)
        us = (c0 + (np.arange(sw) + 0.5) * (w / sw)) * self.px
        vs = (r0 + (np.arange(sh) + 0.5) * (h / sh)) * self.px
        small = np.ascontiguousarray(fn(us, vs), dtype=np.float32)
        return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


def _lay(dst: np.ndarray, colour: np.ndarray, top: np.ndarray, r0: int) -> None:
    """Lay ``colour`` (rows ``r0`` down) over ``dst`` below the anti-aliased edge ``top`` (a v per column).

    Rows wholly below the edge are copied; only the few the edge crosses are blended.
    """
    height = dst.shape[0]
    first_full = min(max(int(math.ceil(float(top.max()) * height)) + 1, r0), height)
    if first_full > r0:
        cover = np.clip(
            (np.arange(r0, first_full, dtype=np.float32) + 0.5)[:, None]
            - (top * height).astype(np.float32)[None, :]
            + 0.5,
            0.0,
            1.0,
        )
        _over(dst[r0:first_full], colour[: first_full - r0], cover)
    dst[first_full:] = colour[first_full - r0 :]
