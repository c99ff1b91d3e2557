"""Land: layered ranges of hills or mountains in atmospheric perspective, each with faces turned to the
light and away from it, valley mist and rim light near a low sun; woods of round, toon-shaded crowns
along the nearer ridges; and low hazy islands and headlands on a sea horizon.
"""

from __future__ import annotations

import cv2
import numpy as np

from compositor.backgrounds.procedural.blobs import _toon
from compositor.backgrounds.procedural.canvas import _Canvas
from compositor.backgrounds.procedural.noise import (
    _PART_LAND,
    _PART_TREES,
    _fbm1d,
    _fbm2d,
    _keys,
    _lerp,
    _noise1d,
    _over,
    _rgb,
    _rng,
    _smoothstep,
)
from compositor.backgrounds.procedural.sky import _backlight, _sun_position


def _ridge_coverage(c: _Canvas, ridge: np.ndarray, r0: int, r1: int) -> np.ndarray:
    """Anti-aliased coverage ``(r1 - r0, W)`` of the land below a ridge line ``ridge`` (one v per column)."""
    top = (ridge * c.height).astype(np.float32)[None, :]
    rows = (np.arange(r0, r1, dtype=np.float32) + 0.5)[:, None]
    return np.clip(rows - top + 0.5, 0.0, 1.0)


def _layer_colour(c: _Canvas, depth: float) -> np.ndarray:
    s = c.style
    base = _lerp(_rgb(s.land_near), _rgb(s.land_far), depth)
    return _lerp(base, c.haze, s.haze * depth**1.2 * 0.85)


def _smooth_line(line: np.ndarray, sigma_px: float) -> np.ndarray:
    if sigma_px < 0.5 or len(line) < 3:
        return line
    out = cv2.GaussianBlur(
        line.astype(np.float32)[None, :], (0, 1), sigmaX=sigma_px, sigmaY=0.1, borderType=cv2.BORDER_REPLICATE
    )
    return out[0].astype(np.float64)


def _ridge_line(c: _Canvas, key: int, depth: float, mountains: bool) -> np.ndarray:
    s = c.style
    if mountains:
        freq = 1.3 + 2.0 * depth
        raw = _fbm1d(key, c.u * freq, 6, gain=0.42 + 0.16 * s.roughness)
        shape = 1.0 - np.abs(2.0 * raw - 1.0)  # ridged: sharp peaks, rounded valleys
        shape = np.clip((shape - 0.35) / 0.65, 0, 1) ** 1.3
        height = s.relief * (0.55 + 0.65 * depth) * (0.4 + 0.6 * _noise1d(key + 9, c.u * 0.35))
    else:
        freq = 0.6 + 1.5 * depth
        raw = _fbm1d(key, c.u * freq, 5, gain=0.28 + 0.25 * s.roughness)
        lifted = np.clip((raw - 0.2) / 0.6, 0, None)
        shape = np.tanh(lifted * 1.3) / np.tanh(1.3)  # rounded summits, never sliced flat
        height = s.relief * (0.45 + 0.55 * depth) * (0.5 + 0.5 * _noise1d(key + 9, c.u * 0.4))
    return s.horizon - 0.03 * depth - 0.012 - height * shape


