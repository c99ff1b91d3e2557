"""Finishing drawings (仕上げ): closed regions filled, open ones not, gaps bridged, lines kept or recoloured."""

from __future__ import annotations

import numpy as np
import pytest

from compositor.core.fill import closed_regions, fill_drawing
from compositor.core.photography import tone
from compositor.spec import Production, load_shot
from compositor.steps.background import ensure_background
from compositor.steps.composite import CutRenderer
from tests.conftest import REPO, premultiplied, write_flat, write_grid

YELLOW = np.array([1, 1, 0], np.float32)


CLOSED = """
.........
.KKKKKKK.
.K.....K.
.K.....K.
.K.....K.
.KKKKKKK.
.........
"""

KEY = """
.........
.........
.........
....X....
.........
.........
.........
"""

OPEN = """
.........
.KKKKKKK.
.K.......
.K.......
.K.......
.KKKKKKK.
.........
"""


def square_with_gap(size: int, gap: int) -> np.ndarray:
    """A 2-px black outline of a square, its right side broken by ``gap`` pixels."""
    rows = [["."] * (size + 4) for _ in range(size + 4)]
    for i in range(2, size + 2):
        for t in (0, 1):
            rows[2 + t][i] = rows[size + 1 - t][i] = rows[i][2 + t] = rows[i][size + 1 - t] = "K"
    middle = (size + 4) // 2
    for i in range(middle - gap // 2, middle - gap // 2 + gap):
        rows[i][size] = rows[i][size + 1] = "."
    return premultiplied("\n".join("".join(r) for r in rows))


def test_a_closed_shape_is_filled_and_its_lines_keep_their_colour():
    cel = premultiplied(CLOSED)
    filled = fill_drawing(cel, gap=0, colour=YELLOW)
    line = cel[:, :, 3] == 1
    assert np.array_equal(filled[line], cel[line])  # every line pixel as drawn
    assert np.allclose(filled[2:5, 2:7], [1, 1, 0, 1])  # the inside, opaque yellow
    assert not filled[0].any() and not filled[:, 0].any()  # the outside stays empty


def test_an_open_shape_is_not_filled():
    cel = premultiplied(OPEN)
    filled = fill_drawing(cel, gap=0, colour=YELLOW)
    assert np.array_equal(filled, cel)


@pytest.mark.parametrize("n", [1, 2, 3, 4, 6])
def test_a_gap_up_to_n_pixels_is_closed_and_a_wider_one_is_not(n):
    inside = (12, 12)
    for gap in range(1, n + 1):
        cel = square_with_gap(20, gap)
        assert fill_drawing(cel, gap=n, colour=YELLOW)[inside][3] == 1
        assert fill_drawing(cel, gap=0, colour=YELLOW)[inside][3] == 0
        labels, within = closed_regions(cel[:, :, 3] > 0, n)
        assert labels[inside] > 0 and labels[0, 0] == 0 and not within[0, 0]
    # an odd n closes n + 1 as well (the lines grow by whole pixels), but nothing wider
    wider = square_with_gap(20, 2 * ((n + 1) // 2) + 1)
    assert fill_drawing(wider, gap=n, colour=YELLOW)[inside][3] == 0


def test_the_fill_never_goes_past_the_lines_outer_edge():
    cel = square_with_gap(20, 3)
    filled = fill_drawing(cel, gap=4, colour=YELLOW)
    outside = np.ones(cel.shape[:2], bool)
    outside[2:22, 2:22] = False
    assert not filled[outside].any()
    assert (filled[4:20, 4:20, 3] == 1).all()  # and fills all of the inside, up to the line


def test_each_region_takes_the_colour_its_key_paints_and_lines_can_be_recoloured():
    cel = premultiplied("""
    ...........
    .KKKKKKKKK.
    .K...K...K.
    .K...K...K.
    .KKKKKKKKK.
    ...........
    """)
    key = premultiplied("""
    ...........
    ...........
    ..R.....B..
    ...........
    ...........
    ...........
    """)
    filled = fill_drawing(cel, gap=0, key=key, lines=np.array([0, 0, 1], np.float32))
    assert np.allclose(filled[2:4, 2:5], [1, 0, 0, 1]) and np.allclose(filled[2:4, 6:9], [0, 0, 1, 1])
    line = cel[:, :, 3] == 1
    assert np.allclose(filled[line], [0, 0, 1, 1])  # 色トレス: the lines in the new colour, alpha kept
    # a region the key leaves blank takes the single colour when there is one
    half = key.copy()
    half[:, 6:] = 0
    assert np.allclose(fill_drawing(cel, gap=0, key=half, colour=YELLOW)[2, 7], [1, 1, 0, 1])


def test_a_filled_paper_drawing_no_longer_shows_the_background_through_its_body(production_factory):
    import cv2

    # the demo's paper drawing (a photograph of a child's drawing), at half size
    photo = cv2.imread(str(REPO / "shots/sc020_c010/cels/garlic/garlic_0001.png"))
    small = cv2.resize(photo, (264, 280), interpolation=cv2.INTER_AREA)
    w, h = small.shape[1], small.shape[0]
    text = """
    [shot]
    frames = 1

    [background]
    source = "plate"
    plate = "plates/bg.png"

    [[layers]]
    name = "garlic"
    cels = "cels/garlic"
    timing = "1"
    key = "paper"
    {fill}
    """
    results = {}
    for name, fill in (("plain", ""), ("filled", 'fill = { colour = "#f3ead8", gap = 3 }')):
        root = production_factory({name: text.replace("{fill}", fill)}, size=(w, h))
        write_flat(root / f"shots/{name}/plates/bg.png", (w, h), (0, 255, 0))
        (root / f"shots/{name}/cels/garlic").mkdir(parents=True)
        cv2.imwrite(str(root / f"shots/{name}/cels/garlic/garlic_0001.png"), small)
        shot = load_shot(Production(root), name)
        ensure_background(shot)
        results[name] = CutRenderer(shot).frame(0)
    window = (slice(117, 123), slice(147, 153))  # inside the garlic's body, between its lines
    assert np.allclose(results["plain"][window][:, :, :3], [0, 1, 0], atol=0.05)  # keyed: the green shows
    body = results["filled"][window]
    assert np.allclose(body[:, :, :3], tone.hex_colour("#f3ead8"), atol=0.05)  # filled: it does not
    corner = results["filled"][2, 2]
    assert np.allclose(corner[:3], [0, 1, 0], atol=0.05)  # the paper around the drawing is still keyed


def test_a_fills_colour_key_drawing_enters_the_frame_key(production_factory):
    text = """
    [shot]
    frames = 1

    [background]
    source = "plate"
    plate = "plates/bg.png"

    [[layers]]
    name = "a"
    cels = "cels/A"
    timing = "1"
    fill = { key = "cels/keys", gap = 0 }
    """
    root = production_factory({"c": text}, size=(9, 7))
    write_flat(root / "shots/c/plates/bg.png", (9, 7), (0, 255, 0))
    write_grid(root / "shots/c/cels/A/A_0001.png", CLOSED)
    write_grid(root / "shots/c/cels/keys/k_0001.png", KEY.replace("X", "R"))
    shot = load_shot(Production(root), "c")
    ensure_background(shot)
    renderer = CutRenderer(shot)
    before = renderer.frame_key(0)
    assert np.allclose(renderer.frame(0)[3, 4], [1, 0, 0, 1])
    write_grid(root / "shots/c/cels/keys/k_0001.png", KEY.replace("X", "B"))
    after = CutRenderer(shot)
    assert after.frame_key(0) != before and np.allclose(after.frame(0)[3, 4], [0, 0, 1, 1])
