"""The ffmpeg peer: the benchmark cut done by ffmpeg alone, in one filter graph.

The graph crops the panned background out of the painted canvas, overlays the three cel layers (each read once
per drawing through the concat demuxer, with each drawing's hold as its duration, so no file is duplicated;
``fps`` turns the holds into frames) and the BOOK layer, in packed RGB like our frames, then draws the same
burn-ins and encodes with the same preset (the x264 settings, colour conversion and tags come from
``compositor.steps.encode``).

Positions come from our camera (``compositor.core.camera``): ffmpeg's ``crop`` and ``overlay`` place whole pixels
only, so the peer refuses a cut whose layers move by fractions of a pixel.

    python bench/ffmpeg_peer.py bench/out/cut96           # check agreement with our frames, then time it
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import ffmpeg
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from compositor.core.camera import canvas_to_screen, layer_to_screen, motion_position, shot_views  # noqa: E402
from compositor.core.cels import drawings_in, exposure_of  # noqa: E402
from compositor.spec import Production, Shot, load_shot  # noqa: E402
from compositor.steps import burnin, encode  # noqa: E402

CUT = "bench_c010"


def _whole(values: list[float], what: str) -> list[int]:
    out = [int(round(v)) for v in values]
    if any(abs(v - o) > 1e-6 for v, o in zip(values, out)):
        raise SystemExit(
            f"ffmpeg peer: {what} moves by fractions of a pixel; ffmpeg's crop/overlay cannot follow it"
        )
    return out


def piecewise(values: list[int], var: str = "n") -> str:
    """An ffmpeg expression of the frame index ``var`` that gives ``values[var]``: linear pieces, nested
    ``if``s."""
    pieces: list[tuple[int, int, int]] = []  # (first n, value there, step)
    n = 0
    while n < len(values):
        step = values[n + 1] - values[n] if n + 1 < len(values) else 0
        end = n + 1
        while end < len(values) and values[end] - values[end - 1] == step:
            end += 1
        pieces.append((n, values[n], step))
        n = end
    expr = ""
    for first, value, step in reversed(pieces):
        here = f"({value}+{step}*({var}-{first}))" if step else f"({value})"
        expr = (
            here
            if not expr
            else f"if(lt({var},{pieces[pieces.index((first, value, step)) + 1][0]}),{here},{expr})"
        )
    return expr


def layer_offsets(shot: Shot, index: int) -> tuple[list[int], list[int]]:
    """Where the top-left corner of layer ``index``'s drawings is on screen, frame by frame (whole pixels)."""
    views = shot_views(shot)
    layer = shot.spec.layers[index]
    xs, ys = [], []
    for i, view in enumerate(views):
        position = motion_position(layer.motion, shot.start + i, layer.position)
        m = layer_to_screen(view, views[0], layer.parallax, position, shot.size)
        if abs(m[0, 0] - 1) > 1e-9 or abs(m[1, 1] - 1) > 1e-9 or abs(m[0, 1]) > 1e-9 or abs(m[1, 0]) > 1e-9:
            raise SystemExit(f"ffmpeg peer: layer {layer.name} is scaled or turned; only pans are supported")
        xs.append(m[0, 2])
        ys.append(m[1, 2])
    return _whole(xs, f"layer {layer.name}"), _whole(ys, f"layer {layer.name}")


def concat_list(shot: Shot, index: int, folder: Path) -> Path:
    """A concat-demuxer script for layer ``index``: each drawing once, held for its frames (no duplicated
    files)."""
    files = drawings_in(shot.files[f"layers[{index}].cels"])
    exposure = exposure_of(shot, index)
    if any(d is None for d in exposure):
        raise SystemExit("ffmpeg peer: empty frames ('x') are not supported")
    runs: list[tuple[int, int]] = []
    for drawing in exposure:
        if runs and runs[-1][0] == drawing:
            runs[-1] = (drawing, runs[-1][1] + 1)
        else:
            runs.append((drawing, 1))
    lines = ["ffconcat version 1.0"]
    for drawing, frames in runs:
        lines += [f"file '{files[drawing]}'", f"duration {frames / shot.fps:.6f}"]
    lines.append(f"file '{files[runs[-1][0]]}'")  # the demuxer ignores the last entry's duration otherwise
    path = folder / f"layer{index}.ffconcat"
    path.write_text("\n".join(lines) + "\n")
    return path


def composite_stream(shot: Shot, folder: Path):
    """The filter graph up to the composite (RGB, our frames' pixels)."""
    views = shot_views(shot)
    crops = [canvas_to_screen(v, shot.size)[:, 2] for v in views]
    cx = _whole([-t[0] for t in crops], "the camera")
    cy = _whole([-t[1] for t in crops], "the camera")
    rate = str(encode.frame_rate(shot.fps))
    width, height = shot.size
    plate = shot.files["background.plate"]
    stream = ffmpeg.input(str(plate), loop=1, framerate=rate).filter("format", "rgb24")
    stream = stream.filter("crop", w=width, h=height, x=piecewise(cx), y=piecewise(cy))
    for index, layer in enumerate(shot.spec.layers):
        if (
            layer.blend != "over"
            or layer.opacity != 1
            or layer.key != "alpha"
            or layer.scale != 1
            or layer.blur
        ):
            raise SystemExit(f"ffmpeg peer: layer {layer.name}: only plain 'over' layers are supported")
        xs, ys = layer_offsets(shot, index)
        cels = ffmpeg.input(str(concat_list(shot, index, folder)), f="concat", safe=0)
        cels = cels.filter("fps", fps=rate, round="near").filter("format", "rgba")
        # overlay's own frame counter starts at 1 on the first composited frame; the time is unambiguous
        index_of_frame = f"round(t*{float(encode.frame_rate(shot.fps))})"
        stream = ffmpeg.overlay(
            stream,
            cels,
            x=piecewise(xs, index_of_frame),
            y=piecewise(ys, index_of_frame),
            format="rgb",
            eof_action="repeat",
        )
    return stream


