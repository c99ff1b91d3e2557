"""Speed (issue 14): the benchmark cut, ours vs the ffmpeg peer vs x264 alone, at the screening and review
presets, side by side in ONE run; the composite alone vs ffmpeg's overlay graph and vs a plain memory copy;
memory for a short and a long cut; a GPU section where CUDA is there.

Rows (1920x1080, 96 frames: background pan, three cel layers on twos and threes, a BOOK layer):

* ours, end to end: spec to movie from an empty ``render/`` (background, composite, PNG frames, encode, join),
  ``steps.composite.render_cut`` with the one preset;
* the ffmpeg peer: one ffmpeg, one filter graph (crop + overlays + the same burn-ins + the same x264 settings),
  bench/ffmpeg_peer.py;
* x264 alone: ffmpeg/x264 fed our finished frames (burn-ins drawn, converted to yuv420p) as raw yuv420p from a
  file, at the preset's x264 settings, one stream: the encoder and nothing else;
* composite alone (no encode, no files): ours (to 8-bit RGB, two threads) vs the peer's overlay graph to
  ``null``, vs a plain numpy copy of the bytes the composite reads and writes (memory bandwidth).

CPU seconds (every thread and child process) are printed beside the wall times; the machine's load average is
printed first: wall times on a loaded machine say little, CPU seconds more. Never a timed assertion.

    python bench/speed.py [--quick] [--composite]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(BENCH))

import make_bench_cut  # noqa: E402
from bench_cut import finished_stream, measure  # noqa: E402

PY = sys.executable
CUT = make_bench_cut.CUT
PRESETS = ("screening", "review")


def _shot(production: Path):
    from compositor.spec import Production, load_shot  # noqa: PLC0415

    return load_shot(Production(production.resolve()), CUT)


def _children_cpu() -> float:
    own = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime


# ------------------------------------------------------------------------------------------------------------
# Child processes (python bench/speed.py --child WHAT PRODUCTION [PRESET])


def child(what: str, production: Path, preset: str) -> None:
    from compositor.steps.background import ensure_background  # noqa: PLC0415
    from compositor.steps.composite import CutRenderer, render_cut  # noqa: PLC0415

    shot = _shot(production)
    report: dict = {}
    if what == "ours":
        t = time.perf_counter()
        manifest = ensure_background(shot)
        report["background_wall"] = time.perf_counter() - t
        renderer = CutRenderer(shot, manifest)
        render_cut(shot, presets=[preset], threads=2, renderer=renderer)
        report["stages"] = renderer.times.seconds
        report["encoder_cpu"] = _children_cpu()
    elif what == "composite":
        from concurrent.futures import ThreadPoolExecutor  # noqa: PLC0415

        renderer = CutRenderer(shot, ensure_background(shot))
        renderer.frame(0)  # compile the kernels, decode the background: not what is timed
        from compositor.core.reuse import warm_up  # noqa: PLC0415

        warm_up()  # and the kernels of what frames share (what they keep is made in the timed part)
        renderer.times.seconds.clear()
        t0, c0 = time.perf_counter(), time.process_time()
        with ThreadPoolExecutor(2) as pool:
            for _ in pool.map(lambda i: renderer.make_frame(i, write=False), range(shot.frames)):
                pass
        report["wall"] = time.perf_counter() - t0
        report["cpu"] = time.process_time() - c0
        report["stages"] = renderer.times.seconds
        report["traffic"] = composite_traffic(renderer)
    elif what == "finished-yuv":
        # Our finished frames as the encoder gets them: burn-ins drawn, converted to yuv420p; to a raw file.
        write_finished_yuv(shot, preset, production / "finished.yuv")
    elif what == "x264":
        report.update(x264_alone(shot, preset, production / "finished.yuv"))
    print(json.dumps(report))


def composite_traffic(renderer) -> int:
    """The bytes one frame's composite must read and write at least, averaged over the cut: the camera's
    view of the background copied into the float frame (read + write), each layer's piece read (its bounding
    box of covered pixels, as stored) and the frame under its covered pixels read and written (float32 RGBA),
    and the frame read once more to 8-bit RGB (written)."""
    import numpy as np  # noqa: PLC0415

    shot = renderer.shot
    width, height = shot.size
    frame = width * height * 16
    covered: dict = {}
    total = 0
    for index in range(shot.frames):
        n = 2 * frame + frame + width * height * 3
        for _, library, drawing, _ in renderer._layer_maps(index):
            piece = library.piece(drawing)
            if piece.empty:
                continue
            key = (id(library), drawing)
            if key not in covered:
                pixels = piece.pixels
                covered[key] = (pixels.nbytes, int(np.count_nonzero(pixels[..., 3])))
            stored, count = covered[key]
            n += stored + count * 2 * 16
        total += n
    return total // shot.frames


def write_finished_yuv(shot, preset_name: str, out: Path) -> None:
    from compositor.core.io import read_rgb8  # noqa: PLC0415
    from compositor.steps import encode  # noqa: PLC0415

    _, preset = shot.preset(preset_name)
    stream = finished_stream(shot, preset).output(str(out), f="rawvideo", pix_fmt=preset.pix_fmt)
    cmd = stream.overwrite_output().compile(cmd=encode.ffmpeg_exe())
    proc = subprocess.Popen([cmd[0], "-loglevel", "error", *cmd[1:]], stdin=subprocess.PIPE)
    for n in shot.frame_numbers():
        proc.stdin.write(read_rgb8(shot.paths.comp_frame(n)).tobytes())  # type: ignore[union-attr]
    proc.stdin.close()  # type: ignore[union-attr]
    if proc.wait() != 0:
        raise SystemExit("ffmpeg failed writing the finished frames")


def x264_command(shot, preset_name: str, source: Path, out: Path) -> list[str]:
    import ffmpeg  # noqa: PLC0415

    from compositor.steps import encode  # noqa: PLC0415

    _, preset = shot.preset(preset_name)
    width, height = encode.even_size(shot.size, preset)
    stream = ffmpeg.input(
        str(source), f="rawvideo", pix_fmt=preset.pix_fmt, s=f"{width}x{height}",
        framerate=str(encode.frame_rate(shot.fps)),
    )
    cmd = stream.output(str(out), f="mp4", **encode.video_output_args(preset, shot.frames)).overwrite_output()
    cmd = cmd.compile(cmd=encode.ffmpeg_exe())
    return [cmd[0], "-hide_banner", "-nostdin", "-loglevel", "error", *cmd[1:]]


def x264_alone(shot, preset_name: str, source: Path) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        cmd = x264_command(shot, preset_name, source, Path(tmp) / "x264.mp4")
        source.read_bytes()  # in the page cache: the file is not what is timed
        before = _children_cpu()
        t = time.perf_counter()
        subprocess.run(cmd, check=True)
        return {"wall": time.perf_counter() - t, "encoder_cpu": _children_cpu() - before}


# ------------------------------------------------------------------------------------------------------------
# The parent


def fresh(production: Path) -> None:
    shutil.rmtree(production / "render", ignore_errors=True)


def run_child(production: Path, what: str, preset: str = "screening") -> dict:
    result = measure([PY, __file__, "--child", what, str(production), preset])
    lines = [line for line in result["stdout"].splitlines() if line.startswith("{")]
    result.update(json.loads(lines[-1]) if lines else {})
    return result


def run_peer(production: Path, preset: str, composite_only: bool = False) -> dict:
    extra = ["--composite-only"] if composite_only else ["--time-only", "--preset", preset]
    return measure([PY, str(BENCH / "ffmpeg_peer.py"), str(production), *extra])


def copy_rate(nbytes: int, repeat: int = 5) -> float:
    """Seconds for a plain numpy copy of ``nbytes`` read and written (half each way): best of ``repeat``."""
    import numpy as np  # noqa: PLC0415

    half = max(1, nbytes // 2)
    src = np.ones(half, np.uint8)
    dst = np.empty_like(src)
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        np.copyto(dst, src)
        best = min(best, time.perf_counter() - t)
    return best


def gpu_section(production: Path, frames: int) -> None:
    print()
    print("GPU (torch on CUDA for the composite, NVENC for the encode):")
    try:
        import torch  # noqa: PLC0415
    except ImportError:
        print("  skipped (no torch)")
        return
    if not torch.cuda.is_available():
        print("  skipped (no CUDA)")
        return
    import numpy as np  # noqa: PLC0415

    from compositor.steps.composite import CutRenderer  # noqa: PLC0415

    shot = _shot(production)
    renderer = CutRenderer(shot)
    device = torch.device("cuda")
    canvas = torch.from_numpy(renderer.backdrop.canvas(0)).to(device)
    width, height = shot.size
    pieces: dict = {}

    def piece(library, drawing):
        key = (id(library), drawing)
        if key not in pieces:
            p = library.piece(drawing)
            rgba = torch.from_numpy(np.ascontiguousarray(p.pixels)).to(device).float() / 255
            rgba[..., :3] *= rgba[..., 3:4]
            pieces[key] = (p.offset, rgba)
        return pieces[key]

    def frame(index: int):
        m = renderer.camera.background_map(shot.start + index)
        x, y = int(round(-m[0, 2])), int(round(-m[1, 2]))
        out = canvas[y : y + height, x : x + width].clone()
        for _, library, drawing, lm in renderer._layer_maps(index):
            (ox, oy), src = piece(library, drawing)
            x0, y0 = int(round(lm[0, 2])) + ox, int(round(lm[1, 2])) + oy
            h, w = src.shape[:2]
            a0, b0 = max(0, x0), max(0, y0)
            a1, b1 = min(width, x0 + w), min(height, y0 + h)
            if a1 <= a0 or b1 <= b0:
                continue
            s = src[b0 - y0 : b1 - y0, a0 - x0 : a1 - x0]
            d = out[b0:b1, a0:a1]
            d.mul_(1 - s[..., 3:4]).add_(s)
        return (out[..., :3].clamp(0, 1) * 255 + 0.5).to(torch.uint8)

    for i in range(3):
        frame(i)
    torch.cuda.synchronize()
    t = time.perf_counter()
    for i in range(frames):
        rgb = frame(i).cpu()
    torch.cuda.synchronize()
    seconds = time.perf_counter() - t
    ours = renderer.make_frame(frames - 1, write=False)
    diff = int(np.abs(ours.astype(np.int16) - rgb.numpy().astype(np.int16)).max())
    print(f"  composite on {torch.cuda.get_device_name(0)}: {frames / seconds:7.1f} fps (to 8-bit RGB on the host); "
          f"max {diff} levels from the CPU path")
    from compositor.steps import encode  # noqa: PLC0415

    encoders = subprocess.run([encode.ffmpeg_exe(), "-hide_banner", "-encoders"], capture_output=True, text=True).stdout
    source = production / "finished.yuv"
    if "h264_nvenc" not in encoders or not source.is_file():
        print("  NVENC: skipped (this ffmpeg has no h264_nvenc)" if source.is_file() else "  NVENC: skipped")
        return
    with tempfile.TemporaryDirectory() as tmp:
        cmd = x264_command(shot, "review", source, Path(tmp) / "nvenc.mp4")
        cmd = [c for c in cmd]
        i = cmd.index("libx264")
        cmd[i] = "h264_nvenc"
        for opt in ("-crf", "-tune"):
            if opt in cmd:
                j = cmd.index(opt)
                del cmd[j : j + 2]
        t = time.perf_counter()
        done = subprocess.run(cmd, capture_output=True, text=True)
        seconds = time.perf_counter() - t
    if done.returncode != 0:
        print(f"  NVENC: failed: {done.stderr.strip()[-200:]}")
    else:
        print(f"  NVENC h264 from raw yuv420p: {frames / seconds:7.1f} fps")


def composite_alone(production: Path, frames: int) -> tuple[dict, dict, float]:
    """Ours vs the overlay graph vs a memory copy, compositing only; printed, and returned for the goals."""
    comp = run_child(production, "composite")
    peer_comp = run_peer(production, "screening", composite_only=True)
    copy = copy_rate(comp["traffic"]) * frames
    print()
    print(f"composite alone, {frames} frames (no encode, no frame files), to 8-bit RGB:")
    print(f"  ours (2 threads)                     {fps(frames, comp['wall']):8.1f} fps  {comp['cpu']:6.1f} s CPU")
    print(f"  ffmpeg overlay graph to null         {fps(frames, peer_comp['wall']):8.1f} fps  {peer_comp['cpu']:6.1f} s CPU"
          f"   ours {peer_comp['wall'] / comp['wall']:.2f}x its fps, {peer_comp['cpu'] / comp['cpu']:.2f}x less CPU")
    print(f"  numpy copy of the same bytes         {fps(frames, copy):8.1f} fps  "
          f"({comp['traffic'] / 2**20:.0f} MiB read+written a frame)   ours at {comp['wall'] / copy:.2f}x its time")
    stages = comp.get("stages", {})
    print(f"  ours, CPU a frame: decode {stages.get('decode', 0) / frames * 1000:.1f} ms, "
          f"composite {stages.get('composite', 0) / frames * 1000:.1f} ms; peak RSS {comp['rss'] / 2**20:.0f} MB")
    return comp, peer_comp, copy


def fps(frames: int, seconds: float) -> float:
    return frames / seconds if seconds > 0 else float("nan")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one run each; memory for 96 vs 288 frames")
    parser.add_argument("--composite", action="store_true", help="only the composite alone (a minute)")
    parser.add_argument("--child", nargs=3, metavar=("WHAT", "PRODUCTION", "PRESET"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        from compositor.core.allocator import keep_freed_memory  # noqa: PLC0415

        keep_freed_memory()  # as the command's process does (compositor.cli.main): the speed is the command's
        child(args.child[0], Path(args.child[1]), args.child[2])
        return 0
    quick = args.quick or os.environ.get("BENCH_QUICK") == "1"

    load = os.getloadavg()
    print(f"# speed (issue 14): benchmark cut 1920x1080, 24 fps; {os.cpu_count()} cores; "
          f"load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f} at the start")
    cut96 = make_bench_cut.make_production(make_bench_cut.OUT / "cut96", 96)
    if args.composite:
        composite_alone(cut96, _shot(cut96).frames)
        return 0
    long_frames = 288 if quick else 960
    cut_long = make_bench_cut.make_production(make_bench_cut.OUT / f"cut{long_frames}", long_frames, assets=cut96)
    frames = _shot(cut96).frames
    repeat = 1 if quick else 2

    table: dict[str, dict[str, dict]] = {}
    for preset in PRESETS:
        ours_runs, peer_runs = [], []
        for _ in range(repeat):  # alternately, best of `repeat`: other work on the machine moves single runs
            fresh(cut96)
            ours_runs.append(run_child(cut96, "ours", preset))
            peer_runs.append(run_peer(cut96, preset))
        run_child(cut96, "finished-yuv", preset)  # from the comp frames the last run of ours left
        x264_runs = [run_child(cut96, "x264", preset) for _ in range(repeat)]
        table[preset] = {
            "ours": min(ours_runs, key=lambda r: r["wall"]),
            "peer": min(peer_runs, key=lambda r: r["wall"]),
            "x264": min(x264_runs, key=lambda r: r["wall"]),
        }

    print()
    print(f"spec to movie, {frames} frames (fps; CPU s of every process)   " + "".join(f"{p:>26s}" for p in PRESETS))
    for row, name in (("ours", "ours, end to end"), ("peer", "ffmpeg peer, one filter graph"),
                      ("x264", "x264 alone, raw yuv420p from a file")):
        cells = []
        for p in PRESETS:
            r = table[p][row]
            cpu = r["encoder_cpu"] if row == "x264" else r["cpu"]
            cells.append(f"{fps(frames, r['wall']):8.1f} fps {cpu:7.1f} s CPU")
        print(f"  {name:58s}" + "".join(f"{c:>26s}" for c in cells))
    cells = [f"{table[p]['x264']['wall'] / table[p]['ours']['wall']:.2f} of x264" for p in PRESETS]
    print(f"  {'ours as a fraction of x264 alone':58s}" + "".join(f"{c:>26s}" for c in cells))
    cells = [f"{table[p]['peer']['wall'] / table[p]['ours']['wall']:.2f}x the peer" for p in PRESETS]
    print(f"  {'ours as a multiple of the peer':58s}" + "".join(f"{c:>26s}" for c in cells))
    cells = [f"{table[p]['x264']['encoder_cpu'] / table[p]['ours']['cpu']:.2f} / {table[p]['peer']['cpu'] / table[p]['ours']['cpu']:.2f}x"
             for p in PRESETS]
    print(f"  {'the same in CPU seconds (x264 alone / ours; peer / ours)':58s}" + "".join(f"{c:>26s}" for c in cells))

    print()
    print("where our CPU goes, per frame (ms of CPU, all threads; encoder = the ffmpeg children):")
    for p in PRESETS:
        r = table[p]["ours"]
        s = r.get("stages", {})
        parts = [f"{k} {s.get(k, 0) / frames * 1000:.1f}" for k in ("decode", "composite", "write")]
        parts.append(f"encoder {r.get('encoder_cpu', 0) / frames * 1000:.1f}")
        parts.append(f"background {r.get('background_wall', 0):.2f} s wall")
        print(f"  {p:10s} " + ", ".join(parts))

    comp, peer_comp, copy = composite_alone(cut96, frames)

    fresh(cut_long)
    long_run = run_child(cut_long, "ours", "screening")
    short = table["screening"]["ours"]
    ratio = long_run["rss"] / short["rss"]
    print()
    print(f"peak RSS, end to end at the screening preset (process tree): {frames} frames {short['rss'] / 2**20:.0f} MB, "
          f"{long_frames} frames {long_run['rss'] / 2**20:.0f} MB: {ratio:.2f}x "
          f"({long_frames} frames at {fps(long_frames, long_run['wall']):.1f} fps)")

    try:
        gpu_section(cut96, frames)
    except Exception as e:  # noqa: BLE001 - the GPU section reports a failure and the table still ends
        print(f"  failed: {type(e).__name__}: {e}")

    s, r = table["screening"], table["review"]
    print()
    load = os.getloadavg()
    print(f"goals (issue 14), load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f} at the end:")
    frac, peer_s = s["x264"]["wall"] / s["ours"]["wall"], s["peer"]["wall"] / s["ours"]["wall"]
    print(f"  screening >= 0.80 of x264 alone: {frac:.2f}; >= 2.5x the peer: {peer_s:.2f}x")
    print(f"  review >= 24 fps: {fps(frames, r['ours']['wall']):.1f}; >= 2x the peer: "
          f"{r['peer']['wall'] / r['ours']['wall']:.2f}x")
    print(f"  composite >= 3x the overlay graph: {peer_comp['wall'] / comp['wall']:.2f}x; within 3x of a copy: "
          f"{comp['wall'] / copy:.2f}x")
    print(f"  memory flat (<= 1.10x for {long_frames} frames): {ratio:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
