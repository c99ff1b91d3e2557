"""Light and tone on cels: shadow and highlight (影・ハイライト), para (パラ), transmitted light (透過光), lens
light (入射光), per-layer colour correction and alpha-add blending. Pure functions on arrays.

Frames and cels are float32 **premultiplied** RGBA ``(H, W, 4)`` in ``[0, 1]``; mattes and weights are float32
``(H, W)`` in ``[0, 1]``; colours are straight RGB triples in ``[0, 1]`` (``hex_colour`` reads ``"#rrggbb"``).

Tone on a cel (``tone``, used by shades and para) works on the cel's straight colour and keeps its alpha
exactly: whatever the matte, the blend or the softness, nothing is added where the cel is transparent, and its
coverage never changes. Light (``transmitted_light``, ``lens_light``) is returned as a premultiplied layer to
be added (``ops.blend(frame, light, "add")``).
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from compositor.core.ops import gaussian_blur, luminance, wide_blur

__all__ = [
    "adjust_colour",
    "alpha_add",
    "flicker",
    "gradient",
    "hex_colour",
    "lens_light",
    "matte_weight",
    "tone",
    "transmitted_light",
]

_ONE = np.float32(1)


def hex_colour(text: str) -> np.ndarray:
    """``"#rrggbb"`` → float32 RGB ``(3,)`` in ``[0, 1]``."""
    return np.array([int(text[i : i + 2], 16) for i in (1, 3, 5)], dtype=np.float32) / np.float32(255)


def _straight(cel: np.ndarray) -> np.ndarray:
    """Premultiplied ``(H, W, 4)`` → straight colour ``(H, W, 3)`` (0 where transparent)."""
    alpha = cel[:, :, 3:4]
    with np.errstate(divide="ignore", invalid="ignore"):
        colour = np.where(alpha > 0, cel[:, :, :3] / np.maximum(alpha, 1e-12), 0)
    return np.clip(colour, 0, 1).astype(np.float32)


def _with_alpha(colour: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Straight colour ``(H, W, 3)`` and alpha ``(H, W, 1)`` → premultiplied ``(H, W, 4)``."""
    out = np.empty(colour.shape[:2] + (4,), np.float32)
    np.multiply(np.clip(colour, 0, 1), alpha, out=out[:, :, :3])
    out[:, :, 3:4] = alpha
    return out


def matte_weight(matte: np.ndarray) -> np.ndarray:
    """Where a matte drawing says "here": float32 ``(H, W)`` in ``[0, 1]``.

    ``matte``: premultiplied RGBA ``(H, W, 4)``. Its alpha where it has transparency (a matte painted on a
    transparent layer); a drawing with none (a scan, a matte painted in black on white) gives its darkness,
    ``1 - luma``.
    """
    alpha = matte[:, :, 3]
    if float(alpha.min()) < 1.0:
        return np.ascontiguousarray(alpha, dtype=np.float32)
    return np.clip(_ONE - luminance(matte), 0, 1).astype(np.float32)


