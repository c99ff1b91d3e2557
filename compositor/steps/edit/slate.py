"""The slate: the screening cut's first seconds (title, date, the cuts with their lengths, the total frames),
drawn by ffmpeg (``color`` source + ``drawtext`` with the shipped font) and encoded with the edit's preset, the
same settings as the cuts, so it joins them by stream copy.

The date is ``$SOURCE_DATE_EPOCH`` when set (so a rebuild can be bit-identical), else today.
"""

from __future__ import annotations

import datetime as dt
import math
import os
from pathlib import Path

import ffmpeg

from compositor.core import Progress
from compositor.spec import Edit, EncodePreset
from compositor.steps.burnin import font_of, text_width
from compositor.steps.edit.plan import CutEntry
from compositor.steps.encode import (
    OutputFile,
    ffmpeg_exe,
    finish_video,
    frame_rate,
    run_ffmpeg,
    video_output_args,
    write_text_file,
)


def slate_frames(edit: Edit) -> int:
    return round(edit.edit.slate * edit.edit.fps)


def seconds_and_frames(frames: int, fps: float) -> str:
    """A length as animators say it, seconds+frames: 52 frames at 24 fps → ``2+04``."""
    per = max(1, round(fps))
    return f"{frames // per}+{frames % per:02d}"


def slate_date() -> str:
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch and epoch.strip().isdigit():
        return dt.datetime.fromtimestamp(int(epoch), dt.UTC).date().isoformat()
    return dt.date.today().isoformat()







def slate_text(
    edit: Edit, preset_name: str, size: tuple[int, int], entries: list[CutEntry]
) -> tuple[str, str, list[str]]:
    """The slate's title, its information lines and one line per cut."""
    fps = edit.edit.fps
    total = sum(e.frames for e in entries)
    title = edit.edit.title or edit.edit.name
    info = "\n".join(
        [
            f"{edit.edit.name}   {edit.edit.version + '   ' if edit.edit.version else ''}{slate_date()}   "
            f"{fps:g} fps   {size[0]}x{size[1]}   {preset_name}   TC {edit.edit.start_timecode}",
            f"{len(entries)} cuts   {total} frames ({seconds_and_frames(total, fps)})",
        ]
    )
    width = max(len(e.name) for e in entries)
    lines = [
        f"{i:>3}  {e.name:<{width}}  {e.frames:>6}  {seconds_and_frames(e.frames, fps):>6}"
        for i, e in enumerate(entries, 1)
    ]
    return title, info, lines


def slate_list_header(entries: list[CutEntry]) -> str:
    width = max(len(e.name) for e in entries)
    return f"{'#':>3}  {'cut':<{width}}  {'frames':>6}  {'sec+fr':>6}"


def encode_slate(
    edit: Edit,
    preset: EncodePreset,
    preset_name: str,
    size: tuple[int, int],
    entries: list[CutEntry],
    out: Path,
    workdir: Path,
    progress: Progress | None = None,
) -> None:
    """Encode ``slate_frames(edit)`` slate frames to ``out`` with the edit's preset (so it concatenates)."""
    w, h = size
    frames = slate_frames(edit)
    title, info, lines = slate_text(edit, preset_name, size, entries)
    left, top = round(w * 0.06), round(h * 0.08)
    # A long title gets smaller rather than running off the frame (Latin is half an em wide, CJK a whole em).
    title_size = max(8, min(round(h * 0.07), round((w - 2 * left) / (1.04 * max(0.5, text_width(title))))))
    body = max(8, round(h * 0.032))
    list_top = top + round(title_size * 1.6) + round(body * 1.4) * 2 + body
    # Shrink the list's text until its columns fit across the frame (a short with many cuts).
    while True:
        step = math.ceil(body * 1.6)  # drawtext advances about 1.17 x the font size, plus line_spacing
        rows = max(1, (round(h * 0.94) - list_top) // step - 1)  # one row for the header
        columns = math.ceil(len(lines) / rows)
        column_width = round((text_width(lines[0]) + 2) * body * 1.04)
        if columns * column_width <= w - 2 * left or body <= 8:
            break
        body -= 1
    texts: list[tuple[str, int, int, int]] = [(info, left, top + round(title_size * 1.6), body)]
    header = slate_list_header(entries)
    for c in range(columns):
        chunk = [header, *lines[c * rows : (c + 1) * rows]]
        texts.append(("\n".join(chunk), left + c * column_width, list_top, body))

    stream = ffmpeg.input(f"color=c=0x1a1a1a:s={w}x{h}:r={frame_rate(edit.edit.fps)}", f="lavfi")
    common = {"fontfile": str(font_of(edit)), "expansion": "none", "fontcolor": "white"}
    title_file = workdir / "slate-title.txt"
    write_text_file(title_file, title)
    stream = stream.filter("drawtext", textfile=str(title_file), x=left, y=top, fontsize=title_size, **common)
    for i, (text, x, y, fontsize) in enumerate(texts):
        path = workdir / f"slate-{i}.txt"
        write_text_file(path, text)
        stream = stream.filter(
            "drawtext",
            textfile=str(path),
            x=x,
            y=y,
            fontsize=fontsize,
            line_spacing=round(fontsize * 0.4),
            **common,
        )
    stream = finish_video(stream, preset)
    output = OutputFile(out, out)  # in the screening cut's work folder: already a temporary name
    try:
        args = (
            stream.output(output.target, f=output.format, **video_output_args(preset, frames))
            .overwrite_output()
            .compile(cmd=ffmpeg_exe(edit.ffmpeg))
        )
        run_ffmpeg(args, edit.production.rel(out), "slate", frames, progress, output)
    finally:
        output.spawned()


