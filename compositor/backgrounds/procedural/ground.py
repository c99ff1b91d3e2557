"""The ground plane below the horizon: a field of painted strokes with drifting cloud shadows, a winding
dirt path, lone trees and groves and a fringe of dark foreground grass; a road with the wall's shadow
and its painted lines; or the sea with the sky's reflection, ripples, crests and the sun's glitter.
"""

from __future__ import annotations

import cv2
import numpy as np

from compositor.backgrounds.procedural.canvas import _Canvas, _lay
from compositor.backgrounds.procedural.noise import (
    _PART_GROUND,
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
from compositor.backgrounds.procedural.sky import _night, _sun_position
from compositor.backgrounds.procedural.town import _paint_tree, _tree
from compositor.spec.models import ProceduralStyle


def _ground_colour(c: _Canvas, r0: int) -> tuple[np.ndarray, np.ndarray]:
    """The ground gradient from the far edge to the bottom of the canvas, ``(rows, 1, 3)``, and depth 0..1."""
    s = c.style
    vv = c.v[r0:].astype(np.float32)
    t = np.clip((vv - s.horizon) / max(1.0 - s.horizon, 1e-3), 0, 1)
    colour = _lerp(_rgb(s.ground_far), _rgb(s.ground_near), (t**0.7)[:, None])
    colour = _lerp(colour, c.haze, (s.haze * 0.5 * (1 - _smoothstep(0.0, 0.25, t)))[:, None])
    return colour[:, None, :], t


def _perspective(s: ProceduralStyle, v: np.ndarray) -> np.ndarray:
    """A depth coordinate for the ground plane: rows near the horizon are far apart in the world."""
    return np.log(np.maximum(v - s.horizon, 0.002))


def _paint_field(c: _Canvas, rgb: np.ndarray) -> None:
    s = c.style
    keys = _keys(c.seed, _PART_GROUND, 8)
    edge = s.horizon + 0.004 * (_fbm1d(keys[0], c.u * 3, 3) - 0.5)
    r0 = max(c.row(float(edge.min())) - 1, 0)
    if r0 >= c.height:
        return
    rows = slice(r0, c.height)
    light = np.minimum(_rgb(s.ground_far) * 1.1 + 0.03, 1.0)
    drift = s.wind * c.time
    shadows = s.clouds > 0 and s.cloud_kind != "streaks" and s.sun == "sun"

    def colour_of(u: np.ndarray, v: np.ndarray) -> np.ndarray:
        depth = _perspective(s, v)
        gradient, _ = _ground_colour(c, 0)
        gradient = np.stack([np.interp(v, c.v, gradient[:, 0, k]) for k in range(3)], 1).astype(np.float32)
        # Painted strokes: long and thin far away, broader near the bottom.
        stroke = _fbm2d(keys[1], u * 6.0, depth * 10.0, 4, gain=0.6)
        patches = _fbm2d(keys[2], u * 2.2, depth * 2.5, 2)
        colour = gradient[:, None, :] * (1.0 + 0.2 * (stroke - 0.5))[:, :, None]
        colour = _lerp(colour, light, (0.4 * _smoothstep(0.5, 0.62, patches))[:, :, None])
        if shadows:
            # Shadows of clouds passing over the field, drifting with them.
            shade = _fbm2d(keys[6], (u - drift) * 0.9, depth * 1.2, 3)
            cool = _lerp(gradient * 0.72, _rgb(s.sky[0]), 0.12)[:, None, :]
            colour = _lerp(
                colour,
                cool,
                (0.75 * _smoothstep(0.6 - 0.2 * s.clouds, 0.66 - 0.2 * s.clouds, shade))[:, :, None],
            )
        return np.concatenate([colour, stroke[:, :, None]], axis=2)

    painted = c.field(colour_of, step=2, rows=rows)
    colour, stroke = painted[:, :, :3], painted[:, :, 3]
    if s.path:
        _paint_path(c, colour, r0, keys[3], stroke)
    _lay(rgb, colour, edge, r0)
    if s.trees > 0:
        _paint_field_trees(c, rgb)
    _paint_grass_fringe(c, rgb, keys[5])


def _paint_path(c: _Canvas, colour: np.ndarray, r0: int, key: int, stroke: np.ndarray) -> None:
    """A dirt path winding across the field, wider where it comes nearer (``colour``: rows ``r0`` down)."""
    s = c.style
    span = 1.0 - s.horizon
    centre = s.horizon + span * (0.2 + 0.55 * _smoothstep(0.2, 0.8, _fbm1d(key, c.u * 0.5, 3)))
    depth = (centre - s.horizon) / span
    half = 0.004 + 0.04 * depth**1.5
    b0 = max(c.row(float((centre - 1.6 * half).min())), r0)
    b1 = min(c.row(float((centre + 1.6 * half).max())) + 1, c.height)
    if b1 <= b0:
        return
    band = colour[b0 - r0 : b1 - r0]
    grain = stroke[b0 - r0 : b1 - r0]
    vv = c.v[b0:b1].astype(np.float32)[:, None]
    offset = np.abs(vv - centre.astype(np.float32)[None, :]) / half.astype(np.float32)[None, :]
    d = offset + (grain - 0.5) * 0.5
    cover = _smoothstep(1.05, 0.9, d)
    path = _rgb(s.path_colour)
    t = np.clip((vv - s.horizon) / span, 0, 1)[:, :, None]
    # Two wheel ruts a shade darker, and the grass darker along the edges where the path cuts the field.
    ruts = _smoothstep(0.16, 0.0, np.abs(offset - 0.5))
    path_col = (
        _lerp(_lerp(path, c.haze, 0.3), path * 0.94, t)
        * ((1.0 + 0.14 * (grain - 0.5)) * (1.0 - 0.08 * ruts))[:, :, None]
    )
    rim = _smoothstep(1.4, 1.0, d) * (1 - cover)
    band *= (1.0 - 0.14 * rim)[:, :, None]
    _over(band, path_col, cover)


def _paint_field_trees(c: _Canvas, rgb: np.ndarray) -> None:
    """Lone trees and small groves standing in the field, smaller and hazier towards the horizon."""
    s = c.style
    rng = _rng(c.seed, _PART_TREES, 2)
    keys = _keys(c.seed, _PART_TREES, 1)
    count = rng.poisson(s.trees * 1.5 * c.aspect)
    trees = []
    for _ in range(count):
        u = rng.uniform(0, c.aspect)
        foot = s.horizon + (1.0 - s.horizon) * rng.uniform(0.01, 0.3) ** 1.5
        size = 0.018 + 0.35 * (foot - s.horizon)
        for j in range(int(rng.integers(1, 4))):
            trees.append(
                (foot + j * 0.002, u + j * size * rng.uniform(0.8, 1.3), size * rng.uniform(0.75, 1.1))
            )
    trees.sort(key=lambda t: t[0])  # far first
    leaf_base = _rgb(s.land_near)
    for i, (foot, u, size) in enumerate(trees):
        dist = 1.0 - (foot - s.horizon) / (1.0 - s.horizon)
        leaf = _lerp(leaf_base, c.haze, s.haze * 0.15 * dist**2)
        # The tree's shadow on the grass, then the tree.
        flat = 0.1 * size + 0.003
        sh_r0, sh_r1 = c.row(foot - flat), c.row(foot + flat)
        sh_c0, sh_c1 = c.col(u - size * 1.1), c.col(u + size * 1.1)
        if sh_r1 > sh_r0 and sh_c1 > sh_c0:
            du = (c.u[sh_c0:sh_c1] - u + s.light * size * 0.4) / (size * 1.1)
            dv = (c.v[sh_r0:sh_r1] - foot) / flat
            ell = np.clip(1 - (du[None, :] ** 2 + dv[:, None] ** 2), 0, 1).astype(np.float32)
            rgb[sh_r0:sh_r1, sh_c0:sh_c1] *= (1 - 0.3 * _smoothstep(0, 0.3, ell))[:, :, None]
        puffs, trunk_top = _tree(c, rng, u, foot, size)
        _paint_tree(c, rgb, puffs, trunk_top, u, foot, size, leaf, 0.0, keys[0] + i)


def _paint_grass_fringe(c: _Canvas, rgb: np.ndarray, key: int) -> None:
    """Dark blades of grass along the bottom edge: the foreground that frames a field."""
    s = c.style
    rng = _rng(c.seed, _PART_GROUND, 9)
    height = 0.035 + 0.05 * s.trees
    r0 = c.row(1.0 - height * 1.6)
    if r0 >= c.height:
        return
    count = int(c.aspect * 260)
    base_x = rng.uniform(-0.02, c.aspect + 0.02, count)
    tall = height * rng.uniform(0.2, 1.0, count) ** 1.5 * (0.4 + 1.2 * _noise1d(key, base_x * 2.5))
    lean = rng.normal(0, 0.25, count) * tall
    width = rng.uniform(0.0025, 0.006, count)
    shift = 4
    scale = c.height * (1 << shift)
    mask = np.zeros((c.height - r0, c.width), np.uint8)
    top = r0 * c.px
    for bx, h, ln, wd in zip(base_x, tall, lean, width, strict=True):
        # A blade curves: base, a bent middle, the tip.
        pts = np.array(
            [
                [bx - wd, 1.004],
                [bx + wd, 1.004],
                [bx + ln * 0.45 + wd * 0.4, 1.0 - h * 0.55],
                [bx + ln, 1.0 - h],
                [bx + ln * 0.45 - wd * 0.5, 1.0 - h * 0.55],
            ]
        )
        pts[:, 1] -= top
        cv2.fillPoly(mask, [np.round(pts * scale).astype(np.int32)], 255, lineType=cv2.LINE_AA, shift=shift)
    cover = mask.astype(np.float32) * np.float32(1 / 255)
    near = _rgb(s.ground_near)
    vv = c.v[r0:].astype(np.float32)[:, None]
    tip = _smoothstep(1.0 - height, 1.0, vv)
    col = _lerp(np.minimum(near * 1.12, 1), near * np.float32(0.55), tip[:, :, None])
    _over(rgb[r0:], np.broadcast_to(col, (c.height - r0, c.width, 3)), cover)


def _paint_road(c: _Canvas, rgb: np.ndarray) -> None:
    s = c.style
    keys = _keys(c.seed, _PART_GROUND, 8)
    r0 = c.row(s.horizon + 0.004)
    if r0 >= c.height:
        return
    rows = slice(r0, c.height)
    night = _night(c)
    gradient, _ = _ground_colour(c, r0)
    grit = c.field(lambda u, v: _fbm2d(keys[1], u * 40, v * 60, 3), step=2, rows=rows)
    patch = c.field(lambda u, v: _fbm2d(keys[2], u * 2.5, _perspective(s, v) * 3, 3), step=4, rows=rows)
    colour = (
        gradient * ((1.0 + 0.07 * (grit - 0.5)) * (1.0 - 0.08 * _smoothstep(0.52, 0.68, patch)))[:, :, None]
    )
    vv = c.v[r0:].astype(np.float32)[:, None]
    span = 1.0 - s.horizon
    # The shadow along the foot of the wall, the white edge line, then a dashed centre line nearer the bottom.
    colour *= (0.78 + 0.22 * _smoothstep(s.horizon + 0.004, s.horizon + 0.03, vv))[:, :, None]
    line_col = np.array([0.93, 0.93, 0.9], np.float32) * np.float32(1 - 0.55 * night)
    worn = 0.75 + 0.25 * _smoothstep(0.3, 0.5, grit)
    edge_v, edge_w = s.horizon + 0.1 * span, 0.003 + 0.003 * span
    edge = _smoothstep(edge_w, edge_w - 1.5 * c.px, np.abs(vv - edge_v))
    _over(colour, line_col, edge * (0.9 * worn))
    mid_v, mid_w = s.horizon + 0.6 * span, 0.005 + 0.005 * span
    dash = ((c.u / 0.4) % 1.0 < 0.5).astype(np.float32)[None, :]
    mid = _smoothstep(mid_w, mid_w - 1.5 * c.px, np.abs(vv - mid_v)) * dash
    _over(colour, line_col, mid * 0.85 * worn)
    rgb[rows] = colour


def _paint_water(c: _Canvas, rgb: np.ndarray, sky_column: np.ndarray) -> None:
    """The sea: a hazy horizon, deeper colour nearer, wind ripples and the sun's glittering path."""
    s = c.style
    keys = _keys(c.seed, _PART_GROUND, 8)
    r0 = c.row(s.horizon)
    if r0 >= c.height:
        return
    rows = slice(r0, c.height)
    gradient, t = _ground_colour(c, r0)
    # The sky's reflection lightens the water towards the horizon.
    gradient = _lerp(gradient, c.sky_horizon, (0.45 * (1 - _smoothstep(0.0, 0.4, t)))[:, None, None])
    drift = 0.004 * c.time

    def ripples(u: np.ndarray, v: np.ndarray) -> np.ndarray:
        return _fbm2d(keys[1], (u - drift) * 7.0, _perspective(s, v) * 26.0, 4, gain=0.5)

    rip = c.field(ripples, step=2, rows=rows)
    swell = c.field(lambda u, v: _fbm2d(keys[2], u * 1.5, _perspective(s, v) * 3.0, 3), step=4, rows=rows)
    colour = gradient * (1.0 + 0.1 * (swell - 0.5))[:, :, None]
    colour *= (1.0 - 0.1 * _smoothstep(0.42, 0.32, rip))[:, :, None]
    near = np.clip((c.v[r0:] - s.horizon) / (1 - s.horizon), 0, 1).astype(np.float32)[:, None]
    crest = _smoothstep(0.6, 0.68, rip) * (0.25 + 0.35 * near)
    _over(colour, np.minimum(c.sky_horizon * 1.05 + 0.05, 1.0), crest)
    if s.sun == "sun":
        sun_u, _ = _sun_position(c)
        spread = 0.05 + 0.3 * near
        column = np.exp(-(((c.u[None, :] - sun_u) / spread) ** 2)).astype(np.float32)
        glitter = _smoothstep(0.56, 0.62, rip) * column * np.float32(min(s.glow * 1.5, 1.0))
        _over(colour, _rgb(s.sun_colour), glitter)
    rgb[rows] = colour
