"""Texture: the last pass over the whole canvas, soft blotches of uneven paint and a fine paper grain that
also keeps 8-bit gradients from banding.
"""

from __future__ import annotations

import cv2
import numpy as np

from compositor.backgrounds.procedural.canvas import _Canvas
from compositor.backgrounds.procedural.noise import _PART_TEXTURE, _fbm2d, _hash01, _keys


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