def tone(cel: np.ndarray, colour: np.ndarray, weight: np.ndarray | None = None, opacity: float = 1.0,
         mode: str = "multiply", softness: float = 0.0) -> np.ndarray:
    """A colour laid on a cel, clipped to the cel: a shadow, a highlight, a para. Pure.

    ``cel``: premultiplied RGBA ``(H, W, 4)``. ``colour``: straight RGB ``(3,)`` or ``(H, W, 3)`` (a
    gradient). ``weight``: ``(H, W)`` in ``[0, 1]`` where the colour goes (None: everywhere), blurred by
    ``softness`` pixels first. In straight colour ``C' = C + k · (blend(C, colour) - C)`` with ``k = opacity ·
    w``; the result has the cel's alpha exactly, so nothing reaches outside the cel. Returns float32
    ``(H, W, 4)``.
    """
    img = np.asarray(cel, dtype=np.float32)
    if mode not in ("multiply", "screen", "add", "over"):
        raise ValueError(f"unknown tone blend {mode!r}; known: multiply, screen, add, over")
    if opacity <= 0:
        return img.copy()
    col = np.asarray(colour, dtype=np.float32)
    amount: np.ndarray | np.float32 = np.float32(opacity)
    if weight is not None:
        w = np.asarray(weight, dtype=np.float32)
        if softness > 0:
            w = gaussian_blur(w, softness, edge="transparent")
        amount = np.clip(w, 0, 1) * np.float32(opacity)
        amount = amount[:, :, None]
    # The same formula on premultiplied colour c = a·C (no division): each mode's blend(C, col) times a.
    c, alpha = img[:, :, :3], img[:, :, 3:4]
    out = np.empty_like(img)
    colour_rgb = out[:, :, :3]
    if mode == "multiply":  # c + k (c col - c) = c (1 + k (col - 1))
        np.multiply(c, _ONE + amount * (col - _ONE), out=colour_rgb)
    elif mode == "screen":  # c + k col (a - c)
        np.subtract(alpha, c, out=colour_rgb)
        colour_rgb *= col
        colour_rgb *= amount
        colour_rgb += c
    elif mode == "add":  # c + k (min(c + col a, a) - c)
        np.multiply(col, alpha, out=colour_rgb)
        colour_rgb += c
        np.minimum(colour_rgb, alpha, out=colour_rgb)
        colour_rgb -= c
        colour_rgb *= amount
        colour_rgb += c
    else:  # over: c + k (col a - c)
        np.multiply(col, alpha, out=colour_rgb)
        colour_rgb -= c
        colour_rgb *= amount
        colour_rgb += c
    np.clip(colour_rgb, 0, alpha, out=colour_rgb)
    out[:, :, 3:4] = alpha
    return out


def gradient(size: tuple[int, int], shape: str, start: tuple[float, float], end: tuple[float, float],
             colours: list[np.ndarray]) -> np.ndarray:
    """A para's colour ramp on a frame of ``size`` (W, H): float32 straight RGB ``(H, W, 3)``.

    ``linear``: the colours evenly spaced from ``start`` to ``end`` (frame pixels), held beyond them.
    ``radial``: from the centre ``start`` out to the rim through ``end``.
    """
    width, height = size
    xs = np.arange(width, dtype=np.float32) + np.float32(0.5)
    ys = np.arange(height, dtype=np.float32) + np.float32(0.5)
    sx, sy = np.float32(start[0]), np.float32(start[1])
    dx, dy = np.float32(end[0] - start[0]), np.float32(end[1] - start[1])
    if shape == "linear":
        length2 = dx * dx + dy * dy
        t = ((xs[None, :] - sx) * dx + (ys[:, None] - sy) * dy) / length2
    elif shape == "radial":
        radius = np.float32(math.hypot(float(dx), float(dy)))
        t = np.sqrt((xs[None, :] - sx) ** 2 + (ys[:, None] - sy) ** 2) / radius
    else:
        raise ValueError(f"unknown gradient shape {shape!r}; known: linear, radial")
    t = np.clip(t, 0, 1) * np.float32(len(colours) - 1)
    stops = np.stack([np.asarray(c, dtype=np.float32) for c in colours])
    low = np.minimum(t.astype(np.int32), len(colours) - 2)
    frac = (t - low)[:, :, None]
    return (stops[low] * (_ONE - frac) + stops[low + 1] * frac).astype(np.float32)


def adjust_colour(cel: np.ndarray, black: float = 0.0, white: float = 1.0, gamma: float = 1.0,
                  tint: tuple[float, float, float] = (1.0, 1.0, 1.0), saturation: float = 1.0) -> np.ndarray:
    """Per-layer colour correction on straight colour, alpha kept: levels (``black``/``white`` input points,
    ``gamma``), then ``tint`` (per-channel gain), then ``saturation`` around Rec. 709 luma (0: grey).
    ``cel``: premultiplied RGBA ``(H, W, 4)``; returns float32 ``(H, W, 4)``. The defaults are the identity."""
    img = np.asarray(cel, dtype=np.float32)
    colour = _straight(img)
    colour = np.clip((colour - np.float32(black)) / np.float32(white - black), 0, 1)
    if gamma != 1.0:
        colour = colour ** np.float32(1.0 / gamma)
    colour = colour * np.asarray(tint, dtype=np.float32)
    if saturation != 1.0:
        grey = (colour @ np.array([0.2126, 0.7152, 0.0722], dtype=np.float32))[:, :, None]
        colour = grey + (colour - grey) * np.float32(saturation)
    return _with_alpha(colour, img[:, :, 3:4])


