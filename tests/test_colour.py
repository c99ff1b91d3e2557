"""Colour: the tags every movie carries (with the bundled ffmpeg and with Debian's), the one ffmpeg chosen the
same way everywhere, compositing in linear light, and OpenColorIO plates."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import cv2
import numpy as np
import pytest

from compositor.cli import _state as cli_state
from compositor.core.colour import linear_to_srgb, srgb_to_linear, to_linear, to_srgb
from compositor.errors import SpecError
from compositor.spec import Production, load_edit, load_shot
from compositor.steps.composite import CutRenderer, render_cut
from compositor.steps.encode import MoviePlan, ffmpeg_exe, ffprobe_exe
from tests.conftest import make_production, write_grid

CUT = "sc010_c010"
DEBIAN_FFMPEG = Path("/usr/bin/ffmpeg")

SHOT = """
[shot]
frames = 1

[background]
source = "plate"
plate = "plates/bg.png"
{background}

[[layers]]
name = "A"
cels = "cels/A"
timing = "1"
position = [4, 4]

{extra}
"""


def _production(
    root: Path, background: str = "", extra: str = "", edit_extra: str = "", bgr: tuple[int, int, int] = (0, 255, 0)
) -> Production:
    make_production(root, {CUT: SHOT.format(background=background, extra=extra)}, size=(64, 48), edit_extra=edit_extra)
    folder = root / "shots" / CUT
    (folder / "plates").mkdir(parents=True)
    plate = np.zeros((48, 64, 3), np.uint8)
    plate[:] = bgr
    cv2.imwrite(str(folder / "plates" / "bg.png"), plate)
    write_grid(folder / "cels" / "A" / "A_0001.png", "RRRR\nRhhR\nWKKW\n")
    return Production(root)


def _tags(movie: Path) -> tuple[str, ...]:
    out = subprocess.run(
        [ffprobe_exe(), "-v", "error", "-select_streams", "v:0", "-show_entries",
         "stream=color_primaries,color_transfer,color_space,color_range", "-of", "json", str(movie)],
        capture_output=True, text=True, check=True,
    )
    s = json.loads(out.stdout)["streams"][0]
    return s.get("color_primaries"), s.get("color_transfer"), s.get("color_space"), s.get("color_range")


TAGGED = ["review", "hevc_review", "prores422hq"]
REC709 = ("bt709", "bt709", "bt709", "tv")


def test_movies_carry_rec709_tags_with_the_bundled_ffmpeg(tmp_path, monkeypatch):
    monkeypatch.delenv("COMPOSITOR_FFMPEG", raising=False)
    shot = load_shot(_production(tmp_path / "prod"), CUT)
    assert "imageio_ffmpeg" in ffmpeg_exe(shot.edit.ffmpeg)
    render_cut(shot, presets=["screening", *TAGGED], threads=1)
    for preset in TAGGED:
        assert _tags(shot.movie(preset)) == REC709, preset
    from compositor.steps.edit import build_edit

    edit = shot.production.edit_path
    edit.write_text(edit.read_text().replace("slate = 0\n", "slate = 0.25\n"))  # the slate is encoded here too
    assert _tags(build_edit(load_edit(shot.production))["mp4"]) == REC709  # the screening cut


def test_movies_carry_the_same_tags_with_debians_ffmpeg(tmp_path, monkeypatch):
    """Named in edit.toml, another ffmpeg (Debian's 5.1) makes movies with the same tags; it is part of their
    key, so switching re-encodes."""
    if not DEBIAN_FFMPEG.is_file():
        pytest.fail(
            f"{DEBIAN_FFMPEG} is missing: this test compares the bundled ffmpeg with Debian's; install it with "
            "`apt-get install -y ffmpeg` (.ci/run does)"
        )
    monkeypatch.delenv("COMPOSITOR_FFMPEG", raising=False)
    root = tmp_path / "prod"
    production = _production(root, edit_extra=f'[encode]\nffmpeg = "{DEBIAN_FFMPEG}"\n')
    shot = load_shot(production, CUT)
    assert shot.edit.ffmpeg == str(DEBIAN_FFMPEG)
    render_cut(shot, presets=["review", "prores422hq"], threads=1)
    for preset in ("review", "prores422hq"):
        assert _tags(shot.movie(preset)) == REC709, preset
    keys = CutRenderer(shot).frame_keys()
    named = MoviePlan(shot, "review", keys).key

    edit = (root / "shots" / "edit.toml").read_text()
    (root / "shots" / "edit.toml").write_text(edit.replace(f'[encode]\nffmpeg = "{DEBIAN_FFMPEG}"\n', ""))
    assert MoviePlan(load_shot(production, CUT), "review", keys).key != named  # another ffmpeg: another movie

    (root / "shots" / "edit.toml").write_text(edit)
    from compositor.cli import versions

    monkeypatch.setitem(cli_state, "root", root)
    lines = versions()
    assert lines[1].endswith(f"({DEBIAN_FFMPEG})") and lines[2] == "ffmpeg chosen: named in shots/edit.toml ([encode] ffmpeg)"


def test_a_system_ffmpeg_is_never_picked_up_unnamed(monkeypatch, tmp_path):
    import imageio_ffmpeg

    monkeypatch.delenv("COMPOSITOR_FFMPEG", raising=False)
    fake = tmp_path / "bin" / "ffmpeg"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\nexit 1\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake.parent}:{os.environ['PATH']}")
    assert ffmpeg_exe() == imageio_ffmpeg.get_ffmpeg_exe()


def test_a_named_ffmpeg_must_exist(tmp_path):
    root = tmp_path / "prod"
    _production(root, edit_extra='[encode]\nffmpeg = "/no/such/ffmpeg"\n')
    with pytest.raises(SpecError, match=r"shots/edit\.toml: encode\.ffmpeg: '/no/such/ffmpeg' is not an executable"):
        load_edit(Production(root))


def test_version_lists_the_libraries():
    from compositor.cli import versions

    lines = versions()
    names = [line.split()[0] for line in lines]
    for name in ("compositor", "python", "ffmpeg", "numpy", "opencv", "openexr", "opencolorio", "torch", "diffusers"):
        assert name in names, name
    if not os.environ.get("COMPOSITOR_FFMPEG"):
        assert "imageio_ffmpeg" in lines[1] and lines[2] == "ffmpeg chosen: bundled with imageio-ffmpeg"


# ------------------------------------------------------------------------------------------------------------
# Linear light


def test_srgb_curves_invert_each_other():
    v = np.linspace(0, 1, 1001, dtype=np.float32)
    assert np.abs(linear_to_srgb(srgb_to_linear(v)) - v).max() < 2e-6
    assert abs(float(srgb_to_linear(np.float32(0.5))) - 0.21404) < 1e-4
    rng = np.random.default_rng(0)
    alpha = rng.random((5, 7, 1), dtype=np.float32)
    frame = np.concatenate([rng.random((5, 7, 3), dtype=np.float32) * alpha, alpha], axis=2)
    back = to_srgb(to_linear(frame))
    assert np.abs(back - frame).max() < 1e-5 and np.array_equal(back[..., 3], frame[..., 3])


def test_linear_light_differs_on_a_half_covered_edge_and_nowhere_opaque(tmp_path):
    srgb = load_shot(_production(tmp_path / "srgb"), CUT)
    linear = load_shot(_production(tmp_path / "linear", extra="[colour]\nlinear = true\n"), CUT)
    assert linear.linear and not srgb.linear
    a, b = CutRenderer(srgb), CutRenderer(linear)
    fa, fb = a.frame(0), b.frame(0)
    half = (4 + 1, 4 + 1)  # the 'h' pixel: red at alpha 128/255 over the green plate
    alpha = 128 / 255
    assert np.allclose(fa[half][:3], [alpha, 1 - alpha, 0], atol=1e-5)  # mixed as stored
    mixed = linear_to_srgb(np.array([alpha, 1 - alpha, 0], np.float32))  # mixed as light
    assert np.allclose(fb[half][:3], mixed, atol=1e-4)
    assert fb[half][0] > fa[half][0] + 0.2 and fb[half][1] > fa[half][1] + 0.2  # no dark fringe
    edge = np.zeros(fa.shape[:2], bool)
    edge[5, 5:7] = True
    assert np.abs(fa - fb)[~edge].max() < 1e-5  # opaque drawing and plate: the same either way
    assert a.frame_key(0) != b.frame_key(0)


def test_edit_toml_sets_linear_and_output_for_every_cut_and_a_cut_may_say_otherwise(tmp_path):
    root = tmp_path / "prod"
    edit = '[colour]\nlinear = true\n[output]\nframes = "exr"\nalpha = true\n'
    _production(root, extra='[colour]\nlinear = false\n[output]\nframes = "png16"\n', edit_extra=edit)
    shot = load_shot(Production(root), CUT)
    assert not shot.linear and (shot.output.frames, shot.output.alpha) == ("png16", True)
    (root / "shots" / CUT / "shot.toml").write_text(SHOT.format(background="", extra=""))
    shot = load_shot(Production(root), CUT)
    assert shot.linear and shot.output.frames == "exr" and shot.paths.comp_frame(1).suffix == ".exr"


# ------------------------------------------------------------------------------------------------------------
# OpenColorIO plates

CONFIG = """ocio_profile_version: 2
roles:
  default: sRGB - Texture
  scene_linear: sRGB - Texture
displays:
  sRGB:
    - !<View> {name: Raw, colorspace: sRGB - Texture}
colorspaces:
  - !<ColorSpace>
    name: sRGB - Texture
    bitdepth: 32f
  - !<ColorSpace>
    name: swapped
    bitdepth: 32f
    to_scene_reference: !<MatrixTransform> {matrix: [0, 0, 1, 0, 0, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1]}
"""
"""A config of two spaces: the working space, and one whose red and blue are swapped (a matrix OCIO applies)."""


def test_an_ocio_plate_is_converted_to_the_working_space(tmp_path):
    root = tmp_path / "prod"
    production = _production(
        root, background='plate_colourspace = "swapped"', edit_extra='[colour]\nconfig = "ocio/tiny.ocio"\n',
        bgr=(30, 100, 200),  # the file's red 200, green 100, blue 30
    )
    (root / "shots" / "ocio").mkdir()
    (root / "shots" / "ocio" / "tiny.ocio").write_text(CONFIG)
    shot = load_shot(production, CUT)
    frame = CutRenderer(shot).frame(0)
    assert np.allclose(frame[40, 40], [30 / 255, 100 / 255, 200 / 255, 1], atol=1e-5)  # red and blue swapped

    plain = load_shot(_production(tmp_path / "plain", bgr=(30, 100, 200)), CUT)
    assert np.allclose(CutRenderer(plain).frame(0)[40, 40], [200 / 255, 100 / 255, 30 / 255, 1], atol=1e-5)


def test_the_builtin_ocio_config_needs_no_file(tmp_path):
    """``ocio://default``: OCIO's own CG config; a plate stored as linear Rec.709 reads as sRGB-encoded."""
    level = 55  # 55/255 = 0.2157 linear is about sRGB 0.503
    production = _production(
        tmp_path / "prod", background='plate_colourspace = "Linear Rec.709 (sRGB)"',
        edit_extra='[colour]\nconfig = "ocio://default"\n', bgr=(level, level, level),
    )
    frame = CutRenderer(load_shot(production, CUT)).frame(0)
    assert np.allclose(frame[40, 40, :3], linear_to_srgb(np.float32(level / 255)), atol=2e-3)


def test_ocio_mistakes_are_one_line(tmp_path):
    root = tmp_path / "prod"
    _production(root, background='plate_colourspace = "swapped"')
    with pytest.raises(SpecError, match=r"background\.plate_colourspace: 'swapped' needs an OpenColorIO config"):
        load_shot(Production(root), CUT)
    (root / "shots" / "ocio").mkdir()
    (root / "shots" / "ocio" / "tiny.ocio").write_text(CONFIG)
    edit = root / "shots" / "edit.toml"
    edit.write_text(edit.read_text() + '[colour]\nconfig = "ocio/tiny.ocio"\n')
    (root / "shots" / CUT / "shot.toml").write_text(SHOT.format(background='plate_colourspace = "ACEScg"', extra=""))
    with pytest.raises(SpecError, match=r"plate_colourspace: no colour space 'ACEScg' in the OpenColorIO config .*have: sRGB - Texture, swapped"):
        load_shot(Production(root), CUT)
    edit.write_text(edit.read_text().replace("ocio/tiny.ocio", "ocio/none.ocio"))
    with pytest.raises(SpecError, match=r"colour\.config: no such file 'ocio/none\.ocio'"):
        load_edit(Production(root))
