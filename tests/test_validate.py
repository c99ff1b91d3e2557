"""`compositor validate` refuses what a render would refuse, in the same words: drawings that do not decode,
plates (and temporal guides) that do not open or are shorter than the cut, retouches that do not decode or do
not fit the canvas, diffusion layouts that do not decode. Each case: validate exits 1 with the one line, and
`compositor render` on the same production stops with that same line."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from compositor.steps.encode import ffmpeg_exe
from tests.conftest import write_flat, write_grid

CUT = "sc010_c010"
BROKEN = b"\x89PNG\r\n\x1a\nthis is not a png"

PLATE = """
[shot]
frames = 4

[background]
source = "plate"
plate = "plates/bg.png"

[[layers]]
name = "A"
cels = "cels/A"
timing = "1 . 2 ."
position = [2, 2]
"""


@pytest.fixture
def prod(production_factory):
    def make(spec: str = PLATE, plate: bool = True) -> Path:
        root = production_factory({CUT: spec})
        folder = root / "shots" / CUT
        if plate:
            write_flat(folder / "plates" / "bg.png", (32, 24), (40, 80, 120))
        write_grid(folder / "cels/A/A_0001.png", "RR\nRR")
        write_grid(folder / "cels/A/A_0002.png", "GG\nGG")
        return root

    return make


def run_main(root: Path, capture: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    """The command in this process (``main()``): its exit status as the shell sees it, and its stderr as
    ``capture`` holds it (``capsys``: Python's; ``capfd``: the file descriptor, C libraries' lines too)."""
    from compositor.cli import main

    argv, sys.argv = sys.argv, ["compositor", "--root", str(root), *args]
    capture.readouterr()
    try:
        main()
        code = 0
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else int(e.code is not None)
    finally:
        sys.argv = argv
    return code, capture.readouterr().err


def compositor(root: Path, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, list[str]]:
    """The command in this process (``main()``, exit status and error lines as the shell sees them)."""
    code, stderr = run_main(root, capsys, *args)
    assert "Traceback" not in stderr, stderr
    return code, [line.removeprefix("error: ") for line in stderr.splitlines() if line.startswith("error: ")]


def refused_alike(root: Path, capsys: pytest.CaptureFixture[str], line: str) -> None:
    """Validate exits 1 with exactly ``line``; a render of the cut stops with the same line."""
    assert compositor(root, capsys, "validate") == (1, [line])
    assert compositor(root, capsys, "render", CUT) == (1, [line])


def test_a_sound_production_validates_and_renders(prod, capsys) -> None:
    root = prod()
    (root / "shots" / CUT / "cels/A/A_0009.png").write_bytes(BROKEN)  # not on the timesheet: never read
    assert compositor(root, capsys, "validate") == (0, [])
    assert compositor(root, capsys, "render", CUT) == (0, [])


def test_a_drawing_that_does_not_decode(prod, capsys) -> None:
    root = prod()
    (root / "shots" / CUT / "cels/A/A_0002.png").write_bytes(BROKEN)
    refused_alike(root, capsys, f"shots/{CUT}/cels/A/A_0002.png: cannot decode drawing 2 of layer 'A' (corrupt or not an image)")


def test_an_empty_drawing_file(prod, capsys) -> None:
    root = prod()
    (root / "shots" / CUT / "cels/A/A_0001.png").write_bytes(b"")  # a copy that never finished
    refused_alike(root, capsys, f"shots/{CUT}/cels/A/A_0001.png: cannot decode drawing 1 of layer 'A' (corrupt or not an image)")


def test_a_plate_that_does_not_decode(prod, capsys) -> None:
    root = prod()
    (root / "shots" / CUT / "plates/bg.png").write_bytes(BROKEN)
    refused_alike(
        root,
        capsys,
        f"shots/{CUT}/shot.toml: background.plate: cannot decode shots/{CUT}/plates/bg.png (corrupt or not an image)",
    )


def test_a_plate_sequence_shorter_than_the_cut(prod, capsys) -> None:
    root = prod(PLATE.replace("plates/bg.png", "plates/bg.%04d.png"), plate=False)
    for i in (1, 2, 3):
        write_flat(root / "shots" / CUT / f"plates/bg.{i:04d}.png", (32, 24), (10 * i, 0, 0))
    refused_alike(root, capsys, f"shots/{CUT}/shot.toml: background.plate: 3 frames, but the cut is 4")


def test_a_plate_sequence_with_a_frame_that_does_not_decode(prod, capsys) -> None:
    root = prod(PLATE.replace("plates/bg.png", "plates/bg.%04d.png"), plate=False)
    for i in (1, 2, 3, 4):
        write_flat(root / "shots" / CUT / f"plates/bg.{i:04d}.png", (32, 24), (10 * i, 0, 0))
    (root / "shots" / CUT / "plates/bg.0003.png").write_bytes(BROKEN)
    refused_alike(
        root,
        capsys,
        f"shots/{CUT}/shot.toml: background.plate: frame 3: cannot decode shots/{CUT}/plates/bg.0003.png "
        "(corrupt or not an image)",
    )


def test_a_video_plate_that_does_not_open(prod, capsys) -> None:
    root = prod(PLATE.replace("plates/bg.png", "plates/bg.mp4"), plate=False)
    video = root / "shots" / CUT / "plates/bg.mp4"
    video.parent.mkdir(parents=True, exist_ok=True)
    video.write_bytes(b"\0\0\0\x18ftypmp42 and then nothing")
    refused_alike(root, capsys, f"shots/{CUT}/shot.toml: background.plate: cannot read the video (no frames decoded)")


def test_a_video_plate_shorter_than_the_cut(prod, capsys) -> None:
    root = prod(PLATE.replace("plates/bg.png", "plates/bg.mp4"), plate=False)
    video = root / "shots" / CUT / "plates/bg.mp4"
    video.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [ffmpeg_exe(), "-v", "error", "-f", "lavfi", "-i", "testsrc=s=32x24:r=24", "-frames:v", "3",
         "-pix_fmt", "yuv420p", str(video)],
        check=True,
    )  # fmt: skip
    refused_alike(root, capsys, f"shots/{CUT}/shot.toml: background.plate: 3 frames, but the cut is 4")


def test_a_retouch_of_another_size(prod, capsys) -> None:
    root = prod(PLATE.replace('plate = "plates/bg.png"', 'plate = "plates/bg.png"\nretouch = "plates/retouch.png"'))
    write_grid(root / "shots" / CUT / "plates/retouch.png", "R.\n.R")
    refused_alike(
        root,
        capsys,
        f"shots/{CUT}/shot.toml: background.retouch: 2x2 paint-over, but the canvas is 32x24 "
        f"(paint over `compositor bg {CUT} --export`)",
    )


def test_a_retouch_that_does_not_decode(prod, capsys) -> None:
    root = prod(PLATE.replace('plate = "plates/bg.png"', 'plate = "plates/bg.png"\nretouch = "plates/retouch.png"'))
    (root / "shots" / CUT / "plates/retouch.png").write_bytes(BROKEN)
    refused_alike(
        root,
        capsys,
        f"shots/{CUT}/shot.toml: background.retouch: cannot decode shots/{CUT}/plates/retouch.png "
        "(corrupt or not an image)",
    )


def test_a_temporal_guide_shorter_than_the_background(prod, capsys) -> None:
    spec = PLATE.replace("plates/bg.png", "plates/bg.%04d.png") + (
        '\n[temporal]\nmethod = "flow"\nguide = "plates/guide.%04d.png"\n'
    )
    root = prod(spec, plate=False)
    for i in (1, 2, 3, 4):
        write_flat(root / "shots" / CUT / f"plates/bg.{i:04d}.png", (32, 24), (10 * i, 0, 0))
    for i in (1, 2, 3):
        write_flat(root / "shots" / CUT / f"plates/guide.{i:04d}.png", (32, 24), (0, 10 * i, 0))
    refused_alike(root, capsys, f"shots/{CUT}/shot.toml: temporal.guide: 3 frames, but the background has 4")


def test_every_problem_is_listed_at_once_by_validate(prod, capsys) -> None:
    root = prod(PLATE.replace('plate = "plates/bg.png"', 'plate = "plates/bg.png"\nretouch = "plates/retouch.png"'))
    write_grid(root / "shots" / CUT / "plates/retouch.png", "R.\n.R")
    (root / "shots" / CUT / "cels/A/A_0001.png").write_bytes(BROKEN)
    (root / "shots" / CUT / "cels/A/A_0002.png").write_bytes(BROKEN)
    code, lines = compositor(root, capsys, "validate")
    assert code == 1
    assert lines == [
        f"shots/{CUT}/cels/A/A_0001.png: cannot decode drawing 1 of layer 'A' (corrupt or not an image)",
        f"shots/{CUT}/cels/A/A_0002.png: cannot decode drawing 2 of layer 'A' (corrupt or not an image)",
        f"shots/{CUT}/shot.toml: background.retouch: 2x2 paint-over, but the canvas is 32x24 "
        f"(paint over `compositor bg {CUT} --export`)",
    ]


@pytest.mark.skipif(
    any(importlib.util.find_spec(m) is None for m in ("torch", "diffusers", "transformers")),
    reason="the diffusion backend (torch, diffusers, transformers) is not installed: a render stops before the layout",
)
def test_a_layout_that_does_not_decode(prod, capsys) -> None:
    spec = PLATE.replace(
        'source = "plate"\nplate = "plates/bg.png"',
        'source = "diffusion"\nmodel = "models/none"\nprompt = "a street"\nlayout = "plates/layout.png"',
    )
    root = prod(spec, plate=False)
    layout = root / "shots" / CUT / "plates/layout.png"
    layout.parent.mkdir(parents=True, exist_ok=True)
    layout.write_bytes(BROKEN)
    refused_alike(
        root,
        capsys,
        f"shots/{CUT}/shot.toml: background.layout: cannot decode shots/{CUT}/plates/layout.png "
        "(corrupt or not an image)",
    )
    cv2.imwrite(str(layout), np.full((24, 32, 3), 255, np.uint8))  # a sound layout: validate has no more to say
    assert compositor(root, capsys, "validate") == (0, [])
