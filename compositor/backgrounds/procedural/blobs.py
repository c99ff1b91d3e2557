"""Blobs: unions of spheres as height fields with normals and anti-aliased coverage (`_blob`), the shape
of cumulus lobes and of tree crowns, and the cel shading (`_toon`) that colours them in flat bands.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from compositor.backgrounds.procedural.canvas import _Canvas
from compositor.backgrounds.procedural.noise import _lerp, _smoothstep


@dataclass
class _Blob:
    """A union of spheres as a height field over a canvas box, with its normals and coverage."""

    rows: slice
    cols: slice
    height: np.ndarray  # (h, w) canvas heights above the picture plane; > 0 inside
    nx: np.ndarray
    ny: np.ndarray
    nz: np.ndarray
    alpha: np.ndarray


def _smax(a: np.ndarray, b: np.ndarray, k: np.float32) -> np.ndarray:
    """Polynomial smooth maximum: the union of two height fields with a rounded crease."""
    h = np.clip(0.5 + (0.5 / k) * (b - a), 0.0, 1.0)
    return a + (b - a) * h + k * h * (1.0 - h)


def _blob(
    c: _Canvas,
    puffs: np.ndarray,
    smooth: float,
    noise: np.ndarray | None = None,
    noise_amp: float = 0.0,
    softness: float = 0.0,
    cut_below: float | None = None,
    band: tuple[int, int] | None = None,
    step: int = 1,
    squash: float = 1.0,
    squash_from: float = 10.0,
) -> _Blob | None:
    """Build the height field of a union of spheres ``puffs`` ``(n, 3)`` (u, v, radius, in canvas heights).

    ``smooth`` rounds the creases where spheres meet (a fraction of each radius); ``noise`` (a full-canvas
    field about [0, 1]) roughens the surface and the outline by ``noise_amp``. ``band`` limits the rows
    painted. With ``step`` > 1 the height field is built on a coarser grid and resized (it is smooth); the
    outline stays sharp. ``squash`` > 1 flattens the lower half of the spheres that reach down to within a
    radius of ``squash_from`` (the flat undersides of cumulus).
    """
    pad = 2 * c.px + noise_amp
    r0 = c.row(float((puffs[:, 1] - puffs[:, 2]).min()) - pad)
    r1 = c.row(float((puffs[:, 1] + puffs[:, 2]).max()) + pad) + 1
    if cut_below is not None:
        r1 = min(r1, c.row(cut_below + 3 * c.px) + 1)
    if band is not None:
        r0, r1 = max(r0, band[0]), min(r1, band[1])
    r1 = min(r1, c.height)
    c0 = c.col(float((puffs[:, 0] - puffs[:, 2]).min()) - pad)
    c1 = min(c.col(float((puffs[:, 0] + puffs[:, 2]).max()) + pad) + 1, c.width)
    if r1 - r0 < 2 or c1 - c0 < 2:
        return None
    h, w = r1 - r0, c1 - c0
    coarse = step > 1 and min(h, w) >= 12 * step
    if coarse:
        sh, sw = -(-h // step), -(-w // step)
        us = (c0 + (np.arange(sw) + 0.5) * (w / sw)) * c.px
        vs = (r0 + (np.arange(sh) + 0.5) * (h / sh)) * c.px
    else:
        sh, sw, us, vs = h, w, c.u[c0:c1], c.v[r0:r1]
    field = np.full((sh, sw), -float(pad) - 4 * c.px, np.float32)
    for pu, pv, pr in puffs:
        a0, a1 = np.searchsorted(vs, [pv - pr - pad, pv + pr + pad])
        b0, b1 = np.searchsorted(us, [pu - pr - pad, pu + pr + pad])
        if a1 <= a0 or b1 <= b0:
            continue
        dx = ((us[b0:b1] - pu) / pr).astype(np.float32)[None, :]
        dy = ((vs[a0:a1] - pv) / pr).astype(np.float32)[:, None]
        if squash != 1.0 and pv + 2 * pr > squash_from:
            dy = np.where(dy > 0, dy * np.float32(squash), dy)
        q2 = dx * dx + dy * dy
        # Inside: the sphere's height; outside: a slope down, so the union stays continuous at the outline.
        hi = np.where(q2 < 1.0, np.sqrt(np.maximum(1.0 - q2, 0.0)), 1.0 - np.sqrt(q2)) * np.float32(pr)
        sl = (slice(a0, a1), slice(b0, b1))
        field[sl] = _smax(field[sl], hi, np.float32(max(smooth * pr, 0.5 * c.px)))
    if noise is not None and noise_amp > 0:
        rows_i = np.minimum((vs * c.height).astype(np.int64), c.height - 1)
        cols_i = np.minimum((us * c.height).astype(np.int64), c.width - 1)
        field += (noise[rows_i][:, cols_i] - 0.5) * np.float32(2 * noise_amp)
    gy, gx = np.gradient(field) if min(sh, sw) > 1 else (np.zeros_like(field), np.zeros_like(field))
    nx = -gx * np.float32(1.0 / ((w / sw) * c.px))
    ny = -gy * np.float32(1.0 / ((h / sh) * c.px))
    inv = 1.0 / np.sqrt(nx * nx + ny * ny + 1.0)
    nx, ny = nx * inv, ny * inv
    if coarse:
        field, nx, ny, inv = (
            cv2.resize(x, (w, h), interpolation=cv2.INTER_LINEAR) for x in (field, nx, ny, inv)
        )
    edge = np.float32(softness + c.px)
    alpha = _smoothstep(-edge, edge, field)
    if cut_below is not None:
        vv = c.v[r0:r1].astype(np.float32)[:, None]
        alpha *= _smoothstep(cut_below + c.px, cut_below - c.px, vv)
    return _Blob(slice(r0, r1), slice(c0, c1), field, nx, ny, inv, alpha)


def _toon(value: np.ndarray, colours: list[np.ndarray], edges: list[float], soft: float) -> np.ndarray:
    """Cel shading: ``colours`` dark to light, switching at ``edges`` of ``value`` with a soft transition."""
    out = np.broadcast_to(colours[0], value.shape + (3,)).astype(np.float32)
    for colour, edge in zip(colours[1:], edges, strict=True):
        out = _lerp(out, colour, _smoothstep(edge - soft, edge + soft, value)[:, :, None])
    return out
