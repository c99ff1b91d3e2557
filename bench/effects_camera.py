"""Camera work and focus: what each effect costs per frame at 1280x720 and 1920x1080 (CPU, milliseconds).

Each row times one effect as the compositor runs it on a frame (``compositor.core.photography.camera_work``), on a synthetic
painted canvas and a 400x400 drawing: the median of a few repetitions. Tracks, shakes and follow slides only
change a map, so their cost is a resampled view instead of a whole-pixel copy (the first two rows).

    python bench/effects_camera.py [--reps N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable

import numpy as np

from compositor.core.photography.camera_work import (
    Look,
    background_frame,
    isolated_layer,
    screen_move,
    shutter_times,
    streak,
)
from compositor.spec.models import MotionBlur
from compositor.steps.composite import view_of_canvas

SIZES = [(1280, 720), (1920, 1080)]


def _canvas(width: int, height: int) -> np.ndarray:
    rng = np.random.default_rng(1)
    rgb = rng.random((height // 8, width // 8, 3), dtype=np.float32)
    rgb = np.kron(rgb, np.ones((8, 8, 1), np.float32))  # blotches, not noise: a painted background's texture
    return np.dstack([rgb, np.ones((height, width), np.float32)])


def _cel() -> np.ndarray:
    cel = np.zeros((400, 400, 4), np.float32)
    yy, xx = np.mgrid[:400, :400]
    inside = (xx - 200) ** 2 + (yy - 200) ** 2 < 180**2
    cel[inside] = (0.9, 0.5, 0.2, 1.0)
    return cel


def _time(fn: Callable[[], object], reps: int) -> float:
    fn()  # warm up (numba, OpenCV's first call)
    times = []
    for _ in range(reps):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def rows(width: int, height: int) -> list[tuple[str, Callable[[], object]]]:
    size = (width, height)
    canvas = _canvas(width + width // 4, height)
    cel = _cel()

    def view(m: np.ndarray, frame_size: tuple[int, int]) -> np.ndarray:
        return view_of_canvas(canvas, m, frame_size)

    still = np.array([[1.0, 0, -100], [0, 1, 0]])
    moved = screen_move(still, 3.37, -2.61, 0.8, size)  # a shake's sub-pixel move and turn
    pan = [np.array([[1.0, 0, -100 - 24 * (t - 10)], [0, 1, 0]]) for t in shutter_times(10, MotionBlur())]
    layer_maps = [np.array([[1.0, 0, 400 - 30 * (t - 10)], [0, 1, 200]]) for t in shutter_times(10, MotionBlur())]
    return [
        ("view, whole-pixel copy (no camera work)", lambda: view_of_canvas(canvas, still, size)),
        ("track / shake / follow: resampled view", lambda: view_of_canvas(canvas, moved, size)),
        ("motion blur, background pan, 8 samples", lambda: background_frame(view, Look(pan), size)),
        ("motion blur, background, 8 samples resampled", lambda: background_frame(view, Look(pan), size, exact=True)),
        ("motion blur, 400 px layer, 8 samples", lambda: isolated_layer(cel, layer_maps, 0.0, size)),
        ("streak (流背) 60 px along x", lambda: streak(canvas[:height, :width], 60, 0)),
        ("streak (流背) 60 px at 30°", lambda: streak(canvas[:height, :width], 52, 30)),
        ("defocus, background 8 px", lambda: background_frame(view, Look([still], 8.0), size)),
        ("defocus, background 40 px", lambda: background_frame(view, Look([still], 40.0), size)),
        ("rack focus, 400 px layer 12 px", lambda: isolated_layer(cel, layer_maps[:1], 12.0, size)),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=2 if os.environ.get("BENCH_QUICK") else 5)
    args = parser.parse_args()
    table: dict[str, list[float]] = {}
    for width, height in SIZES:
        for name, fn in rows(width, height):
            table.setdefault(name, []).append(_time(fn, args.reps))
    print(f"camera work and focus, ms per frame (median of {args.reps}; CPU, {os.cpu_count()} cores)")
    print(f"{'effect':42s}" + "".join(f"{f'{w}x{h}':>12s}" for w, h in SIZES))
    for name, ms in table.items():
        print(f"{name:42s}" + "".join(f"{v:12.1f}" for v in ms))


if __name__ == "__main__":
    main()
