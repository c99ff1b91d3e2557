"""Review renders of one cut: a frame range on disk (``compositor render --frames``), a single frame
(``compositor still``) and a contact sheet (``compositor sheet``).

The frames are those of the whole render (same keys, same pixels), so nothing made here is made again.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

from compositor.core import Progress
from compositor.core.io import ensure_folder, read_image, to_uint8_rgb, write_image
from compositor.core.sheet import contact_sheet, thumbnail
from compositor.errors import SpecError
from compositor.spec import Shot

STILL_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff")
SHEET_THUMBS = 36
"""A contact sheet shows at most this many frames unless told the spacing (``--every``)."""


_FRAMES = re.compile(r"(-?[0-9]{1,18})(?:-(-?[0-9]{1,18}))?")
"""One part of ``--frames``: a timesheet number, or a range of them."""


def parse_frames(text: str, shot: Shot, option: str = "--frames") -> list[int]:
    """``"12-36"``, ``"12"`` or ``"1-5,9,20-24"`` → the timesheet numbers, ascending, each once; a number
    outside the cut or a malformed range is a `SpecError` naming the cut and the option."""
    first, last = shot.start, shot.start + shot.frames - 1
    numbers: set[int] = set()
    for part in text.replace(" ", "").split(","):
        # ASCII digits only ('³' is a digit to str.isdigit, not to int: a ValueError traceback), at most 18 of
        # them (int() refuses thousands); a cut may start below 0 (``start``), so its numbers may be negative.
        match = _FRAMES.fullmatch(part)
        if match is None:
            raise SpecError(
                f"{shot.display}: {option} {text}: write frames as 12, 12-36 or 1-5,9 (timesheet numbers)"
            )
        a = int(match.group(1))
        b = a if match.group(2) is None else int(match.group(2))
        if a > b:
            raise SpecError(f"{shot.display}: {option} {text}: {a}-{b} runs backwards")
        for n in (a, b):
            if not first <= n <= last:
                raise SpecError(
                    f"{shot.display}: {option} {text}: frame {n} is outside the cut ({first}-{last})"
                )
        numbers.update(range(a, b + 1))
    return sorted(numbers)


def render_frames_on_disk(
    shot: Shot, numbers: list[int], progress: Progress | None = None, threads: int | None = None
) -> list[int]:
    """Frames ``numbers`` (timesheet numbers) brought up to date under ``render/<cut>/comp/``; returns the
    numbers composited (the others were fresh)."""
    from compositor.steps.composite import render_range  # noqa: PLC0415

    done = render_range(shot, [n - shot.start for n in numbers], progress, threads)
    return [shot.start + i for i in done]


def still_path(shot: Shot, number: int, output: Path | None) -> Path:
    """Where ``compositor still`` writes: ``output`` (any of `STILL_SUFFIXES`) or ``render/<cut>/stills/``."""
    if output is None:
        return shot.paths.still(number)
    if output.suffix.lower() not in STILL_SUFFIXES:
        raise SpecError(f"-o {output}: a still is written as {', '.join(STILL_SUFFIXES)}")
    return output


def write_still(shot: Shot, number: int, output: Path | None = None) -> Path:
    """Render frame ``number`` of the cut in memory (nothing else is written but a stale background) and
    write it as an image: the pixels of the comp frame the whole render writes."""
    from compositor.steps.composite import CutRenderer  # noqa: PLC0415

    if number not in shot.frame_numbers():
        first, last = shot.start, shot.start + shot.frames - 1
        raise SpecError(f"{shot.display}: frame {number} is outside the cut ({first}-{last})")
    path = still_path(shot, number, output)
    frame = CutRenderer(shot).frame(number - shot.start)
    ensure_folder(path.parent)
    write_image(path, to_uint8_rgb(frame))
    return path


def sheet_numbers(shot: Shot, every: int | None) -> list[int]:
    """The frames a contact sheet shows: every ``every``-th from the first (default: spaced so at most
    `SHEET_THUMBS` show), and the last."""
    step = every if every else max(1, math.ceil(shot.frames / SHEET_THUMBS))
    numbers = list(range(shot.start, shot.start + shot.frames, step))
    last = shot.start + shot.frames - 1
    return numbers if numbers[-1] == last else [*numbers, last]


def make_sheet(
    shot: Shot,
    every: int | None = None,
    columns: int = 6,
    width: int = 320,
    output: Path | None = None,
    progress: Progress | None = None,
) -> Path:
    """The cut's contact sheet (``render/<cut>/<cut>.sheet.png`` or ``output``): the frames of
    `sheet_numbers` brought up to date on disk, as thumbnails ``width`` pixels wide, ``columns`` a row, each
    with its frame number."""
    numbers = sheet_numbers(shot, every)
    render_frames_on_disk(shot, numbers, progress)
    thumbs = [thumbnail(to_uint8_rgb(read_image(shot.paths.comp_frame(n))), width) for n in numbers]
    w, h = shot.size
    spacing = f"every {every or max(1, math.ceil(shot.frames / SHEET_THUMBS))}"
    title = f"{shot.name}   {shot.frames} frames   {w}x{h}   {shot.fps:g} fps   {spacing}"
    sheet = contact_sheet(thumbs, [f"{n}" for n in numbers], columns, title)
    path = output if output is not None else shot.paths.sheet
    ensure_folder(path.parent)
    write_image(path, sheet)
    return path
