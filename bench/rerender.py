"""A one-drawing re-render against a full render, on the benchmark cut (issue 8).

On the 1920x1080, 96-frame benchmark cut (bench/make_bench_cut.py: a background pan, three cel layers on twos
and threes, a BOOK layer), in a copy of its production under ``bench/out/rerender96/``:

1. a full render from scratch, spec to movie: ``compositor render bench_c010`` in a fresh process on an empty
   ``render/`` (background, every frame composited, every movie segment encoded, the join);
2. then one drawing retouched (a painted stroke across it, the PNG rewritten) and the same command again: it
   composites only the frames that show the drawing and encodes only the movie segments that hold them;
3. for reference, the command once more with nothing changed (its fixed cost: start, imports, every key checked).

Both are timed as whole processes (wall seconds: Python's start and imports, the checks of every key, the
join; CPU seconds of the process and its ffmpegs beside them). The drawing is the one whose exposure count in the
timesheet (``compositor.core.cels.exposure_of``) is closest to 7 frames, the one held for fewer frames on a tie
(then the first layer, the lowest number); ``--drawing B:3`` picks another. Printed: both times, their ratio
(goal: at most 1/3), the frames composited and segments encoded by the re-render (from the command's last line),
and whether the frames and segments the retouch did not touch kept their bytes. The drawing is put back
afterwards. Never a timed assertion: this prints (exit status 1 only when the re-render did the wrong work).

    python bench/rerender.py [--drawing LAYER:N] [--workers 2] [--repeat 1]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(BENCH))

import make_bench_cut  # noqa: E402

from compositor.core.cels import drawings_in, exposure_of  # noqa: E402
from compositor.spec import Production, Shot, load_shot  # noqa: E402

CUT = make_bench_cut.CUT
TARGET_FRAMES = 7
GOAL = 1 / 3
LAST_LINE = re.compile(r"(\d+) of (\d+) frames composited, (\d+) movie segments encoded")


# ------------------------------------------------------------------------------------------------------------
# The production and the drawing


def production(frames: int = 96) -> Path:
    """``bench/out/rerender96``: the benchmark cut with pristine drawings (copied from bench/out/cut96)."""
    assets = make_bench_cut.make_production(make_bench_cut.OUT / f"cut{frames}", frames)
    dest = make_bench_cut.OUT / f"rerender{frames}"
    shutil.rmtree(dest / "shots", ignore_errors=True)  # a retouch left by an interrupted run goes
    return make_bench_cut.make_production(dest, frames, assets=assets)


def exposures(shot: Shot) -> dict[tuple[int, int], list[int]]:
    """(layer index, drawing) → the 0-based frames that show it, from the timesheets."""
    shown: dict[tuple[int, int], list[int]] = {}
    for layer in range(len(shot.spec.layers)):
        for index, drawing in enumerate(exposure_of(shot, layer)):
            if drawing is not None:
                shown.setdefault((layer, drawing), []).append(index)
    return shown


def pick_drawing(shot: Shot, wanted: str | None) -> tuple[int, int]:
    """The drawing named ``LAYER:N``, else the one shown in the number of frames closest to ``TARGET_FRAMES``."""
    shown = exposures(shot)
    if wanted:
        name, _, number = wanted.partition(":")
        names = [layer.name for layer in shot.spec.layers]
        if name not in names or not number.isdigit() or (names.index(name), int(number)) not in shown:
            raise SystemExit(f"rerender: no drawing {wanted!r} on the timesheet (layers: {', '.join(names)})")
        return names.index(name), int(number)
    return min(shown, key=lambda k: (abs(len(shown[k]) - TARGET_FRAMES), len(shown[k]), k))


def drawing_file(shot: Shot, layer: int, drawing: int) -> Path:
    return drawings_in(shot.files[f"layers[{layer}].cels"])[drawing]


def retouch(path: Path) -> None:
    """Paint a visible stroke across the drawing (within what it covers) and rewrite its PNG."""
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    ys, xs = np.nonzero(image[:, :, 3])
    x0, x1, y0, y1 = int(xs.min()), int(xs.max()), int(ys.min()), int(ys.max())
    cv2.line(image, (x0 + (x1 - x0) // 5, y0 + (y1 - y0) // 3), (x1 - (x1 - x0) // 5, y1 - (y1 - y0) // 3),
             (40, 40, 230, 255), 24, cv2.LINE_AA)
    if not cv2.imwrite(str(path), image):
        raise SystemExit(f"rerender: cannot write {path}")


# ------------------------------------------------------------------------------------------------------------
# Timing a render, and what it left


def render(prod: Path, workers: int) -> dict:
    """``compositor render`` in a fresh process: wall and CPU seconds, and its last line's counts."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAKE")}  # `make bench` must not set -j
    cmd = [sys.executable, "-m", "compositor", "--root", str(prod), "render", CUT, "--workers", str(workers)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"rerender: `compositor render {CUT}` failed: {done.stderr.strip()[-800:]}")
    found = LAST_LINE.findall(done.stderr)
    if not found:
        raise SystemExit(f"rerender: no summary line from `compositor render`: {done.stderr.strip()[-300:]}")
    composited, frames, segments = (int(n) for n in found[-1])
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"wall": wall, "cpu": cpu, "composited": composited, "frames": frames, "segments": segments}


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def snapshot(shot: Shot) -> tuple[dict[int, str], dict[str, str]]:
    """The bytes (digests) of every comp frame by 0-based index, and of every movie segment by file name."""
    frames = {i: digest(shot.paths.comp_frame(n)) for i, n in enumerate(shot.frame_numbers())}
    segments = {
        p.name: digest(p) for preset in shot.presets for p in sorted(shot.paths.segments(preset).glob("*.mp4"))
    }
    return frames, segments


