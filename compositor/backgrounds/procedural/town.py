"""The town: a far skyline, apartment blocks with balconies and houses with gabled or hipped roofs, their
windows glassy by day and lit at night; garden trees between the houses; and the concrete block wall
along a residential street. The broadleaf tree (`_tree`, `_paint_tree`) also stands in the field.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from compositor.backgrounds.procedural.blobs import _blob, _toon
from compositor.backgrounds.procedural.canvas import _Canvas
from compositor.backgrounds.procedural.noise import (
    _PART_TOWN,
    _PART_TREES,
    _fbm2d,
    _hash01,
    _keys,
    _lerp,
    _over,
    _rgb,
    _rng,
    _smoothstep,
)
from compositor.backgrounds.procedural.sky import _night


@dataclass
class _Building:
    x0: float
    x1: float
    top: float  # v of the eaves (flat roofs: the roof line)
    rise: float  # roof height above the eaves; 0 for a flat roof
    run: float  # horizontal run of each roof slope (a gable when run = half the width)
    overhang: float
    wall: np.ndarray
    roof: np.ndarray
    pitch_x: float
    pitch_y: float
    win_w: float
    win_h: float
    storeys_from: float  # v where the first row of windows begins
    balcony: bool
    window_chance: float


def _town_row(c: _Canvas, rng: np.random.Generator, kind: str, base: float) -> list[_Building]:
    """Buildings of one row, left to right along the whole canvas."""
    s = c.style
    wall = _rgb(s.building_colour)
    roof = _rgb(s.roof_colour)
    out: list[_Building] = []
    u = -rng.uniform(0.0, 0.3)
    dens = s.density
    while u < c.aspect + 0.05:
        if kind == "skyline":
            w = rng.uniform(0.05, 0.2)
            h = rng.uniform(0.03, 0.09) + dens * rng.uniform(0.0, 0.16) * (rng.random() < 0.5)
            if rng.random() < 0.08 * dens:
                h += rng.uniform(0.1, 0.2)
            b = _Building(
                u,
                u + w,
                base - h,
                0.0,
                w / 2,
                0.0,
                wall,
                roof,
                0.012,
                0.018,
                0.005,
                0.006,
                base - h + 0.01,
                False,
                0.9,
            )
            out.append(b)
            u += w + rng.uniform(-0.02, 0.01)
        elif kind == "blocks":
            if rng.random() > 0.35 + 0.6 * dens:
                u += rng.uniform(0.08, 0.3)
                continue
            w = rng.uniform(0.14, 0.42)
            floors = int(rng.integers(3, 4 + int(6 * dens)))
            fh = rng.uniform(0.027, 0.032)
            h = floors * fh + 0.012
            tone = rng.uniform(-0.06, 0.06)
            wc = np.clip(
                _lerp(wall, np.array([0.93, 0.93, 0.95], np.float32), rng.uniform(0, 0.4)) + tone, 0, 1
            )
            pitch_x = rng.uniform(0.035, 0.05)
            b = _Building(
                u,
                u + w,
                base - h,
                0.0,
                w / 2,
                0.0,
                wc,
                roof,
                pitch_x,
                fh,
                pitch_x * 0.55,
                fh * 0.5,
                base - h + 0.012,
                bool(rng.random() < 0.6),
                0.95,
            )
            out.append(b)
            u += w + rng.uniform(0.0, 0.06)
        else:  # houses
            w = rng.uniform(0.15, 0.3)
            storeys = 2 if rng.random() < 0.75 else 1
            storey = rng.uniform(0.05, 0.058)
            eave = base - storeys * storey - 0.008
            gable = rng.random() < 0.5
            rise = rng.uniform(0.032, 0.05) if gable else rng.uniform(0.024, 0.036)
            run = w / 2 + 0.012 if gable else rng.uniform(0.03, 0.06)
            # Variations on the style's two colours keep the street in one palette.
            walls = [
                wall,
                wall * np.float32([1.0, 0.95, 0.88]),
                wall * np.float32([0.93, 0.96, 1.0]),
                _lerp(wall, roof, 0.12),
            ]
            roofs = [
                roof,
                np.clip(roof * np.float32([1.45, 0.95, 0.75]), 0, 1),
                roof * np.float32(0.8),
                _lerp(roof, _rgb(s.land_near), 0.45),
            ]
            wc = np.clip(walls[int(rng.integers(0, len(walls)))] * np.float32(rng.uniform(0.93, 1.04)), 0, 1)
            rc = roofs[int(rng.integers(0, len(roofs)))].astype(np.float32)
            pitch_x = rng.uniform(0.05, 0.075)
            b = _Building(
                u,
                u + w,
                eave,
                rise,
                run,
                0.012,
                wc,
                rc,
                pitch_x,
                (base - eave) / storeys,
                pitch_x * 0.5,
                0.022,
                eave + 0.01,
                False,
                0.6,
            )
            out.append(b)
            u += w + 0.03 + rng.uniform(0.02, 0.22)
    return out


def _paint_buildings(
    c: _Canvas, rgb: np.ndarray, row: list[_Building], base: float, depth: float, key: int, night: float
) -> None:
    """One row of buildings, vectorised per column: roofs, walls, eave shadows, windows (lit or glassy)."""
    s = c.style
    if not row:
        return
    # Per-column lookup of the building that stands there. The roof overhang counts as the building.
    starts = np.array([b.x0 - b.overhang for b in row])
    ends = np.array([b.x1 + b.overhang for b in row])
    idx = np.searchsorted(starts, c.u, side="right") - 1
    inside = (idx >= 0) & (c.u < ends[np.clip(idx, 0, None)])
    if not inside.any():
        return
    safe = np.clip(idx, 0, None)

    def per(attr: str) -> np.ndarray:
        return np.array([getattr(b, attr) for b in row], dtype=np.float64)[safe]

    u = c.u
    x0, x1 = per("x0"), per("x1")
    eave, rise, run, over = per("top"), per("rise"), per("run"), per("overhang")
    along = np.minimum(u - (x0 - over), (x1 + over) - u)
    roof_top = np.where(inside, eave - rise * np.clip(along / np.maximum(run, 1e-6), 0, 1), 10.0)
    in_wall_col = inside & (u >= x0) & (u < x1)
    r0 = max(c.row(float(roof_top.min())) - 1, 0)
    r1 = min(c.row(base) + 1, c.height)
    if r1 <= r0:
        return
    f32 = np.float32
    vv = c.v[r0:r1].astype(f32)[:, None]
    is_roof = vv < (eave + np.where(rise > 0, 0.008, 0.004)).astype(f32)[None, :]
    is_wall = ~is_roof & in_wall_col[None, :]
    cover = np.clip((vv - roof_top.astype(f32)[None, :]) * f32(c.height) + 0.5, 0, 1)
    cover *= is_roof | is_wall

    # Roof slopes: the one facing the light is lighter (a gable shows two faces); shadow under the eaves.
    faces_light = np.sign(u - (x0 + x1) / 2) == np.sign(s.light or -1.0)
    roof_light = np.where(rise > 0, np.where(faces_light, 1.18, 0.88), 1.0).astype(f32)
    under = np.clip((vv - eave.astype(f32)[None, :]) * f32(1 / 0.02), 0, 1)
    shade = np.where(is_roof, roof_light[None, :], 0.78 + 0.22 * under * under * (3 - 2 * under))
    walls = np.stack([b.wall for b in row]).astype(f32)[safe]
    roofs = np.stack([b.roof for b in row]).astype(f32)[safe]
    colour = np.where(is_roof[:, :, None], roofs[None, :, :], walls[None, :, :])
    colour *= shade[:, :, None]

    # Windows on a grid from each building's left edge; a hash per window decides glass, lit, or none.
    pitch_x, pitch_y = per("pitch_x"), per("pitch_y").astype(f32)
    win_w, win_h = per("win_w"), per("win_h").astype(f32)
    first, chance = per("storeys_from").astype(f32), per("window_chance")
    local_x = (u - x0) - 0.5 * ((x1 - x0) - np.floor((x1 - x0 - 0.01) / pitch_x) * pitch_x)
    cell_x = np.floor(local_x / pitch_x)
    in_x = ((local_x - cell_x * pitch_x) < win_w) & (local_x > 0) & (u < x1 - 0.008)
    local_y = vv - first[None, :]
    cell_y = np.floor(local_y / pitch_y[None, :])
    in_cell_y = local_y - cell_y * pitch_y[None, :]
    window = is_wall & in_x[None, :] & (in_cell_y < win_h[None, :]) & (local_y > 0) & (vv < f32(base - 0.012))
    wr, wc = np.nonzero(window)
    lit_rows = lit_cols = np.zeros(0, np.int64)
    if wr.size:
        # Hash each window once (a small table over window columns x storeys), not each pixel.
        column_ids, column_of = np.unique(safe * 1000 + cell_x.astype(np.int64), return_inverse=True)
        storey = cell_y[wr, wc].astype(np.int64)
        lowest = int(storey.min())
        storeys = np.arange(lowest, int(storey.max()) + 1)
        table = [_hash01(key + j, column_ids[:, None], storeys[None, :]) for j in range(3)]
        pick = (column_of[wc], storey - lowest)
        present = table[0][pick] < chance[wc]
        lit = (table[1][pick] < s.windows) & present
        glass = _rgb(s.glass_colour)
        top = np.clip(in_cell_y[wr, wc] / win_h[wc], 0, 1)[:, None]
        colour[wr[present], wc[present]] = (glass * 1.25 + (glass * 0.8 - glass * 1.25) * top)[present]
        warm = _rgb(s.window_colour)[None, :] * (0.85 + 0.3 * table[2][pick][lit]).astype(f32)[:, None]
        lit_rows, lit_cols = wr[lit], wc[lit]
        lit_colour = np.minimum(warm, 1.0)

    balcony = per("balcony") > 0
    if balcony.any():
        rail = is_wall & balcony[None, :] & (in_cell_y > pitch_y[None, :] * 0.72) & (local_y > 0)
        rail &= (u < x1 - 0.004)[None, :]
        colour[rail] = colour[rail] * 0.82 + 0.1

    # Distance haze, then night: one multiply-add (everything but the lit windows sinks into the dark).
    haze = s.haze * depth * 0.8
    dark = night * (0.3 + 0.3 * depth)
    gain = (1.0 - night * 0.72) * (1 - haze) * (1 - dark)
    offset = (c.haze * haze * (1 - dark) + _rgb(s.sky[0]) * 0.7 * dark).astype(f32)
    colour *= f32(gain)
    colour += offset
    if lit_rows.size:
        colour[lit_rows, lit_cols] = lit_colour
    _over(rgb[r0:r1], colour, cover)
    if lit_rows.size and night > 0:
        lit_mask = np.zeros(cover.shape, f32)
        lit_mask[lit_rows, lit_cols] = 1.0
        glow = cv2.GaussianBlur(lit_mask, (0, 0), max(1.0, 0.006 * c.height))
        rgb[r0:r1] += glow[:, :, None] * _rgb(s.window_colour) * f32(0.35 * night)


def _tree(
    c: _Canvas, rng: np.random.Generator, u: float, foot: float, size: float
) -> tuple[np.ndarray, float]:
    """Crown puffs of one broadleaf tree standing at (u, foot), and where its trunk meets the crown."""
    n = int(rng.integers(5, 10))
    centre = foot - size * rng.uniform(1.1, 1.5)
    xs = u + rng.normal(0, size * 0.38, n)
    ys = centre + rng.normal(0, size * 0.28, n)
    rs = size * rng.uniform(0.38, 0.58, n)
    return np.stack([xs, ys, rs], 1), centre + 0.3 * size


def _paint_tree(
    c: _Canvas,
    rgb: np.ndarray,
    puffs: np.ndarray,
    trunk_top: float,
    u: float,
    foot: float,
    size: float,
    leaf: np.ndarray,
    night: float,
    noise_key: int,
) -> None:
    s = c.style
    tc0, tc1 = c.col(u - 0.07 * size), max(c.col(u + 0.07 * size), c.col(u - 0.07 * size) + 1)
    tr0, tr1 = c.row(trunk_top), c.row(foot)
    if tr1 > tr0 and tc1 > tc0:
        rgb[tr0:tr1, tc0:tc1] = leaf * np.float32(0.42 * (1 - 0.6 * night))
    noise = np.zeros((c.height, c.width), np.float32)
    r0 = c.row(float((puffs[:, 1] - puffs[:, 2]).min()) - 0.01)
    r1 = min(c.row(float((puffs[:, 1] + puffs[:, 2]).max()) + 0.01) + 1, c.height)
    c0 = c.col(float((puffs[:, 0] - puffs[:, 2]).min()) - 0.01)
    c1 = min(c.col(float((puffs[:, 0] + puffs[:, 2]).max()) + 0.01) + 1, c.width)
    if r1 - r0 > 1 and c1 - c0 > 1:
        noise[r0:r1, c0:c1] = _fbm2d(noise_key, c.u[c0:c1] / size * 3, c.v[r0:r1] / size * 3, 2)
    blob = _blob(
        c, puffs, smooth=0.15, noise=noise, noise_amp=0.1 * size, softness=0.3 * c.px, cut_below=foot
    )
    if blob is None:
        return
    light = np.array([s.light, -0.75, 0.55], np.float32)
    light /= np.linalg.norm(light)
    lambert = blob.nx * light[0] + blob.ny * light[1] + blob.nz * light[2]
    shadow = _lerp(leaf * 0.62, _rgb(s.sky[0]), 0.12)
    lit = np.minimum(leaf * 1.22 + 0.03, 1.0)
    if night > 0:
        shadow, leaf, lit = (x * np.float32(1 - 0.7 * night) for x in (shadow, leaf, lit))
    value = lambert + 0.3 * (noise[blob.rows, blob.cols] - 0.5)
    colour = _toon(value, [shadow, leaf, lit], [0.3, 0.7], 0.05)
    _over(rgb[blob.rows, blob.cols], colour, blob.alpha)


def _paint_trees_between(
    c: _Canvas, rgb: np.ndarray, base: float, houses: list[_Building], rng: np.random.Generator, night: float
) -> None:
    """Garden trees in the gaps between the houses (and the odd one behind a roof)."""
    s = c.style
    leaf = _rgb(s.land_near)
    keys = _keys(c.seed, _PART_TREES, 1)
    spots = [
        (a.x1 + a.overhang + b.x0 - b.overhang) / 2
        for a, b in zip(houses, houses[1:], strict=False)
        if (b.x0 - b.overhang) - (a.x1 + a.overhang) > 0.04
    ]
    spots += list(rng.uniform(-0.05, c.aspect + 0.05, int(s.trees * 1.5 * c.aspect)))
    for i, spot in enumerate(spots):
        if rng.random() > s.trees:
            continue
        size = rng.uniform(0.035, 0.06)
        u = spot + rng.normal(0, 0.01)
        puffs, trunk_top = _tree(c, rng, u, base, size)
        _paint_tree(c, rgb, puffs, trunk_top, u, base, size, leaf, night, keys[0] + i)


def _paint_town(c: _Canvas, rgb: np.ndarray, walls: bool) -> None:
    s = c.style
    keys = _keys(c.seed, _PART_TOWN, 6)
    night = _night(c)
    base = s.horizon
    rng = _rng(c.seed, _PART_TOWN, 1)
    skyline = _town_row(c, rng, "skyline", base - 0.07)
    _paint_buildings(c, rgb, skyline, base - 0.07, 0.95, keys[0], night)
    # A haze band hides where the skyline meets the blocks.
    r0, r1 = c.row(base - 0.12), c.row(base - 0.05)
    if r1 > r0:
        vv = c.v[r0:r1].astype(np.float32)
        _over(
            rgb[r0:r1],
            c.haze,
            np.broadcast_to(
                (_smoothstep(base - 0.12, base - 0.06, vv) * s.haze * 0.45)[:, None], (r1 - r0, c.width)
            ),
        )
    rng = _rng(c.seed, _PART_TOWN, 2)
    blocks = _town_row(c, rng, "blocks", base - 0.02)
    _paint_buildings(c, rgb, blocks, base - 0.02, 0.45, keys[1], night)
    houses = _town_row(c, _rng(c.seed, _PART_TOWN, 3), "houses", base)
    _paint_trees_between(c, rgb, base - 0.004, houses, _rng(c.seed, _PART_TREES, 1), night)
    _paint_buildings(c, rgb, houses, base, 0.0, keys[2], night)
    if walls:
        _paint_block_wall(c, rgb, base, night, keys[3])


def _paint_block_wall(c: _Canvas, rgb: np.ndarray, base: float, night: float, key: int) -> None:
    """The concrete block wall along a residential street, with its coping and mortar lines."""
    s = c.style
    top, bottom = base - 0.034, base + 0.004
    r0, r1 = c.row(top), c.row(bottom)
    if r1 <= r0:
        return
    wall = _rgb(s.wall_colour)
    vv = c.v[r0:r1].astype(np.float32)[:, None]
    uu = c.u.astype(np.float32)[None, :]
    course = 0.0125
    brick = 0.05
    ry = (vv - top - 0.006) / course
    row_i = np.floor(ry)
    joint_y = (ry - row_i) < (0.8 * c.px / course + 0.04)
    rx = (uu + (row_i % 2) * brick * 0.5) / brick
    joint_x = (rx - np.floor(rx)) < (0.8 * c.px / brick + 0.015)
    colour = np.empty((r1 - r0, c.width, 3), np.float32)
    colour[:] = wall
    stain = c.field(lambda u, v: _fbm2d(key, u * 30, v * 60, 3), step=2, rows=slice(r0, r1))
    colour *= (0.93 + 0.12 * stain)[:, :, None]
    mortar = ((joint_y | joint_x) & (vv > top + 0.006)).astype(np.float32)
    colour *= (1.0 - 0.12 * mortar)[:, :, None]
    cap = vv < top + 0.006
    colour = np.where(cap[:, :, None], np.minimum(wall * 1.12 + 0.02, 1.0), colour)
    colour *= (1.0 - 0.25 * _smoothstep(bottom - 0.015, bottom, vv))[:, :, None]
    if night > 0:
        colour *= np.float32(1 - 0.75 * night)
    _over(rgb[r0:r1], colour, np.ones((r1 - r0, c.width), np.float32))
