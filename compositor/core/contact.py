"""Contact sheets: pictures side by side in a grid, each with a line of text under it (a director picking a
background variant by its seed)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import cv2
import numpy as np

SHEET_PANEL = 512
"""The widest a panel is drawn: six 1920-wide variants make a sheet one screen can show."""
SHEET_COLUMNS = 3
LABEL_BACKGROUND = (0.08, 0.08, 0.08)


def _panel(image: np.ndarray, width: int) -> np.ndarray:
    h, w = image.shape[:2]
    if w == width:
        return image
    height = max(1, round(h * width / w))
    return cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA if width < w else cv2.INTER_CUBIC)


def contact_sheet(images: Sequence[np.ndarray], labels: Sequence[str], gap: int = 4) -> np.ndarray:
    """Premultiplied RGBA pictures ``(H, W, 4)`` (the same size) in a grid of up to three columns, each with its
    label written under it in white on a dark strip → one sheet, ``uint8`` RGB ``(H', W', 3)`` (text is drawn in
    8 bits; ``io.write_image`` writes such an array as it is).

    Panels keep the pictures' size up to ``SHEET_PANEL`` pixels wide (larger ones are scaled down).
    """
    if not images or len(images) != len(labels):
        raise ValueError("a contact sheet needs one label per picture, and at least one picture")
    width = min(images[0].shape[1], SHEET_PANEL)
    panels = [_panel(np.clip(img, 0.0, 1.0), width) for img in images]
    ph = panels[0].shape[0]
    scale = max(0.3, width / 360)
    thickness = max(1, round(scale * 1.5))
    (_, text_h), baseline = cv2.getTextSize("seed 0", cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
    strip = text_h + baseline + 6
    columns = min(SHEET_COLUMNS, len(panels))
    rows = math.ceil(len(panels) / columns)
    cell_w, cell_h = width + gap, ph + strip + gap
    sheet = np.zeros((rows * cell_h + gap, columns * cell_w + gap, 3), np.uint8)
    sheet[:] = np.round(np.float32(LABEL_BACKGROUND) * 255).astype(np.uint8)
    for i, (panel, label) in enumerate(zip(panels, labels)):
        x, y = gap + (i % columns) * cell_w, gap + (i // columns) * cell_h
        alpha = panel[:, :, 3:4]
        flat = panel[:, :, :3] + (1.0 - alpha) * np.float32(LABEL_BACKGROUND)
        sheet[y : y + ph, x : x + width] = np.round(np.clip(flat, 0.0, 1.0) * 255).astype(np.uint8)
        cv2.putText(
            sheet,
            label,
            (x + 3, y + ph + 3 + text_h),
            cv2.FONT_HERSHEY_SIMPLEX,
            scale,
            (255, 255, 255),
            thickness,
            cv2.LINE_AA,
        )
    return sheet