def warm_up(shot: Shot) -> None:
    """Composite one frame here, untimed, so the compiled kernels (numba's cache) are on disk for both runs."""
    from compositor.steps.composite import CutRenderer  # noqa: PLC0415

    CutRenderer(shot).make_frame(0, write=False)


def one_run(prod: Path, shot: Shot, layer: int, drawing: int, touched: list[int], workers: int) -> dict:
    path = drawing_file(shot, layer, drawing)
    original = path.read_bytes()
    try:
        shutil.rmtree(prod / "render", ignore_errors=True)
        full = render(prod, workers)
        frames_before, segments_before = snapshot(shot)
        retouch(path)
        again = render(prod, workers)
        frames_after, segments_after = snapshot(shot)
        idle = render(prod, workers)
    finally:
        path.write_bytes(original)
    untouched = [i for i in frames_before if i not in set(touched)]
    kept_segments = set(segments_before) & set(segments_after)
    return {
        "full": full,
        "again": again,
        "idle": idle,
        "untouched": len(untouched),
        "untouched_same": sum(frames_before[i] == frames_after[i] for i in untouched),
        "touched_changed": sum(frames_before[i] != frames_after[i] for i in touched),
        "segments": len(segments_after),
        "segments_kept": len(kept_segments),
        "segments_kept_same": sum(segments_before[n] == segments_after[n] for n in kept_segments),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--drawing", help="the drawing to retouch, LAYER:N (default: the one held closest to 7 frames)")
    parser.add_argument("--workers", type=int, default=min(os.cpu_count() or 1, 4),
                        help="frames composited at a time (default: the command's default, cores up to 4)")
    parser.add_argument("--repeat", type=int, default=1, help="runs of the pair; the best of each is printed")
    args = parser.parse_args(argv)

    prod = production()
    shot = load_shot(Production(prod.resolve()), CUT)
    layer, drawing = pick_drawing(shot, args.drawing)
    touched = exposures(shot)[(layer, drawing)]
    name = shot.spec.layers[layer].name
    _, preset = shot.preset()
    seg_len = preset.segment_frames
    holding = sorted({i // seg_len for i in touched})
    segment_count = -(-shot.frames // seg_len)
    load = os.getloadavg()
    print(f"# benchmark cut: {shot.size[0]}x{shot.size[1]}, {shot.frames} frames, {shot.fps:g} fps; "
          f"{os.cpu_count()} cores, --workers {args.workers}; load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")
    frames_list = ", ".join(str(shot.start + i) for i in touched)
    print(f"retouched: layer {name} drawing {drawing} ({drawing_file(shot, layer, drawing).name}), on "
          f"{len(touched)} frames ({frames_list}), in {len(holding)} of {segment_count} movie segments of "
          f"{seg_len} frames")
    warm_up(shot)

    runs = [one_run(prod, shot, layer, drawing, touched, args.workers) for _ in range(max(1, args.repeat))]
    full = min((r["full"] for r in runs), key=lambda r: r["wall"])
    again = min((r["again"] for r in runs), key=lambda r: r["wall"])
    idle = min((r["idle"] for r in runs), key=lambda r: r["wall"])
    check = runs[-1]
    ratio = again["wall"] / full["wall"]
    best = f" (best of {len(runs)})" if len(runs) > 1 else ""

    print()
    print(f"{'compositor render ' + CUT + best:44s} {'wall s':>7s} {'CPU s':>7s} {'composited':>11s} {'segments':>9s}")
    rows = (
        ("full render from scratch (empty render/)", full),
        ("re-render after the retouch", again),
        ("  for reference: again, nothing changed", idle),
    )
    for label, r in rows:
        print(f"{label:44s} {r['wall']:7.2f} {r['cpu']:7.2f} {r['composited']:>5d} of {r['frames']:<3d} "
              f"{r['segments']:>5d} of {segment_count}")
    print(f"re-render / full: {ratio:.3f} (1/{1 / ratio:.1f}); goal <= 1/3: {'met' if ratio <= GOAL else 'NOT met'}")
    print(f"frames the retouch did not touch that kept their bytes: {check['untouched_same']} of {check['untouched']}; "
          f"frames that show the drawing, changed: {check['touched_changed']} of {len(touched)}")
    print(f"movie segments kept from the full render with the same bytes: {check['segments_kept_same']} of "
          f"{check['segments']} ({check['segments'] - check['segments_kept']} new)")

    right = (
        check["untouched_same"] == check["untouched"]
        and check["touched_changed"] == len(touched)
        and again["composited"] == len(touched)
        and again["segments"] == len(holding)
        and check["segments_kept_same"] == check["segments_kept"] == segment_count - len(holding)
    )
    if not right:
        print(f"the re-render did not do exactly the work the retouch asks for: {len(touched)} frames and "
              f"{len(holding)} segments expected")
    return 0 if right else 1


if __name__ == "__main__":
    sys.exit(main())
