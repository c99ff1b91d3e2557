"""The sky: the gradient down the style's colour stops with a painterly wash, the glow of the sun or moon,
the disc (the moon with its faint maria) and the stars. Also where the sun stands (`_sun_position`), how
backlit the land is (`_backlight`) and how dark the night is (`_night`), which the other painters read.
"""

from __future__ import annotations

import cv2
import numpy as np

from compositor.backgrounds.procedural.canvas import _Canvas
from compositor.backgrounds.procedural.noise import (
    _PART_SKY,
    _fbm2d,
    _keys,
    _luma,
    _over,
    _rgb,
    _rng,
    _smoothstep,
)


def _sun_position(c: _Canvas) -> tuple[float, float]:
    rng = _rng(c.seed, _PART_SKY)
    fraction = c.style.sun_x if c.style.sun_x is not None else float(rng.uniform(0.2, 0.8))
    return fraction * c.aspect, c.style.sun_y


def _backlight(c: _Canvas) -> float:
    """0 with the sun high or behind the viewer, towards 1 with a low sun in the picture: land turns to
    silhouette and loses its light-and-shade modelling."""
    s = c.style
    if s.sun != "sun" or s.glow <= 0:
        return 0.0
    return float(np.clip((s.sun_y - 0.3) / (s.horizon - 0.3 + 1e-6), 0, 1) * min(s.glow, 1.0))


def _night(c: _Canvas) -> float:
    """0 by day, towards 1 under a dark sky: windows and lamps take over from the daylight."""
    return float(np.clip(1.0 - _luma(_rgb(c.style.sky[0])) * 3.0, 0, 1))


def _sky_gradient(c: _Canvas, v: np.ndarray) -> np.ndarray:
    """The plain sky colour at heights ``v``, ``(len(v), 3)``."""
    s = c.style
    stops = np.stack([_rgb(x) for x in s.sky])
    t = np.clip(v / s.horizon, 0.0, 1.0) ** s.sky_curve
    where = np.linspace(0.0, 1.0, len(stops))
    column = np.stack([np.interp(t, where, stops[:, k]) for k in range(3)], axis=1).astype(np.float32)
    # Piecewise-linear stops leave visible kinks (Mach bands); a blur down the column hides them.
    sigma = 0.05 * len(v) / max(float(v[-1] - v[0]), 1e-6) if len(v) > 1 else 1.0
    return cv2.GaussianBlur(
        column[:, None, :], (1, 0), sigmaX=0.1, sigmaY=max(sigma, 0.5), borderType=cv2.BORDER_REPLICATE
    )[:, 0, :]