def alpha_add(dst: np.ndarray, src: np.ndarray, opacity: float = 1.0) -> np.ndarray:
    """Alpha-add (Nuke's *plus* on coverage): colour and alpha summed, clipped to 1 (colour to alpha).

    Two cels of a dissolve at 50% each add up to full coverage where both cover, which ``over`` never does
    (it leaves 25% of what is under them showing). ``dst``, ``src``: premultiplied ``(H, W, 4)``; returns a
    new float32 ``(H, W, 4)``.
    """
    out = np.asarray(dst, dtype=np.float32) + np.asarray(src, dtype=np.float32) * np.float32(opacity)
    np.clip(out, 0, 1, out=out)
    np.minimum(out[:, :, :3], out[:, :, 3:4], out=out[:, :, :3])
    return out


def _light_layer(light: np.ndarray) -> np.ndarray:
    """Straight light RGB ``(H, W, 3)`` ≥ 0 → a premultiplied layer to add: clipped, alpha its brightest
    channel (so adding it over transparency makes a glow you can see, as ``ops.glow`` does)."""
    out = np.empty(light.shape[:2] + (4,), np.float32)
    np.clip(light, 0, 1, out=out[:, :, :3])
    np.maximum(np.maximum(out[:, :, 0], out[:, :, 1]), out[:, :, 2], out=out[:, :, 3])
    return out


def transmitted_light(matte: np.ndarray, colour: np.ndarray, strength: float = 1.0, core: float = 2.0,
                      halo: float = 40.0) -> np.ndarray:
    """Transmitted light (透過光): light sources glowing with a white-hot core and a wide coloured halo.

    ``matte``: ``(H, W)`` in ``[0, 1]``, the light sources (already where they are on screen). The core is the
    matte softened by ``core`` px, white going to ``colour`` at its edge; the halo the matte spread by
    ``halo`` px (``ops.wide_blur``), in ``colour``, brightened so a small source still shows; both times
    ``strength``. Returns a premultiplied layer ``(H, W, 4)`` to add to the frame: zero where ``strength``
    is 0, growing with it.
    """
    m = np.asarray(matte, dtype=np.float32)
    c = np.asarray(colour, dtype=np.float32)
    s = np.float32(strength)
    # A small source blurred by the core's radius peaks near 1/2: doubled, its middle burns white.
    hot = np.minimum(gaussian_blur(m, core, edge="transparent") * np.float32(2), _ONE) if core > 0 else m
    wide = wide_blur(m, halo, edge="transparent")
    # A Gaussian halo of a thin source peaks far below 1; lift it by its own scale so it reads at any size.
    wide = np.minimum(wide * np.float32(min(4.0, 1.0 + halo / 20.0)), _ONE)
    whiteness = (hot * hot)[:, :, None]
    core_rgb = hot[:, :, None] * (c + (_ONE - c) * whiteness)
    light = (core_rgb + wide[:, :, None] * c * np.float32(0.8)) * s
    return _light_layer(light)


