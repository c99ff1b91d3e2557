"""Nothing stale, ever: every output records the key of what made it, and any command, run by make or by hand,
rebuilds what no longer matches its inputs and only that (issue "Exactly what changed, never stale")."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from compositor.core.io import read_png_key
from compositor.steps.encode import movie_key, probe
from tests.conftest import REPO, make, make_production, write_flat, write_grid

CUT = """
[shot]
frames = 8

[background]
source = "plate"
plate = "plates/bg.png"

[[layers]]
name = "A"
cels = "cels/A"
timing = "1 . 2 . 1 . 3 ."
position = [4, 4]
"""


def cli(root: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "compositor", *args], cwd=root, capture_output=True, text=True, timeout=600)


def production(root: Path, cuts: tuple[str, ...] = ("sc010_c010",), edit_extra: str = 'title = "First title"\n') -> Path:
    make_production(root, {c: CUT for c in cuts}, edit_extra=edit_extra, size=(48, 32))
    for cut in cuts:
        write_flat(root / f"shots/{cut}/plates/bg.png", (48, 32), (40, 40, 40))
        cels = root / f"shots/{cut}/cels/A"
        write_grid(cels / "A_0001.png", "RRRR\nRRRR")
        write_grid(cels / "A_0002.png", "GGGG\nGGGG")
        write_grid(cels / "A_0003.png", "BBBB\nBBBB")
    return root


def frame(root: Path, cut: str, n: int) -> Path:
    return root / f"render/{cut}/comp/{cut}.{n:04d}.png"


def stamps(root: Path, cut: str) -> dict[int, int]:
    return {n: frame(root, cut, n).stat().st_mtime_ns for n in range(1, 9)}


def pixel(root: Path, cut: str, n: int, x: int = 20, y: int = 20) -> tuple[int, ...]:
    import cv2  # noqa: PLC0415

    return tuple(int(v) for v in cv2.imread(str(frame(root, cut, n)))[y, x, ::-1])


@pytest.fixture
def made(tmp_path: Path) -> Path:
    root = production(tmp_path / "prod")
    run = make(root)
    assert run.returncode == 0, run.stdout + run.stderr
    return root


def test_render_after_a_background_change_uses_the_new_background(made: Path) -> None:
    assert pixel(made, "sc010_c010", 1) == (40, 40, 40)
    write_flat(made / "shots/sc010_c010/plates/bg.png", (48, 32), (200, 30, 30))  # a swapped plate
    run = cli(made, "render", "sc010_c010")  # directly, not through make: no `bg` step first
    assert run.returncode == 0, run.stderr
    assert all(pixel(made, "sc010_c010", n) == (200, 30, 30) for n in range(1, 9))


def test_a_title_change_reaches_every_cut_movie_and_recomposites_nothing(made: Path) -> None:
    movie = made / "render/sc010_c010/sc010_c010.mp4"
    key, before, frames = movie_key(movie), movie.read_bytes(), stamps(made, "sc010_c010")
    edit = made / "shots/edit.toml"
    edit.write_text(edit.read_text().replace("First title", "A new title"))
    run = make(made)
    assert run.returncode == 0, run.stderr
    assert "render sc010_c010" in run.stdout
    assert movie_key(movie) != key and movie.read_bytes() != before  # the burn-in says the new title
    assert stamps(made, "sc010_c010") == frames  # no frame was composited again
    assert make(made, "-q").returncode == 0


def test_a_master_is_encoded_beside_the_screening_movie(made: Path) -> None:
    screening = made / "render/sc010_c010/sc010_c010.mp4"
    before = screening.read_bytes()
    run = cli(made, "encode", "sc010_c010", "--preset", "master")
    assert run.returncode == 0, run.stderr
    master = made / "render/sc010_c010/sc010_c010.master.mp4"
    assert probe(master)["pix_fmt"] == "yuv444p10le" and probe(screening)["pix_fmt"] == "yuv420p"
    assert screening.read_bytes() == before
    run = make(made)
    assert run.returncode == 0, run.stderr
    assert "Nothing to be done" in run.stdout


def test_a_cut_that_is_not_in_the_edit_is_a_make_target(made: Path) -> None:
    new = cli(made, "new", "sc030_c010")  # from templates/shot.toml: a procedural background, no drawings
    assert new.returncode == 0, new.stderr
    spec = made / "shots/sc030_c010/shot.toml"
    spec.write_text(spec.read_text().replace("frames = 48", "frames = 4").replace("x@48", "x@4"))
    run = make(made, "sc030_c010")
    assert run.returncode == 0, run.stdout + run.stderr
    assert probe(made / "render/sc030_c010/sc030_c010.mp4")["frames"] == 4
    assert probe(made / "render/tiny.mp4")["frames"] == 8  # the screening cut is the edit's cuts only


def test_make_validate_reports_every_problem_in_every_file(tmp_path: Path) -> None:
    root = production(tmp_path / "prod", cuts=("sc010_c010", "sc010_c020", "sc020_c010", "sc020_c020"))
    (root / "shots/sc010_c010/shot.toml").write_text(CUT.replace('"1 . 2 . 1 . 3 ."', '"1 . 2"'))
    (root / "shots/sc010_c020/shot.toml").write_text(CUT.replace("position", "positon"))
    (root / "shots/sc020_c010/shot.toml").write_text(CUT.replace("frames = 8", "frames = [8"))
    (root / "shots/sc020_c020/shot.toml").write_text(CUT.replace('"1 . 2 . 1 . 3 ."', '"1 . 2 . 1 . 9 ."'))
    (root / "shots/sc030_c010").mkdir()
    (root / "shots/sc030_c010/shot.toml").write_text("[shot]\nframes = 0\n")  # a cut not in the edit
    (root / "templates/styles/dusk.toml").write_text('[procedural]\nclouds = 3\n')
    (root / "templates/encode/review.toml").write_text("crff = 3\n")
    run = make(root, "validate")
    assert run.returncode != 0
    errors = [line for line in run.stderr.splitlines() if line.startswith("error:")]
    assert not (root / "render/deps.mk").exists()  # validate needs no dependency file
    expected = [
        "shots/sc010_c010/shot.toml: layers[0].timing: 3 frames, but the cut is 8",
        "shots/sc010_c020/shot.toml: layers[0].positon: unknown key",
        "shots/sc020_c010/shot.toml: not valid TOML",
        "shots/sc020_c020/shot.toml: layers[0].timing: layer 'A', frame 7: drawing 9 has no file",
        "shots/sc030_c010/shot.toml: shot.frames:",
        "templates/styles/dusk.toml: procedural.clouds:",
        "templates/encode/review.toml: crff: unknown key",
    ]
    for text in expected:
        assert any(text in line for line in errors), (text, errors)
    assert "Traceback" not in run.stderr


def test_a_renamed_cel_folder_and_a_removed_layer_need_no_hand_work(made: Path) -> None:
    folder = made / "shots/sc010_c010/cels"
    (folder / "A").rename(folder / "walk")
    spec = made / "shots/sc010_c010/shot.toml"
    spec.write_text(spec.read_text().replace('cels = "cels/A"', 'cels = "cels/walk"'))
    run = make(made)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "No rule to make target" not in run.stderr
    spec.write_text(spec.read_text().split("[[layers]]")[0])  # the layer removed
    shutil.rmtree(folder / "walk")
    run = make(made)
    assert run.returncode == 0, run.stdout + run.stderr
    assert all(pixel(made, "sc010_c010", n, 5, 5) == (40, 40, 40) for n in range(1, 9))


def test_one_retouched_drawing_recomposites_only_its_frames(made: Path) -> None:
    before = {n: frame(made, "sc010_c010", n).read_bytes() for n in range(1, 9)}
    times = stamps(made, "sc010_c010")
    write_grid(made / "shots/sc010_c010/cels/A/A_0002.png", "YYYY\nYYYY")  # shown on frames 3 and 4
    run = make(made)
    assert run.returncode == 0, run.stderr
    assert re.search(r"sc010_c010: 2 of 8 frames composited", run.stderr), run.stderr
    after = stamps(made, "sc010_c010")
    assert [n for n in range(1, 9) if after[n] != times[n]] == [3, 4]
    assert all(frame(made, "sc010_c010", n).read_bytes() == before[n] for n in (1, 2, 5, 6, 7, 8))
    assert pixel(made, "sc010_c010", 3, 5, 5) == (255, 255, 0)


def test_an_interrupted_render_resumes_where_it_stopped(made: Path) -> None:
    for n in (2, 7):
        frame(made, "sc010_c010", n).unlink()  # as if the render had been stopped before making them
    # frame 3 (drawing 2) put where frame 5 (drawing 1) belongs: a file whose key is not frame 5's
    frame(made, "sc010_c010", 5).write_bytes(frame(made, "sc010_c010", 3).read_bytes())
    run = cli(made, "render", "sc010_c010")
    assert run.returncode == 0, run.stderr
    assert "3 of 8 frames composited" in run.stderr
    assert pixel(made, "sc010_c010", 5, 5, 5) == (255, 0, 0)
    assert read_png_key(frame(made, "sc010_c010", 5)) == read_png_key(frame(made, "sc010_c010", 1))


def test_the_python_floor_is_the_one_ci_tests() -> None:
    floor = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["requires-python"]
    assert floor == f">={sys.version_info.major}.{sys.version_info.minor}", (
        "CI runs the tests on this Python: declare it as the floor (or test the older one)"
    )


def test_an_older_python_is_refused_with_one_line(tmp_path: Path) -> None:
    candidates = [*Path.home().glob(".pyenv/versions/3.10*/bin/python3"), shutil.which("python3.10")]
    older = next((c for c in candidates if c and subprocess.run([c, "-c", "pass"], capture_output=True).returncode == 0), None)
    if older is None:
        pytest.skip("no Python 3.10 on this machine to try")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAKE")}
    run = subprocess.run(
        ["make", "-C", str(REPO), "env", f"PYTHON={older}", f"VENV={tmp_path / 'venv'}"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert run.returncode != 0
    assert "compositor needs Python 3.11 or newer" in run.stderr
    assert not (tmp_path / "venv").exists()


def test_the_screening_cut_by_hand_never_joins_a_stale_movie(made: Path) -> None:
    movie = made / "render/sc010_c010/sc010_c010.mp4"
    key, times = movie_key(movie), stamps(made, "sc010_c010")
    write_grid(made / "shots/sc010_c010/cels/A/A_0003.png", "WWWW\nWWWW")  # shown on frames 7 and 8
    run = cli(made, "cut")  # not through make: no `render` step first
    assert run.returncode == 0, run.stderr
    assert movie_key(movie) != key
    assert pixel(made, "sc010_c010", 7, 5, 5) == (255, 255, 255)
    after = stamps(made, "sc010_c010")
    assert [n for n in range(1, 9) if after[n] != times[n]] == [7, 8]