def _glow(c: _Canvas, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """How much the sun's (or moon's) glow tints the sky at ``v x u``, float32 in [0, 1]."""
    s = c.style
    if s.sun == "none" or s.glow <= 0:
        return np.zeros((len(v), len(u)), np.float32)
    sun_u, sun_v = _sun_position(c)
    du = (u - sun_u)[None, :].astype(np.float32)
    dv = (v - sun_v)[:, None].astype(np.float32)
    if s.sun == "sun":
        # A wide band along the horizon and a bright core: the glow of a low sun spreads sideways.
        wide = np.exp(-((du / 0.9) ** 2 + (dv / 0.28) ** 2))
        core = np.exp(-((du / 0.16) ** 2 + (dv / 0.14) ** 2))
        return np.clip(s.glow * (0.55 * wide + 0.6 * core), 0.0, 1.0)
    return np.clip(
        s.glow * (0.45 * np.exp(-(du**2 + dv**2) / 0.012) + 0.15 * np.exp(-(du**2 + dv**2) / 0.08)), 0.0, 1.0
    )


def _paint_sky(c: _Canvas) -> tuple[np.ndarray, np.ndarray]:
    """The sky over the whole canvas, and its plain gradient per row ``(H, 3)`` (the clouds' ambient)."""
    s = c.style
    column = _sky_gradient(c, c.v)
    keys = _keys(c.seed, _PART_SKY, 4)
    # Everything in the sky is soft: paint it on a coarse grid and resize.
    step = 4
    sw, sh = max(2, -(-c.width // step)), max(2, -(-c.height // step))
    us = (np.arange(sw) + 0.5) * (c.width / sw) * c.px
    vs = (np.arange(sh) + 0.5) * (c.height / sh) * c.px
    small = np.stack([np.interp(vs, c.v, column[:, k]) for k in range(3)], axis=1).astype(np.float32)
    small = np.repeat(small[:, None, :], sw, axis=1)
    wash = _fbm2d(keys[0], us * 0.9, vs * 1.6, 3) - 0.5
    small *= (1.0 + 0.07 * wash)[:, :, None]
    _over(small, _rgb(s.sun_colour), _glow(c, us, vs))
    rgb = cv2.resize(small, (c.width, c.height), interpolation=cv2.INTER_LINEAR)

    if s.stars > 0:
        _paint_stars(c, rgb)
    if s.sun != "none" and s.sun_size > 0:
        _paint_disc(c, rgb, keys[2])
    return rgb, column


def _paint_disc(c: _Canvas, rgb: np.ndarray, key: int) -> None:
    s = c.style
    sun_u, sun_v = _sun_position(c)
    sun_rgb = _rgb(s.sun_colour)
    r = s.sun_size
    r0, r1 = c.row(sun_v - r - 0.01), c.row(sun_v + r + 0.01)
    c0, c1 = c.col(sun_u - r - 0.01), c.col(sun_u + r + 0.01)
    if r1 <= r0 or c1 <= c0:
        return
    du = (c.u[c0:c1] - sun_u)[None, :]
    dv = (c.v[r0:r1] - sun_v)[:, None]
    d = np.sqrt(du**2 + dv**2).astype(np.float32)
    disc = _smoothstep(r + 1.2 * c.px, r - 1.2 * c.px, d)
    patch = rgb[r0:r1, c0:c1]
    if s.sun == "moon":
        maria = _fbm2d(key, (c.u[c0:c1] - sun_u) / r * 1.5, (c.v[r0:r1] - sun_v) / r * 1.5, 3)
        face = sun_rgb[None, None, :] * (1.0 - 0.16 * _smoothstep(0.5, 0.68, maria))[:, :, None]
        _over(patch, face, disc)
    else:
        _over(patch, np.minimum(sun_rgb * 1.05 + 0.05, 1.0), disc)


def _paint_stars(c: _Canvas, rgb: np.ndarray) -> None:
    s = c.style
    rng = _rng(c.seed, _PART_SKY, 1)
    count = int(s.stars * 900 * c.aspect * s.horizon)
    u = rng.uniform(0, c.aspect, count)
    v = s.horizon * rng.uniform(0.0, 1.0, count) ** 1.4  # thinner towards the horizon's haze
    bright = rng.uniform(0, 1, count) ** 6 * 0.9 + 0.15
    bright *= _smoothstep(s.horizon * 0.95, s.horizon * 0.35, v)
    x = u * c.height - 0.5
    y = v * c.height - 0.5
    x0, y0 = np.floor(x).astype(np.int64), np.floor(y).astype(np.int64)
    fx, fy = x - x0, y - y0
    r1 = min(c.row(s.horizon) + 2, c.height)
    points = np.zeros((r1 + 2, c.width + 2), dtype=np.float64)
    # Bilinear splats: a star between pixels is as bright as one on a pixel centre.
    for dx, dy, w in (
        (0, 0, (1 - fx) * (1 - fy)),
        (1, 0, fx * (1 - fy)),
        (0, 1, (1 - fx) * fy),
        (1, 1, fx * fy),
    ):
        np.add.at(points, (np.clip(y0 + dy + 1, 0, r1 + 1), np.clip(x0 + dx + 1, 0, c.width + 1)), bright * w)
    points = points[1:-1, 1:-1].astype(np.float32)
    sigma = max(0.45, 0.7 * c.height / 720)
    halo = cv2.GaussianBlur(points, (0, 0), sigma * 2.5) * 3.0
    light = np.clip(points * 0.8 + halo, 0, 1.0)
    where = np.nonzero(light > 1e-3)
    star = np.array([0.95, 0.97, 1.0], dtype=np.float32)
    patch = rgb[:r1][where]
    rgb[:r1][where] = patch + (star - patch) * light[where][:, None]
