"""The temporal pass on real footage processed frame by frame: against the plain blend, at the head of a cut, with
keyframe stylisation, across window joins, and its speed.

Material: the DAVIS-2016 plates blackswan and dance-twirl (../shared/data/plates/davis), processed frame by frame
by real algorithms (tests/processed_video.py): a gray-world white balance with auto-levels, a Reinhard colour
transfer to a reference that changes every frame (the other plate's frame), CLAHE tone mapping, and OpenCV's
``stylization``. E_warp (Lai et al. 2018) is measured with Farneback flow on the ORIGINAL frames (full
resolution), as a share of the processed video's; PSNR is against the processed frames. The plain blend is
``out_t = (p_t + w·m·warp(out_{t-1})) / (1 + w·m)`` along DIS flow of the original, ``m`` its occlusion test
(``compositor.temporal.baseline``).

Tables:
1. the curve: the pass at several strengths and the blend at several weights, (E_warp share, PSNR); for each
   pass point, the blend's E_warp share at the same PSNR (interpolated along its curve): below 1 means the pass is
   steadier at equal fidelity (its curve lies above the blend's);
2. head of the cut: E_warp share over the first 10 frames against the rest;
3. keyframe stylisation (paint every 8th frame, carry along the flow) against painting every frame plus the
   pass: E_warp share (of the per-frame paint's), PSNR to the per-frame paint, seconds;
4. window joins: E_warp share of the pairs that cross a join against those inside windows;
5. speed at 1280x720 from PNG files to PNG files on this machine, as the pass runs (its own thread, the guide's
   motion on a second thread, reading and writing on threads): wall fps, CPU ms a frame of all threads and of
   the pass's own thread, and what that makes on two free cores.

    python bench/temporal_bench.py            # 512x288, 30 frames a plate (about 8 minutes on 2 idle cores)
    python bench/temporal_bench.py --size 854x480 --frames 50   # the plates' own size
    python bench/temporal_bench.py --quick    # 427x240, 24 frames (also BENCH_QUICK=1)
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from processed_video import process, read_clip, rgba  # noqa: E402

from compositor.core.allocator import keep_freed_memory  # noqa: E402
from compositor.core.io import write_image  # noqa: E402
from compositor.temporal import TemporalSettings, deflicker, deflicker_files, measure, warp_error  # noqa: E402
from compositor.temporal.baseline import plain_blend  # noqa: E402
from compositor.temporal.keyframes import carry_paint, frames_to_paint  # noqa: E402

DAVIS = ROOT.parent / "shared" / "data" / "plates" / "davis"
MEASURE = {"flow": "farneback", "flow_scale": 1.0}
STRENGTHS = (0.3, 0.4, 0.5, 0.6, 0.7)
WEIGHTS = (0.5, 1.0, 2.0, 3.0)
"""The pass's strengths and the plain blend's weights on the curve."""
PROCESSES = ("gray_world", "reinhard", "clahe", "stylization")


def material(size: tuple[int, int], frames: int) -> dict[str, tuple[list[np.ndarray], list[np.ndarray]]]:
    swan = read_clip(DAVIS / "blackswan", frames, size)
    twirl = read_clip(DAVIS / "dance-twirl", frames, size)
    out = {}
    for name, clip, other in (("blackswan", swan, twirl), ("dance-twirl", twirl, swan)):
        for how in PROCESSES:
            out[f"{name}/{how}"] = ([rgba(f) for f in clip], [rgba(f) for f in process(clip, how, other)])
    return out


def score(guide: list[np.ndarray], processed: list[np.ndarray], out: list[np.ndarray]) -> tuple[float, float]:
    qc = measure(processed, out, guide, **MEASURE)
    return qc["e_warp_after"] / qc["e_warp_before"], qc["psnr"]


def blend_at(curve: list[tuple[float, float]], psnr: float) -> float | None:
    """The blend's E_warp share at ``psnr``, linear along its curve (None outside the PSNR range it covers)."""
    pts = sorted(curve, key=lambda p: p[1])
    for (e0, p0), (e1, p1) in zip(pts, pts[1:]):
        if p0 <= psnr <= p1:
            return e0 + (e1 - e0) * (psnr - p0) / (p1 - p0) if p1 > p0 else e0
    return None


