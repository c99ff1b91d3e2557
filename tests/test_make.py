"""End to end through make: a tiny cut rendered, checked where the timesheet changes drawing, and make's
incremental behaviour (nothing to do the second time; a changed plate re-runs only its cut and the edit)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import cv2
import pytest

from compositor.steps.encode import probe
from tests.conftest import make, write_flat, write_grid

CUT = """
[shot]
frames = 6

[background]
source = "plate"
plate = "plates/bg.png"

[[layers]]
name = "A"
cels = "cels/A"
timing = "1 . 2 x 3 ."
position = [4, 4]
"""

OTHER = """
[shot]
frames = 3

[background]
source = "plate"
plate = "plates/bg.png"
"""


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> Path:
    from tests.conftest import make_production

    root = make_production(tmp_path_factory.mktemp("e2e") / "prod", {"sc010_c010": CUT, "sc010_c020": OTHER})
    for cut in ("sc010_c010", "sc010_c020"):
        write_flat(root / f"shots/{cut}/plates/bg.png", (32, 24), (40, 40, 40))
    cels = root / "shots/sc010_c010/cels/A"
    write_grid(cels / "A_0001.png", "RRRR\nRRRR\nRRRR\nRRRR")
    write_grid(cels / "A0002.png", "GGGG\nGGGG\nGGGG\nGGGG")
    write_grid(cels / "0003.png", "BBBB\nBBBB\nBBBB\nBBBB")
    run = make(root)
    assert run.returncode == 0, run.stdout + run.stderr
    return root


def _pixel(root: Path, frame: int) -> tuple[int, int, int]:
    bgr = cv2.imread(str(root / f"render/sc010_c010/comp/sc010_c010.{frame:04d}.png"))
    return tuple(int(v) for v in bgr[5, 5, ::-1])


def test_frames_follow_the_timesheet_where_it_changes(rendered):
    expected = {1: (255, 0, 0), 2: (255, 0, 0), 3: (0, 255, 0), 4: (40, 40, 40), 5: (0, 0, 255), 6: (0, 0, 255)}
    assert {f: _pixel(rendered, f) for f in expected} == expected
    # outside the cel, the plate
    bgr = cv2.imread(str(rendered / "render/sc010_c010/comp/sc010_c010.0001.png"))
    assert tuple(bgr[20, 20]) == (40, 40, 40)


def test_movies_are_real_encodes(rendered):
    info = probe(rendered / "render/sc010_c010/sc010_c010.mp4")
    assert (info["width"], info["height"], info["frames"], info["codec"]) == (32, 24, 6, "h264")
    edit = probe(rendered / "render/tiny.mp4")
    assert edit["frames"] == 9


def test_second_make_does_nothing(rendered):
    assert make(rendered, "-q").returncode == 0
    run = make(rendered)
    assert "compositor" not in run.stdout


def test_changed_plate_reruns_only_that_cut_and_the_edit(rendered):
    time.sleep(0.01)
    write_flat(rendered / "shots/sc010_c010/plates/bg.png", (32, 24), (90, 40, 40))
    run = make(rendered)
    assert run.returncode == 0, run.stderr
    commands = [line.strip() for line in run.stdout.splitlines() if "/compositor " in line]
    assert commands and all("sc010_c020" not in c for c in commands), run.stdout
    assert any("bg sc010_c010" in c for c in commands)
    assert any("render sc010_c010" in c for c in commands)
    assert any(c.endswith(" cut") for c in commands)
    assert _pixel(rendered, 4) == (90, 40, 40)


def test_bad_spec_fails_in_one_line_and_keeps_what_was_rendered(rendered):
    spec = rendered / "shots/sc010_c010/shot.toml"
    good = spec.read_text()
    before = sorted((rendered / "render/sc010_c010/comp").glob("*.png"))
    try:
        spec.write_text(good.replace('"1 . 2 x 3 ."', '"1 . 2 x 3 . 3"'))
        run = make(rendered)
        assert run.returncode != 0
        errors = [line for line in run.stderr.splitlines() if line.startswith("error:")]
        assert errors == ["error: shots/sc010_c010/shot.toml: layers[0].timing: 7 frames, but the cut is 6"]
        assert "Traceback" not in run.stderr
        assert sorted((rendered / "render/sc010_c010/comp").glob("*.png")) == before
    finally:
        spec.write_text(good)


def _age(path: Path, seconds: float = 3600) -> None:
    old = time.time() - seconds
    os.utime(path, (old, old))


def test_new_compositor_code_reruns_every_step_and_remakes_nothing(rendered):
    """After an upgrade (the code newer than render/code.checked, its key not the one render/code.key holds),
    every step runs and its own keys decide: nothing was changed, so no frame or segment is made again."""
    assert make(rendered).returncode == 0
    frames = sorted((rendered / "render/sc010_c010/comp").glob("*.png"))
    made = {p: p.stat().st_mtime_ns for p in frames}
    (rendered / "render/code.key").write_text("the key of an older compositor\n")
    _age(rendered / "render/code.key")
    _age(rendered / "render/code.checked")
    run = make(rendered)
    assert run.returncode == 0, run.stderr
    commands = [line.strip() for line in run.stdout.splitlines() if "/compositor " in line]
    for step in ("code-key", "bg sc010_c010", "render sc010_c010", "bg sc010_c020", "render sc010_c020"):
        assert any(step in c for c in commands), (step, run.stdout)
    assert {p: p.stat().st_mtime_ns for p in frames} == made
    assert "compositor" not in make(rendered).stdout  # and then nothing to do


def test_code_newer_with_the_same_key_runs_no_step(rendered):
    assert make(rendered).returncode == 0
    _age(rendered / "render/code.checked")
    run = make(rendered)
    commands = [line.strip() for line in run.stdout.splitlines() if "/compositor " in line]
    assert run.returncode == 0 and commands, run.stdout
    # The key and the dependency file are checked again; no step runs.
    assert all(c.endswith((" code-key && touch render/code.checked", " deps")) for c in commands), run.stdout
