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

This package holds the pipeline's entry points and `paint_canvas`, which lays the parts of the scene one over
another; each part has its module: ``noise`` (seeded streams, lattice noise, colour helpers), ``canvas``,
``sky``, ``blobs`` (the shapes of clouds and tree crowns), ``clouds``, ``land``, ``town``, ``ground``,
``poles`` (poles, wires and lamps) and ``texture``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import cv2
import numpy as np

from compositor.backgrounds.procedural.canvas import _Canvas
from compositor.backgrounds.procedural.clouds import _paint_clouds
from compositor.backgrounds.procedural.ground import _paint_field, _paint_road, _paint_water
from compositor.backgrounds.procedural.land import _paint_islands, _paint_ranges
from compositor.backgrounds.procedural.poles import _paint_lamps, _paint_poles
from compositor.backgrounds.procedural.sky import _paint_sky
from compositor.backgrounds.procedural.texture import _paint_texture
from compositor.backgrounds.procedural.town import _paint_town
from compositor.spec.models import ProceduralStyle

if TYPE_CHECKING:
    from compositor.spec import Shot

__all__ = ["PAINTER_VERSION", "ProceduralStyle", "describe", "frame_count", "paint", "paint_canvas"]

PAINTER_VERSION = "procedural/1"
"""Part of every `describe` dict: bump it whenever a change to this package changes the pixels."""

# ------------------------------------------------------------------------------------------------------------
# The pipeline's entry points


def _style(shot: Shot) -> ProceduralStyle:
    return shot.style.procedural if shot.style is not None else ProceduralStyle()


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
        "style": _style(shot).model_dump(mode="json"),
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
    return paint_canvas(int(width), int(height), _style(shot), shot.spec.background.seed, time)


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
