"""Files: image sequences or videos in, PNG frames out (``deflicker_files``), and the measurements of files
(``qc_files``); reading and writing run on threads beside the pass."""

from __future__ import annotations

import os
import queue
import threading
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from compositor.core.digest import content_key, file_digest
from compositor.core.io import (
    IMAGE_SUFFIXES,
    VIDEO_SUFFIXES,
    FrameSource,
    ensure_folder,
    frame_whole,
    image_size,
    read_frame_key,
    remove_file,
    remove_stale_temp_files,
    sequence_frames,
    write_image,
)
from compositor.errors import CompositorError, CorruptInputError, RenderError, SpecError
from compositor.spec.models import DEFAULT_FLOW, TemporalSettings
from compositor.temporal.bidirectional import window_reads, windows
from compositor.temporal.checks import _count_error
from compositor.temporal.flow import flow_scale_for
from compositor.temporal.metrics import _measure, _Tally, _warp_error
from compositor.temporal.prefetch import _Prefetch
from compositor.temporal.stabiliser import DEFAULT_SETTINGS, _run

OPAQUE = 1.0 - 1e-5
"""Alpha at or above this counts as 1 (resampling a constant 1 can give 0.99999994)."""


READ_AHEAD = 16
"""Input frames ``deflicker_files`` decodes ahead of the pass at most (memory: a canvas each)."""


def _opaque(frame: np.ndarray) -> bool:
    return cv2.minMaxLoc(cv2.extractChannel(frame, 3))[0] >= OPAQUE


def _open_pair(input: str, guide: str) -> tuple[FrameSource, FrameSource]:
    """Open input and guide; a still-image guide stands for a still camera, any other must match the count."""
    source = FrameSource(input, holdable=False)  # no shot, no hold_missing: a gap's line must not name it
    guide_source = FrameSource(guide, holdable=False)
    if guide_source.still and not source.still:
        return source, guide_source
    if len(source) != len(guide_source):
        raise _count_error(len(source), len(guide_source), f"input {input}", f"guide {guide}")
    return source, guide_source


class _Writer:
    """Writes frames on a thread, at most ``depth`` behind; ``close`` waits and re-raises any error."""

    def __init__(
        self, depth: int = 2, compress: bool = True, bits: int = 8, keys: WindowKeys | None = None
    ):
        self._compress = compress
        self._bits = bits
        self._keys = keys
        self._queue: queue.Queue = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._work, daemon=True)
        self._thread.start()

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            if self._error is None:
                index, path, frame = item
                try:
                    key = self._keys.of_frame(index) if self._keys is not None else None
                    write_image(
                        path, frame, alpha=not _opaque(frame), compress=self._compress, key=key, depth=self._bits
                    )
                except Exception as e:  # noqa: BLE001 - raised in the pass's thread by put() or close()
                    self._error = e

    def put(self, index: int, path: Path, frame: np.ndarray) -> None:
        """Write output frame ``index`` (0-based) at ``path`` (its window's key in it, given ``keys``)."""
        self._raise()
        self._queue.put((index, path, frame))

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join()
        self._raise()

    def abandon(self) -> None:
        """Stop after the frames already queued, quiet about write errors (another error is on its way)."""
        self._queue.put(None)
        self._thread.join()

    def _raise(self) -> None:
        if isinstance(self._error, CompositorError):
            raise self._error
        if self._error is not None:
            raise RenderError(f"cannot write frames: {self._error}") from None


KEPT_SUFFIXES = {".png", ".tif", ".tiff", ".exr"}
"""Input frame files whose format an output frame keeps (lossless, alpha, deep); any other (JPEG, BMP, WebP) is
written as PNG: a JPEG re-encoded would put back the compression noise the pass took out."""


