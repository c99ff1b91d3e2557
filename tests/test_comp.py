"""The per-frame compositor: cels decoded once, resume after an interruption, parallax and blend on screen."""

from __future__ import annotations

import subprocess
import sys

import cv2
import numpy as np

from compositor.core.cels import drawing_number, drawings_in
from compositor.core.io import read_png_key
from compositor.spec import Production, load_shot
from compositor.steps.background import ensure_background
from compositor.steps.composite import CutRenderer, render_chunk, render_cut, stale_frames
from tests.conftest import write_flat, write_grid

CUT = """
[shot]
frames = 8

[background]
source = "plate"
plate = "plates/bg.png"
canvas = [48, 24]

[camera]
keys = [ { frame = 1, x = 16, y = 12 }, { frame = 8, x = 30, y = 12 } ]

[[layers]]
name = "fixed"
cels = "cels/A"
timing = "1@8"
parallax = 0
position = [2, 2]

[[layers]]
name = "glued"
cels = "cels/A"
timing = "(1 2)*"
parallax = 1
position = [20, 10]
blend = "multiply"
"""


def _shot(production_factory):
    root = production_factory({"sc010_c010": CUT})
    bg = np.zeros((24, 48, 3), np.uint8)
    bg[:, :, :] = np.linspace(0, 255, 48)[None, :, None].astype(np.uint8)  # a ramp, so a pan is visible
    (root / "shots/sc010_c010/plates").mkdir(parents=True)
    cv2.imwrite(str(root / "shots/sc010_c010/plates/bg.png"), bg)
    write_grid(root / "shots/sc010_c010/cels/A/A_0001.png", "RR\nRR")
    write_grid(root / "shots/sc010_c010/cels/A/A_0002.png", "YY\nYY")
    shot = load_shot(Production(root), "sc010_c010")
    ensure_background(shot)
    return shot


def frame_path(shot, number):
    return shot.paths.comp_frame(number)


def test_drawing_numbers_come_from_the_last_number_in_the_name(tmp_path):
    assert drawing_number(tmp_path / "A_0012.png") == 12
    assert drawing_number(tmp_path / "A0003.png") == 3
    assert drawing_number(tmp_path / "0007.png") == 7
    assert drawing_number(tmp_path / "walk2_v3_0004.png") == 4
    write_grid(tmp_path / "A_0001.png", "R")
    write_grid(tmp_path / "B_001.png", "R")
    import pytest

    from compositor.errors import SpecError

    with pytest.raises(SpecError, match="drawing 1 is also"):
        drawings_in(tmp_path)


def test_a_held_drawing_is_decoded_once(production_factory):
    shot = _shot(production_factory)
    renderer = CutRenderer(shot)
    canvas = np.zeros((24, 48, 4), np.float32)
    for i in range(8):
        renderer.compose(i, canvas)
    assert [lib.decodes for _, _, lib in renderer.layers] == [1, 2]


def test_fixed_layer_stays_and_glued_layer_pans_with_the_background(production_factory):
    shot = _shot(production_factory)
    renderer = CutRenderer(shot)
    canvas = np.ones((24, 48, 4), np.float32)
    first, last = renderer.compose(0, canvas), renderer.compose(7, canvas)
    # parallax 0: same screen place; red over white
    assert np.allclose(first[2:4, 2:4, :3], [1, 0, 0]) and np.allclose(last[2:4, 2:4, :3], [1, 0, 0])
    # parallax 1: the camera moved 14 px right, so the glued layer moved 14 px left; multiply over white = colour
    assert np.allclose(first[10:12, 20:22, :3], [1, 0, 0])
    assert np.allclose(last[10:12, 6:8, :3], [1, 1, 0])


def test_interrupted_render_resumes_without_redoing_frames(production_factory):
    shot = _shot(production_factory)
    keys = CutRenderer(shot).frame_keys()
    assert stale_frames(shot, keys) == list(range(8))
    render_chunk(str(shot.production.root), shot.name, [0, 1, 2])  # as if killed after three frames
    stamps = {n: frame_path(shot, n).stat().st_mtime_ns for n in (1, 2, 3)}
    assert stale_frames(shot, keys) == [3, 4, 5, 6, 7]
    result = render_cut(shot, threads=1)
    assert result.composited == [3, 4, 5, 6, 7]
    assert {n: frame_path(shot, n).stat().st_mtime_ns for n in (1, 2, 3)} == stamps
    assert shot.paths.comp_manifest.is_file()
    assert [read_png_key(frame_path(shot, n)) for n in shot.frame_numbers()] == keys


