"""The library API (``import compositor``): frames in memory with everything a render applies, and a cut as a
moviepy clip."""

from __future__ import annotations

import numpy as np
import pytest

import compositor
from compositor.core.io import read_rgb8, to_uint8_rgb
from compositor.errors import SpecError
from tests.conftest import write_flat, write_grid

CUT = """
[shot]
frames = 6
start = 11

[background]
source = "plate"
plate = "plates/bg.%04d.png"
retouch = "plates/retouch.png"

[temporal]
strength = 0.7

[camera]
keys = [ { frame = 11, x = 16, y = 12 }, { frame = 16, x = 18, y = 12, zoom = 1.1, ease = "in-out" } ]

[[layers]]
name = "A"
cels = "cels/A"
timing = "1 . 2 . x 1"
position = [6, 6]

[[effects]]
type = "glow"
strength = 0.5
radius = 3

[[effects]]
type = "grain"
strength = 0.2
"""


@pytest.fixture
def shot(production_factory):
    root = production_factory({"sc010_c010": CUT})
    for i in range(1, 7):  # a flickering plate, steadied by the temporal pass
        write_flat(root / f"shots/sc010_c010/plates/bg.{i:04d}.png", (32, 24), (60 + 15 * (i % 2), 90, 120))
    write_grid(root / "shots/sc010_c010/plates/retouch.png", "\n".join(["WW" + "." * 30] * 24))
    write_grid(root / "shots/sc010_c010/cels/A/A_0001.png", "RRRR\nRRRR\nhhhh")
    write_grid(root / "shots/sc010_c010/cels/A/A_0002.png", "GGG\nGGG")
    return compositor.cut(compositor.load(root), "sc010_c010")


def test_a_frame_in_memory_is_the_frame_the_render_writes(shot):
    frame = compositor.render_frame(shot, 13)
    assert frame.shape == (24, 32, 4) and frame.dtype == np.float32
    assert np.all(frame[:, :, :3] <= frame[:, :, 3:4] + 1e-6)  # premultiplied
    compositor.render_cut(shot)
    assert np.array_equal(to_uint8_rgb(frame), read_rgb8(shot.paths.comp_frame(13)))
    in_memory = list(compositor.render_frames(shot, [16, 11]))
    for n, got in zip((16, 11), in_memory):
        assert np.array_equal(to_uint8_rgb(got), read_rgb8(shot.paths.comp_frame(n)))
    assert to_uint8_rgb(frame)[5, 0].min() > 200  # the retouch (white paint) is in; the plate is darker


def test_a_frame_outside_the_cut_is_a_one_line_error(shot):
    with pytest.raises(SpecError, match=r"frame 17 is outside the cut \(11-16\)"):
        compositor.render_frame(shot, 17)


def test_a_cut_as_a_moviepy_clip(shot, tmp_path):
    from compositor.moviepy import clip

    preview = clip(shot)
    assert preview.duration == pytest.approx(6 / 24) and preview.fps == 24
    third = preview.get_frame(2 / 24)
    assert np.array_equal(third, to_uint8_rgb(compositor.render_frame(shot, 13)))
    out = tmp_path / "preview.mp4"
    preview.write_videofile(str(out), codec="libx264", audio=False, logger=None)
    from compositor.steps.encode import probe

    assert probe(out, count_frames=True)["frames"] == 6