def _paint_ranges(c: _Canvas, rgb: np.ndarray) -> None:
    s = c.style
    n = s.layers
    keys = _keys(c.seed, _PART_LAND, 3 * n + 2)
    mountains = s.terrain == "mountains"
    sun_u, _ = _sun_position(c)
    sun_rgb = _rgb(s.sun_colour)
    side = float(np.sign(s.light) or -1.0)
    backlit = _backlight(c)
    bottom = min(c.row(s.horizon + 0.02) + 1, c.height)
    for k in range(n):
        depth = 1.0 - k / (n - 1) if n > 1 else 0.4
        key = keys[3 * k]
        ridge = _ridge_line(c, key, depth, mountains)
        r0 = max(c.row(float(ridge.min())) - 1, 0)
        r1 = bottom
        if r1 <= r0:
            continue
        rows = slice(r0, r1)
        base = _layer_colour(c, depth)
        # Faces turned to the light and away from it, split along spurs that wander down from the main peaks.
        smooth = _smooth_line(ridge, (0.012 if mountains else 0.02) * c.height)
        facing = np.tanh(-np.gradient(smooth, c.u) * side * (4.0 if mountains else 6.0))

        def colour_of(
            u: np.ndarray,
            v: np.ndarray,
            kk: int = key,
            ridge: np.ndarray = ridge,
            facing: np.ndarray = facing,
            depth: float = depth,
            base: np.ndarray = base,
        ) -> np.ndarray:
            top = np.interp(u, c.u, ridge)[None, :].astype(np.float32)
            below = np.maximum(v.astype(np.float32)[:, None] - top, 0.0)
            wander = _fbm2d(kk + 21, u * 5, v * 5, 3) - 0.5
            spur = u[None, :] + below * (1.8 * wander)
            face = np.interp(spur.ravel(), c.u, facing).reshape(spur.shape).astype(np.float32)
            face *= 0.35 + 0.65 * np.exp(-below / np.float32(0.5 * s.relief + 0.03))
            if mountains:
                lit = _smoothstep(-0.12, 0.12, face)
                contrast = 0.2 * (1.0 - 0.55 * depth)
            else:
                lit = _smoothstep(-0.5, 0.5, face)
                contrast = 0.16 * (1.0 - 0.55 * depth)
            detail = _fbm2d(kk + 11, u * (8 + 10 * depth), v * (8 + 10 * depth), 3) - 0.5
            contrast *= 1.0 - 0.6 * backlit
            shade = (1.0 - contrast) + 2 * contrast * lit + (0.1 - 0.05 * depth) * detail
            colour = base * shade[:, :, None]
            # Shadow faces lean towards the sky's blue.
            cool = _lerp(base * 0.85, _rgb(s.sky[0]), 0.25)
            mix = (1 - lit) * 0.35 * (1 - depth)
            # Valley mist: the lower part of each layer sinks into the haze.
            span = np.maximum(np.float32(s.horizon) - top, 0.02)
            mist = _smoothstep(0.2, 1.0, below / span) * np.float32(s.haze * (0.25 + 0.5 * depth))
            colour = _lerp(_lerp(colour, cool, mix[:, :, None]), c.haze, mist[:, :, None])
            if s.rim > 0 and s.sun == "sun":
                near_sun = np.exp(-(((u - sun_u) / 0.7) ** 2)).astype(np.float32)[None, :]
                rim = np.exp(-below / np.float32(3 * c.px + 0.002)) * near_sun * np.float32(s.rim * 0.8)
                colour = _lerp(colour, sun_rgb, np.clip(rim, 0, 1)[:, :, None])
            return colour

        _over(rgb[rows], c.field(colour_of, step=2, rows=rows), _ridge_coverage(c, ridge, r0, r1))
        if s.trees > 0 and depth < 0.5 - 0.3 * backlit:
            _paint_forest(c, rgb, ridge, depth, keys[3 * k + 1], base, _rng(c.seed, _PART_TREES, 10 + k))