def test_a_changed_drawing_recomposites_only_the_frames_that_show_it(production_factory):
    shot = _shot(production_factory)
    render_cut(shot, threads=1)
    before = {n: frame_path(shot, n).read_bytes() for n in shot.frame_numbers()}
    stamps = {n: frame_path(shot, n).stat().st_mtime_ns for n in shot.frame_numbers()}
    write_grid(shot.folder / "cels/A/A_0002.png", "BB\nBB")  # the glued layer shows it on frames 2, 4, 6, 8
    shot = load_shot(shot.production, shot.name)
    assert stale_frames(shot, CutRenderer(shot).frame_keys()) == [1, 3, 5, 7]
    result = render_cut(shot, threads=1)
    assert result.composited == [1, 3, 5, 7]
    for n in (1, 3, 5, 7):  # untouched: the same bytes, not even rewritten
        assert frame_path(shot, n).read_bytes() == before[n]
        assert frame_path(shot, n).stat().st_mtime_ns == stamps[n]
    assert all(frame_path(shot, n).read_bytes() != before[n] for n in (2, 4, 6, 8))
    assert render_cut(shot, threads=1).composited == []


def test_parallel_render_gives_the_same_pixels(production_factory):
    shot = _shot(production_factory)
    render_cut(shot, threads=1)
    serial = [cv2.imread(str(frame_path(shot, n))) for n in shot.frame_numbers()]
    for p in (shot.out / "comp").glob("*.png"):
        p.unlink()
    render_cut(shot, threads=2)
    parallel = [cv2.imread(str(frame_path(shot, n))) for n in shot.frame_numbers()]
    assert all(np.array_equal(a, b) for a, b in zip(serial, parallel))


def test_corrupt_cel_is_a_one_line_error(production_factory):
    shot = _shot(production_factory)
    (shot.folder / "cels/A/A_0002.png").write_bytes(b"\x89PNG\r\n\x1a\nthis is not a png")
    run = subprocess.run(
        [sys.executable, "-m", "compositor", "render", shot.name], cwd=shot.production.root, capture_output=True, text=True
    )
    assert run.returncode == 1
    assert "Traceback" not in run.stderr
    assert run.stderr.strip() == (
        "error: shots/sc010_c010/cels/A/A_0002.png: cannot decode drawing 2 of layer 'glued' (corrupt or not an image)"
    )
    assert len(run.stderr.strip().splitlines()) == 1


def test_blurring_a_layer_does_not_move_it(production_factory):
    shot = _shot(production_factory)
    canvas = np.zeros((24, 48, 4), np.float32)
    sharp = CutRenderer(shot).compose(0, canvas)
    blurred_spec = shot.spec.model_copy(
        update={"layers": [shot.spec.layers[0].model_copy(update={"blur": 1.5})]}
    )
    from dataclasses import replace

    blurred = CutRenderer(replace(shot, spec=blurred_spec)).compose(0, canvas)

    def centroid(frame):
        a = frame[:, :, 3]
        ys, xs = np.indices(a.shape)
        return (xs * a).sum() / a.sum(), (ys * a).sum() / a.sum()

    sharp_only_fixed = CutRenderer(replace(shot, spec=shot.spec.model_copy(update={"layers": [shot.spec.layers[0]]})))
    # the blur is clipped a little by the frame edge (the layer sits 2 px from it); unfixed it moved 5 px
    assert np.allclose(centroid(blurred), centroid(sharp_only_fixed.compose(0, canvas)), atol=0.2)
    assert sharp.shape == blurred.shape


def test_a_plate_shorter_than_the_cut_is_a_one_line_error(production_factory):
    root = production_factory(
        {"sc010_c010": '[shot]\nframes = 4\n[background]\nsource = "plate"\nplate = "plates/bg.%04d.png"\n'}
    )
    for i in (1, 2, 3):
        write_flat(root / f"shots/sc010_c010/plates/bg.{i:04d}.png", (32, 24), (10 * i, 0, 0))
    run = subprocess.run([sys.executable, "-m", "compositor", "bg", "sc010_c010"], cwd=root, capture_output=True, text=True)
    assert run.returncode == 1
    assert run.stderr.strip() == "error: shots/sc010_c010/shot.toml: background.plate: 3 frames, but the cut is 4"