def movie_command(shot: Shot, out: Path, folder: Path, preset_name: str | None = None) -> list[str]:
    """The whole peer: composite, burn-ins, colour conversion, x264 with the cut's preset (or ``preset_name``)."""
    _, preset = shot.preset(preset_name or shot.own_preset)
    stream = composite_stream(shot, folder)
    if preset.burn_in:
        stream = burnin.draw_cut(stream, shot, preset)
    stream = encode.finish_video(stream, preset)
    args = stream.output(str(out), **encode.video_output_args(preset, shot.frames)).overwrite_output()
    return args.compile(cmd=encode.ffmpeg_exe())


def frames_command(shot: Shot, indices: list[int], pattern: Path, folder: Path) -> list[str]:
    """The composite of frames ``indices`` (0-based), before burn-ins and encoding, as RGB PNGs."""
    picks = "+".join(f"eq(n,{i})" for i in indices)
    stream = composite_stream(shot, folder).filter("select", picks)
    args = stream.output(
        str(pattern), fps_mode="passthrough", pix_fmt="rgb24", frames=len(indices)
    ).overwrite_output()
    return args.compile(cmd=encode.ffmpeg_exe())


def composite_only_command(shot: Shot, folder: Path) -> list[str]:
    """The composite of every frame, as RGB, thrown away (no encode, no files): the compositing engine
    alone."""
    stream = composite_stream(shot, folder)
    args = stream.output("-", f="null", pix_fmt="rgb24", frames=shot.frames).overwrite_output()
    return args.compile(cmd=encode.ffmpeg_exe())


def run(cmd: list[str]) -> None:
    done = subprocess.run(
        [cmd[0], "-hide_banner", "-nostdin", "-loglevel", "error", *cmd[1:]], capture_output=True, text=True
    )
    if done.returncode != 0:
        raise SystemExit(f"ffmpeg peer failed: {encode.last_error_line(done.stderr)}")


def agreement(shot: Shot, indices: list[int]) -> dict[str, float]:
    """Our frames (composited here, as the renderer makes them) against the peer's: level differences."""
    import cv2  # noqa: PLC0415

    from compositor.steps.composite import CutRenderer  # noqa: PLC0415

    renderer = CutRenderer(shot)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        run(frames_command(shot, indices, folder / "peer.%04d.png", folder))
        worst, means, over2 = 0, [], []
        for k, index in enumerate(indices):
            ours = renderer.make_frame(index, write=False).astype(np.int16)
            peer = cv2.cvtColor(cv2.imread(str(folder / f"peer.{k + 1:04d}.png")), cv2.COLOR_BGR2RGB).astype(
                np.int16
            )
            diff = np.abs(ours - peer)
            worst = max(worst, int(diff.max()))
            means.append(float(diff.mean()))
            over2.append(float((diff.max(axis=2) > 2).mean()))
    return {"max": worst, "mean": sum(means) / len(means), "over_2_levels": max(over2)}


def time_movie(shot: Shot, out: Path, preset_name: str | None = None) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        cmd = movie_command(shot, out, Path(tmp), preset_name)
        started = time.perf_counter()
        run(cmd)
        return time.perf_counter() - started


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("production", type=Path, nargs="?", default=ROOT / "bench" / "out" / "cut96")
    parser.add_argument("--time-only", action="store_true", help="skip the agreement check (done already)")
    parser.add_argument("--composite-only", action="store_true", help="time the composite alone (no encode)")
    parser.add_argument("--preset", default=None, help="encode preset (default: the cut's)")
    args = parser.parse_args(argv)
    shot = load_shot(Production(args.production.resolve()), CUT)
    if args.composite_only:
        with tempfile.TemporaryDirectory() as tmp:
            cmd = composite_only_command(shot, Path(tmp))
            started = time.perf_counter()
            run(cmd)
            seconds = time.perf_counter() - started
        print(
            f"ffmpeg peer, composite only: {shot.frames} frames in {seconds:.1f} s = {shot.frames / seconds:.2f} fps"
        )
        return
    if args.time_only:
        seconds = time_movie(shot, args.production / "ffmpeg_peer.mp4", args.preset)
        print(f"ffmpeg peer: {shot.frames} frames in {seconds:.1f} s = {shot.frames / seconds:.2f} fps")
        return
    check = agreement(shot, [0, shot.frames // 2, shot.frames - 1])
    print(
        f"agreement with our frames: max {check['max']} levels, mean {check['mean']:.3f}, "
        f"pixels off by more than 2 levels: {check['over_2_levels']:.3%}"
    )
    if check["max"] > 4:
        raise SystemExit("the peer does not make our pixels (more than 4 levels apart): not timing it")
    seconds = time_movie(shot, args.production / "render" / "ffmpeg_peer.mp4")
    print(f"ffmpeg peer: {shot.frames} frames in {seconds:.1f} s = {shot.frames / seconds:.2f} fps")


if __name__ == "__main__":
    main()
