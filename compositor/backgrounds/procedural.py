"""The procedural background painter: a seeded, model-free painter of anime background art.

A style template's ``[procedural]`` table (validated by `ProceduralStyle`) chooses the palette and the kind of
scenery: a sky gradient with a sun or moon and its glow, stars, toon-shaded cumulus or long evening streaks of
cloud, layered hills or mountains fading into atmospheric haze, a townscape (skyline, apartment blocks, houses
with lit windows, block walls, utility poles and sagging wires, street lamps) or a sea, and a ground plane (a
field with a path, a road, or water). A little painterly texture lies over everything.

The scene is laid out in *canvas heights*: a point is ``(u, v)`` with ``u = x / H`` and ``v = y / H``. A wider
canvas therefore shows more scenery, never stretched scenery, and a taller canvas of the same aspect shows the
same scene at a higher resolution. Everything random comes from ``np.random.default_rng`` streams derived from
the seed (one stream per part of the scene, so changing the cloud amount leaves the hills alone) and from a
hash of integer lattice points for noise, so the same seed, style and canvas give the same pixels; nothing
depends on the thread count. Clouds live in an endless strip of world cells, so animated clouds can drift in
from outside the canvas.

Frames are float32 premultiplied RGBA ``(H, W, 4)`` with alpha 1, in sRGB values in ``[0, 1]``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import cv2
import numpy as np
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator

from compositor.errors import SpecError

if TYPE_CHECKING:
    from compositor.spec import Shot

PAINTER_VERSION = "procedural/1"
"""Part of every `describe` dict: bump it whenever a change to this module changes the pixels."""

# ------------------------------------------------------------------------------------------------------------
# The style


def _check_colour(value: str) -> str:
    text = value.strip()
    if len(text) != 7 or text[0] != "#" or any(ch not in "0123456789abcdefABCDEF" for ch in text[1:]):
        raise ValueError(f'expected a colour like "#87ceeb", got {value!r}')
    return text.lower()


Colour = Annotated[str, AfterValidator(_check_colour)]
Unit = Annotated[float, Field(ge=0, le=1)]


class ProceduralStyle(BaseModel):
    """The ``[procedural]`` table of a style template; every key has a default.

    Positions and sizes are fractions of the canvas height (``sun_x`` is a fraction of the canvas width);
    colours are ``"#rrggbb"`` strings in sRGB.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    # The scene
    terrain: Literal["hills", "mountains", "town", "sea"] = "hills"
    horizon: float = Field(default=0.66, ge=0.3, le=0.95)
    """Where the land meets the ground plane, as a fraction of the height from the top."""
    light: float = Field(default=-0.6, ge=-1, le=1)
    """Where the light comes from across the scene: -1 from the left, 1 from the right."""
    texture: Unit = 0.5
    """Painterly texture: soft blotches and paper grain."""

    # Sky
    sky: tuple[Colour, ...] = Field(
        default=("#3d78c4", "#78aee0", "#bfe0f2", "#e8f3f4"), min_length=2, max_length=8
    )
    """Gradient stops from the top of the sky down to the horizon."""
    sky_curve: float = Field(default=1.0, gt=0.1, le=5)
    """Above 1 keeps the top colour further down; below 1 lifts the horizon colours."""
    sun: Literal["none", "sun", "moon"] = "sun"
    sun_colour: Colour = "#fff6dc"
    sun_x: float | None = Field(default=None, ge=0, le=1)
    """Across the canvas, as a fraction of its width; default: chosen by the seed."""
    sun_y: float = Field(default=0.2, ge=-0.5, le=1)
    sun_size: float = Field(default=0.035, ge=0, le=0.3)
    """Radius of the disc; 0 for a glow with no disc."""
    glow: float = Field(default=0.5, ge=0, le=2)
    stars: Unit = 0.0

    # Clouds
    clouds: Unit = 0.4
    """How much of the sky the clouds cover."""
    cloud_kind: Literal["cumulus", "streaks", "mixed"] = "cumulus"
    cloud_light: Colour = "#ffffff"
    cloud_shadow: Colour = "#a9bcd8"
    cloud_top: Unit = 0.04
    cloud_bottom: Unit = 0.5
    cloud_scale: float = Field(default=1.0, gt=0.1, le=5)
    towers: Unit = 0.0
    """The chance of a towering cumulonimbus in each stretch of sky."""
    wind: float = Field(default=0.01, ge=-1, le=1)
    """Cloud drift for animated backgrounds, in canvas heights per second (positive: to the right)."""

    # Land (hills, mountains, islands)
    layers: int = Field(default=3, ge=1, le=6)
    relief: float = Field(default=0.2, ge=0, le=0.8)
    """Height of the tallest ridges above the horizon."""
    roughness: Unit = 0.5
    trees: Unit = 0.5
    """Tree lines on the nearer ridges and trees standing in the field or between houses."""
    haze: Unit = 0.6
    """Atmospheric perspective: how far the far layers fade into the haze colour."""
    haze_colour: Colour | None = None
    """Default: the sky's horizon colour."""
    land_far: Colour = "#6d8fb0"
    land_near: Colour = "#3f6b45"
    rim: Unit = 0.5
    """Rim light along the ridges near a low sun."""

    # Town
    density: Unit = 0.6
    """How packed and tall the town is."""
    building_colour: Colour = "#d9d2c3"
    roof_colour: Colour = "#4d5a6e"
    windows: Unit = 0.0
    """The fraction of windows that are lit."""
    window_colour: Colour = "#ffd98a"
    glass_colour: Colour = "#5d7590"
    wall_colour: Colour = "#bdb8ad"
    poles: bool = False
    """Utility poles with sagging wires."""
    pole_colour: Colour = "#3c3f47"
    lamps: bool = False
    lamp_colour: Colour = "#fff1c4"

    # Ground
    ground: Literal["auto", "field", "road", "water"] = "auto"
    """auto: a field for hills and mountains, a road for a town, water for the sea."""
    ground_far: Colour = "#8fb36a"
    ground_near: Colour = "#4f7f3c"
    path: bool = False
    """A winding dirt path across the field."""
    path_colour: Colour = "#cdb98f"

    @model_validator(mode="after")
    def _band_in_order(self) -> ProceduralStyle:
        if self.cloud_top >= self.cloud_bottom:
            raise ValueError(f"cloud_top ({self.cloud_top}) must be above cloud_bottom ({self.cloud_bottom})")
        return self

    @property
    def ground_kind(self) -> str:
        if self.ground != "auto":
            return self.ground
        return {"town": "road", "sea": "water"}.get(self.terrain, "field")


