"""Temporal consistency on flickering sequences made from real footage, and the speed of the whole pass.

Two DAVIS-2016 plates (blackswan, dance-twirl; ../shared/data/plates/davis) are upscaled from 854x480 to
1280x720, stylised per frame (``compositor.core.stylize``, "paint", seeded by the frame index) and given random
per-frame colour shifts (gain and offset per channel) and blotches (soft coloured patches), as a
frame-by-frame process does. The un-stylised plate is the guide. Reported per method, as Lai et al. (2018)
measure it: E_warp of the input and of the output (guide flow and non-occlusion mask, pixels in [0, 1]; shown
x1e3), the output's share of the input's, PSNR of the output against the input, and frames per second of the
whole pass from PNG files to PNG files (``deflicker_files``: reading input and guide, flow, blend, measuring,
writing) at 1280x720, beside what reading and writing alone allow and what the pass alone (frames in memory)
allows.

Targets: E_warp out <= 25% of in, PSNR >= 27 dB, >= 15 fps on a 2-core machine.

    python bench/temporal_bench.py              # 50 frames of each plate (about 2 minutes on 2 idle cores)
    python bench/temporal_bench.py --frames 0   # every frame (blackswan 50, dance-twirl 90)
    python bench/temporal_bench.py --quick      # 20 frames a plate, no ablations (also BENCH_QUICK=1)
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import compositor.core.io as cio
from compositor.core.io import FrameSource, read_image, to_uint8_rgb, write_image
from compositor.core.stylize import stylize
from compositor.temporal import (
    TemporalSettings,
    _Prefetch,
    _Writer,
    deflicker,
    deflicker_files,
    flow_scale_for,
    measure,
)

DAVIS = ROOT.parent / "shared" / "data" / "plates" / "davis"
SIZE = (1280, 720)


def plate(name: str, limit: int | None = None) -> list[Path]:
    files = sorted((DAVIS / name).glob("*.jpg"))
    return files[:limit] if limit else files


def guide_frame(path: Path) -> np.ndarray:
    return cv2.resize(read_image(path), SIZE, interpolation=cv2.INTER_CUBIC).clip(0, 1)


def blotches(rng: np.random.Generator, w: int, h: int) -> np.ndarray:
    """Soft coloured patches ``(h, w, 3)``: a few Gaussians of random place, size and colour (small grid)."""
    sw, sh = w // 8, h // 8
    ys, xs = np.mgrid[0:sh, 0:sw].astype(np.float32)
    field = np.zeros((sh, sw, 3), np.float32)
    for _ in range(int(rng.integers(2, 6))):
        cx, cy = rng.uniform(0, sw), rng.uniform(0, sh)
        sigma = rng.uniform(0.03, 0.10) * sw
        colour = rng.normal(0, 0.08, 3).astype(np.float32)
        field += np.exp(-((xs - cx) ** 2 + (ys - cy) ** 2) / (2 * sigma**2))[:, :, None] * colour
    return cv2.resize(field, (w, h), interpolation=cv2.INTER_LINEAR)


def flickering(frame: np.ndarray, index: int) -> np.ndarray:
    """Per-frame stylisation plus a random colour shift and blotches (seeded by the frame index)."""
    out = stylize(frame, "paint", seed=index)
    rng = np.random.default_rng(10_000 + index)
    gain = rng.normal(1.0, 0.04, 3).astype(np.float32)
    offset = rng.normal(0.0, 0.015, 3).astype(np.float32)
    h, w = out.shape[:2]
    rgb = out[:, :, :3] * gain + offset + blotches(rng, w, h)
    out[:, :, :3] = np.clip(rgb, 0, 1)
    return out


def stream(frames: list[np.ndarray]) -> Iterator[np.ndarray]:
    for f in frames:
        yield f.astype(np.float32) * np.float32(1 / 255) if f.dtype == np.uint8 else f


def to_rgba(u8: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(u8, cv2.COLOR_RGB2RGBA).astype(np.float32) * np.float32(1 / 255)


def prepare(name: str, limit: int, folder: Path) -> tuple[str, str, list[np.ndarray], list[np.ndarray]]:
    """Write the flickering input and the guide as 1280x720 PNG sequences; keep 8-bit copies in memory."""
    inputs, guides = [], []
    for i, path in enumerate(plate(name, limit)):
        g = guide_frame(path)
        f = flickering(g, i)
        write_image(folder / "src" / f"{i + 1:04d}.png", g)
        write_image(folder / "proc" / f"{i + 1:04d}.png", f)
        guides.append(to_uint8_rgb(g))
        inputs.append(to_uint8_rgb(f))
    return str(folder / "proc" / "%04d.png"), str(folder / "src" / "%04d.png"), inputs, guides


METHODS = {
    "ours (default settings)": TemporalSettings(),
    "naive running average": TemporalSettings(occlusion=False, detail=1.0),
}
"""Run from PNG files to PNG files, timed."""

ABLATIONS = {
    "no motion compensation": None,
    "ours, full detail (detail 1)": TemporalSettings(detail=1.0),
    "ours, colour only (detail 0)": TemporalSettings(detail=0.0),
    "ours, strength 0.6": TemporalSettings(strength=0.6),
}
"""Run in memory, quality only. "No motion compensation" averages in place (a still guide: no flow, all
trusted) and is measured afterwards with the real guide; the others measure themselves with the same guide
flow as the timed runs, so E_warp is comparable across all rows."""


def in_memory(inputs: list[np.ndarray], guides: list[np.ndarray], settings: TemporalSettings | None) -> dict:
    frames = (to_rgba(f) for f in inputs)
    if settings is not None:
        qc: dict = {}
        for _ in deflicker(frames, (to_rgba(g) for g in guides), settings, qc=qc):
            pass
        return qc
    still = to_rgba(guides[0])
    outputs = [
        to_uint8_rgb(o) for o in deflicker(frames, (still for _ in guides), TemporalSettings(occlusion=False))
    ]
    return measure((to_rgba(f) for f in inputs), (to_rgba(o) for o in outputs), (to_rgba(g) for g in guides))


def io_only(proc: str, src: str, out: Path) -> float:
    """Frames per second of reading both sequences and writing one, threaded as the pass does it, with no work
    between: the ceiling that file I/O sets."""
    started = time.perf_counter()
    readers = [_Prefetch(FrameSource(proc).frames()), _Prefetch(FrameSource(src).frames())]
    writer = _Writer()
    n = 0
    for frame, _ in zip(*readers):
        writer.put(out / f"{n + 1:04d}.png", frame)
        n += 1
    writer.close()
    for r in readers:
        r.close()
    return n / (time.perf_counter() - started)


def compute_only(inputs: list[np.ndarray], guides: list[np.ndarray]) -> float:
    """Frames per second of the pass with its measurements on frames already in memory (no file I/O)."""
    frames = [to_rgba(f) for f in inputs]
    guide = [to_rgba(g) for g in guides]
    started = time.perf_counter()
    for _ in deflicker(frames, guide, TemporalSettings(), qc={}):
        pass
    return len(frames) / (time.perf_counter() - started)


UNCOMPRESSED_PNG = [cv2.IMWRITE_PNG_COMPRESSION, 0, cv2.IMWRITE_PNG_FILTER, cv2.IMWRITE_PNG_FILTER_NONE]
"""For the what-if line: PNG stored without compression (2.8 MB a 1280x720 frame instead of 1.3 MB)."""


def what_if_uncompressed(name: str, inputs: list[np.ndarray], guides: list[np.ndarray], folder: Path) -> dict:
    """The same pass with input, guide and output PNGs stored uncompressed (compositor.core.io's codec settings
    swapped for the duration): how fast the pass is when file I/O is not what limits it."""
    saved = cio.PNG_PARAMS
    cio.PNG_PARAMS = UNCOMPRESSED_PNG
    try:
        for i, (f, g) in enumerate(zip(inputs, guides)):
            write_image(folder / "proc" / f"{i + 1:04d}.png", f)
            write_image(folder / "src" / f"{i + 1:04d}.png", g)
        proc, src = str(folder / "proc" / "%04d.png"), str(folder / "src" / "%04d.png")
        io_fps = io_only(proc, src, folder / "io")
        qc = deflicker_files(proc, src, folder / "out", TemporalSettings())
    finally:
        cio.PNG_PARAMS = saved
    return {"io_fps": io_fps, "fps": qc["fps"]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=50, help="frames of each plate (0: all)")
    parser.add_argument("--plates", default="blackswan,dance-twirl")
    parser.add_argument("--no-ablations", action="store_true")
    parser.add_argument(
        "--quick", action="store_true", help="20 frames a plate, no ablations (BENCH_QUICK=1)"
    )
    args = parser.parse_args()
    if args.quick or os.environ.get("BENCH_QUICK") == "1":
        args.frames, args.no_ablations = min(args.frames or 20, 20), True

    rows = []
    speeds: dict[str, dict[str, float]] = {}
    work = Path(tempfile.mkdtemp(prefix="temporal_bench_"))
    try:
        for name in args.plates.split(","):
            t0 = time.perf_counter()
            proc, src, inputs, guides = prepare(name, args.frames, work / name)
            print(
                f"{name}: {len(inputs)} frames at {SIZE[0]}x{SIZE[1]} "
                f"written in {time.perf_counter() - t0:.0f} s"
            )
            speed = speeds[name] = {
                "io": io_only(proc, src, work / name / "io"),
                "memory": compute_only(inputs, guides),
            }
            for label, settings in METHODS.items():
                qc = deflicker_files(proc, src, work / name / label.split()[0], settings)
                rows.append((name, label, qc))
                print(f"  {label}: {qc['fps']:.1f} fps", flush=True)
            uncompressed = what_if_uncompressed(name, inputs, guides, work / name / "uncompressed")
            speed.update(io_raw=uncompressed["io_fps"], pass_raw=uncompressed["fps"])
            shutil.rmtree(work / name)
            if not args.no_ablations:
                for label, settings in ABLATIONS.items():
                    rows.append((name, label, in_memory(inputs, guides, settings)))
    finally:
        shutil.rmtree(work, ignore_errors=True)

    default = TemporalSettings()
    scale = flow_scale_for(*SIZE, default.flow_scale)
    print()
    print(
        f"Temporal consistency at {SIZE[0]}x{SIZE[1]}: E_warp x1e-3 (flow {default.flow} on the guide at "
        f"scale {scale}, the same for every row), PSNR of the output against the input, and fps of the whole "
        "pass from PNG files to PNG files (reading input and guide, flow, blend, measuring, writing)"
    )
    head = (
        f"{'plate':<12}{'method':<32}{'E_warp in':>10}{'E_warp out':>11}{'out/in':>8}{'PSNR dB':>9}{'fps':>7}"
    )
    print(head)
    print("-" * len(head))
    ok = True
    for name, label, qc in rows:
        share = qc["e_warp_after"] / qc["e_warp_before"]
        fps = f"{qc['fps']:.1f}" if "fps" in qc else "-"
        print(
            f"{name:<12}{label:<32}{qc['e_warp_before'] * 1e3:>10.3f}{qc['e_warp_after'] * 1e3:>11.3f}"
            f"{share:>8.3f}{qc['psnr']:>9.2f}{fps:>7}"
        )
        if label == "ours (default settings)":
            ok &= share <= 0.25 and qc["psnr"] >= 27
    print()
    print("Speed of the parts (frames per second at 1280x720):")
    print(
        f"{'plate':<12}{'file I/O alone':>16}{'pass in memory':>16}{'I/O, raw PNG':>14}{'pass, raw PNG':>15}"
    )
    for name, sp in speeds.items():
        print(f"{name:<12}{sp['io']:>16.1f}{sp['memory']:>16.1f}{sp['io_raw']:>14.1f}{sp['pass_raw']:>15.1f}")
    print(
        "file I/O alone: reading input and guide and writing the output (threaded as the pass does) with "
        "nothing between; pass in memory: flow, blend and measuring on frames already decoded; raw PNG: the "
        "same files "
        "stored without compression (compositor.core.io's PNG settings swapped for the run)."
    )
    print()
    fps_ok = all(qc["fps"] >= 15 for _, label, qc in rows if label == "ours (default settings)")
    print(
        f"targets: out/in <= 0.25 and PSNR >= 27 dB (ours: {'met' if ok else 'NOT met'}); "
        f">= 15 fps (ours, PNG files as compositor.core.io writes them: {'met' if fps_ok else 'NOT met'})."
    )
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} (fps is wall-clock).")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
