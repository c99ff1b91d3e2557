"""Contact sheets: thumbnails in a grid with a label under each and a title above, as one image (a cut's frames
with their numbers, ``compositor sheet``; background variants with their seeds, ``compositor bg --variants``)."""

from __future__ import annotations

import math

import cv2
import numpy as np

BACKGROUND = (24, 24, 24)
INK = (235, 235, 235)
FONT = cv2.FONT_HERSHEY_SIMPLEX


def over_dark(frame: np.ndarray) -> np.ndarray:
    """Premultiplied RGBA float ``(H, W, 4)`` → ``uint8`` RGB over the sheet's background (transparent parts
    show as the sheet, not as black)."""
    alpha = frame[:, :, 3:4]
    flat = np.clip(frame[:, :, :3], 0.0, 1.0) + (1.0 - np.clip(alpha, 0.0, 1.0)) * (np.float32(BACKGROUND) / 255)
    return np.round(np.clip(flat, 0.0, 1.0) * 255).astype(np.uint8)


def thumbnail(frame: np.ndarray, width: int) -> np.ndarray:
    """``uint8`` RGB ``(H, W, 3)`` → ``(round(H·width/W), width, 3)``, area-averaged (no aliasing)."""
    h, w = frame.shape[:2]
    height = max(1, round(h * width / w))
    return cv2.resize(frame, (width, height), interpolation=cv2.INTER_AREA if width < w else cv2.INTER_LINEAR)


def _text(canvas: np.ndarray, text: str, x: int, y: int, scale: float) -> None:
    cv2.putText(canvas, text, (x, y), FONT, scale, INK, max(1, round(scale * 2)), cv2.LINE_AA)


def contact_sheet(thumbs: list[np.ndarray], labels: list[str], columns: int, title: str = "") -> np.ndarray:
    """Thumbnails (``uint8`` RGB, all one shape ``(h, w, 3)``) in rows of ``columns``, ``labels[i]`` under
    thumbnail ``i``, ``title`` in a band on top → one ``uint8`` RGB image.

    Text is ASCII (OpenCV's Hershey font): frame numbers, seeds, names of cuts.
    """
    if not thumbs:
        raise ValueError("a contact sheet needs at least one thumbnail")
    if len(labels) != len(thumbs):
        raise ValueError(f"{len(labels)} labels for {len(thumbs)} thumbnails")
    h, w = thumbs[0].shape[:2]
    if any(t.shape != thumbs[0].shape for t in thumbs):
        raise ValueError("the thumbnails of a contact sheet must all have one shape")
    columns = max(1, min(columns, len(thumbs)))
    rows = math.ceil(len(thumbs) / columns)
    scale = max(0.35, w / 480)
    label_band = round(28 * scale) + 6
    title_band = label_band + 8 if title else 0
    gap = max(4, w // 40)
    sheet = np.empty((title_band + rows * (h + label_band) + gap, columns * (w + gap) + gap, 3), np.uint8)
    sheet[:] = BACKGROUND
    if title:
        _text(sheet, title, gap, title_band - 10, scale)
    for i, (thumb, label) in enumerate(zip(thumbs, labels, strict=True)):
        row, column = divmod(i, columns)
        x = gap + column * (w + gap)
        y = title_band + gap + row * (h + label_band)
        sheet[y : y + h, x : x + w] = thumb
        _text(sheet, label, x, y + h + label_band - 8, scale * 0.8)
    return sheet
