"""The cost of each light-and-tone operation per frame, at 1280x720 and 1920x1080 (issue 10).

Each operation runs on a synthetic frame (an opaque background, a cel covering a third of the frame, a matte
over half of the cel, light sources a few percent of the frame) a few times; the best time of ``REPS`` runs
is printed in CPU milliseconds per frame (CPU time, so that a machine shared with other work still gives
figures near those of an idle one; OpenCV on one thread). What a cut pays on top of compositing for each key:

- ``shade``: one ``[[layers.shade]]`` matte on a cel (the matte carried to the screen, softened, toned), and
  the layer laid through the toned path (``CutTone.layer_image``: the cel on a sheet the size of its box);
- ``para linear`` / ``para radial``: a ``[[para]]`` on a frame (its gradient is made once per cut; both
  with and without it are printed);
- ``transmitted light``: a layer's ``light`` (core, halo, added);
- ``lens flare`` / ``lens leak``: a ``[[lens]]`` light, made and added;
- ``adjust``: a layer's ``adjust`` (levels, tint, saturation) on a cel (once per drawing, not per frame);
- ``alpha-add``: one layer summed into an alpha-add group;
- ``fill``: a layer's ``fill`` of a frame-high paper drawing (once per drawing, not per frame).

    python bench/effects_tone.py [--reps 3]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from compositor.core.fill import fill_drawing  # noqa: E402
from compositor.core.io import read_image  # noqa: E402
from compositor.core.keying import key_paper  # noqa: E402
from compositor.core.ops import blend, blend_into  # noqa: E402
from compositor.core.photography import tone  # noqa: E402

SIZES = [(1280, 720), (1920, 1080)]
REPS = 3


def best_ms(fn: Callable[[], object], reps: int) -> float:
    fn()  # warm up (allocations, OpenCV's first calls)
    times = []
    for _ in range(reps):
        started = time.process_time()
        fn()
        times.append(time.process_time() - started)
    return min(times) * 1000


def scene(size: tuple[int, int]) -> dict[str, np.ndarray]:
    width, height = size
    rng = np.random.default_rng(10)
    frame = np.empty((height, width, 4), np.float32)
    frame[:, :, :3] = rng.random((height, width, 3), dtype=np.float32) * 0.5 + 0.25
    frame[:, :, 3] = 1
    cel = np.zeros_like(frame)
    cv2.ellipse(cel, (width // 2, height // 2), (width // 5, height // 3), 0, 0, 360, (0.8, 0.5, 0.3, 1.0), -1)
    matte = np.zeros((height, width), np.float32)
    matte[:, width // 2 :] = 1
    lights = np.zeros((height, width), np.float32)
    for i in range(12):
        cv2.circle(lights, (int(width * (0.1 + 0.07 * i)), int(height * 0.2)), max(3, width // 200), 1.0, -1)
    paper = read_image(ROOT / "shots/sc020_c010/cels/garlic/garlic_0001.png")
    scale = height / paper.shape[0]
    paper = cv2.resize(paper, (round(paper.shape[1] * scale), height), interpolation=cv2.INTER_CUBIC)
    return {"frame": frame, "cel": cel, "matte": matte, "lights": lights, "paper": key_paper(paper)}


def operations(size: tuple[int, int], s: dict[str, np.ndarray]) -> list[tuple[str, Callable[[], object]]]:
    from compositor.steps.composite import place_layer  # noqa: PLC0415

    width, height = size
    shadow = tone.hex_colour("#2b2a5c")
    warm, cool = tone.hex_colour("#ffd9a8"), tone.hex_colour("#8f93d6")
    identity = np.array([[1, 0, 0], [0, 1, 0]], np.float64)
    linear = tone.gradient(size, "linear", (0, 0), (width, height), [warm, cool])

    # the cel's box on screen (as ``CutTone.layer_image`` works on it), with the reach of the softness
    x0, y0, x1, y1 = width * 3 // 10 - 7, height // 6 - 7, width * 7 // 10 + 7, height * 5 // 6 + 7
    box_map = identity.copy()
    box_map[:, 2] -= (x0, y0)

    def shade() -> object:
        sheet = np.zeros((y1 - y0, x1 - x0, 4), np.float32)
        place_layer(sheet, s["cel"], box_map, "over", 1.0)
        weight = tone.place_matte(s["matte"], box_map, (x1 - x0, y1 - y0))
        out = s["frame"].copy()
        blend_into(out, tone.tone(sheet, shadow, weight, 0.6, "multiply", 1.5), "over", 1.0, x0, y0)
        return out

    return [
        ("shade (matte, softness 1.5)", shade),
        ("para linear (gradient made)", lambda: tone.tone(s["frame"], linear, None, 0.5, "multiply")),
        ("para linear (with gradient)", lambda: tone.tone(
            s["frame"], tone.gradient(size, "linear", (0, 0), (width, height), [warm, cool]), None, 0.5, "multiply")),
        ("para radial (with gradient)", lambda: tone.tone(
            s["frame"], tone.gradient(size, "radial", (width / 2, height / 2), (width, height), [warm, cool]), None,
            0.5, "multiply")),
        ("transmitted light (halo 60)", lambda: blend(
            s["frame"], tone.transmitted_light(s["lights"], warm, 1.0, 2.0, 60.0), "add")),
        ("lens flare", lambda: blend(s["frame"], tone.lens_light(size, width * 0.3, height * 0.7, warm, 160), "add")),
        ("lens leak", lambda: blend(s["frame"], tone.lens_light(size, 0, 0, warm, width / 2, 1.0, "leak"), "add")),
        ("adjust (per drawing)", lambda: tone.adjust_colour(s["cel"], 0.05, 0.95, 1.1, (1.0, 0.95, 0.9), 1.2)),
        ("alpha-add (one layer)", lambda: tone.alpha_add(s["frame"], s["cel"], 0.5)),
        ("fill, gap 4 (per drawing)", lambda: fill_drawing(s["paper"], 4, colour=warm)),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=REPS)
    args = parser.parse_args(argv)
    cv2.setNumThreads(1)  # per-frame cost on one core: frames are composited one per thread
    results: dict[str, list[float]] = {}
    for size in SIZES:
        s = scene(size)
        for name, fn in operations(size, s):
            results.setdefault(name, []).append(best_ms(fn, args.reps))
    print(f"light and tone, CPU ms per frame on one core (best of {args.reps})")
    print(f"{'operation':32s}" + "".join(f"{f'{w}x{h}':>12s}" for w, h in SIZES))
    for name, times in results.items():
        print(f"{name:32s}" + "".join(f"{t:12.1f}" for t in times))
    return 0


if __name__ == "__main__":
    sys.exit(main())