def _output_names(source: FrameSource, output: Path) -> list[Path]:
    files = source.files()
    if source.sequence and len(files) == len(source):  # not by the count alone: a one-frame video has one file
        return [output / (f.name if f.suffix.lower() in KEPT_SUFFIXES else f"{f.stem}.png") for f in files]
    stem = source.path.stem.split("%")[0].rstrip("._-") or "frame"
    return [output / f"{stem}.{i:04d}.png" for i in range(1, len(source) + 1)]


KEY_PREFIX = "deflicker-"
"""How the key in an output frame starts: frames of this pass, which a later run may keep or remove."""

RUN_MARK = "@"
"""In a frame's key, after the window's hash: the numbers of the first and last frame of the run that wrote it
(``@1-40``). Not hashed and not compared when a window is kept; the sweep of frames past a run's end reads it
(`_remove_stale_frames`) to tell a longer run's tail from a run of other frames."""


def _run_of(key: str | None) -> tuple[int, int] | None:
    """The ``(first, last)`` frame numbers of the run that wrote a frame with this key; None for a key of
    another kind, or of this pass before it recorded them."""
    if key is None or not key.startswith(KEY_PREFIX) or RUN_MARK not in key:
        return None
    first, _, last = key.rpartition(RUN_MARK)[2].partition("-")
    return (int(first), int(last)) if first.isdigit() and last.isdigit() else None


