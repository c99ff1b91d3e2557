"""Turning a drawing on white paper (scanned or photographed) into a cel: paper transparent, lines kept.

The method, all on arrays:

1. **Paper illumination** (``estimate_paper``). On a copy scaled down to ``_WORK_SIZE`` pixels (the light on a
   sheet varies slowly, so nothing is lost and it is fast at any input size): a median filter more than twice
   as wide as a stroke erases the lines (and, unlike a morphological closing, is not fooled by the specks of
   paper in a crayon fill). After a white balance on the brightest quarter of the picture, the pixels that
   look like paper are kept: near neutral, not much darker than the brightest paper around them, and in open
   areas wider than a few strokes (so a dark eye or a gap between hatching lines is not taken for paper in
   shadow). The light is interpolated from them by normalized convolution (a blur of the kept pixels over a
   blur of the mask), at growing scales until every pixel has support, and the selection is done once more
   against that estimate, so the edge of a cast shadow is followed. Coloured fills and whatever lies beyond
   the sheet are thus not taken for paper, while shadows and gradients across it are.
2. **Flat field.** The image divided by its illumination, per channel: paper becomes white everywhere,
   whatever the light's colour or falloff, and the ink keeps its colour relative to the paper.
3. **Alpha.** A pixel's darkness is how far its darkest channel is below white (so a yellow or a pale blue
   stroke counts as much as a grey one). Alpha is the pixel's coverage by ink, its darkness over the darkness
   of the ink it belongs to (the darkest stroke core within ``_EDGE_REACH``, and at least ``solid``), so
   antialiased and out-of-focus edges stay soft without a pale halo; times a soft gate, 0 below ``threshold``
   (paper grain, noise) rising smoothly to 1 at ``threshold + softness``.
4. **Colour** is the ink un-mixed from the paper, solving ``c = a·ink + (1 - a)·white`` for ``ink``, then
   premultiplied: over white the cel reproduces the flat-fielded drawing exactly.

Whatever on the photo is not paper (the table, a hand, the edge of the sheet) is not paper to the key either
and stays opaque: crop the photo to the sheet first.
"""

from __future__ import annotations

import cv2
import numpy as np

__all__ = ["estimate_paper", "key_paper"]

_WORK_SIZE = 512
"""Long side, in pixels, of the copy on which the paper's illumination is estimated."""

_EDGE_REACH = 0.004
"""How far an antialiased or out-of-focus edge reaches from a stroke's core (a fraction of the long side)."""


def _straight_over_white(rgba: np.ndarray) -> np.ndarray:
    """Premultiplied RGBA ``(H, W, 4)`` → straight RGB ``(H, W, 3)`` as seen on white paper."""
    img = np.asarray(rgba, dtype=np.float32)
    rgb = img[:, :, :3] + (np.float32(1) - img[:, :, 3:4])
    return np.clip(rgb, 0, 1)


def _channel_min(img: np.ndarray) -> np.ndarray:
    """Per-pixel minimum over the 3 channels of ``(h, w, 3)`` (much faster than ``img.min(axis=2)``)."""
    return np.minimum(np.minimum(img[:, :, 0], img[:, :, 1]), img[:, :, 2])


def _channel_max(img: np.ndarray) -> np.ndarray:
    return np.maximum(np.maximum(img[:, :, 0], img[:, :, 1]), img[:, :, 2])


def _disk(diameter: int) -> np.ndarray:
    diameter = max(3, diameter | 1)
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (diameter, diameter))