def curve_table(clips: dict) -> list[str]:
    lines = [
        f"{'clip':<26}{'E_in x1e3':>10}  {'pass: strength  E/E_in  PSNR  the steadier blend E at that PSNR':<52}",
    ]
    wins = total = 0
    for key, (guide, processed) in clips.items():
        e_in = warp_error(processed, guide, **MEASURE)
        blend = [score(guide, processed, plain_blend(processed, guide, w, "dis_fast")) for w in WEIGHTS]
        # The blend along the pass's own flow too, where that is not DIS's: the pass must beat both.
        flow = TemporalSettings().flow
        same = (
            blend
            if flow == "dis_fast"
            else [score(guide, processed, plain_blend(processed, guide, w, flow)) for w in WEIGHTS]
        )
        ours = [
            (s, *score(guide, processed, list(deflicker(processed, guide, TemporalSettings(strength=s)))))
            for s in STRENGTHS
        ]
        lines.append(
            f"{key:<26}{e_in * 1e3:>10.2f}  blend w "
            + "  ".join(f"{w:g}: {e:.2f} @ {p:.1f}" for w, (e, p) in zip(WEIGHTS, blend))
        )
        if same is not blend:
            lines.append(
                f"{'':<36}blend along the pass's flow w "
                + "  ".join(f"{w:g}: {e:.2f} @ {p:.1f}" for w, (e, p) in zip(WEIGHTS, same))
            )
        for s, e, p in ours:
            refs = [r for r in (blend_at(blend, p), blend_at(same, p)) if r is not None]
            ref = min(refs) if refs else None
            verdict = "" if ref is None else f"{ref:.2f} ({'pass above' if e < ref else 'blend above'})"
            if ref is not None:
                total += 1
                wins += e < ref
            lines.append(f"{'':<36}pass s {s:.1f}: {e:.2f} @ {p:.1f} dB   {verdict}")
        # Along Farneback, the metric's own flow, the pass scores better by agreeing with the metric: shown, never
        # the default (DEFAULT_FLOW's docstring).
        e, p = score(guide, processed, list(deflicker(processed, guide, TemporalSettings(flow="farneback"))))
        lines.append(f"{'':<36}pass s 0.5 along the metric's own flow (farneback): {e:.2f} @ {p:.1f} dB")
    lines.append(f"pass steadier than the blend at equal PSNR in {wins} of {total} comparable points")
    return lines


def pair_shares(out: list[np.ndarray], guide: list[np.ndarray], processed: list[np.ndarray]) -> list[float]:
    return [
        warp_error(out[t - 1 : t + 1], guide[t - 1 : t + 1], **MEASURE)
        / max(warp_error(processed[t - 1 : t + 1], guide[t - 1 : t + 1], **MEASURE), 1e-12)
        for t in range(1, len(out))
    ]


def head_table(clips: dict) -> list[str]:
    lines = [f"{'clip':<26}{'pass: first 10 / rest':>24}{'blend w1: first 10 / rest':>28}"]
    for key in ("blackswan/gray_world", "dance-twirl/stylization", "blackswan/stylization"):
        guide, processed = clips[key]
        ours = pair_shares(list(deflicker(processed, guide)), guide, processed)
        blend = pair_shares(plain_blend(processed, guide, 1.0), guide, processed)
        lines.append(
            f"{key:<26}{np.mean(ours[:9]):>12.2f} / {np.mean(ours[9:]):<9.2f}"
            f"{np.mean(blend[:9]):>16.2f} / {np.mean(blend[9:]):<9.2f}"
        )
    return lines


def keyframe_table(clips: dict, every: int = 8) -> list[str]:
    lines = [f"{'clip':<20}{'method':<44}{'E/E_paint':>10}{'PSNR dB':>9}{'paint s':>9}{'pass s':>8}"]
    for key in ("blackswan/stylization", "dance-twirl/stylization"):
        guide, _ = clips[key]
        originals = [(g[:, :, :3] * 255 + 0.5).astype(np.uint8) for g in guide]
        t0 = time.perf_counter()
        painted = [rgba(f) for f in process(originals, "stylization")]
        paint_all = time.perf_counter() - t0
        e_paint = warp_error(painted, guide, **MEASURE)
        t0 = time.perf_counter()
        steadied = list(deflicker(painted, guide))
        pass_s = time.perf_counter() - t0
        e, p = score(guide, painted, steadied)
        lines.append(
            f"{key.split('/')[0]:<20}{'paint every frame + pass':<44}{e:>10.2f}{p:>9.1f}{paint_all:>9.1f}{pass_s:>8.1f}"
        )
        settings = TemporalSettings(paint_every=every)
        t0 = time.perf_counter()
        keys = frames_to_paint(guide, settings)
        t_keys = time.perf_counter() - t0
        t0 = time.perf_counter()
        key_paint = {k: rgba(process([originals[k]], "stylization")[0]) for k in keys}
        paint_keys = time.perf_counter() - t0
        t0 = time.perf_counter()
        carried = list(carry_paint(key_paint, keys, guide, settings))
        carry_s = time.perf_counter() - t0 + t_keys
        qc = measure(painted, carried, guide, **MEASURE)
        label = f"paint {len(keys)} keyframes (every {every}), carry"
        lines.append(
            f"{'':<20}{label:<44}{qc['e_warp_after'] / e_paint:>10.2f}{qc['psnr']:>9.1f}{paint_keys:>9.1f}"
            f"{carry_s:>8.1f}"
        )
    lines.append(
        "paint s: cv2.stylization, the per-frame painter here; a diffusion painter costs seconds a frame on a GPU, "
        "so the keyframe mode's time is about (keyframes / frames) of painting every frame, plus the pass."
    )
    return lines