class WindowKeys:
    """The key each window's output frames carry: what they are made from (the bytes of every input and guide
    file the window reads, ``window_reads``; the settings; whether those frames reach the cut's end). A run keeps the windows whose
    frames all carry their key (an interrupted run resumes), and nothing made from other frames or settings
    passes for done. Hashed on first use (file contents once per process: ``core.digest``)."""

    def __init__(self, source: FrameSource, guide: FrameSource, settings: TemporalSettings, total: int):
        self._streams = (source, guide)
        self._settings = settings
        self._total = total
        self._spans = windows(total, settings)
        self._keys: dict[int, str] = {}
        self._run = f"{RUN_MARK}{source.first_number}-{source.first_number + total - 1}"
        self.depth = 16 if source.bits > 8 else 8
        """Bits a sample of the output PNGs: of the input's first file, which a window need not read (so the
        key holds it too: else a cluster would keep windows at the depth the first file had before)."""

    @property
    def spans(self) -> list[range]:
        return self._spans

    def of_window(self, number: int) -> str:
        if number not in self._keys:
            core = self._spans[number]
            lo, hi = window_reads(core.start, core.stop, self._total, self._settings)
            source, guide = self._streams
            self._keys[number] = KEY_PREFIX + content_key(
                {
                    "pass": PASS_VERSION,
                    "settings": self._settings.model_dump(mode="json"),
                    # Not the clip's length: a window depends on it only by whether its frames reach the
                    # clip's end (the sweeps stand in for the frames past it); frames added at the end must
                    # not make again the windows that do not read near it.
                    "end": hi == self._total,
                    "core": [core.start, core.stop],
                    "depth": self.depth,
                    "input": [file_digest(source.frame_file(i)) for i in range(lo, hi)],
                    "guide": [file_digest(guide.frame_file(i)) for i in range(lo, hi)],
                }
            )
        return self._keys[number]

    def of_frame(self, index: int) -> str:
        """The key frame ``index`` (0-based) is written with: its window's, and the run's frame numbers."""
        return self.of_window(index // max(1, self._settings.window)) + self._run

    def hash_from(self, frame: int) -> None:
        """Hash the keys of the windows from the one of ``frame`` (0-based) on, before the pass reads a
        frame of them. Hashed later (as each window is written), a file saved while the run reads it would
        give frames made from its old bytes the key of its new ones, and the next run would keep them; hashed
        first, such frames carry a key of what the file was before, and the next run makes them again."""
        for number in range(frame // max(1, self._settings.window), len(self._spans)):
            self.of_window(number)

    def finished(self, names: list[Path], number: int) -> bool:
        """Whether every output frame of window ``number`` is on disk, whole, with the window's key (a frame cut
        short keeps the key at its front)."""
        found = [read_frame_key(names[i]) for i in self._spans[number]]
        if None in found:
            return False
        # The window's hash is what made the frame; the run's numbers after it are only for the sweep.
        if any(k.partition(RUN_MARK)[0] != self.of_window(number) for k in found):  # hashed only then
            return False
        return all(frame_whole(names[i]) for i in self._spans[number])


PASS_VERSION = 1
"""Bump when the pass makes other pixels from the same frames and settings: every kept window is made again."""


def _unfinished(names: list[Path], keys: WindowKeys) -> list[range]:
    """The frames (0-based) of the windows an earlier run did not finish, as ranges of consecutive windows in
    order: each is run alone, from its context, as a cluster runs a window (the same frames)."""
    spans: list[range] = []
    for number, span in enumerate(keys.spans):
        if keys.finished(names, number):
            continue
        if spans and spans[-1].stop == span.start:
            spans[-1] = range(spans[-1].start, span.stop)
        else:
            spans.append(span)
    return spans


def _output_pattern(source: FrameSource, output: Path) -> Path:
    """The printf pattern the output frames follow (``_output_names``)."""
    if source.sequence and len(source.files()) == len(source):
        name = source.path.name
        return output / (name if source.path.suffix.lower() in KEPT_SUFFIXES else Path(name).with_suffix(".png").name)
    stem = source.path.stem.split("%")[0].rstrip("._-") or "frame"
    return output / f"{stem}.%04d.png"


def _remove_stale_frames(source: FrameSource, names: list[Path], output: Path) -> list[int]:
    """Remove the frames of the output's sequence that an earlier, longer run of this pass wrote beyond this
    run's (a longer input): a player, or ffmpeg, would run on into them. Such a frame's key (`RUN_MARK`) says
    its run began at or before this run's last frame; one whose run began after it is a run of other frames (a
    shot done in halves, 21-40 and then 1-20), and stays: it was removed as well, that run's work lost. A frame
    whose key names no run (written before keys did) stays too. A file of the user's own is never touched, nor
    a frame numbered before this run's last (frames 1-50 are not past the end of a run of 51-100). Returns the
    numbers removed, for the run to say so: frames gone without a word looked like a lost render."""
    written = {n.name for n in names}
    try:
        found = sequence_frames(_output_pattern(source, output))
    except CorruptInputError:  # a file of the user's spells one of the numbers otherwise: the frames are
        return []  # written, and which of the folder's files are ours is not clear: nothing goes
    last = max((number for number, path in found.items() if path.name in written), default=None)
    removed: list[int] = []
    for number, path in found.items():
        if last is not None and number > last and path.name not in written:
            run = _run_of(read_frame_key(path))
            if run is not None and run[0] <= last:
                remove_file(path)
                removed.append(number)
    return removed


def frame_spans(numbers: list[int]) -> list[list[int]]:
    """Frame numbers in order as ``[first, last]`` runs of consecutive ones: ``[3, 4, 5, 9]`` → ``[[3, 5], [9, 9]]``."""
    spans: list[list[int]] = []
    for number in numbers:
        if spans and spans[-1][1] == number - 1:
            spans[-1][1] = number
        else:
            spans.append([number, number])
    return spans


def _refuse_file_name(output: Path, names: list[Path]) -> None:
    """Refuse (``SpecError``, one line) an output named as a pattern or a file, not yet a folder: given
    ``out/%04d.png`` (as the input is given) or ``steady.mp4`` (a movie wanted), the run made a folder of that
    name, ``out/%04d.png/0001.png``, and said nothing. A folder that exists is taken as named."""
    if output.is_dir():
        return
    named = f"the frames go into it named like '{names[0].name}'" if names else "the frames go into it"
    if "%" in output.name:
        raise SpecError(f"{output}: the output is a folder ({named}): give '{output.parent}', not a pattern")
    suffix = output.suffix.lower()
    if suffix in VIDEO_SUFFIXES or suffix in IMAGE_SUFFIXES:
        what = "a movie" if suffix in VIDEO_SUFFIXES else "an image file"
        raise SpecError(f"{output}: the output is a folder ({named}), not {what}; give a folder")


def _refuse_overwrite(names: list[Path], output: Path, *streams: tuple[str, FrameSource, str]) -> None:
    """Refuse (``SpecError``, one line) an output folder where a frame would replace a file of the input or the
    guide (``streams``: each one's role, source and the name the user gave it), before anything is written."""
    # os.path.realpath, not Path.resolve: that raises RuntimeError on a link to itself (the read names it)
    written = {os.path.realpath(n) for n in names}
    for role, stream, name in streams:
        if any(os.path.realpath(f) in written for f in stream.files()):
            raise SpecError(f"{output}: the output would overwrite the {role} {name}; choose another folder")


def deflicker_files(
    input: str,
    guide: str,
    output: Path,
    settings: TemporalSettings = DEFAULT_SETTINGS,
    progress: Callable[[int, int], None] | None = None,
    compress: bool = True,
) -> dict:
    """Run the pass from files to files, measuring it on the way (the guide's flow serves both).

    ``compress=False`` stores the output PNGs uncompressed (faster to write and read, about twice the size).

    ``input`` and ``guide``: a printf pattern (``proc/%04d.png``), a video file, or (guide only) a still
    image, which stands for a still camera. Writes ``output/<input file name>`` for an image sequence (``.png``
    for a JPEG, BMP or WebP one) and
    ``output/<video stem>.%04d.png`` for a video (PNG, 16-bit where the input's frames store more than 8 bits a
    sample, else 8-bit; with alpha when a frame is not opaque), each
    frame written whole under a temporary name first; reading and writing run on threads beside the pass.
    Each frame carries its window's key (``WindowKeys``): a run keeps the windows an earlier run with the same
    frames and settings finished (an interrupted run resumes at the first window it did not finish; after a
    retouched frame only the windows that read it are made again, each run of them from its context), and
    removes the frames of the output's sequence an earlier run wrote beyond this one's.
    Returns ``{"e_warp_before", "e_warp_after", "psnr", "frames", "made", "kept", "first", "removed", "fps",
    "seconds", "input", "guide", "output", "flow", "flow_scale", "width", "height", "strength", "detail",
    "keyframe_interval", "margin"}`` (``frames``: the frames computed and measured now; ``made``: which, as
    ``[first, last]`` ranges of the frames' numbers as the input's files spell them (``0011.png`` is 11; a
    video's count from 1); ``first``: the number of the input's first frame; ``kept``: how many were kept from
    before; ``removed``: the frames past this run's last that an earlier run wrote and this one removed, as
    ranges of their numbers; fps: frames computed
    over wall-clock seconds, reading and writing included). Raises ``SpecError`` with one line naming both
    files for different sizes or frame counts, before anything is written.
    """
    started = time.perf_counter()
    output = Path(output)
    source, guide_source = _open_pair(input, guide)
    names = _output_names(source, output)
    _refuse_file_name(output, names)
    _refuse_overwrite(names, output, ("input", source, input), ("guide", guide_source, guide))
    total = len(source)
    keys = WindowKeys(source, guide_source, settings, total)
    spans = _unfinished(names, keys)  # an interrupted run's finished windows are kept, a retouch's others too
    if spans:
        keys.hash_from(spans[0].start)  # before the pass reads a frame: a file saved meanwhile must not key old pixels
    tally = _Tally()
    writer: _Writer | None = None
    done = total - sum(len(span) for span in spans)
    for span in spans:
        # The pass takes a window's frames at once: the input is decoded up to a window ahead (at most
        # READ_AHEAD frames), on a thread while the pass sweeps the window before; the guide goes to the motion
        # thread. A span reads from its first window's context on, as a farm's window does.
        lo, hi = window_reads(span.start, span.stop, total, settings)
        depth = min(READ_AHEAD, max(2, settings.window))
        readers = [_Prefetch(source.frames(lo, hi - lo), depth=depth), _Prefetch(guide_source.frames(lo, hi - lo))]
        frames = _run(
            readers[0], readers[1], settings, tally, f"input {input}", f"guide {guide}", span.start, lo, span.stop, total
        )
        try:
            for i, out in enumerate(frames, span.start):
                if writer is None:  # only once the first frame passed the size check
                    ensure_folder(output)
                    remove_stale_temp_files(output)  # what a killed run was writing there
                    writer = _Writer(compress=compress, bits=keys.depth, keys=keys)
                writer.put(i, names[i], out)
                done += 1
                if progress is not None:
                    progress(done, total)
        except BaseException:
            if writer is not None:
                writer.abandon()
            raise
        finally:
            frames.close()  # the pass (and its motion thread) first: it reads from the readers
            for r in readers:
                r.close()
    if writer is not None:
        writer.close()
    removed = _remove_stale_frames(source, names, output)
    seconds = time.perf_counter() - started
    result = tally.result()
    if not result["frames"]:  # every window was kept: nothing measured now (`compositor qc` measures files)
        result["psnr"] = None
    w, h = tally.size if tally.frames else (image_size(names[0]) or (0, 0))
    first = source.first_number
    result.update(
        kept=total - sum(len(span) for span in spans),
        # The frames' own numbers, not their positions: of a sequence numbered from 11, "made frames 17-30"
        # would name files 0027-0040 by numbers that are other files of the folder.
        made=[[first + span.start, first + span.stop - 1] for span in spans],
        first=first,
        removed=frame_spans(removed),
        fps=result["frames"] / seconds if seconds > 0 else 0.0,
        seconds=seconds,
        input=input,
        guide=guide,
        output=str(output),
        flow=settings.flow,
        flow_scale=flow_scale_for(w, h, settings.flow_scale) if w else settings.flow_scale,
        width=w,
        height=h,
        strength=settings.strength,
        detail=settings.detail,
        keyframe_interval=settings.keyframe_interval,
        margin=settings.margin,
    )
    return result


def qc_files(
    input: str,
    guide: str | None,
    output: str | None = None,
    flow: str = DEFAULT_FLOW,
    flow_scale: float = 0.0,
) -> dict:
    """E_warp of ``input`` (and of ``output``, with PSNR output vs input, when given), motion from ``guide``.

    Each a printf pattern or a video (the guide may be a still image). Without a guide the input's own motion
    is used (less trustworthy where the input flickers). Returns the keys of ``measure`` plus the names and
    the flow; ``e_warp_after`` and ``psnr`` are None without an output. Raises ``SpecError`` (one line) for
    different sizes or frame counts.
    """
    guide = guide or input
    source, guide_source = _open_pair(input, guide)
    total = len(source)
    names = (f"input {input}", f"guide {guide}")
    result: dict = {"input": input, "guide": guide, "output": output, "flow": flow}
    if output is None:
        frames = _Prefetch(source.frames())
        try:
            e_warp = _warp_error(frames, guide_source.frames(0, total), flow, flow_scale, names)
        finally:
            frames.close()
        result.update(e_warp_before=e_warp if total > 1 else None, e_warp_after=None, psnr=None, frames=total)
        return result
    out_source = FrameSource(output, holdable=False)
    if len(out_source) != total:
        raise _count_error(total, len(out_source), f"input {input}", f"output {output}")
    streams = [_Prefetch(source.frames()), _Prefetch(out_source.frames())]
    try:
        measured = _measure(
            streams[0],
            streams[1],
            guide_source.frames(0, total),
            flow,
            flow_scale,
            (*names, f"output {output}"),
        )
    finally:
        for s in streams:
            s.close()
    result.update(measured)
    return result
