"""What encoding a cut in closed-GOP segments costs: size and PSNR against the comp frames, whole vs segmented.

A cut's movie is encoded in segments (``segment`` frames each, default the preset's ``gop``) so that a change
re-encodes only the segments holding a changed frame; they are joined by stream copy. This prints, for demo
cuts and the screening preset (burn-ins off, so PSNR sees the picture only), the movie encoded as one stream and in segments of 24, 12 and 6 frames: its
bytes, PSNR (Y, and the average of Y, U, V as ffmpeg's psnr filter reports it) against the comp frames, the
frame count, and whether the timestamps stay evenly spaced across the joins.

    python bench/segments.py [cut ...]
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from compositor.spec import Production, load_shot  # noqa: E402
from compositor.steps.composite import render_cut  # noqa: E402
from compositor.steps.encode import encode_cut, ffmpeg_exe, ffprobe_exe, frame_rate, probe  # noqa: E402

SEGMENTS = (None, 24, 12, 6)


def psnr(movie: Path, shot) -> tuple[float, float]:
    """(Y, average) PSNR of ``movie`` against the cut's comp frames, converted to the movie's pixel format."""
    cmd = [
        ffmpeg_exe(), "-v", "info", "-nostats",
        "-i", str(movie),
        "-framerate", str(frame_rate(shot.fps)), "-start_number", str(shot.start), "-i", str(shot.paths.comp_pattern),
        "-lavfi", "[1:v]scale=out_color_matrix=bt709:out_range=tv,format=yuv420p[ref];[0:v][ref]psnr",
        "-f", "null", "-",
    ]
    text = subprocess.run(cmd, capture_output=True, text=True).stderr
    hit = re.search(r"PSNR y:([\d.inf]+) u:[\d.inf]+ v:[\d.inf]+ average:([\d.inf]+)", text)
    return (float(hit.group(1)), float(hit.group(2))) if hit else (float("nan"), float("nan"))


def even_times(movie: Path, fps: float) -> bool:
    listing = subprocess.run(
        [ffprobe_exe(), "-v", "error", "-select_streams", "v:0", "-show_entries", "frame=pts_time", "-of", "csv=p=0", str(movie)],
        capture_output=True,
        text=True,
    ).stdout
    times = [float(t.strip(",")) for t in listing.split()]
    return all(abs((b - a) - 1 / fps) < 2e-5 for a, b in zip(times, times[1:]))


def main(cuts: list[str]) -> None:
    with tempfile.TemporaryDirectory() as work:
        root = Path(work) / "prod"
        shutil.copytree(ROOT / "shots", root / "shots")
        shutil.copytree(ROOT / "templates", root / "templates")
        production = Production(root)
        print(f"{'cut':<12}{'segment':>9}{'bytes':>11}{'vs whole':>10}{'PSNR Y':>9}{'PSNR avg':>10}{'frames':>8}  joins")
        for cut in cuts:
            shot = load_shot(production, cut)
            render_cut(shot, threads=2)
            name, preset = shot.preset()
            whole_bytes = None
            for segment in SEGMENTS:
                variant = replace(
                    shot, presets={**shot.presets, name: preset.model_copy(update={"segment": segment or shot.frames, "burn_in": False})}
                )
                shutil.rmtree(shot.paths.segments(name), ignore_errors=True)
                shot.movie().unlink(missing_ok=True)
                movie = encode_cut(variant, name)
                size = movie.stat().st_size
                whole_bytes = whole_bytes or size
                y, avg = psnr(movie, shot)
                frames = probe(movie, count_frames=True)["frames"]
                label = "whole" if segment is None else str(segment)
                print(
                    f"{cut:<12}{label:>9}{size:>11,}{size / whole_bytes:>10.3f}{y:>9.2f}{avg:>10.2f}{frames:>8}  "
                    f"{'even' if even_times(movie, shot.fps) else 'UNEVEN'}",
                    flush=True,
                )


if __name__ == "__main__":
    main(sys.argv[1:] or ["sc010_c010", "sc010_c020"])
