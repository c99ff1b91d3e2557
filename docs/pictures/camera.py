"""The README's before/after pictures of camera work and focus: ``docs/img/camera_*.png``.

Each picture is one frame of a small cut made from the demo's own drawings (the walk cycle of sc010_c020 and
the cat of sc010_c010 over a procedural field), rendered without and with one piece of camera work, the two
stacked (before above, after below) at 480 px wide, saved
with a 256-colour palette to stay small. The cuts are built in a temporary production and rendered
in memory through the compositor's library API, so the pictures show what a render would.

    python docs/pictures/camera.py
"""

from __future__ import annotations

import shutil
import tempfile
import textwrap
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from compositor.core.io import to_uint8_rgb
from compositor.spec import Production, load_shot
from compositor.steps.background import ensure_background
from compositor.steps.composite import CutRenderer

REPO = Path(__file__).resolve().parents[2]
OUT = REPO / "docs" / "img"
SIZE = (480, 270)

BASE = """
[shot]
frames = 24

[background]
source = "procedural"
style = "noon"
seed = 21
canvas = [720, 270]

[camera]
keys = [ {{ frame = 1, x = 240, y = 135 }} {keys} ]
{camera}

[[layers]]
name = "walker"
cels = "cels/walk"
timing = "(1-11@2)*"
scale = 1.1
parallax = 0.0
position = [90, 140]
{walker}

[[layers]]
name = "book"
cels = "cels/cat"
timing = "1@24"
scale = 0.33
parallax = 2.4
position = [420, 120]
{book}
"""

TRACK = "[[camera.tracks]]\nstart = 1\nend = 24\nzoom = 1.5\ny = 20\ncurve = \"ease-in-out\"\n"

PICTURES: dict[str, tuple[tuple[int, int], dict[str, str], dict[str, str]]] = {
    # name: (frame index before and after, the cut before, the cut after)
    "follow": (
        (11, 11),
        {"camera": "[camera.follow]\nspeed = [-8, 0]"},
        {"camera": "[camera.follow]\nspeed = [-8, 0]\n[camera.motion_blur]\nsamples = 10\nshutter = 270"},
    ),
    "streak": (
        (8, 8),
        {"keys": ", { frame = 24, x = 480, y = 135, ease = \"linear\" }"},
        {"keys": ", { frame = 24, x = 480, y = 135, ease = \"linear\" }", "camera": "[camera.streak]\nlength = 48"},
    ),
    "focus": (
        (0, 0),
        {},
        {"camera": "[camera.focus]\nkeys = [ { frame = 1, depth = 0.0 } ]\nblur = 2.5\nbackground_depth = 1.0",
         "walker": "depth = 0.0"},
    ),
    "track": ((0, 23), {"camera": TRACK}, {"camera": TRACK}),
}


def _production(root: Path, cuts: dict[str, str]) -> Production:
    (root / "shots").mkdir(parents=True)
    shutil.copytree(REPO / "templates", root / "templates")
    names = ", ".join(f'"{c}"' for c in cuts)
    (root / "shots" / "edit.toml").write_text(
        f'[edit]\nname = "pictures"\nsize = [{SIZE[0]}, {SIZE[1]}]\nslate = 0\ncuts = [{names}]\n'
    )
    for cut, text in cuts.items():
        folder = root / "shots" / cut
        shutil.copytree(REPO / "shots/sc010_c020/cels/walk", folder / "cels/walk")
        shutil.copytree(REPO / "shots/sc010_c010/cels/body", folder / "cels/cat")
        (folder / "shot.toml").write_text(textwrap.dedent(text))
    return Production(root)


def _cut(parts: dict[str, str]) -> str:
    return BASE.format(**{"keys": "", "camera": "", "walker": "", "book": "", **parts})


def _labelled(rgb: np.ndarray, text: str) -> np.ndarray:
    out = np.ascontiguousarray(rgb.copy())
    for colour, thickness in (((0, 0, 0), 3), ((255, 255, 255), 1)):  # white on a dark outline
        cv2.putText(out, text, (8, 22), cv2.FONT_HERSHEY_SIMPLEX, 0.6, colour, thickness, cv2.LINE_AA)
    return out


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        cuts = {}
        for name, (_, before, after) in PICTURES.items():
            cuts[f"{name}_before"] = _cut(before)
            cuts[f"{name}_after"] = _cut(after)
        production = _production(Path(tmp), cuts)
        for name, (indices, _, _) in PICTURES.items():
            halves = []
            for when, index in zip(("before", "after"), indices):
                shot = load_shot(production, f"{name}_{when}")
                ensure_background(shot)
                rgb = to_uint8_rgb(CutRenderer(shot).frame(index))
                halves.append(_labelled(rgb, f"{when}: {name}" if when == "after" else "before"))
            path = OUT / f"camera_{name}.png"
            # a 256-colour palette (dithered): a fifth of the full-colour PNG's size, no visible loss at this size
            Image.fromarray(np.vstack(halves)).quantize(256, dither=Image.Dither.FLOYDSTEINBERG).save(path, optimize=True)
            print(f"{path.relative_to(REPO)}: {path.stat().st_size // 1024} KiB")


if __name__ == "__main__":
    main()