def _wide_blur(img: np.ndarray, sigma: float) -> np.ndarray:
    """A Gaussian blur of ``sigma`` pixels on ``(h, w)`` or ``(h, w, C)``, computed on a copy scaled down so
    the kernel spans about four pixels there (the result is smooth, so nothing is lost; any sigma costs the
    same)."""
    height, width = img.shape[:2]
    factor = 1
    while sigma / (factor * 2) >= 4 and min(height, width) / (factor * 2) >= 8:
        factor *= 2
    if factor == 1:
        return cv2.GaussianBlur(img, (0, 0), sigma, borderType=cv2.BORDER_REFLECT_101)
    small = cv2.resize(img, (max(1, round(width / factor)), max(1, round(height / factor))),
                       interpolation=cv2.INTER_AREA)
    small = cv2.GaussianBlur(small, (0, 0), sigma / factor, borderType=cv2.BORDER_REFLECT_101)
    return cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR).reshape(img.shape)


def _normalized_blur(values: np.ndarray, weights: np.ndarray, sigma: float) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian-weighted average of ``values`` ``(h, w, C)`` over the pixels with ``weights`` ``(h, w)``, and
    the blurred weights (how much support each pixel had)."""
    num = _wide_blur(values * weights[:, :, None], sigma)
    den = _wide_blur(weights, sigma)
    return num / np.maximum(den, 1e-6)[:, :, None], den


def estimate_paper(rgb: np.ndarray, stroke: float = 0.03, shadow: float = 0.6,
                   tint: float = 0.2) -> np.ndarray:
    """The paper's brightness and colour under the light at every pixel: float32 ``(H, W, 3)``.

    ``rgb``: straight RGB ``(H, W, 3)`` in ``[0, 1]`` of a sheet of paper with a drawing on it.
    ``stroke``: the widest line, as a fraction of the image's long side (the median window is a little over
    twice as wide, so lines vanish from it).
    ``shadow``: paper in shadow is still paper down to this fraction of the brightness of the nearby lit
    paper.
    ``tint``: how far from neutral (after a global white balance) a surface may be and still count as paper.
    """
    height, width = rgb.shape[:2]
    scale = min(1.0, _WORK_SIZE / max(height, width))
    small = rgb if scale == 1.0 else cv2.resize(
        rgb, (max(1, round(width * scale)), max(1, round(height * scale))), interpolation=cv2.INTER_AREA)
    long_side = max(small.shape[:2])
    # A median wider than twice a stroke erases the strokes and, unlike a closing, is not fooled by the specks
    # of paper that show through crayon: what is left is paper, and fills larger than the window.
    window = max(3, round(stroke * long_side * 2.2) | 1)
    small_8bit = np.clip(small * 255 + 0.5, 0, 255).astype(np.uint8)  # cv2's wide median needs 8 bits
    median = cv2.medianBlur(small_8bit, window).astype(np.float32) / 255
    # White balance on the whitest quarter of the picture (mostly paper on any sheet that fills the frame).
    whiteness = _channel_min(median)
    brightest = whiteness >= np.quantile(whiteness, 0.75)
    balance = np.maximum(np.median(median[brightest], axis=0), 1e-3)
    balanced = median / balance
    lightness = _channel_min(balanced)
    brightest_channel = _channel_max(balanced)
    chroma = (brightest_channel - lightness) / np.maximum(brightest_channel, 1e-3)
    # The brightest neutral surface around each place, over a window much wider than a fill: a first guess at
    # the light, refined below by the paper's own estimate so that the edge of a cast shadow is followed.
    reach = max(3, round(long_side * 0.12) | 1)
    reference = cv2.dilate(np.where(chroma <= tint, lightness, 0).astype(np.float32),
                           cv2.getStructuringElement(cv2.MORPH_RECT, (reach, reach)))
    reference = _wide_blur(reference, long_side * 0.04)
    illumination = np.broadcast_to(balance, median.shape).astype(np.float32)
    for _ in range(2):
        paper = ((lightness >= shadow * reference) & (chroma <= tint)).astype(np.uint8)
        # Paper is wide open space: islands narrower than a few strokes (a dark eye, a gap between hatching
        # lines) are not trusted, and pixels right at a fill's border are left out.
        paper = cv2.morphologyEx(paper, cv2.MORPH_OPEN, _disk(round(stroke * long_side * 2)))
        paper = cv2.erode(paper, _disk(3)).astype(np.float32)
        if paper.sum() < 0.02 * paper.size:  # nothing looks like paper: assume an evenly lit white sheet
            break
        sigma = long_side * 0.01
        illumination, support = _normalized_blur(median, paper, sigma)
        while (support < 0.05).any() and sigma < long_side:
            sigma *= 2
            wider, wider_support = _normalized_blur(median, paper, sigma)
            fill = support < 0.05
            illumination[fill] = wider[fill]
            support = np.where(fill, wider_support, support)
        reference = _channel_min(illumination / balance)
    if scale != 1.0:
        illumination = cv2.resize(illumination, (width, height), interpolation=cv2.INTER_LINEAR)
    return np.clip(illumination, 1e-3, 1).astype(np.float32)


def key_paper(rgba: np.ndarray, threshold: float = 0.08, softness: float = 0.08,
              solid: float = 0.35) -> np.ndarray:
    """Key the paper out of a scanned or photographed drawing.

    ``rgba``: premultiplied float32 RGBA ``(H, W, 4)`` of the drawing on (white) paper, normally opaque; any
    transparency is read as paper.
    ``threshold``: how much darker than the paper (0..1, in the darkest channel, after flat-fielding) a pixel
    must be to start showing; paper grain and noise below it become fully transparent.
    ``softness``: the width of the ramp above ``threshold`` over which that gate opens, so faint strokes fade
    in rather than switch on.
    ``solid``: the darkness from which a mark is fully opaque even far from any darker stroke. Fainter marks
    (a hairline the lens blurred, a light touch of the pencil) become partly transparent ink of their own hue
    rather than an opaque pale line; raise it for more of that, lower it to keep pale crayon fills opaque.

    Returns premultiplied float32 RGBA ``(H, W, 4)``: transparent paper, lines and fills in their own colours
    with their antialiased edges.
    """
    img = np.asarray(rgba, dtype=np.float32)
    if img.ndim != 3 or img.shape[2] != 4:
        raise ValueError(f"key_paper: expected an RGBA image of shape (H, W, 4), got {img.shape}")
    if softness <= 0:
        raise ValueError(f"key_paper: softness must be > 0, got {softness}")
    height, width = img.shape[:2]
    rgb = _straight_over_white(img)
    flat = rgb / estimate_paper(rgb)
    np.clip(flat, 0, 1, out=flat)
    darkness = np.float32(1) - _channel_min(flat)
    solidity = np.float32(max(solid, 1e-3))
    # Coverage: an edge pixel is a mix of paper and the ink of the stroke it borders, so its alpha is its
    # darkness over the darkness of that ink: the darkest pixel nearby (with a little headroom so the noisy
    # core of a stroke is solid), and at least ``solid``. Mapping darkness straight to alpha instead would
    # make edges opaque and pale: a light halo around every line.
    reach = max(1, round(max(height, width) * _EDGE_REACH))
    square = cv2.getStructuringElement(cv2.MORPH_RECT, (2 * reach + 1, 2 * reach + 1))  # separable: fast
    ink_darkness = cv2.dilate(cv2.blur(darkness, (3, 3)), square)
    coverage = np.clip(darkness / np.maximum(ink_darkness * np.float32(0.85), solidity), 0, 1)
    ramp = np.clip((darkness - np.float32(threshold)) / np.float32(softness), 0, 1)
    alpha = coverage * (ramp * ramp * (np.float32(3) - np.float32(2) * ramp))
    # Un-mix the ink: c = a*ink + (1-a)*1  =>  a*ink = c - (1 - a), which is the premultiplied ink colour.
    out = np.empty(img.shape, np.float32)
    np.subtract(flat, (np.float32(1) - alpha)[:, :, None], out=out[:, :, :3])
    np.clip(out[:, :, :3], 0, alpha[:, :, None], out=out[:, :, :3])
    out[:, :, 3] = alpha
    return out
