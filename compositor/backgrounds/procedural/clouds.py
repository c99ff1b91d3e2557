"""Clouds: toon-shaded cumulus and the odd towering cumulonimbus, laid out in an endless strip of world
cells so that animated clouds drift in from beyond the canvas, lit from the sun with a thin bright rim
and sinking into the sky with distance; and long horizontal evening streaks lit on the side facing
the sun.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from compositor.backgrounds.procedural.blobs import _blob, _toon
from compositor.backgrounds.procedural.canvas import _Canvas
from compositor.backgrounds.procedural.noise import (
    _PART_CLOUDS,
    _fbm2d,
    _keys,
    _lerp,
    _over,
    _rgb,
    _rng,
    _smoothstep,
    _zigzag,
)
from compositor.backgrounds.procedural.sky import _sun_position

_CLOUD_CELL = 0.8  # canvas heights of sky per cell of the endless cloud strip
_CLOUD_SQUASH = 2.4  # how much flatter a cumulus lobe is below its middle than above


@dataclass
class _Cloud:
    u: float
    base: float
    top: float
    size: float
    far: float  # 0 near the top of the sky, 1 at the horizon
    puffs: np.ndarray  # (n, 3): u, v, radius
    tower: bool = False


def _cumulus(c: _Canvas, cell: int) -> list[_Cloud]:
    """The cumulus of one cell of the endless cloud strip (world coordinates: before the wind moves them)."""
    s = c.style
    rng = _rng(c.seed, _PART_CLOUDS, _zigzag(cell))
    count = rng.poisson(0.25 + s.clouds * 2.2 / s.cloud_scale)
    out = []
    for _ in range(count):
        u = (cell + rng.random()) * _CLOUD_CELL
        far = float(rng.random() ** 0.8)
        tower = rng.random() < s.towers * 0.45
        if tower:
            # Cumulonimbus stand far off, their feet near the horizon, and tower up into the sky.
            size = s.cloud_scale * rng.uniform(0.09, 0.15)
            width = size * rng.uniform(2.2, 3.4)
            base = s.horizon - rng.uniform(0.0, 0.08)
            height = min(size * rng.uniform(2.6, 3.8), base - s.cloud_top - 0.3 * size)
            far = max(far, 0.55)
        else:
            # Nearer clouds are bigger and higher; the top of each stays below cloud_top.
            size = s.cloud_scale * (0.05 + 0.11 * s.clouds) * (1.0 - 0.6 * far) * rng.lognormal(0, 0.3)
            width = size * rng.uniform(2.2, 4.2)
            height = size * rng.uniform(0.7, 1.1) * (1.0 - 0.35 * far)
            highest = s.cloud_top + height + 0.2 * size
            base = highest + max(s.cloud_bottom - highest, 0.0) * far
        if height < 0.5 * size:
            continue
        n_main = int(np.clip(width / size * 1.8, 4, 9))
        xs = np.sort(rng.uniform(-0.5, 0.5, n_main)) * width
        profile = np.sqrt(np.clip(1.0 - (2.0 * xs / width) ** 2, 0, 1))
        if tower:
            profile = profile**2.5
        r = size * (0.42 + 0.38 * profile) * rng.uniform(0.8, 1.1, n_main)
        tops = base - height * (0.25 + 0.75 * profile) * rng.uniform(0.75, 1.0, n_main)
        # Lobes hang down to the base at most (their lower halves are squashed flat when drawn).
        ys = np.minimum(tops + r, base - r / _CLOUD_SQUASH * rng.uniform(0.9, 1.15, n_main))
        puffs = [np.stack([u + xs, ys, r], axis=1)]
        if tower:
            # The column: lobes rising from the middle of the base, narrowing as they climb.
            levels = int(rng.integers(4, 8))
            for j in range(levels):
                f = (j + 1) / (levels + 1)
                for _lobe in range(int(rng.integers(1, 3))):
                    rr = size * (0.75 - 0.3 * f) * rng.uniform(0.7, 1.1)
                    dx = rng.uniform(-0.45, 0.45) * size * (1.2 - 0.6 * f)
                    puffs.append(np.array([[u + dx, base - height * f + rr * 0.25, rr]]))
        main = np.concatenate(puffs)
        # Smaller lobes on the upper side of the bigger ones give the cauliflower outline.
        n_small = len(main) * (2 if tower else 1) + int(rng.integers(0, 4))
        parent = rng.integers(0, len(main), n_small)
        angle = rng.uniform(-2.7, -0.45, n_small)
        rs = main[parent, 2] * rng.uniform(0.32, 0.55, n_small)
        dist = main[parent, 2] - rs * rng.uniform(0.05, 0.5, n_small)
        small = np.stack(
            [main[parent, 0] + np.cos(angle) * dist, main[parent, 1] + np.sin(angle) * dist, rs], 1
        )
        all_puffs = np.concatenate([main, small])
        top = float((all_puffs[:, 1] - all_puffs[:, 2]).min())
        out.append(_Cloud(u=u, base=base, top=top, size=size, far=far, puffs=all_puffs, tower=tower))
    return out


def _light_towards(c: _Canvas, u: float, v: float, up: float = 0.8) -> np.ndarray:
    """Light for a cloud or tree at (u, v): from the sun when there is one, else from the style's side."""
    s = c.style
    if s.sun == "sun":
        sun_u, sun_v = _sun_position(c)
        d = np.array([sun_u - u, sun_v - v], dtype=np.float64)
        d = d / max(np.linalg.norm(d), 1e-6)
        vec = np.array([d[0], d[1], 0.5])
    else:
        vec = np.array([s.light, -up, 0.6])
    return (vec / np.linalg.norm(vec)).astype(np.float32)


