"""compositor.core.keying on photographs of children's drawings (AnimatedDrawings) and on a synthetic sheet."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from compositor.core import ops
from compositor.core.io import read_image
from compositor.core.keying import estimate_paper, key_paper

PAPER = Path(__file__).parent / "data" / "paper"


def load_photo(name: str) -> np.ndarray:
    return read_image(PAPER / f"{name}_photo.png")


def load_mask(name: str) -> np.ndarray:
    """The example's character mask (the drawing's filled silhouette), as bool ``(H, W)``."""
    return cv2.imread(str(PAPER / f"{name}_mask.png"), cv2.IMREAD_GRAYSCALE) > 0


def grow(mask: np.ndarray, pixels: int) -> np.ndarray:
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * pixels + 1, 2 * pixels + 1))
    return cv2.dilate(mask.astype(np.uint8), kernel) > 0


def shrink(mask: np.ndarray, pixels: int) -> np.ndarray:
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * pixels + 1, 2 * pixels + 1))
    return cv2.erode(mask.astype(np.uint8), kernel) > 0


def check_valid_cel(cel: np.ndarray, source: np.ndarray) -> None:
    assert cel.shape == source.shape and cel.dtype == np.float32
    assert cel.min() >= 0 and cel[:, :, 3].max() <= 1
    assert (cel[:, :, :3] <= cel[:, :, 3:4] + 1e-6).all()  # valid premultiplied


def line_pixels(photo: np.ndarray, near: np.ndarray, ratio: float = 0.5) -> np.ndarray:
    """Pixels clearly darker than the paper around them, inside ``near``: in their darkest channel (so a pink
    or yellow stroke counts), below ``ratio`` times the brightest value within 15 pixels (the local paper).
    Independent of the keyer.
    """
    darkest = photo[:, :, :3].min(axis=2)
    paper_level = cv2.dilate(darkest, np.ones((31, 31), np.uint8))
    return near & (darkest < ratio * paper_level)


@pytest.fixture(scope="module")
def keyed() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    out = {}
    for name in ("char1", "char3", "char6"):
        photo = load_photo(name)
        before = photo.copy()
        cel = key_paper(photo)
        np.testing.assert_array_equal(photo, before)  # the input is not modified
        out[name] = (photo, cel)
    return out


@pytest.mark.parametrize("name", ["char1", "char3", "char6"])
def test_paper_around_the_drawing_is_transparent(keyed, name):
    photo, cel = keyed[name]
    check_valid_cel(cel, photo)
    paper = ~grow(load_mask(name), 4)
    assert paper.mean() > 0.2
    alpha = cel[:, :, 3][paper]
    assert (alpha < 0.05).mean() >= 0.99
    assert alpha.mean() < 0.01


@pytest.mark.parametrize("name, ratio", [("char1", 0.5), ("char3", 0.5), ("char6", 0.65)])
def test_lines_are_opaque_with_antialiased_edges(keyed, name, ratio):
    """char1: violet marker, char3: crayon and pencil, char6: a thin pink line (lighter: a higher ratio)."""
    photo, cel = keyed[name]
    alpha = cel[:, :, 3]
    lines = line_pixels(photo, grow(load_mask(name), 2), ratio)
    assert lines.sum() > 500
    assert (alpha[lines] > 0.8).mean() >= 0.95
    # Antialiasing: a band of partial alpha hugs the opaque strokes.
    partial = (alpha > 0.05) & (alpha < 0.95)
    assert partial.sum() > 0.1 * (alpha >= 0.95).sum()
    assert (partial & grow(alpha >= 0.95, 3)).sum() > 0.5 * partial.sum()


def test_coloured_fills_are_kept(keyed):
    """char3, a crayon candy corn: orange and yellow fills stay opaque and keep their hue."""
    photo, cel = keyed["char3"]
    inside = shrink(load_mask("char3"), 6)
    alpha = cel[:, :, 3]
    assert (alpha[inside] > 0.5).mean() > 0.75
    straight = ops.unpremultiply(cel)
    solid = inside & (alpha > 0.9)
    red, green, blue = (straight[:, :, i][solid] for i in range(3))
    warm = (red > blue + 0.3).mean()
    assert warm > 0.8  # orange and yellow, not grey
    assert np.median(red) > 0.8 and np.median(blue) < 0.45
    # Flat-fielding only rescales by the paper: a fill's hue matches the photo's (red above green above blue).
    photo_rgb = photo[:, :, :3][solid]
    assert (np.median(photo_rgb, axis=0)[0] > np.median(photo_rgb, axis=0)[2] + 0.2)


def test_violet_marker_keeps_its_colour(keyed):
    photo, cel = keyed["char1"]
    straight = ops.unpremultiply(cel)
    solid = cel[:, :, 3] > 0.95
    assert solid.sum() > 1000
    red, green, blue = (np.median(straight[:, :, i][solid]) for i in range(3))
    assert blue > red > green and blue - green > 0.2


def test_shadow_on_a_real_photo_keys_clean():
    """garlic: a sheet half in the shadow of the photographer, with the table visible at the sides."""
    photo = read_image(PAPER / "garlic_640.png")
    cel = key_paper(photo)
    check_valid_cel(cel, photo)
    alpha = cel[:, :, 3]
    paper_boxes = {  # x0, y0, x1, y1: blank paper, lit and in shadow
        "lit, top left": (40, 20, 110, 60),
        "lit, bottom left": (40, 420, 130, 470),
        "shadow, top right": (420, 20, 580, 90),
        "deep shadow, bottom right": (420, 360, 590, 470),
    }
    for where, (x0, y0, x1, y1) in paper_boxes.items():
        box = alpha[y0:y1, x0:x1]
        assert (box < 0.05).mean() >= 0.99, where
    lines = line_pixels(photo, np.ones(alpha.shape, bool))
    lines[:, :25] = lines[:, 615:] = False  # the table beyond the sheet
    assert lines.sum() > 300
    assert (alpha[lines] > 0.8).mean() >= 0.9


def synthetic_sheet(height: int = 240,
                    width: int = 320) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A drawing under harsh light: a left-to-right falloff to 45%, a corner hot spot, a cast shadow (bluish,
    soft edged) over a third of the sheet, and paper grain. Returns the photo (premultiplied, opaque), the
    line mask, the fill mask and the fill's true colour."""
    rng = np.random.default_rng(3)
    ink = np.ones((height, width, 3), np.float32)  # reflectance of the drawing
    lines = np.zeros((height, width), np.uint8)
    cv2.circle(lines, (110, 120), 70, 255, 3, cv2.LINE_AA)
    cv2.line(lines, (20, 220), (300, 30), 255, 2, cv2.LINE_AA)
    cv2.polylines(lines, [np.array([[190, 60], [300, 90], [250, 200]], np.int32)], True, 255, 4, cv2.LINE_AA)
    coverage = lines.astype(np.float32)[:, :, None] / 255
    ink = ink * (1 - coverage) + np.array([0.08, 0.08, 0.12], np.float32) * coverage
    fill = np.zeros((height, width), np.uint8)
    cv2.rectangle(fill, (215, 100), (265, 150), 255, -1)
    fill_colour = np.array([0.95, 0.55, 0.15], np.float32)
    ink[fill > 0] = fill_colour
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    light = 1.0 - 0.55 * xs / width
    light += 0.15 * np.exp(-((xs - 20) ** 2 + (ys - 20) ** 2) / (2 * 50.0**2))
    light = np.repeat(light[:, :, None], 3, axis=2) * np.array([1.0, 0.97, 0.9], np.float32)  # warm lamp
    shadow = np.zeros((height, width), np.float32)
    cv2.fillPoly(shadow, [np.array([[160, 0], [320, 0], [320, 240], [230, 240]], np.int32)], 1.0)
    shadow = cv2.GaussianBlur(shadow, (0, 0), 6)[:, :, None]
    light = light * (1 - shadow * (1 - np.array([0.55, 0.58, 0.66], np.float32)))
    grain = 1 + 0.02 * cv2.GaussianBlur(rng.standard_normal((height, width)).astype(np.float32), (0, 0), 0.8)
    rgb = np.clip(ink * light * 0.92 * grain[:, :, None], 0, 1)
    photo = np.concatenate([rgb, np.ones((height, width, 1), np.float32)], axis=2)
    return photo, lines > 0, fill > 0, fill_colour


