"""The README's before/after pictures of light, tone and finishing: docs/img/tone_*.png.

    python docs/pictures/tone.py

Each picture is the same small frame without (left) and with (right) one key, made with the same functions
a render uses (``compositor.core.photography.tone``, ``compositor.core.fill``) on the demo's material: the
cat's body (David Revoy, CC-BY 4.0), its shadow matte (shots/sc030_c020), the garlic drawn on paper
(AnimatedDrawings, MIT). Deterministic.
"""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from compositor.core.fill import fill_drawing  # noqa: E402
from compositor.core.io import ensure_folder, read_image, to_uint8_rgb, write_image  # noqa: E402
from compositor.core.keying import key_paper  # noqa: E402
from compositor.core.ops import blend  # noqa: E402
from compositor.core.photography import tone  # noqa: E402

OUT = REPO / "docs" / "img"
SIZE = (320, 180)


def backdrop(top: str = "#1b2450", bottom: str = "#4b5482") -> np.ndarray:
    width, height = SIZE
    ramp = tone.gradient(SIZE, "linear", (0, 0), (0, height), [tone.hex_colour(top), tone.hex_colour(bottom)])
    return np.concatenate([ramp, np.ones((height, width, 1), np.float32)], axis=2)


def fit(cel: np.ndarray, height: int) -> np.ndarray:
    scale = height / cel.shape[0]
    return cv2.resize(cel, (max(1, round(cel.shape[1] * scale)), height), interpolation=cv2.INTER_AREA)


def place(cel: np.ndarray, x: int, y: int) -> np.ndarray:
    """``cel`` on a transparent frame of ``SIZE`` with its top-left corner at ``(x, y)``."""
    width, height = SIZE
    sheet = np.zeros((height, width, 4), np.float32)
    h, w = cel.shape[:2]
    x1, y1 = min(width, x + w), min(height, y + h)
    sheet[y:y1, x:x1] = cel[: y1 - y, : x1 - x]
    return sheet


def pair(name: str, before: np.ndarray, after: np.ndarray) -> None:
    gap = np.ones((SIZE[1], 4, 4), np.float32)
    write_image(ensure_folder(OUT) / f"tone_{name}.png", to_uint8_rgb(np.concatenate([before, gap, after], axis=1)))


def main() -> None:
    body = fit(read_image(REPO / "shots/sc010_c010/cels/body/body_0001.png"), 170)
    shadow = fit(read_image(REPO / "shots/sc030_c020/cels/shadow/shadow_0001.png"), 170)
    cat = place(body, 90, 10)
    weight = place(shadow, 90, 10)[:, :, 3]
    bg = backdrop()

    shaded = tone.tone(cat, tone.hex_colour("#2b2a5c"), weight, 0.6, "multiply", 1.0)
    pair("shade", blend(bg, cat), blend(bg, shaded))

    lights = np.zeros(SIZE[::-1], np.float32)
    cv2.ellipse(lights, (60, 120), (10, 13), 0, 0, 360, 1.0, -1, cv2.LINE_AA)
    for x, y in ((140, 40), (200, 70), (250, 30), (280, 110)):
        cv2.circle(lights, (x, y), 2, 1.0, -1, cv2.LINE_AA)
    sources = np.zeros(SIZE[::-1] + (4,), np.float32)
    sources[:, :, :3] = lights[:, :, None] * tone.hex_colour("#ffe0b0")
    sources[:, :, 3] = lights
    glow = tone.transmitted_light(lights, tone.hex_colour("#ffb85c"), 0.8, 2.0, 30.0)
    pair("light", blend(bg, sources), blend(bg, glow, "add"))

    ramp = tone.gradient(SIZE, "linear", (90, 150), (260, 40),
                         [tone.hex_colour("#ffd9a8"), tone.hex_colour("#8f93d6")])
    radial = tone.gradient(SIZE, "radial", (160, 90), (360, 180),
                           [tone.hex_colour("#ffffff"), tone.hex_colour("#ffffff"), tone.hex_colour("#2a2f66")])
    para = blend(bg, tone.tone(cat, ramp, None, 0.5, "multiply"))
    pair("para", blend(bg, cat), tone.tone(para, radial, None, 0.7, "multiply"))

    flare = tone.lens_light(SIZE, 250, 40, tone.hex_colour("#ffc27a"), 60, 0.8, "flare")
    pair("lens", blend(bg, cat), blend(blend(bg, cat), flare, "add"))

    adjusted = tone.adjust_colour(cat, 0.0, 0.9, 1.0, (0.85, 0.9, 1.1), 0.6)
    pair("adjust", blend(bg, cat), blend(bg, adjusted))

    out = tone.hex_colour("#ffffff") * np.ones((170, 170, 1), np.float32)
    disc = np.zeros((170, 170), np.float32)
    cv2.circle(disc, (85, 85), 70, 1.0, -1, cv2.LINE_AA)
    first = place(np.concatenate([out * disc[:, :, None], disc[:, :, None]], axis=2), 75, 5)
    second = place(np.concatenate([tone.hex_colour("#ff7060") * disc[:, :, None], disc[:, :, None]], axis=2), 75, 5)
    over = blend(blend(bg, first, "over", 0.5), second, "over", 0.5)
    added = blend(bg, tone.alpha_add(tone.alpha_add(np.zeros_like(first), first, 0.5), second, 0.5))
    pair("alpha_add", over, added)

    paper = read_image(REPO / "shots/sc020_c010/cels/garlic/garlic_0001.png")
    keyed = fit(key_paper(paper), 176)
    filled = fill_drawing(key_paper(paper), 4, colour=tone.hex_colour("#f4ecd6"),
                          lines=tone.hex_colour("#3a2a6a"))
    green = backdrop("#5d8a4a", "#3f6b35")
    pair("fill", blend(green, place(keyed, 110, 2)), blend(green, place(fit(filled, 176), 110, 2)))


if __name__ == "__main__":
    main()