def _paint_clouds(c: _Canvas, rgb: np.ndarray, sky_column: np.ndarray) -> None:
    s = c.style
    if s.clouds <= 0:
        return
    keys = _keys(c.seed, _PART_CLOUDS, 4)
    if s.cloud_kind in ("streaks", "mixed"):
        _paint_streaks(c, rgb, keys[0])
    if s.cloud_kind == "streaks":
        return
    sun_u, _ = _sun_position(c)
    sun_rgb = _rgb(s.sun_colour)
    drift = s.wind * c.time
    rows = slice(0, min(c.row(s.horizon) + 1, c.height))
    noise = np.zeros((c.height, c.width), np.float32)
    noise[rows] = c.field(
        lambda u, v: _fbm2d(keys[1], (u - drift) * 18, v * 18, 3, gain=0.5), step=2, rows=rows
    )
    margin = 0.8 * s.cloud_scale
    lo = math.floor((0 - drift - margin) / _CLOUD_CELL)
    hi = math.floor((c.aspect - drift + margin) / _CLOUD_CELL)
    clouds: list[_Cloud] = []
    for cell in range(lo, hi + 1):
        clouds.extend(_cumulus(c, cell))
    clouds.sort(key=lambda cl: -cl.far)  # far (low) clouds first; nearer ones overlap them
    fade_rgb = rgb.mean(axis=1)  # the sky behind, row by row, with the glow in it
    shadow_base, lit_base = _rgb(s.cloud_shadow), _rgb(s.cloud_light)
    for cloud in clouds:
        puffs = cloud.puffs.copy()
        puffs[:, 0] += drift
        reach = float(puffs[:, 2].max())
        if puffs[:, 0].max() + reach < 0 or puffs[:, 0].min() - reach > c.aspect:
            continue
        blob = _blob(
            c,
            puffs,
            smooth=0.22,
            noise=noise,
            noise_amp=0.04 * cloud.size,
            softness=0.006 * cloud.size,
            band=(0, c.row(s.horizon) + 1),
            step=2 if cloud.size * c.height > 40 else 1,
            squash=_CLOUD_SQUASH,
            squash_from=cloud.base,
        )
        if blob is None:
            continue
        light = _light_towards(c, cloud.u + drift, (cloud.base + cloud.top) / 2)
        lambert = blob.nx * light[0] + blob.ny * light[1] + blob.nz * light[2]
        vv = c.v[blob.rows].astype(np.float32)[:, None]
        rise = np.clip((cloud.base - vv) / max(cloud.base - cloud.top, 1e-4), 0, 1)
        # Lit from above, the tops are bright and the flat underside sits in shadow; a low sun turns it round.
        vertical = 0.5 + (rise - 0.5) * float(-light[1])
        value = 0.55 * lambert + 0.5 * vertical + 0.08 * (noise[blob.rows, blob.cols] - 0.5)
        ambient = sky_column[min(c.row(cloud.base), c.height - 1)]
        shadow = _lerp(shadow_base, ambient, 0.3)
        near_sun = math.exp(-(((cloud.u + drift - sun_u) / 0.8) ** 2)) if s.sun == "sun" else 0.0
        lit = _lerp(lit_base, sun_rgb, 0.35 * near_sun * min(s.glow, 1.0))
        mid = _lerp(shadow, lit, 0.55)
        colour = _toon(value, [shadow, mid, lit], [0.42, 0.64], 0.035)
        # A soft, lighter rim where the cloud thins to its edge against the sky (light shining through).
        thin = _smoothstep(0.05 * cloud.size, 0.0, blob.height)[:, :, None]
        colour = _lerp(colour, lit, thin * 0.35)
        # Far clouds sink into the sky; a cumulonimbus is far but so big and bright that it barely does.
        fade = 0.08 + 0.12 * cloud.far if cloud.tower else 0.04 + 0.6 * cloud.far**1.5
        colour = _lerp(colour, fade_rgb[blob.rows][:, None, :], fade)
        _over(rgb[blob.rows, blob.cols], colour, blob.alpha)