def _key_path(loc: tuple[Any, ...]) -> str:
    out = "procedural"
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def parse_style(table: Mapping[str, Any] | None, display: str) -> ProceduralStyle:
    """Validate a style's ``[procedural]`` table; problems become one `SpecError`, a line each.

    ``display`` names the file in messages: ``templates/styles/dusk.toml: procedural.clouds: ...``.
    """
    if table is None:
        table = {}
    if not isinstance(table, Mapping):
        raise SpecError(f"{display}: procedural: expected a table of keys, got {type(table).__name__}")
    try:
        return ProceduralStyle.model_validate(dict(table))
    except ValidationError as e:
        errors = [
            (tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-"))), err)
            for err in e.errors()
        ]
        lines = []
        for loc, err in errors:
            # A list with a bad item is also "too short" once the item is dropped: say only what is wrong.
            if err["type"] == "too_short" and any(
                len(o) > len(loc) and o[: len(loc)] == loc for o, _ in errors
            ):
                continue
            msg = str(err["msg"]).removeprefix("Value error, ")
            if err["type"] == "extra_forbidden":
                msg = "unknown key (check its spelling)"
            lines.append(f"{display}: {_key_path(loc)}: {msg}")
        raise SpecError("\n".join(lines)) from None


def load_style_file(path: Path | str, display: str | None = None) -> ProceduralStyle:
    """Read a style template and validate its ``[procedural]`` table."""
    from compositor.spec import read_toml  # noqa: PLC0415 (keeps this module importable on its own)

    path = Path(path)
    display = display or str(path)
    return parse_style(read_toml(path, display).get("procedural"), display)


def style_of(shot: Shot) -> ProceduralStyle:
    """The procedural style of a cut, from its already-parsed style template."""
    return parse_style(shot.style.get("procedural"), shot.production.rel(shot.style_path))


# ------------------------------------------------------------------------------------------------------------
# The pipeline's entry points


def frame_count(shot: Shot) -> int:
    """How many canvases the cut's background needs: one, or one per frame when ``background.animate``."""
    return shot.frames if shot.spec.background.animate else 1


def _time(shot: Shot, index: int) -> float:
    count = frame_count(shot)
    if not 0 <= index < count:
        raise IndexError(f"{shot.display}: background canvas {index} does not exist (the cut has {count})")
    return index / shot.fps if shot.spec.background.animate else 0.0


def describe(shot: Shot, index: int) -> dict[str, Any]:
    """Everything that changes the pixels of canvas ``index`` (0-based), as a JSON-able dict (a cache key)."""
    time = _time(shot, index)
    out: dict[str, Any] = {
        "painter": PAINTER_VERSION,
        "style": style_of(shot).model_dump(mode="json"),
        "seed": shot.spec.background.seed,
        "canvas": [int(shot.canvas[0]), int(shot.canvas[1])],
        "animate": bool(shot.spec.background.animate),
    }
    if shot.spec.background.animate:
        out["index"] = index
        out["time"] = time
    return out


def paint(shot: Shot, index: int, progress: Any = None) -> np.ndarray:
    """Canvas ``index`` of the cut's background: float32 premultiplied RGBA ``(H, W, 4)``, alpha 1.

    ``(W, H)`` is ``shot.canvas``. ``progress`` is accepted for the background step's signature and not used:
    a canvas takes well under a second.
    """
    del progress
    time = _time(shot, index)
    width, height = shot.canvas
    return paint_canvas(int(width), int(height), style_of(shot), shot.spec.background.seed, time)


# ------------------------------------------------------------------------------------------------------------
# Randomness and noise

_PART_SKY, _PART_CLOUDS, _PART_LAND, _PART_TOWN, _PART_GROUND, _PART_POLES, _PART_TEXTURE, _PART_TREES = (
    range(8)
)
_MASK64 = (1 << 64) - 1


def _rng(seed: int, *parts: int) -> np.random.Generator:
    """An independent stream for one part of the scene (SeedSequence takes non-negative integers only)."""
    return np.random.default_rng([seed & _MASK64, *parts])


def _zigzag(n: int) -> int:
    return 2 * n if n >= 0 else -2 * n - 1


def _keys(seed: int, part: int, count: int) -> list[int]:
    return [int(k) for k in _rng(seed, part, 7919).integers(0, 1 << 62, size=count)]


_M1, _M2, _M3, _M4 = (
    np.uint64(m) for m in (0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0xBF58476D1CE4E5B9, 0x94D049BB133111EB)
)


def _mix64(h: np.ndarray) -> np.ndarray:
    h = h ^ (h >> np.uint64(30))
    h = h * _M3
    h = h ^ (h >> np.uint64(27))
    h = h * _M4
    return h ^ (h >> np.uint64(31))


def _hash01(key: int, ix: np.ndarray, iy: np.ndarray | int = 0) -> np.ndarray:
    """A uniform value in [0, 1) for every integer lattice point; the same key and point, the same value."""
    with np.errstate(over="ignore"):
        h = _mix64(np.asarray(ix, dtype=np.int64).astype(np.uint64) * _M1 + np.uint64(key & _MASK64))
        h = _mix64(h ^ (np.asarray(iy, dtype=np.int64).astype(np.uint64) * _M2))
    return (h >> np.uint64(40)).astype(np.float64) * (1.0 / (1 << 24))


def _catmull_rom(t: np.ndarray) -> tuple[np.ndarray, ...]:
    t2 = t * t
    t3 = t2 * t
    return (
        (-t3 + 2 * t2 - t) * 0.5,
        (3 * t3 - 5 * t2 + 2) * 0.5,
        (-3 * t3 + 4 * t2 + t) * 0.5,
        (t3 - t2) * 0.5,
    )


def _axis(coords: np.ndarray) -> tuple[int, int, np.ndarray, tuple[np.ndarray, ...]]:
    """Lattice range, first-tap index and the four Catmull-Rom weights for points along one axis."""
    cell = np.floor(coords)
    lo = int(cell.min()) - 1
    count = int(cell.max()) - lo + 3
    weights = tuple(w.astype(np.float32) for w in _catmull_rom(coords - cell))
    return lo, count, (cell.astype(np.int64) - lo - 1), weights


def _noise1d(key: int, coords: np.ndarray) -> np.ndarray:
    """Smooth value noise along a line, about [0, 1], float64; one lattice cell per unit of ``coords``."""
    coords = np.asarray(coords, dtype=np.float64)
    lo, count, first, w = _axis(coords)
    lattice = _hash01(key, np.arange(lo, lo + count))
    return sum(lattice[first + k] * w[k] for k in range(4))


def _fbm1d(key: int, coords: np.ndarray, octaves: int, gain: float = 0.5) -> np.ndarray:
    total, amp, norm = 0.0, 1.0, 0.0
    for o in range(octaves):
        total = total + amp * _noise1d(key + o, coords * (2.0**o) + 17.31 * o)
        norm += amp
        amp *= gain
    return total / norm


def _noise2d(key: int, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """Value noise on the grid ``ys x xs`` (lattice units), float32 ``(len(ys), len(xs))``, about [0, 1].

    Separable Catmull-Rom interpolation: the x pass runs on the few lattice rows, the y pass on the full grid.
    """
    xlo, nx, xfirst, wx = _axis(np.asarray(xs, dtype=np.float64))
    ylo, ny, yfirst, wy = _axis(np.asarray(ys, dtype=np.float64))
    lattice = _hash01(key, np.arange(xlo, xlo + nx)[None, :], np.arange(ylo, ylo + ny)[:, None]).astype(
        np.float32
    )
    rows = sum(lattice[:, xfirst + k] * wx[k][None, :] for k in range(4))
    return sum(rows[yfirst + k] * wy[k][:, None] for k in range(4))


def _fbm2d(key: int, xs: np.ndarray, ys: np.ndarray, octaves: int, gain: float = 0.5) -> np.ndarray:
    total, amp, norm = None, 1.0, 0.0
    for o in range(octaves):
        f = 2.0**o
        layer = _noise2d(key + o, xs * f + 31.7 * o, ys * f + 11.3 * o) * np.float32(amp)
        total = layer if total is None else total + layer
        norm += amp
        amp *= gain
    return total * np.float32(1.0 / norm)


def _smoothstep(e0: float, e1: float, x: np.ndarray) -> np.ndarray:
    t = np.clip((x - e0) * (1.0 / (e1 - e0)), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def _rgb(hex_colour: str) -> np.ndarray:
    return np.array([int(hex_colour[i : i + 2], 16) / 255.0 for i in (1, 3, 5)], dtype=np.float32)


def _lerp(a: np.ndarray, b: np.ndarray, t: np.ndarray | float) -> np.ndarray:
    return a + (b - a) * t


def _luma(c: np.ndarray) -> np.ndarray:
    return c[..., 0] * 0.299 + c[..., 1] * 0.587 + c[..., 2] * 0.114


def _over(dst: np.ndarray, colour: np.ndarray, alpha: np.ndarray) -> None:
    """Lay ``colour`` (``(..., 3)`` or an RGB triple) over ``dst`` in place, with coverage ``alpha``."""
    a = alpha[..., None]
    dst += (colour - dst) * a


# ------------------------------------------------------------------------------------------------------------
# The canvas


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


_SMALLEST = 32  # canvases with a side under this are painted larger and shrunk


def paint_canvas(width: int, height: int, style: ProceduralStyle, seed: int, time: float = 0.0) -> np.ndarray:
    """Paint one background: float32 premultiplied RGBA ``(height, width, 4)`` with alpha 1, values in [0, 1].

    The same arguments always give the same pixels. ``time`` (seconds) only moves the clouds, by
    ``style.wind`` canvas heights a second.
    """
    if width < 1 or height < 1:
        raise ValueError(f"canvas size must be positive, got {width}x{height}")
    if min(width, height) < _SMALLEST:
        # Thumbnails and test frames: paint big enough for every feature to have a pixel, then shrink.
        k = -(-_SMALLEST // min(width, height))
        big = paint_canvas(width * k, height * k, style, seed, time)
        out = cv2.resize(big, (width, height), interpolation=cv2.INTER_AREA)
        out = out.reshape(height, width, 4)
        out[:, :, 3] = 1.0
        return np.clip(out, 0.0, 1.0)
    c = _Canvas(int(width), int(height), style, int(seed), float(time))
    rgb, sky_column = _paint_sky(c)
    _paint_clouds(c, rgb, sky_column)
    terrain = style.terrain
    if terrain in ("hills", "mountains"):
        _paint_ranges(c, rgb)
    elif terrain == "sea":
        _paint_islands(c, rgb)
    ground = style.ground_kind
    if terrain == "town":
        _paint_town(c, rgb, walls=ground == "road")
    if ground == "field":
        _paint_field(c, rgb)
    elif ground == "road":
        _paint_road(c, rgb)
    elif ground == "water":
        _paint_water(c, rgb, sky_column)
    if style.poles:
        _paint_poles(c, rgb)
    if style.lamps:
        _paint_lamps(c, rgb)
    _paint_texture(c, rgb)
    out = np.empty((c.height, c.width, 4), dtype=np.float32)
    np.clip(rgb, 0.0, 1.0, out=out[:, :, :3])
    out[:, :, 3] = 1.0
    return out


# ------------------------------------------------------------------------------------------------------------
# Sky


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


# ------------------------------------------------------------------------------------------------------------
# Blobs: clouds and tree crowns


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


# ------------------------------------------------------------------------------------------------------------
# Clouds

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


# ------------------------------------------------------------------------------------------------------------
# Land: ranges of hills or mountains in atmospheric perspective


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


# ------------------------------------------------------------------------------------------------------------
# Town


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


# ------------------------------------------------------------------------------------------------------------
# Ground


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


# ------------------------------------------------------------------------------------------------------------
# Poles, wires and lamps


def _pole_positions(c: _Canvas) -> np.ndarray:
    rng = _rng(c.seed, _PART_POLES)
    out = []
    u = rng.uniform(0.1, 0.6)
    while u < c.aspect + 0.8:
        out.append(u)
        u += rng.uniform(0.95, 1.4)
    return np.array(out)


def _pole_foot(c: _Canvas) -> float:
    return c.style.horizon + (0.07 if c.style.ground_kind == "road" else 0.03)


_POLE_TOP = 0.05
_LAMP_V = 0.3


def _paint_poles(c: _Canvas, rgb: np.ndarray) -> None:
    """Concrete utility poles with cross-arms, step bolts, a transformer now and then, and sagging wires."""
    s = c.style
    rng = _rng(c.seed, _PART_POLES, 1)
    poles = _pole_positions(c)
    foot, top = _pole_foot(c), _POLE_TOP
    arms = [top + 0.04, top + 0.09]
    mask = np.zeros((c.height, c.width), np.uint8)
    shift = 4
    scale = c.height * (1 << shift)

    def fill(points: list[tuple[float, float]]) -> None:
        cv2.fillPoly(mask, [np.round(np.array(points) * scale).astype(np.int32)], 255, cv2.LINE_AA, shift)

    thick = max(1, round(c.height / 720))
    previous = None
    for u in poles:
        fill([(u - 0.0055, top), (u + 0.0055, top), (u + 0.0085, foot), (u - 0.0085, foot)])
        for a, arm_v in enumerate(arms):
            wide = 0.055 - 0.012 * a
            fill([(u - wide, arm_v), (u + wide, arm_v), (u + wide, arm_v + 0.005), (u - wide, arm_v + 0.005)])
            for k in (-1, 0, 1):
                x = u + k * (wide - 0.006)
                fill(
                    [
                        (x - 0.0025, arm_v - 0.009),
                        (x + 0.0025, arm_v - 0.009),
                        (x + 0.0025, arm_v),
                        (x - 0.0025, arm_v),
                    ]
                )
        if rng.random() < 0.45:
            fill(
                [
                    (u + 0.01, top + 0.13),
                    (u + 0.032, top + 0.13),
                    (u + 0.032, top + 0.19),
                    (u + 0.01, top + 0.19),
                ]
            )
        # Step bolts: the short rungs on a Japanese concrete pole.
        for j in range(6):
            bv = top + 0.22 + j * 0.035
            side = (-1) ** j
            fill(
                [
                    (u + side * 0.006, bv),
                    (u + side * 0.016, bv - 0.002),
                    (u + side * 0.016, bv + 0.0015),
                    (u + side * 0.006, bv + 0.003),
                ]
            )
        if previous is not None:
            for a, arm_v in enumerate(arms):
                wide = 0.055 - 0.012 * a
                for k in (-1, 0, 1):
                    _wire(
                        mask,
                        previous + k * (wide - 0.006),
                        u + k * (wide - 0.006),
                        arm_v - 0.009,
                        0.035 + 0.012 * a + 0.004 * k,
                        thick,
                        scale,
                        shift,
                    )
            # Lower, heavier telephone cables.
            _wire(mask, previous, u, top + 0.27, 0.06, thick + 1, scale, shift)
            _wire(mask, previous, u, top + 0.3, 0.075, thick, scale, shift)
        previous = u
    used = np.flatnonzero(mask.any(axis=1))
    if used.size == 0:
        return
    r0, r1 = int(used[0]), int(used[-1]) + 1
    cover = mask[r0:r1].astype(np.float32) * np.float32(1 / 255)
    night = _night(c)
    pole = _rgb(s.pole_colour) * np.float32(1 - 0.6 * night)
    # The lit side of each pole a shade lighter.
    lit_side = np.zeros(c.width, np.float32)
    for u in poles:
        a0, a1 = c.col(u - 0.0085), c.col(u + 0.0085)
        if a1 > a0:
            ramp = (c.u[a0:a1] - u) / 0.0085 * np.sign(s.light or -1.0)
            lit_side[a0:a1] = np.maximum(lit_side[a0:a1], np.clip(ramp, 0, 1).astype(np.float32))
    colour = pole[None, None, :] * (1.0 + 0.35 * (1 - night) * lit_side)[None, :, None]
    _over(rgb[r0:r1], colour, cover)
    if s.sun == "sun" and night < 0.5 and s.ground_kind in ("road", "field"):
        _paint_pole_shadows(c, rgb, poles, foot)


def _paint_pole_shadows(c: _Canvas, rgb: np.ndarray, poles: np.ndarray, foot: float) -> None:
    """Each pole's shadow falls across the ground, away from the light, as a long soft-edged band."""
    s = c.style
    away = -float(np.sign(s.light) or -1.0)
    mask = np.zeros((c.height, c.width), np.uint8)
    shift = 4
    scale = c.height * (1 << shift)
    for u in poles:
        far_u, far_v = u + away * 0.55, 1.05
        quad = np.array([[u - 0.008, foot], [u + 0.008, foot], [far_u + 0.02, far_v], [far_u - 0.02, far_v]])
        cv2.fillPoly(mask, [np.round(quad * scale).astype(np.int32)], 255, cv2.LINE_AA, shift)
    r0 = c.row(foot - 0.01)
    shade = cv2.GaussianBlur(mask[r0:], (0, 0), max(0.8, 0.0015 * c.height)).astype(np.float32) / 255
    rgb[r0:] *= (1.0 - 0.28 * shade)[:, :, None]


def _wire(
    mask: np.ndarray, u0: float, u1: float, v: float, sag: float, thick: int, scale: float, shift: int
) -> None:
    s = np.linspace(0.0, 1.0, 48)
    us = u0 + (u1 - u0) * s
    vs = v + sag * 4 * s * (1 - s)  # a parabola is a catenary to the eye at these sags
    pts = np.round(np.stack([us, vs], 1) * scale).astype(np.int32)
    cv2.polylines(mask, [pts], False, 255, thick, cv2.LINE_AA, shift)


def _paint_lamps(c: _Canvas, rgb: np.ndarray) -> None:
    """Street lamps on the poles (or on their own posts): a bright head, a halo and a pool of light below."""
    s = c.style
    rng = _rng(c.seed, _PART_POLES, 2)
    lamp = _rgb(s.lamp_colour)
    night = _night(c)
    strength = np.float32(0.25 + 0.75 * night)
    foot = _pole_foot(c)
    if s.poles:
        positions, head_v = _pole_positions(c), _LAMP_V
    else:
        positions, head_v = np.arange(0.4, c.aspect + 0.5, 1.1), foot - 0.3
    shift = 4
    scale = c.height * (1 << shift)
    side = -float(np.sign(s.light) or -1.0)
    for u in positions:
        if rng.random() < 0.2:
            continue
        hu = u + 0.045 * side
        # The light pool on the ground first, so the pole and head stay on top of it.
        pr0, pr1 = c.row(foot - 0.04), c.row(foot + 0.12)
        pc0, pc1 = c.col(hu - 0.35), c.col(hu + 0.35)
        if pr1 > pr0 and pc1 > pc0:
            dx = (c.u[pc0:pc1] - hu)[None, :] / 0.2
            dy = (c.v[pr0:pr1] - (foot + 0.02))[:, None] / 0.05
            pool = (np.exp(-(dx * dx + dy * dy)) * 0.9 * strength).astype(np.float32)
            patch = rgb[pr0:pr1, pc0:pc1]
            patch += pool[:, :, None] * lamp * (patch * 1.6 + 0.05)
        r0, r1 = c.row(head_v - 0.2), c.row(head_v + 0.2)
        c0, c1 = c.col(hu - 0.2), c.col(hu + 0.2)
        if r1 <= r0 or c1 <= c0:
            continue
        patch = rgb[r0:r1, c0:c1]
        mask = np.zeros(patch.shape[:2], np.uint8)
        origin = np.array([c0 * c.px, r0 * c.px])
        if not s.poles:
            post = np.array([[u - 0.003, head_v], [u + 0.003, head_v], [u + 0.004, foot], [u - 0.004, foot]])
            cv2.fillPoly(mask, [np.round((post - origin) * scale).astype(np.int32)], 160, cv2.LINE_AA, shift)
        arm = np.array([[u, head_v + 0.008], [u + 0.02 * side, head_v - 0.002], [hu, head_v]])
        cv2.polylines(
            mask,
            [np.round((arm - origin) * scale).astype(np.int32)],
            False,
            160,
            max(1, round(c.height / 400)),
            cv2.LINE_AA,
            shift,
        )
        head = np.array(
            [
                [hu - 0.013, head_v],
                [hu + 0.013, head_v],
                [hu + 0.01, head_v + 0.006],
                [hu - 0.01, head_v + 0.006],
            ]
        )
        cv2.fillPoly(mask, [np.round((head - origin) * scale).astype(np.int32)], 255, cv2.LINE_AA, shift)
        fixture = mask.astype(np.float32) * np.float32(1 / 255)
        body = np.where(mask[:, :, None] >= 200, np.minimum(lamp * 1.1, 1.0), _rgb(s.pole_colour) * 0.6)
        _over(patch, body.astype(np.float32), fixture)
        dx = (c.u[c0:c1] - hu)[None, :]
        dy = (c.v[r0:r1] - (head_v + 0.005))[:, None]
        d2 = (dx * dx + dy * dy).astype(np.float32)
        halo = np.clip((np.exp(-d2 / 0.0004) * 0.8 + np.exp(-d2 / 0.006) * 0.3) * strength, 0, 1)
        _over(patch, lamp, halo)


# ------------------------------------------------------------------------------------------------------------
# Texture


def _paint_texture(c: _Canvas, rgb: np.ndarray) -> None:
    """Soft blotches of uneven paint, and a fine paper grain that also keeps 8-bit gradients from banding."""
    s = c.style
    if s.texture <= 0:
        return
    keys = _keys(c.seed, _PART_TEXTURE, 2)
    blotch = c.field(lambda u, v: _fbm2d(keys[0], u * 7, v * 7, 4, gain=0.6), step=4) - 0.5
    # Paper grain lives at the pixel scale: a soft random tile, repeated, is plenty (and cheap).
    tile = _hash01(keys[1], np.arange(256)[None, :], np.arange(256)[:, None]).astype(np.float32) - 0.5
    tile = cv2.GaussianBlur(np.pad(tile, 4, mode="wrap"), (0, 0), 0.7)[4:-4, 4:-4] * np.float32(2.0)
    grain = np.tile(tile, (-(-c.height // 256), -(-c.width // 256)))[: c.height, : c.width]
    amount = np.float32(s.texture)
    rgb *= (1.0 + amount * (0.07 * blotch + 0.035 * grain))[:, :, None]
