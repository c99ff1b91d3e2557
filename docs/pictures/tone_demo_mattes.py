"""Draw the mattes of the demo cut sc030_c020 (light and tone): shadow and highlight mattes for the cat's body
(from the body drawing of sc010_c010: its silhouette minus itself moved towards or away from the light), and
the light-source drawings of a paper lantern and fireflies (three drawings, for a cycle on twos).

    python docs/pictures/tone_demo_mattes.py

Writes shots/sc030_c020/cels/{shadow,highlight,lights}/. Deterministic; the files are committed.
"""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from compositor.core.io import ensure_folder, read_image, to_uint8_rgba, write_image  # noqa: E402

CUT = REPO / "shots" / "sc030_c020" / "cels"


def shifted(alpha: np.ndarray, dx: int, dy: int) -> np.ndarray:
    m = np.float32([[1, 0, dx], [0, 1, dy]])
    return cv2.warpAffine(alpha, m, alpha.shape[::-1], borderValue=0)


def matte(weight: np.ndarray) -> np.ndarray:
    """A weight ``(H, W)`` as a black matte drawing on a transparent sheet (premultiplied RGBA)."""
    out = np.zeros(weight.shape + (4,), np.float32)
    out[:, :, 3] = np.clip(weight, 0, 1)
    return out


def main() -> None:
    body = read_image(REPO / "shots/sc010_c010/cels/body/body_0001.png")[:, :, 3]
    solid = (body > 0.5).astype(np.float32)
    for n, (dx, dy) in enumerate(((-70, -40), (-82, -46)), start=1):
        # the rim away from the lantern (the light comes from the left, a little above): a crisp anime shadow
        shadow = solid * (1 - shifted(solid, dx, dy))
        shadow = cv2.morphologyEx(shadow, cv2.MORPH_OPEN, np.ones((9, 9), np.uint8))
        write_image(ensure_folder(CUT / "shadow") / f"shadow_{n:04d}.png", to_uint8_rgba(matte(shadow)))
    highlight = solid * (1 - shifted(solid, 22, 10))
    highlight = cv2.morphologyEx(highlight, cv2.MORPH_OPEN, np.ones((5, 5), np.uint8))
    write_image(ensure_folder(CUT / "highlight") / "highlight_0001.png", to_uint8_rgba(matte(highlight)))

    rng = np.random.default_rng(30)
    flies = rng.uniform([40, 40], [560, 300], size=(7, 2))
    for n in range(1, 4):
        sheet = np.zeros((360, 600), np.float32)
        # the lantern: a paper body and its opening
        cv2.ellipse(sheet, (110, 250), (34, 44), 0, 0, 360, 0.85, -1, cv2.LINE_AA)
        cv2.ellipse(sheet, (110, 250), (22, 30), 0, 0, 360, 1.0, -1, cv2.LINE_AA)
        for i, (x, y) in enumerate(flies):
            drift = np.array([np.sin(n * 2.1 + i), np.cos(n * 1.7 + i * 0.5)]) * 9
            radius = 3 + (i + n) % 3
            cv2.circle(sheet, tuple(int(v) for v in (x + drift[0], y + drift[1])), radius, 1.0, -1, cv2.LINE_AA)
        write_image(ensure_folder(CUT / "lights") / f"lights_{n:04d}.png", to_uint8_rgba(matte(sheet)))


if __name__ == "__main__":
    main()
