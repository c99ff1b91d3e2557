"""Randomness and noise for the procedural painter; it paints nothing itself. Every part of the scene draws
from its own ``np.random.default_rng`` stream derived from the seed (`_rng`, `_keys`), and noise comes from
a hash of integer lattice points (`_hash01`): smooth value noise and its fractal sums along a line
(`_noise1d`, `_fbm1d`) and over a grid (`_noise2d`, `_fbm2d`). The small colour helpers every painter
uses live here too: ``#rrggbb`` to RGB, lerp, luma, smoothstep, and laying a colour over pixels in place.
"""

from __future__ import annotations

import numpy as np

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