def lens_light(size: tuple[int, int], x: float, y: float, colour: np.ndarray, radius: float = 160.0,
               strength: float = 1.0, kind: str = "flare") -> np.ndarray:
    """Lens light (入射光) on a frame of ``size`` (W, H): a premultiplied layer ``(H, W, 4)`` to add.

    ``flare``: a glow of ``radius`` px at ``(x, y)`` (frame pixels), a horizontal streak through it and three
    ghosts on the line from it through the frame's centre. ``leak``: a wide soft wash of ``colour`` spreading
    from ``(x, y)`` (a light leak at the frame's edge). Zero at ``strength`` 0.
    """
    width, height = size
    # Light is smooth: made at a quarter of the size (in each direction, while its glow spans a few pixels
    # there) and enlarged.
    factor = 4 if radius >= 32 and min(width, height) >= 64 else 1
    if factor > 1:
        small = _lens_light((width // factor + 1, height // factor + 1), x / factor, y / factor, colour,
                            radius / factor, strength, kind, (width / factor / 2, height / factor / 2))
        big = cv2.resize(small, ((width // factor + 1) * factor, (height // factor + 1) * factor),
                         interpolation=cv2.INTER_LINEAR)
        # the pixel (i, j) of the frame samples the small picture at (i + 0.5) / factor - 0.5
        return np.ascontiguousarray(big[:height, :width])
    return _lens_light(size, x, y, colour, radius, strength, kind, (width / 2.0, height / 2.0))


def _lens_light(size: tuple[int, int], x: float, y: float, colour: np.ndarray, radius: float, strength: float,
                kind: str, centre: tuple[float, float]) -> np.ndarray:
    width, height = size
    c = np.asarray(colour, dtype=np.float32)
    xs = np.arange(width, dtype=np.float32) + np.float32(0.5) - np.float32(x)
    ys = np.arange(height, dtype=np.float32) + np.float32(0.5) - np.float32(y)
    r = np.float32(max(radius, 1e-3))
    d2 = (xs[None, :] ** 2 + ys[:, None] ** 2) / (r * r)
    if kind == "leak":
        intensity = np.exp(-d2 * np.float32(0.5))[:, :, None] * c * np.float32(0.9)
        return _light_layer(intensity * np.float32(strength))
    if kind != "flare":
        raise ValueError(f"unknown lens light {kind!r}; known: flare, leak")
    glow = np.exp(-d2 * np.float32(4)) + np.float32(0.35) * np.exp(-d2 * np.float32(0.5))
    streak = np.exp(-(ys[:, None] / (r * np.float32(0.04))) ** 2) * np.exp(-np.abs(xs[None, :]) / (r * np.float32(4)))
    light = (glow[:, :, None] * (c + (_ONE - c) * np.exp(-d2 * np.float32(8))[:, :, None])
             + streak[:, :, None] * c * np.float32(0.6))
    cx, cy = centre
    for t, scale, amount in ((0.6, 0.25, 0.25), (1.3, 0.4, 0.18), (1.8, 0.15, 0.3)):
        gx, gy = x + (cx - x) * 2 * t, y + (cy - y) * 2 * t
        gr = float(r) * scale
        ring = ((xs[None, :] + np.float32(x - gx)) ** 2 + (ys[:, None] + np.float32(y - gy)) ** 2) / np.float32(gr * gr)
        light += (np.exp(-ring * np.float32(2)) * np.float32(amount))[:, :, None] * c
    return _light_layer(light * np.float32(strength))


def flicker(keys: list, number: int, jitter: float = 0.0, seed: int = 0) -> float:
    """A light's strength factor on timesheet frame ``number``: its ``flicker`` keys (``.frame``, ``.value``,
    ``.ease``) interpolated as camera keys are (1 without keys), times ``1 - jitter · u`` with ``u`` uniform
    in ``[0, 1)`` seeded by ``seed`` and the frame (the same on every machine)."""
    from compositor.core.camera import _interpolate  # noqa: PLC0415 (camera imports the spec package)

    value = float(_interpolate(keys, number, ("value",))[0]) if keys else 1.0
    if jitter > 0:
        u = np.random.default_rng(np.random.SeedSequence([int(seed), int(number) & 0xFFFFFFFF])).random()
        value *= 1.0 - float(jitter) * float(u)
    return value


def place_matte(weight: np.ndarray, m: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """A matte ``(h, w)`` in a drawing's pixels carried to the screen through the drawing's affine map ``m``
    (2×3): float32 ``(H, W)`` for ``size`` (W, H), zero outside it."""
    out = cv2.warpAffine(np.ascontiguousarray(weight, dtype=np.float32), m.astype(np.float64), size,
                         flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    return np.clip(out, 0, 1)