def join_table(clips: dict, window: int = 8) -> list[str]:
    lines = []
    for key in ("blackswan/gray_world", "dance-twirl/clahe"):
        guide, processed = clips[key]
        out = list(deflicker(processed, guide, TemporalSettings(window=window)))
        shares = pair_shares(out, guide, processed)
        joins = [shares[t - 1] for t in range(window, len(out), window)]
        inside = [s for i, s in enumerate(shares) if (i + 1) % window]
        lines.append(
            f"{key:<26} window {window}: joins {np.mean(joins):.2f} (max {max(joins):.2f}), "
            f"inside {np.mean(inside):.2f} (max {max(inside):.2f})"
        )
    return lines


def speed_table(frames: int) -> list[str]:
    """deflicker_files in this process (compressed and stored output PNGs), then `compositor deflicker` as a
    whole process (start-up included, timed from outside): dance-twirl at 1280x720, ``frames`` frames (90 at
    most)."""
    work = Path(tempfile.mkdtemp(prefix="temporal_bench_"))
    try:
        orig = read_clip(DAVIS / "dance-twirl", frames, (1280, 720))
        proc = process(orig, "gray_world")
        for i, (o, p) in enumerate(zip(orig, proc)):
            write_image(work / "src" / f"{i + 1:04d}.png", rgba(o))
            write_image(work / "proc" / f"{i + 1:04d}.png", rgba(p))
        lines = []
        for compress in (True, False):
            cpu, main = time.process_time(), time.thread_time()
            load = os.getloadavg()[0]
            qc = deflicker_files(
                str(work / "proc" / "%04d.png"), str(work / "src" / "%04d.png"), work / f"out{compress}",
                TemporalSettings(), compress=compress,
            )  # fmt: skip
            cpu_ms = (time.process_time() - cpu) / qc["frames"] * 1e3
            # The pass's own thread (sweeps, combination, measurement); the motion thread, the readers and the
            # writer run beside it: on two free cores the wall-clock time a frame is about the larger of this
            # and half the CPU time of all threads.
            main_ms = (time.thread_time() - main) / qc["frames"] * 1e3
            lines.append(
                f"1280x720, {qc['frames']} frames, output PNG {'compressed' if compress else 'stored'}: "
                f"{qc['fps']:.1f} fps wall-clock (load {load:.1f}), {cpu_ms:.0f} ms CPU a frame (all threads), "
                f"{main_ms:.0f} ms in the pass's own thread: about {1000 / max(main_ms, cpu_ms / 2):.1f} fps on "
                f"two free cores; E_warp {qc['e_warp_after'] / qc['e_warp_before']:.2f} of the input's, "
                f"{qc['psnr']:.1f} dB"
            )
        command = [
            sys.executable, "-m", "compositor", "deflicker", "--input", str(work / "proc" / "%04d.png"),
            "--guide", str(work / "src" / "%04d.png"), "--output", str(work / "cli"),
        ]  # fmt: skip
        load, started = os.getloadavg()[0], time.perf_counter()
        subprocess.run(command, check=True, capture_output=True, cwd=ROOT)
        seconds = time.perf_counter() - started
        lines.append(
            f"`compositor deflicker`, {len(orig)} frames, output PNG compressed, the whole process (start-up "
            f"included): {len(orig) / seconds:.1f} fps wall-clock, {seconds:.2f} s (load {load:.1f})"
        )
        return lines
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="427x240, 24 frames (BENCH_QUICK=1)")
    parser.add_argument("--frames", type=int, default=30)
    parser.add_argument("--size", default="512x288", help="WxH of the clips")
    parser.add_argument("--speed-frames", type=int, default=90)
    parser.add_argument("--speed-only", action="store_true", help="only the speed table (5.)")
    args = parser.parse_args()
    size = tuple(int(v) for v in args.size.lower().split("x"))
    if args.quick or os.environ.get("BENCH_QUICK") == "1":
        size, args.frames, args.speed_frames = (427, 240), 24, 16
    keep_freed_memory()  # as the command's process does (compositor.cli.main): the speed is the command's
    started = time.perf_counter()
    if args.speed_only:
        print(
            "5. Speed (deflicker_files, PNG to PNG: reading input and guide, flow, pass, measuring, writing)"
        )
        for line in speed_table(args.speed_frames):
            print("  " + line, flush=True)
        print(f"\nmachine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")
        return 0
    clips = material(size, args.frames)
    print(f"material: {len(clips)} clips, {args.frames} frames at {size[0]}x{size[1]}", flush=True)
    sections = [
        (
            "1. The pass against the plain blend (E_warp share of the processed video's @ PSNR vs processed)",
            curve_table,
        ),
        ("2. Head of the cut: E_warp share over the first 10 frames / over the rest", head_table),
        ("3. Keyframe stylisation against painting every frame + the pass", keyframe_table),
        ("4. Window joins (E_warp share of pairs across a join / inside a window)", join_table),
    ]
    for title, table in sections:
        print(f"\n{title}")
        for line in table(clips):
            print("  " + line, flush=True)
    print("\n5. Speed (deflicker_files, PNG to PNG: reading input and guide, flow, pass, measuring, writing)")
    for line in speed_table(args.speed_frames):
        print("  " + line, flush=True)
    print(
        f"\nmachine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}; "
        f"{time.perf_counter() - started:.0f} s in all"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