def test_synthetic_sheet_with_gradient_and_shadow_keys_clean():
    photo, lines, fill, fill_colour = synthetic_sheet()
    cel = key_paper(photo)
    check_valid_cel(cel, photo)
    alpha = cel[:, :, 3]
    paper = ~grow(lines | fill, 3)
    assert (alpha[paper] < 0.05).mean() >= 0.995
    assert alpha[paper].max() < 0.3
    core = lines & (cv2.GaussianBlur(lines.astype(np.float32), (3, 3), 0) > 0.99)
    assert (alpha[core] > 0.9).mean() >= 0.95
    # The fill is opaque and its colour recovered despite the falloff and the shadow across it.
    inner = shrink(fill, 3)
    assert (alpha[inner] > 0.95).all()
    recovered = np.median(ops.unpremultiply(cel)[:, :, :3][inner], axis=0)
    np.testing.assert_allclose(recovered, fill_colour, atol=0.08)
    # The estimated paper follows the light: flat-fielded paper is white on both sides of the shadow's edge.
    flat = photo[:, :, :3] / estimate_paper(photo[:, :, :3])
    for x in (120, 300):
        np.testing.assert_allclose(np.median(flat[5:40, x - 10 : x + 10], axis=(0, 1)), 1.0, atol=0.05)


def test_partial_alpha_input_is_read_as_paper_and_parameters_work():
    photo, lines, fill, _ = synthetic_sheet(120, 160)
    cut = photo.copy()
    cut[:, :40] = 0  # a transparent strip: no paper, no ink
    cel = key_paper(cut)
    assert cel[:, :40, 3].max() < 0.05
    strict = key_paper(photo, threshold=0.3, softness=0.05)
    loose = key_paper(photo, threshold=0.02, softness=0.3)
    assert strict[:, :, 3].sum() < key_paper(photo)[:, :, 3].sum()
    assert (loose[:, :, 3] > 0.05).sum() >= (strict[:, :, 3] > 0.05).sum()
    with pytest.raises(ValueError):
        key_paper(photo[:, :, :3])
