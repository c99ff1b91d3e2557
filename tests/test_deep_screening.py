"""A deep cut ([output] frames = png16 / exr) in the edit's H.264 screening preset: its frames reach the yuv420p
pipe as the pictures they are (found by a new user: `make` failed with "ffmpeg failed: (no message)")."""

from __future__ import annotations

import subprocess

import numpy as np
import pytest

from compositor.core import io
from compositor.spec import load_shot
from compositor.steps.composite import render_cut
from compositor.steps.encode import ffmpeg_exe
from tests.test_formats import CUT, SIZE, _production


@pytest.mark.parametrize(("frames", "alpha"), [("png16", "false"), ("exr", "true")])
def test_a_deep_cut_encodes_in_the_screening_preset(tmp_path, frames, alpha):
    shot = load_shot(_production(tmp_path / "prod", extra=f'[output]\nframes = "{frames}"\nalpha = {alpha}\n'), CUT)
    render_cut(shot, threads=1)  # the edit's preset: screening, H.264 yuv420p with burn-ins
    movie = shot.movie()
    raw = subprocess.run(
        [ffmpeg_exe(), "-v", "error", "-i", str(movie), "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
        capture_output=True,
        check=True,
    ).stdout
    decoded = np.frombuffer(raw, np.uint8).reshape(-1, SIZE[1], SIZE[0], 3)
    assert len(decoded) == shot.frames
    comp = io.to_uint8_rgb(io.read_image(shot.paths.comp_frame(1))).astype(int)
    band = SIZE[1] // 8  # the letterbox burn-ins cover the top and bottom of the picture
    middle = np.s_[band : SIZE[1] - band]
    assert np.abs(decoded[0][middle].astype(int) - comp[middle]).mean() < 3


@pytest.mark.parametrize(
    ("returncode", "says"),
    [(0, "stopped reading its frames before the last"), (-9, "killed by signal 9"), (3, "exit status 3")],
)
def test_an_ffmpeg_that_says_nothing_is_still_explained(returncode, says):
    """A silent ffmpeg (one that ended early, or was killed) gave "ffmpeg failed: (no message)"."""
    from compositor.steps.encode import ffmpeg_failure

    message = str(ffmpeg_failure("", "render/a/segments/x.mp4", None, returncode))
    assert message.startswith("render/a/segments/x.mp4: ffmpeg failed: ") and says in message
    assert "no message)" in message and "ffmpeg failed: (no message)" not in message
