"""A per-frame painterly look for filmed plates ("paint" and "cel").

Each frame is stylised on its own, with randomness seeded by the frame's index, so the result flickers the way
real per-frame stylisation (or per-frame generation) does: brush texture, colour bands and outlines change
from frame to frame although the scene does not. The temporal pass (``compositor.temporal``) then steadies it
with the motion of the un-stylised plate.

Both looks are edge-preserving smoothing (a bilateral filter at half resolution), quantisation of tone and
colour (in Lab) with per-frame jittered lookup tables, and brush texture from per-frame noise smeared along a
per-frame stroke direction; "cel" quantises harder (flat tone bands) and draws dark outlines from the smoothed
image's edges. About 10 ms a frame at 854x480.
"""

from __future__ import annotations

import cv2
import numpy as np

MODES = ("paint", "cel")


def _stroke_kernel(length: int, angle: float) -> np.ndarray:
    """A normalised line kernel ``(length, length)`` at ``angle`` radians: smears noise into brush strokes."""
    kernel = np.zeros((length, length), np.float32)
    c = (length - 1) / 2
    dx, dy = np.cos(angle) * c, np.sin(angle) * c
    cv2.line(kernel, (round(c - dx), round(c - dy)), (round(c + dx), round(c + dy)), 1.0, 1, cv2.LINE_AA)
    return kernel / kernel.sum()


def _jittered_lut(levels: int, rng: np.random.Generator, softness: float, jitter: float) -> np.ndarray:
    """A ``uint8`` lookup table quantising 0-255 to ``levels`` soft steps whose thresholds move each frame.

    ``jitter``: how far the thresholds move, as a fraction of a step (0 to 0.5).
    """
    x = np.arange(256, dtype=np.float32) / 255
    phase = rng.uniform(-jitter, jitter)
    t = x * (levels - 1) + phase
    base = np.floor(t)
    frac = t - base
    # A smoothstep around each threshold: flat bands with soft edges (hard edges alias, too soft is no look).
    w = np.clip((frac - 0.5) / softness + 0.5, 0, 1)
    w = w * w * (3 - 2 * w)
    q = (base + w - phase) / (levels - 1)
    return (np.clip(q, 0, 1) * 255 + 0.5).astype(np.uint8)


def _brush_texture(shape: tuple[int, int], rng: np.random.Generator, length: int) -> np.ndarray:
    """Per-frame brush texture ``(h, w)`` float32, mean 0, std about 1, strokes along a random direction."""
    h, w = shape
    sh, sw = max(2, h // 2), max(2, w // 2)
    noise = rng.standard_normal((sh, sw), dtype=np.float32)
    angle = rng.uniform(0, np.pi)
    strokes = cv2.filter2D(noise, -1, _stroke_kernel(length, angle), borderType=cv2.BORDER_REFLECT)
    strokes = cv2.resize(strokes, (w, h), interpolation=cv2.INTER_LINEAR)
    std = float(strokes.std()) or 1.0
    return strokes * np.float32(1 / std)


def stylize(frame: np.ndarray, mode: str = "paint", seed: int = 0) -> np.ndarray:
    """Stylise one frame; ``seed`` (use the frame index) drives the per-frame randomness.

    ``frame``: premultiplied float32 RGBA ``(H, W, 4)`` in [0, 1]. Returns the same shape and alpha; the
    stylisation works on the straight colour (as over black where alpha is 0).
    """
    if mode not in MODES:
        raise ValueError(f"stylize: unknown mode {mode!r} (have: {', '.join(MODES)})")
    if frame.ndim != 3 or frame.shape[2] != 4:
        raise ValueError(f"stylize: expected an RGBA frame (H, W, 4), got {frame.shape}")
    h, w = frame.shape[:2]
    rng = np.random.default_rng(seed)
    alpha = np.ascontiguousarray(frame[:, :, 3])
    opaque = bool(cv2.minMaxLoc(alpha)[0] >= 1.0 - 1e-5)  # resampling can leave 0.99999994
    rgb = np.ascontiguousarray(frame[:, :, :3])
    if not opaque:
        rgb = rgb / np.maximum(alpha, 1e-6)[:, :, None]
    rgb8 = cv2.convertScaleAbs(rgb, alpha=255.0)

    # Everything is done at half resolution (4x cheaper; the look is soft anyway) and upscaled once.
    sw, sh = max(8, w // 2), max(8, h // 2)
    small = cv2.resize(rgb8, (sw, sh), interpolation=cv2.INTER_AREA)
    cel = mode == "cel"
    small = cv2.bilateralFilter(small, 5, 60 if cel else 40, 4)
    if cel:
        small = cv2.bilateralFilter(small, 5, 60, 4)

    # Colour quantisation in a per-frame jittered way: the bands' edges move from frame to frame.
    # Tones are quantised in Lab so that the bands keep their hue (per-channel RGB steps invent colours).
    lab = cv2.cvtColor(small, cv2.COLOR_RGB2Lab)
    tone_lut = _jittered_lut(6 if cel else 10, rng, 0.1 if cel else 0.3, 0.25)
    chroma_lut = _jittered_lut(24 if cel else 40, rng, 0.3, 0.35)
    lut = np.dstack([tone_lut, chroma_lut, chroma_lut])
    small = cv2.cvtColor(cv2.LUT(lab, lut), cv2.COLOR_Lab2RGB)
    out = small.astype(np.float32) * np.float32(1 / 255)

    shade = 1.0 + np.float32(0.025 if cel else 0.05) * _brush_texture((sh, sw), rng, 7 if cel else 9)
    if cel:
        low = int(rng.uniform(30, 50))
        edges = cv2.Canny(cv2.cvtColor(small, cv2.COLOR_RGB2GRAY), low, low * 2.5)
        shade *= 1.0 - np.float32(0.75 / 255) * edges.astype(np.float32)
    out *= shade[:, :, None]
    out = cv2.resize(out, (w, h), interpolation=cv2.INTER_LINEAR)
    np.clip(out, 0.0, 1.0, out=out)
    if opaque:
        return cv2.cvtColor(out, cv2.COLOR_RGB2RGBA)
    out *= alpha[:, :, None]
    return np.dstack([out, alpha]).astype(np.float32, copy=False)


__all__ = ["MODES", "stylize"]