def _crown_rows(
    c: _Canvas,
    rows: list[tuple[np.ndarray, np.ndarray, np.ndarray]],
    r0: int,
    r1: int,
    cols: slice,
    light: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Shading value and coverage ``(r1 - r0, cols)`` of rows of round crowns, back row first.

    Each row is (u, v, radius) arrays sorted by u; within a row a pixel takes the nearer of its two
    neighbouring crowns, and each row covers the rows behind it, so the woods read as overlapping balls of
    foliage.
    """
    vv = c.v[r0:r1].astype(np.float32)[:, None]
    uu = c.u[cols]
    shape = (r1 - r0, len(uu))
    value = np.zeros(shape, np.float32)
    alpha = np.zeros(shape, np.float32)
    for cu, cv, cr in rows:
        if len(cu) == 0:
            continue
        right = np.searchsorted(cu, uu)
        sds, dxs, dys, tints = [], [], [], []
        for cand in (right - 1, right):
            k = np.clip(cand, 0, len(cu) - 1)
            rad = cr[k].astype(np.float32)[None, :]
            dx = ((uu - cu[k]) / cr[k]).astype(np.float32)[None, :]
            dy = (vv - cv[k].astype(np.float32)[None, :]) / rad
            sds.append((1.0 - np.sqrt(dx * dx + dy * dy)) * rad)
            dxs.append(dx)
            dys.append(dy)
            # Each crown a little lighter or darker than its neighbours.
            tints.append((np.sin(cu[k] * 9173.0) * 0.12).astype(np.float32)[None, :])
        use_right = sds[1] > sds[0]
        sd = np.where(use_right, sds[1], sds[0])
        # Normals flattened a little: round crowns, without a dark ring at every edge.
        nx = np.where(use_right, dxs[1], dxs[0]) * np.float32(0.8)
        ny = np.where(use_right, dys[1], dys[0]) * np.float32(0.8)
        nz = np.sqrt(np.clip(1.0 - nx * nx - ny * ny, 0.0, 1.0))
        tint = np.where(use_right, tints[1], tints[0])
        row_alpha = np.clip(sd * np.float32(c.height) + 0.5, 0.0, 1.0)
        value += (nx * light[0] + ny * light[1] + nz * light[2] + tint - value) * row_alpha
        alpha += (1.0 - alpha) * row_alpha
    return value, alpha


def _paint_forest(
    c: _Canvas,
    rgb: np.ndarray,
    ridge: np.ndarray,
    depth: float,
    key: int,
    base: np.ndarray,
    rng: np.random.Generator,
    lowest: float = 10.0,
) -> None:
    """Woods along a ridge: rows of toon-shaded crowns where a slow noise says there is forest."""
    s = c.style
    size = 0.005 + 0.013 * (1 - depth)
    patchy = _noise1d(key, c.u * 1.6)
    rows = []
    for row_i in range(3):
        n = int((c.aspect + 4 * size) / (0.6 * size)) + 4
        grove = _noise1d(key + 1 + row_i, np.arange(n) * 0.35)  # big trees and small ones come in groups
        r = size * (0.45 + 0.9 * grove) * rng.uniform(0.85, 1.15, n)
        u = np.cumsum(r * rng.uniform(1.0, 1.5, n)) - size * rng.uniform(1, 3)
        jitter = rng.normal(0, 0.15, n) * r
        sink = r * (0.3 + 1.2 * row_i + rng.uniform(0, 0.5, n))
        tall = (rng.random(n) < 0.2) & (row_i == 0)
        top = np.interp(u, c.u, ridge)
        here = np.interp(u, c.u, patchy)
        keep = (here > 0.58 - 0.3 * s.trees) & (top < lowest - 1.5 * r) & (u < c.aspect + 2 * size)
        cu, cv, cr = u + jitter, top + sink - tall * r * 0.8, r * np.where(tall, 0.75, 1.0)
        order = np.argsort(cu[keep], kind="stable")
        rows.append((cu[keep][order], cv[keep][order], cr[keep][order]))
    everything = np.concatenate([np.stack(row, 1) for row in rows])
    if len(everything) == 0:
        return
    light = np.array([s.light, -0.75, 0.55], np.float32)
    light /= np.linalg.norm(light)
    leaf = _lerp(_rgb(s.land_near), base, 0.5)
    flat = 1.0 - 0.6 * _backlight(c)
    shadow = _lerp(leaf, _lerp(leaf * 0.7, _rgb(s.sky[0]), 0.12), flat)
    lit = _lerp(leaf, np.minimum(leaf * 1.18 + 0.02, 1.0), flat)
    # Column chunks, each with only the rows its crowns reach: the ridge climbs and falls across the canvas.
    chunk = 256
    for c0 in range(0, c.width, chunk):
        c1 = min(c0 + chunk, c.width)
        lo, hi = c.u[c0] - 2 * size, c.u[c1 - 1] + 2 * size
        near = everything[(everything[:, 0] > lo) & (everything[:, 0] < hi)]
        if len(near) == 0:
            continue
        r0 = max(c.row(float((near[:, 1] - near[:, 2]).min())) - 2, 0)
        r1 = min(c.row(float((near[:, 1] + near[:, 2]).max())) + 3, c.height)
        if r1 <= r0:
            continue
        cols = slice(c0, c1)
        value, alpha = _crown_rows(c, rows, r0, r1, cols, light)
        noise = c.field(
            lambda u, v: _fbm2d(key + 3, u / size * 1.2, v / size * 1.2, 2),
            step=2,
            rows=slice(r0, r1),
            cols=cols,
        )
        colour = _toon(value + 0.3 * (noise - 0.5), [shadow, leaf, lit], [0.35, 0.72], 0.06)
        vv = c.v[r0:r1].astype(np.float32)[:, None]
        # The lower rows of crowns sink into the shade of the wood, and far woods into the haze.
        dim = 1.0 - 0.25 * _smoothstep(0.0, 3.0 * size, vv - ridge[cols].astype(np.float32)[None, :])
        colour = _lerp(colour * dim[:, :, None], c.haze, s.haze * depth * 0.6)
        _over(rgb[r0:r1, cols], colour, alpha)


def _paint_islands(c: _Canvas, rgb: np.ndarray) -> None:
    """Low islands and headlands on the sea horizon, hazy with distance."""
    s = c.style
    keys = _keys(c.seed, _PART_LAND, 8)
    n = min(s.layers, 3)
    for k in range(n):
        depth = 1.0 - k / max(n - 1, 1) if n > 1 else 0.6
        key = keys[k]
        present = _smoothstep(0.45, 0.6, _noise1d(key + 1, c.u * (0.6 + 0.4 * k)))
        raw = _fbm1d(key, c.u * (2.0 + 2 * depth), 5, gain=0.3 + 0.3 * s.roughness)
        bump = np.clip(raw - 0.2, 0, None) * 1.6
        height = s.relief * (0.3 + 0.5 * (1 - depth)) * present * (0.25 + bump)
        ridge = s.horizon - height
        if not (height > 0.5 * c.px).any():
            continue
        r0 = max(c.row(float(ridge.min())) - 1, 0)
        r1 = min(c.row(s.horizon) + 1, c.height)
        if r1 <= r0:
            continue
        base = _layer_colour(c, 0.35 + 0.65 * depth)
        colour = np.empty((r1 - r0, c.width, 3), np.float32)
        colour[:] = base
        vv = c.v[r0:r1].astype(np.float32)[:, None]
        smooth = _smooth_line(ridge, 0.03 * c.height)
        facing = np.tanh(-np.gradient(smooth, c.u) * float(np.sign(s.light) or -1.0) * 5.0).astype(np.float32)
        colour *= (1.0 + 0.12 * (1 - depth) * facing)[None, :, None]
        mist = _smoothstep(float(s.horizon - 0.5 * height.max()), s.horizon, vv) * s.haze * 0.6
        colour = _lerp(colour, c.haze, np.broadcast_to(mist, colour.shape[:2])[:, :, None])
        _over(rgb[r0:r1], colour, _ridge_coverage(c, ridge, r0, r1))
        if s.trees > 0 and depth < 0.5:
            _paint_forest(
                c,
                rgb,
                ridge + 0.003,
                0.9,
                keys[k + 4],
                base,
                _rng(c.seed, _PART_TREES, 20 + k),
                lowest=s.horizon,
            )