def _paint_streaks(c: _Canvas, rgb: np.ndarray, key: int) -> None:
    """Long horizontal evening clouds, lit on the side facing the sun (painted coarse and resized)."""
    s = c.style
    drift = s.wind * c.time * 0.6
    r0, r1 = c.row(s.cloud_top), c.row(min(s.cloud_bottom + 0.06, s.horizon))
    if r1 - r0 < 8:
        return
    step = 2
    scale = s.cloud_scale
    sw, sh = max(2, -(-c.width // step)), max(2, -(-(r1 - r0) // step))
    us = (np.arange(sw) + 0.5) * (c.width / sw) * c.px
    vs = (r0 + (np.arange(sh) + 0.5) * ((r1 - r0) / sh)) * c.px
    dens = _fbm2d(key, (us - drift) * 1.4 / scale, vs * 16 / scale, 5, gain=0.55)
    dens += 0.12 * (_fbm2d(key + 50, (us - drift) * 5 / scale, vs * 30 / scale, 2) - 0.5)
    vv = vs.astype(np.float32)
    mid = s.cloud_top + (s.cloud_bottom - s.cloud_top) * 0.6
    band = _smoothstep(s.cloud_top, mid, vv) * _smoothstep(s.cloud_bottom + 0.05, mid, vv)
    threshold = 0.62 - 0.2 * s.clouds
    alpha = _smoothstep(threshold, threshold + 0.07, dens * (0.75 + 0.3 * band[:, None]))
    alpha *= (0.3 + 0.7 * band)[:, None]
    sun_u, sun_v = _sun_position(c)
    offset = max(1, round(0.012 * c.height / step))
    shifted = np.zeros_like(alpha)
    if sun_v > mid:  # the sun is under the clouds: their undersides catch the light
        shifted[:-offset] = alpha[offset:]
    else:
        shifted[offset:] = alpha[:-offset]
    edge = cv2.GaussianBlur(np.clip(alpha - shifted, 0, 1), (0, 0), max(0.6, 0.002 * c.height / step))
    shadow, lit, sun_rgb = _rgb(s.cloud_shadow), _rgb(s.cloud_light), _rgb(s.sun_colour)
    near = (
        np.exp(-(((us - sun_u) / 1.1) ** 2)).astype(np.float32)[None, :] if s.sun == "sun" else np.float32(0)
    )
    lit_map = np.clip(edge * 1.6 + 0.25 * near, 0, 1)
    colour = _lerp(shadow, lit, lit_map[:, :, None])
    if s.sun == "sun":
        colour = _lerp(colour, sun_rgb, (0.35 * near * lit_map * min(s.glow, 1.0))[:, :, None])
    alpha *= 0.92
    # Premultiplied, so the resize blends colour and coverage together.
    small = np.concatenate([colour * alpha[:, :, None], alpha[:, :, None]], axis=2)
    big = cv2.resize(small, (c.width, r1 - r0), interpolation=cv2.INTER_LINEAR)
    behind = rgb[r0:r1]
    fade = (0.25 * (1 - np.interp(c.v[r0:r1], vs, band))).astype(np.float32)[:, None, None]
    a = big[:, :, 3:4]
    premult = big[:, :, :3] * (1 - fade) + behind * a * fade
    behind *= 1 - a
    behind += premult
