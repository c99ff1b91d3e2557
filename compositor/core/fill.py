"""Finishing a drawing (仕上げ): the closed regions of its line art filled, its lines recoloured (色トレス).

The method, on arrays:

1. **Lines.** A pixel is line where the drawing's alpha is at least ``threshold``.
2. **Gaps.** The lines are grown by ``ceil(gap / 2)`` pixels, which bridges breaks up to ``gap`` pixels (a
   pencil line that does not quite meet itself; an odd ``gap`` closes the next even one too).
3. **Regions.** The connected areas (4-connected) of what is not (grown) line. Those that reach the sheet's
   edge are outside the drawing and stay empty; the others are closed regions and are filled. The outside,
   grown back by as much, ends at the line's outer edge: the fill never goes past it.
4. **Colour.** One ``colour`` for every region, or, from a colour-key drawing (a rough scribble of colours on
   the same sheet), the mean colour painted inside each region; a region the key leaves blank takes
   ``colour`` (or stays empty without one).
5. **Under the lines.** Each region's fill spreads back over the growth and into the line around it, so no
   paper shows between the fill and the line, and stops at the line's outer edge; the lines, recoloured or not,
   are laid over the fill, so a fully opaque line pixel keeps exactly its colour.
"""

from __future__ import annotations

import cv2
import numpy as np

__all__ = ["closed_regions", "fill_drawing"]


def _disc(radius: int) -> np.ndarray:
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))


def closed_regions(line: np.ndarray, gap: int) -> tuple[np.ndarray, np.ndarray]:
    """The closed regions of a line mask: ``(labels, inside)``.

    ``line``: bool or uint8 ``(H, W)``, true on the line. ``gap``: breaks up to this many pixels are bridged
    (the lines are grown by ``ceil(gap / 2)`` px for finding regions, so an odd gap rounds up to the next
    even one). ``labels``: int32 ``(H, W)``, 0 on the lines and outside, 1..n on each closed region (shrunk
    by the growth); ``inside``: bool ``(H, W)``, everything not outside the drawing (regions, lines between
    them, bridged gaps), bounded by the line's outer edge.
    """
    mask = np.ascontiguousarray(line, dtype=np.uint8)
    grow = (gap + 1) // 2
    if grow > 0:
        mask = cv2.dilate(mask, _disc(grow))
    open_area = cv2.copyMakeBorder((mask == 0).astype(np.uint8), 1, 1, 1, 1, cv2.BORDER_CONSTANT, value=1)
    _, padded_labels = cv2.connectedComponents(open_area, connectivity=4)
    ring = padded_labels[0, 0]  # the padded border is one component: the outside and all that reaches it
    outside = (padded_labels == ring).astype(np.uint8)
    if grow > 0:  # back to the line's outer edge
        outside = cv2.dilate(outside, _disc(grow))
    labels = padded_labels[1:-1, 1:-1].astype(np.int32)
    labels[(labels == ring) | (mask != 0)] = 0
    return labels, outside[1:-1, 1:-1] == 0


def _spread(labels: np.ndarray, into: np.ndarray, steps: int) -> np.ndarray:
    """Grow the labelled regions ``steps`` pixels into the pixels ``into`` (uint8 mask), one at a time."""
    grown = labels.astype(np.float32)
    kernel = np.ones((3, 3), np.uint8)
    allowed = into != 0
    for _ in range(steps):
        wider = cv2.dilate(grown, kernel)
        take = (grown == 0) & allowed & (wider > 0)
        if not take.any():
            break
        grown[take] = wider[take]
    return grown.astype(np.int32)


def fill_drawing(cel: np.ndarray, gap: int = 3, threshold: float = 0.4, colour: np.ndarray | None = None,
                 key: np.ndarray | None = None, lines: np.ndarray | None = None) -> np.ndarray:
    """A drawing with its closed regions filled and its lines recoloured. Pure.

    ``cel``: premultiplied RGBA ``(H, W, 4)`` (a keyed paper drawing, a cel's line art). ``gap``, ``threshold``:
    see the module docstring. ``colour``: straight RGB ``(3,)`` for every region (or those the key leaves
    blank). ``key``: premultiplied RGBA colour-key drawing (any size: it is resized to the cel's), each region
    taking the mean colour of the key's opaque pixels inside it. ``lines``: straight RGB ``(3,)`` for the lines
    (alpha kept). Returns float32 premultiplied ``(H, W, 4)``.
    """
    img = np.asarray(cel, dtype=np.float32)
    height, width = img.shape[:2]
    alpha = img[:, :, 3]
    out_lines = img.copy()
    if lines is not None:
        out_lines[:, :, :3] = alpha[:, :, None] * np.asarray(lines, dtype=np.float32)
    if colour is None and key is None:
        return out_lines
    labels, inside = closed_regions(alpha >= np.float32(threshold), gap)
    count = int(labels.max())
    if count == 0:
        return out_lines
    palette = np.zeros((count + 1, 3), np.float32)
    known = np.zeros(count + 1, bool)
    if colour is not None:
        palette[1:] = np.asarray(colour, dtype=np.float32)
        known[1:] = True
    if key is not None:
        k = np.asarray(key, dtype=np.float32)
        if k.shape[:2] != (height, width):
            k = cv2.resize(k, (width, height), interpolation=cv2.INTER_NEAREST)
        painted = (k[:, :, 3] > 0.5) & (labels > 0)
        where = labels[painted]
        hits = np.bincount(where, minlength=count + 1)
        straight = k[:, :, :3][painted] / k[:, :, 3][painted][:, None]
        for channel in range(3):
            sums = np.bincount(where, weights=straight[:, channel], minlength=count + 1)
            palette[hits > 0, channel] = (sums[hits > 0] / hits[hits > 0]).astype(np.float32)
        known |= hits > 0
    known[0] = False
    # Under the lines, up to their outer edge: back over the growth, then across the line itself.
    regions = _spread(np.where(known[labels], labels, 0), inside.view(np.uint8), gap + 8)
    filled = known[regions]
    out = np.zeros_like(img)
    out[:, :, :3] = np.where(filled[:, :, None], palette[regions], 0)
    out[:, :, 3] = filled
    # lines over the fill
    out *= np.float32(1) - out_lines[:, :, 3:4]
    out += out_lines
    return out
